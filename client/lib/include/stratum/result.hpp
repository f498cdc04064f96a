// Query results: stratum::Result owns a libpq result; Row and Field are cheap
// views into it (valid while the Result lives). Fields convert with
// as<T>() (std::optional<T> for nullable columns).
//
// The shape helpers that hand out a Row to keep (one_row, optional_row) do not
// compile on a temporary Result, which dies at the end of the statement and
// would leave the Row dangling: `auto row = pool.query(...).one_row();` is an
// error. Keep the Result in a variable, or take the values at once
// (value<T>(), one_row_as<T...>(), column_values<T>()).
#pragma once

#include <cstddef>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "stratum/conversions.hpp"

struct pg_result;

namespace stratum {

class Field {
public:
    Field(const pg_result *result, int row, int column) noexcept
        : result_(result), row_(row), column_(column)
    {
    }
    bool is_null() const noexcept;
    // The text of the value ("" for NULL).
    std::string_view view() const noexcept;
    std::string_view name() const noexcept;

    // The value converted to T; throws UnexpectedResult on NULL unless T is
    // std::optional, and when the text does not convert.
    template <class T>
    T as() const
    {
        if constexpr (is_optional_v<T>) {
            if (is_null())
                return std::nullopt;
            return T(from_text<typename T::value_type>(view()));
        } else {
            if (is_null())
                null_field();
            return from_text<T>(view());
        }
    }

private:
    [[noreturn]] void null_field() const;
    const pg_result *result_;
    int row_;
    int column_;
};

class Row {
public:
    Row(const pg_result *result, int row) noexcept : result_(result), row_(row) {}
    Field operator[](int column) const;
    // By column name; throws UnexpectedResult when the result has no such column.
    Field operator[](std::string_view column) const;
    int size() const noexcept;
    int index() const noexcept { return row_; }

    // The first sizeof...(T) columns as a tuple: auto [id, name] = row.as<int, std::string>();
    template <class... T>
    std::tuple<T...> as() const
    {
        check_columns(sizeof...(T));
        return as_tuple<T...>(std::index_sequence_for<T...>{});
    }

private:
    template <class... T, std::size_t... I>
    std::tuple<T...> as_tuple(std::index_sequence<I...>) const
    {
        return std::tuple<T...>((*this)[static_cast<int>(I)].template as<T>()...);
    }
    void check_columns(std::size_t wanted) const;
    const pg_result *result_;
    int row_;
};

class Result {
public:
    Result() noexcept = default;
    // Takes ownership of a libpq result.
    explicit Result(pg_result *result) noexcept;
    Result(Result &&) noexcept = default;
    Result &operator=(Result &&) noexcept = default;

    std::size_t size() const noexcept;
    bool empty() const noexcept { return size() == 0; }
    int columns() const noexcept;
    std::string_view column_name(int column) const;
    // Index of a column by name; throws UnexpectedResult when absent.
    int column_index(std::string_view name) const;
    // Rows changed by INSERT/UPDATE/DELETE (or returned by SELECT).
    std::size_t affected_rows() const noexcept;
    // e.g. "INSERT 0 1"
    std::string_view command_tag() const noexcept;

    // A row by index. On a temporary Result only for use in the same
    // expression (pool.query(...)[0][1].as<int>()): the Result dies with it.
    Row operator[](std::size_t row) const noexcept { return Row(get(), static_cast<int>(row)); }
    Row at(std::size_t row) const;

    // Shape helpers: exactly one row; zero or one row; no rows; one row of one
    // column converted to T. Each throws UnexpectedResult otherwise.
    Row one_row() const &;
    Row one_row() const && = delete;  // keep the Result, or use one_row_as<T...>()
    std::optional<Row> optional_row() const &;
    std::optional<Row> optional_row() const && = delete;
    void no_rows() const;
    template <class T>
    T value() const
    {
        check_one_value();
        return (*this)[0][0].template as<T>();
    }
    // The first sizeof...(T) columns of exactly one row, as values (safe on a
    // temporary): auto [id, name] = pool.query(...).one_row_as<int, std::string>();
    template <class... T>
    std::tuple<T...> one_row_as() const
    {
        return one_row().template as<T...>();
    }
    // Column `column` of every row.
    template <class T>
    std::vector<T> column_values(int column = 0) const
    {
        std::vector<T> out;
        out.reserve(size());
        for (std::size_t i = 0; i < size(); i++)
            out.push_back((*this)[i][column].template as<T>());
        return out;
    }

    class iterator {
    public:
        using iterator_category = std::random_access_iterator_tag;
        using value_type = Row;
        using difference_type = std::ptrdiff_t;
        using pointer = void;
        using reference = Row;
        iterator(const pg_result *result, int row) noexcept : result_(result), row_(row) {}
        Row operator*() const noexcept { return Row(result_, row_); }
        iterator &operator++() noexcept
        {
            ++row_;
            return *this;
        }
        iterator operator++(int) noexcept
        {
            iterator old = *this;
            ++row_;
            return old;
        }
        difference_type operator-(const iterator &other) const noexcept { return row_ - other.row_; }
        bool operator==(const iterator &other) const noexcept = default;

    private:
        const pg_result *result_;
        int row_;
    };
    // (A range-for over a temporary Result is fine: the loop keeps it alive.)
    iterator begin() const noexcept { return iterator(get(), 0); }
    iterator end() const noexcept { return iterator(get(), static_cast<int>(size())); }

    const pg_result *get() const noexcept { return result_.get(); }

private:
    void check_one_value() const;
    struct Clear {
        void operator()(pg_result *result) const noexcept;
    };
    std::unique_ptr<pg_result, Clear> result_;
};

}  // namespace stratum
