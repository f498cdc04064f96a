// Parsing and printing of stratum::Uuid.
#include "stratum/uuid.hpp"

#include "stratum/errors.hpp"

namespace stratum {
namespace {

int hex_value(char c) noexcept
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

}  // namespace

Uuid::Uuid() noexcept
{
    text_ = {'0', '0', '0', '0', '0', '0', '0', '0', '-', '0', '0', '0', '0', '-', '0', '0', '0', '0',
             '-', '0', '0', '0', '0', '-', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0'};
}

Uuid::Uuid(std::string_view text, std::string_view field)
{
    std::optional<Uuid> parsed = parse(text);
    if (!parsed) {
        std::string shown(text.substr(0, 64));
        throw ValidationError(std::string(field),
                              "\"" + shown + "\" is not a UUID (expected 8-4-4-4-12 hex digits)");
    }
    *this = *parsed;
}

std::optional<Uuid> Uuid::parse(std::string_view text) noexcept
{
    if (text.size() == 38 && text.front() == '{' && text.back() == '}')
        text = text.substr(1, 36);
    if (text.size() != 36)
        return std::nullopt;
    Uuid out{Unchecked{}};
    for (std::size_t i = 0; i < 36; i++) {
        char c = text[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return std::nullopt;
            out.text_[i] = '-';
            continue;
        }
        if (hex_value(c) < 0)
            return std::nullopt;
        out.text_[i] = (c >= 'A' && c <= 'F') ? static_cast<char>(c - 'A' + 'a') : c;
    }
    return out;
}

bool Uuid::is_nil() const noexcept
{
    for (char c : text_)
        if (c != '0' && c != '-')
            return false;
    return true;
}

}  // namespace stratum
