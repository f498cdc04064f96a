// stratum::Model<T>: how a C++ struct maps onto a table — columns bound to
// members, the primary key, and validation rules checked before any round
// trip (errors name the column).
//
//   const stratum::Model<Customer> customers_model =
//       stratum::Model<Customer>("customers")
//           .key("id", &Customer::id, stratum::generated())
//           .field("email", &Customer::email, stratum::required(), stratum::max_length(200),
//                  stratum::format(R"([^@\s]+@[^@\s]+)", "an e-mail address"))
//           .field("age", &Customer::age, stratum::range(0, 150))
//           .field("password_hash", &Customer::password_hash, stratum::redacted())
//           .field("created_at", &Customer::created_at, stratum::read_only());
#pragma once

#include <concepts>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "stratum/errors.hpp"
#include "stratum/params.hpp"
#include "stratum/result.hpp"

namespace stratum {

// --- column options -----------------------------------------------------------

struct Required {};
struct Length {
    std::size_t min;
    std::size_t max;
};
struct Format {
    std::shared_ptr<const std::regex> pattern;
    std::string description;
};
struct Range {
    double min;
    double max;
};
struct Redacted {};   // never logged (sent as a secret parameter)
struct ReadOnly {};   // maintained by the server: read back, never written
struct Generated {};  // the server assigns it on INSERT (a DEFAULT): read back after insert

inline Required required() { return {}; }
// Length in characters (UTF-8 code points).
inline Length length(std::size_t min, std::size_t max) { return {min, max}; }
inline Length max_length(std::size_t max) { return {0, max}; }
inline Length min_length(std::size_t min) { return {min, static_cast<std::size_t>(-1)}; }
// The whole value must match the ECMAScript regular expression.
Format format(const std::string &pattern, std::string description = {});
inline Range range(double min, double max) { return {min, max}; }
inline Redacted redacted() { return {}; }
inline ReadOnly read_only() { return {}; }
inline Generated generated() { return {}; }

namespace detail {

std::size_t utf8_length(std::string_view text) noexcept;
// Checks an SQL identifier (optionally schema-qualified) and returns it double-quoted.
std::string quote_identifier(const std::string &name, bool allow_schema);

template <class M>
struct Unwrapped {
    using type = M;
};
template <class M>
struct Unwrapped<std::optional<M>> {
    using type = M;
};

// The value a rule looks at: nullptr for an empty optional.
template <class M>
const typename Unwrapped<M>::type *present(const M &value)
{
    if constexpr (is_optional_v<M>)
        return value.has_value() ? &*value : nullptr;
    else
        return &value;
}

}  // namespace detail

template <class T>
struct ModelColumn {
    std::string name;
    std::string quoted;
    bool key = false;
    bool generated = false;
    bool read_only = false;
    bool secret = false;
    std::function<void(const T &, Params &)> bind;
    std::function<void(T &, const Field &)> load;
    std::vector<std::function<std::optional<std::string>(const T &)>> rules;

    bool written() const noexcept { return !generated && !read_only; }
};

template <class T>
class Model {
public:
    explicit Model(std::string table) : table_(std::move(table)), quoted_table_(detail::quote_identifier(table_, true))
    {
    }

    // The primary key (exactly one). On a temporary Model (the builder chain
    // that initializes a variable) it returns the temporary as an rvalue, so
    // that a Repository cannot be built from it (it would dangle).
    template <class M, class... Options>
    Model &key(std::string column, M T::*member, Options &&...options) &
    {
        if (key_index_ >= 0)
            throw UsageError("model for " + table_ + " already has a key");
        key_index_ = static_cast<int>(columns_.size());
        add(std::move(column), member, true, std::forward<Options>(options)...);
        return *this;
    }
    template <class M, class... Options>
    Model &&key(std::string column, M T::*member, Options &&...options) &&
    {
        return std::move(key(std::move(column), member, std::forward<Options>(options)...));
    }

    template <class M, class... Options>
    Model &field(std::string column, M T::*member, Options &&...options) &
    {
        add(std::move(column), member, false, std::forward<Options>(options)...);
        return *this;
    }
    template <class M, class... Options>
    Model &&field(std::string column, M T::*member, Options &&...options) &&
    {
        return std::move(field(std::move(column), member, std::forward<Options>(options)...));
    }

    // Throws ValidationError naming the first column whose rule fails.
    void validate(const T &row) const
    {
        for (const ModelColumn<T> &column : columns_) {
            if (!column.written() && !column.key)
                continue;
            for (const auto &rule : column.rules)
                if (std::optional<std::string> problem = rule(row))
                    throw ValidationError(column.name, *problem);
        }
    }

