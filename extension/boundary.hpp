// The C++/PostgreSQL error boundary: kept in this one header so that no C++
// exception reaches PostgreSQL and no PostgreSQL longjmp skips a destructor.
//
// Two rules, enforced here and nowhere else:
//  1. Every SQL-callable function is defined with STRATUM_FUNCTION. Its body
//     runs inside run_at_boundary(), which turns any C++ exception into an
//     ereport (a captured PostgreSQL error is re-thrown with its SQLSTATE,
//     detail and hint intact).
//  2. While a C++ object with a non-trivial destructor is alive, PostgreSQL is
//     called only through pg_call(), which catches the ERROR with
//     PG_TRY/PG_CATCH and throws it on as PgError. Code holding only plain
//     values (the hot paths) may call PostgreSQL directly.
#pragma once

#include "pg.hpp"

namespace stratum {

// A PostgreSQL ERROR travelling through C++ frames. It must reach the
// boundary, which re-throws it: the transaction is aborted there, and only
// that abort releases what the failed call held (locks, pins, memory).
class PgError final : public std::exception {
public:
    explicit PgError(ErrorData *edata) noexcept : edata_(edata) {}
    ErrorData *error_data() const noexcept { return edata_; }
    const char *what() const noexcept override
    {
        return edata_->message != nullptr ? edata_->message : "PostgreSQL error";
    }

private:
    ErrorData *edata_;  // copied out of ErrorContext into the caller's context
};

// A user-facing error raised from C++ code: reported with its own SQLSTATE.
class SqlError final : public std::exception {
public:
    SqlError(int sqlstate, const char *message, const char *hint = nullptr) noexcept;
    int sqlstate() const noexcept { return sqlstate_; }
    const char *what() const noexcept override { return message_; }
    const char *hint() const noexcept { return hint_[0] != '\0' ? hint_ : nullptr; }

private:
    int sqlstate_;
    char message_[256];  // fixed buffers: constructing or copying never allocates
    char hint_[256];
};

// Captures a PostgreSQL ERROR raised inside fn and throws it as PgError.
// fn itself must not hold C++ objects with destructors across its PG calls.
ErrorData *capture_current_error(MemoryContext caller_context);

template <typename Fn>
auto pg_call(Fn &&fn) -> decltype(fn())
{
    // A C++ exception leaving PG_TRY would skip PG_END_TRY and leave
    // PG_exception_stack pointing into this dead frame.
    static_assert(noexcept(fn()), "pg_call: fn must be noexcept (plain PostgreSQL calls)");
    using Result = decltype(fn());
    MemoryContext caller_context = CurrentMemoryContext;
    ErrorData *volatile caught = nullptr;

    if constexpr (std::is_void_v<Result>) {
        PG_TRY();
        {
            fn();
        }
        PG_CATCH();
        {
            caught = capture_current_error(caller_context);
        }
        PG_END_TRY();
        if (caught != nullptr)
            throw PgError(caught);
    } else {
        static_assert(std::is_trivially_copyable_v<Result>,
                      "pg_call returns plain values only");
        Result result{};
        PG_TRY();
        {
            result = fn();
        }
        PG_CATCH();
        {
            caught = capture_current_error(caller_context);
        }
        PG_END_TRY();
        if (caught != nullptr)
            throw PgError(caught);
        return result;
    }
}

using FunctionBody = Datum (*)(FunctionCallInfo);

// In a catch block: notes what was caught (plain copies, no allocation).
void capture_exception() noexcept;
// After the catch block has ended: raises what capture_exception noted.
[[noreturn]] void raise_captured_exception();

// Runs body and converts every C++ exception into a PostgreSQL ERROR. Inline
// and free of locals, so that a call that throws nothing costs nothing more
// than the body: the work is all on the catch path, out of line.
inline Datum run_at_boundary(FunctionCallInfo fcinfo, FunctionBody body)
{
    try {
        return body(fcinfo);
    } catch (...) {
        capture_exception();
    }
    raise_captured_exception();
}

}  // namespace stratum

// Defines the SQL-callable C function `name`; the braces that follow are its
// body, run behind the boundary.
#define STRATUM_FUNCTION(name)                                       \
    extern "C" {                                                     \
    PG_FUNCTION_INFO_V1(name);                                       \
    }                                                                \
    static Datum name##_body(FunctionCallInfo fcinfo);               \
    extern "C" Datum name(PG_FUNCTION_ARGS)                          \
    {                                                                \
        return ::stratum::run_at_boundary(fcinfo, name##_body);      \
    }                                                                \
    static Datum name##_body(FunctionCallInfo fcinfo)
