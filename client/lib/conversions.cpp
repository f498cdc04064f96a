// Out-of-line helpers of the text conversions (errors, doubles, arrays).
#include "stratum/conversions.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace stratum::detail {

void bad_conversion(std::string_view text, std::string_view type)
{
    std::string shown(text.substr(0, 64));
    throw UnexpectedResult("cannot convert \"" + shown + "\" to " + std::string(type));
}

double parse_double(std::string_view text)
{
    if (text == "NaN")
        return std::nan("");
    if (text == "Infinity")
        return HUGE_VAL;
    if (text == "-Infinity")
        return -HUGE_VAL;
    double value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size())
        bad_conversion(text, "floating point");
    return value;
}

// Every element quoted: no need to decide which characters would need it.
void append_array_element(std::string &out, std::string_view element)
{
    out += '"';
    for (char c : element) {
        if (c == '"' || c == '\\')
            out += '\\';
        out += c;
    }
    out += '"';
}

std::vector<std::optional<std::string>> split_array(std::string_view text)
{
    std::vector<std::optional<std::string>> out;
    if (text.size() < 2 || text.front() != '{' || text.back() != '}')
        bad_conversion(text, "array");
    std::size_t i = 1, end = text.size() - 1;
    if (i == end)
        return out;
    while (i <= end) {
        std::string element;
        bool quoted = false;
        if (i < end && text[i] == '"') {
            quoted = true;
            i++;
            while (i < end && text[i] != '"') {
                if (text[i] == '\\' && i + 1 < end)
                    i++;
                element += text[i++];
            }
            if (i >= end)
                bad_conversion(text, "array");
            i++;  // closing quote
        } else {
            while (i < end && text[i] != ',') {
                if (text[i] == '{')
                    bad_conversion(text, "one-dimensional array");
                element += text[i++];
            }
        }
        if (!quoted && element == "NULL")
            out.emplace_back(std::nullopt);
        else
            out.emplace_back(std::move(element));
        if (i < end && text[i] != ',')
            bad_conversion(text, "array");
        i++;  // the comma, or past the end
    }
    return out;
}

}  // namespace stratum::detail
