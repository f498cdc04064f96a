// stratum::Uuid: a UUID kept in its canonical text form (what PostgreSQL's
// uuid type prints), so sending it as a parameter costs nothing. Tenant ids
// are Uuids.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace stratum {

class Uuid {
public:
    // The nil UUID (all zeros).
    Uuid() noexcept;
    // Parses 8-4-4-4-12 hex digits (either case, optionally in braces);
    // throws ValidationError naming `field` otherwise. Implicit so that a
    // tenant can be written as a string literal.
    Uuid(std::string_view text, std::string_view field = "uuid");
    Uuid(const char *text) : Uuid(std::string_view(text)) {}
    Uuid(const std::string &text) : Uuid(std::string_view(text)) {}

    // nullopt instead of throwing.
    static std::optional<Uuid> parse(std::string_view text) noexcept;

    std::string_view view() const noexcept { return {text_.data(), text_.size()}; }
    std::string str() const { return std::string(view()); }
    bool is_nil() const noexcept;

    friend bool operator==(const Uuid &, const Uuid &) noexcept = default;
    friend auto operator<=>(const Uuid &, const Uuid &) noexcept = default;

private:
    struct Unchecked {};
    Uuid(Unchecked) noexcept {}
    std::array<char, 36> text_;  // lower case, hyphenated
};

// The tenant of a transaction.
using TenantId = Uuid;

}  // namespace stratum

template <>
struct std::hash<stratum::Uuid> {
    std::size_t operator()(const stratum::Uuid &id) const noexcept
    {
        return std::hash<std::string_view>{}(id.view());
    }
};
