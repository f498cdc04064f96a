// Statement parameters: values are always sent separately from the SQL text
// ($1, $2, ...), never spliced into it. A parameter wrapped in
// stratum::secret(...) is sent as usual but never appears in a log line.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "stratum/conversions.hpp"

namespace stratum {

// A parameter whose value must never be logged (password hashes, tokens, ...).
// (Distinct from stratum::Secret in config.hpp, a configured password.)
template <class T>
struct SecretParam {
    T value;
};
template <class T>
SecretParam<std::decay_t<T>> secret(T &&value)
{
    return {std::forward<T>(value)};
}

template <class T>
inline constexpr bool is_secret_v = false;
template <class T>
inline constexpr bool is_secret_v<SecretParam<T>> = true;

// The parameters of one statement, in text format.
class Params {
public:
    Params() = default;
    template <class... Args>
    explicit Params(Args &&...args)
    {
        values_.reserve(sizeof...(args));
        (add(std::forward<Args>(args)), ...);
    }

    template <class T>
    Params &add(const T &value)
    {
        if constexpr (std::is_same_v<T, std::nullptr_t> || std::is_same_v<T, std::nullopt_t>) {
            add_null();
        } else if constexpr (is_optional_v<T>) {
            if (value.has_value())
                add(*value);
            else
                add_null();
        } else if constexpr (is_secret_v<T>) {
            add(value.value);
            values_.back().secret = true;
        } else {
            add_text(std::string(Conversion<std::decay_t<T>>::to_text(value)));
        }
        return *this;
    }
    Params &add_text(std::string text, bool secret = false)
    {
        values_.push_back(Value{std::move(text), false, secret});
        return *this;
    }
    Params &add_null(bool secret = false)
    {
        values_.push_back(Value{{}, true, secret});
        return *this;
    }
    // Marks parameter i (0-based) as secret.
    void mark_secret(std::size_t i) { values_.at(i).secret = true; }

    std::size_t size() const noexcept { return values_.size(); }
    bool empty() const noexcept { return values_.empty(); }
    bool is_null(std::size_t i) const { return values_[i].null; }
    bool is_secret(std::size_t i) const { return values_[i].secret; }
    std::string_view text(std::size_t i) const { return values_[i].text; }

    // The values as libpq wants them (pointers valid while this object lives, unchanged).
    const char *const *pointers() const;

    // For logs: $1='x', $2=<secret>, $3=NULL (values cut at 64 characters).
    std::string redacted() const;

private:
    struct Value {
        std::string text;
        bool null;
        bool secret;
    };
    std::vector<Value> values_;
    // The pointers libpq wants, in place for a few parameters (most
    // statements): no second allocation per statement.
    static constexpr std::size_t few = 6;
    mutable std::array<const char *, few> few_pointers_{};
    mutable std::vector<const char *> pointers_;
};

// True when Args are parameter values (not an already built Params).
template <class... Args>
inline constexpr bool are_values_v = !(std::is_same_v<std::remove_cvref_t<Args>, Params> || ...);

// SQL text with its parameters: one statement of a pipeline.
struct Statement {
    std::string sql;
    Params params;
};

}  // namespace stratum
