// Text-format conversions between C++ values and PostgreSQL parameters and
// fields. Specialize stratum::Conversion<T> (to_text and/or from_text) to
// teach libstratum a type of your own.
#pragma once

#include <charconv>
#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "stratum/errors.hpp"
#include "stratum/uuid.hpp"

namespace stratum {

template <class T, class Enable = void>
struct Conversion;  // no conversion for this type: specialize it

template <class T>
inline constexpr bool is_optional_v = false;
template <class T>
inline constexpr bool is_optional_v<std::optional<T>> = true;

namespace detail {
[[noreturn]] void bad_conversion(std::string_view text, std::string_view type);
double parse_double(std::string_view text);
void append_array_element(std::string &out, std::string_view element);
std::vector<std::optional<std::string>> split_array(std::string_view text);
}  // namespace detail

template <>
struct Conversion<bool> {
    static std::string to_text(bool value) { return value ? "t" : "f"; }
    static bool from_text(std::string_view text)
    {
        if (text == "t" || text == "true")
            return true;
        if (text == "f" || text == "false")
            return false;
        detail::bad_conversion(text, "bool");
    }
};

template <std::integral T>
    requires(!std::same_as<T, bool> && !std::same_as<T, char>)
struct Conversion<T> {
    static std::string to_text(T value) { return std::to_string(value); }
    static T from_text(std::string_view text)
    {
        T value{};
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (ec != std::errc() || end != text.data() + text.size())
            detail::bad_conversion(text, "integer");
        return value;
    }
};

template <std::floating_point T>
struct Conversion<T> {
    static std::string to_text(T value)
    {
        char buffer[64];
        auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
        return std::string(buffer, end);
    }
    static T from_text(std::string_view text) { return static_cast<T>(detail::parse_double(text)); }
};

template <>
struct Conversion<std::string> {
    static const std::string &to_text(const std::string &value) { return value; }
    static std::string from_text(std::string_view text) { return std::string(text); }
};

template <>
struct Conversion<std::string_view> {
    static std::string to_text(std::string_view value) { return std::string(value); }
    // A view into the result: valid as long as the Result is.
    static std::string_view from_text(std::string_view text) { return text; }
};

template <>
struct Conversion<const char *> {
    static std::string to_text(const char *value) { return value; }
};

template <>
struct Conversion<char *> {
    static std::string to_text(const char *value) { return value; }
};

template <>
struct Conversion<Uuid> {
    static std::string to_text(const Uuid &value) { return value.str(); }
    static Uuid from_text(std::string_view text) { return Uuid(text); }
};

// One-dimensional arrays: {a,b,"c d"}; NULL elements as std::optional.
template <class T>
struct Conversion<std::vector<T>> {
    static std::string to_text(const std::vector<T> &values)
    {
        std::string out = "{";
        for (std::size_t i = 0; i < values.size(); i++) {
            if (i > 0)
                out += ',';
            if constexpr (is_optional_v<T>) {
                if (!values[i].has_value()) {
                    out += "NULL";
                    continue;
                }
                detail::append_array_element(out, std::string_view(element_text(*values[i])));
            } else {
                detail::append_array_element(out, std::string_view(element_text(values[i])));
            }
        }
        out += '}';
        return out;
    }
    static std::vector<T> from_text(std::string_view text)
    {
        std::vector<T> out;
        for (auto &element : detail::split_array(text)) {
            if constexpr (is_optional_v<T>) {
                if (!element)
                    out.emplace_back();
                else
                    out.emplace_back(Conversion<typename T::value_type>::from_text(*element));
            } else {
                if (!element)
                    detail::bad_conversion("NULL", "array element");
                out.push_back(Conversion<T>::from_text(*element));
            }
        }
        return out;
    }

private:
    template <class E>
    static std::string element_text(const E &element)
    {
        return std::string(Conversion<std::remove_cvref_t<E>>::to_text(element));
    }
};

// Converts a field's text; throws UnexpectedResult when it does not parse.
template <class T>
T from_text(std::string_view text)
{
    return Conversion<T>::from_text(text);
}

}  // namespace stratum