    const std::string &table() const noexcept { return table_; }
    const std::string &quoted_table() const noexcept { return quoted_table_; }
    const std::vector<ModelColumn<T>> &columns() const noexcept { return columns_; }
    const ModelColumn<T> &key_column() const
    {
        if (key_index_ < 0)
            throw UsageError("model for " + table_ + " has no key: declare one with key()");
        return columns_[static_cast<std::size_t>(key_index_)];
    }
    const ModelColumn<T> &column(std::string_view name) const
    {
        for (const auto &c : columns_)
            if (c.name == name)
                return c;
        throw UsageError("model for " + table_ + " has no column \"" + std::string(name) + "\"");
    }

private:
    template <class M, class... Options>
    void add(std::string name, M T::*member, bool is_key, Options &&...options)
    {
        for (const auto &c : columns_)
            if (c.name == name)
                throw UsageError("model for " + table_ + " declares column \"" + name + "\" twice");
        ModelColumn<T> column;
        column.quoted = detail::quote_identifier(name, false);
        column.name = std::move(name);
        column.key = is_key;
        (apply(column, member, std::forward<Options>(options)), ...);
        const bool secret = column.secret;
        column.bind = [member, secret](const T &row, Params &params) {
            params.add(row.*member);
            if (secret)
                params.mark_secret(params.size() - 1);
        };
        column.load = [member](T &row, const Field &field) { row.*member = field.template as<M>(); };
        columns_.push_back(std::move(column));
    }

    template <class M>
    static void apply(ModelColumn<T> &column, M T::*member, Required)
    {
        column.rules.push_back([member](const T &row) -> std::optional<std::string> {
            const M &value = row.*member;
            bool missing = false;
            if constexpr (is_optional_v<M>)
                missing = !value.has_value() ||
                          (std::is_same_v<typename M::value_type, std::string> && value->empty());
            else if constexpr (std::is_same_v<M, std::string>)
                missing = value.empty();
            else if constexpr (std::is_same_v<M, Uuid>)
                missing = value.is_nil();
            if (missing)
                return "is required";
            return std::nullopt;
        });
    }
    template <class M>
    static void apply(ModelColumn<T> &column, M T::*member, Length rule)
    {
        static_assert(std::is_same_v<typename detail::Unwrapped<M>::type, std::string>,
                      "length() applies to string columns");
        column.rules.push_back([member, rule](const T &row) -> std::optional<std::string> {
            const auto *value = detail::present(row.*member);
            if (value == nullptr)
                return std::nullopt;
            const std::size_t n = detail::utf8_length(*value);
            if (n < rule.min)
                return "must be at least " + std::to_string(rule.min) + " characters (is " + std::to_string(n) + ")";
            if (n > rule.max)
                return "must be at most " + std::to_string(rule.max) + " characters (is " + std::to_string(n) + ")";
            return std::nullopt;
        });
    }
    template <class M>
    static void apply(ModelColumn<T> &column, M T::*member, Format rule)
    {
        static_assert(std::is_same_v<typename detail::Unwrapped<M>::type, std::string>,
                      "format() applies to string columns");
        column.rules.push_back([member, rule](const T &row) -> std::optional<std::string> {
            const auto *value = detail::present(row.*member);
            if (value == nullptr || std::regex_match(*value, *rule.pattern))
                return std::nullopt;
            return "must be " + (rule.description.empty() ? "in the expected format" : rule.description);
        });
    }
    template <class M>
    static void apply(ModelColumn<T> &column, M T::*member, Range rule)
    {
        static_assert(std::is_arithmetic_v<typename detail::Unwrapped<M>::type>,
                      "range() applies to numeric columns");
        column.rules.push_back([member, rule](const T &row) -> std::optional<std::string> {
            const auto *value = detail::present(row.*member);
            if (value == nullptr)
                return std::nullopt;
            const double v = static_cast<double>(*value);
            if (v < rule.min || v > rule.max) {
                auto show = [](double d) {
                    std::string s = Conversion<double>::to_text(d);
                    return s;
                };
                return "must be between " + show(rule.min) + " and " + show(rule.max) + " (is " + show(v) + ")";
            }
            return std::nullopt;
        });
    }
    template <class M>
    static void apply(ModelColumn<T> &column, M T::*, Redacted)
    {
        column.secret = true;
    }
    template <class M>
    static void apply(ModelColumn<T> &column, M T::*, ReadOnly)
    {
        column.read_only = true;
    }
    template <class M>
    static void apply(ModelColumn<T> &column, M T::*, Generated)
    {
        column.generated = true;
    }

    std::string table_;
    std::string quoted_table_;
    std::vector<ModelColumn<T>> columns_;
    int key_index_ = -1;
};

}  // namespace stratum
