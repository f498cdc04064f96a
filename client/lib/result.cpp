// Result, Row and Field over a libpq PGresult.
#include "stratum/result.hpp"

#include <libpq-fe.h>

namespace stratum {

bool Field::is_null() const noexcept
{
    return PQgetisnull(result_, row_, column_) != 0;
}

std::string_view Field::view() const noexcept
{
    return {PQgetvalue(result_, row_, column_),
            static_cast<std::size_t>(PQgetlength(result_, row_, column_))};
}

std::string_view Field::name() const noexcept
{
    const char *name = PQfname(result_, column_);
    return name != nullptr ? name : "";
}

void Field::null_field() const
{
    throw UnexpectedResult("column \"" + std::string(name()) +
                           "\" is NULL: read it as std::optional");
}

Field Row::operator[](int column) const
{
    if (column < 0 || column >= PQnfields(result_))
        throw UnexpectedResult("column " + std::to_string(column) + " is out of range (" +
                               std::to_string(PQnfields(result_)) + " columns)");
    return Field(result_, row_, column);
}

Field Row::operator[](std::string_view column) const
{
    for (int i = 0, n = PQnfields(result_); i < n; i++)
        if (column == PQfname(result_, i))
            return Field(result_, row_, i);
    throw UnexpectedResult("the result has no column \"" + std::string(column) + "\"");
}

int Row::size() const noexcept
{
    return PQnfields(result_);
}

void Row::check_columns(std::size_t wanted) const
{
    if (static_cast<std::size_t>(PQnfields(result_)) < wanted)
        throw UnexpectedResult("expected at least " + std::to_string(wanted) +
                               " columns, the result has " + std::to_string(PQnfields(result_)));
}

void Result::Clear::operator()(pg_result *result) const noexcept
{
    PQclear(result);
}

Result::Result(pg_result *result) noexcept : result_(result) {}

std::size_t Result::size() const noexcept
{
    return result_ ? static_cast<std::size_t>(PQntuples(result_.get())) : 0;
}

int Result::columns() const noexcept
{
    return result_ ? PQnfields(result_.get()) : 0;
}

std::string_view Result::column_name(int column) const
{
    if (column < 0 || column >= columns())
        throw UnexpectedResult("column " + std::to_string(column) + " is out of range");
    return PQfname(result_.get(), column);
}

int Result::column_index(std::string_view name) const
{
    for (int i = 0, n = columns(); i < n; i++)
        if (name == PQfname(result_.get(), i))
            return i;
    throw UnexpectedResult("the result has no column \"" + std::string(name) + "\"");
}

std::size_t Result::affected_rows() const noexcept
{
    if (!result_)
        return 0;
    const char *text = PQcmdTuples(result_.get());
    std::size_t n = 0;
    for (; *text >= '0' && *text <= '9'; ++text)
        n = n * 10 + static_cast<std::size_t>(*text - '0');
    return n;
}

std::string_view Result::command_tag() const noexcept
{
    return result_ ? PQcmdStatus(result_.get()) : "";
}

Row Result::at(std::size_t row) const
{
    if (row >= size())
        throw UnexpectedResult("row " + std::to_string(row) + " is out of range (" +
                               std::to_string(size()) + " rows)");
    return (*this)[row];
}

Row Result::one_row() const &
{
    if (size() != 1)
        throw UnexpectedResult("expected exactly one row, got " + std::to_string(size()));
    return (*this)[0];
}

std::optional<Row> Result::optional_row() const &
{
    if (size() > 1)
        throw UnexpectedResult("expected at most one row, got " + std::to_string(size()));
    if (size() == 0)
        return std::nullopt;
    return (*this)[0];
}

void Result::no_rows() const
{
    if (size() != 0)
        throw UnexpectedResult("expected no rows, got " + std::to_string(size()));
}

void Result::check_one_value() const
{
    if (size() != 1 || columns() != 1)
        throw UnexpectedResult("expected one row of one column, got " + std::to_string(size()) +
                               " rows of " + std::to_string(columns()) + " columns");
}

}  // namespace stratum
