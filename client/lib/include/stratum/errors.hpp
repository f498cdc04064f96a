// The exception hierarchy of libstratum: one root, stratum::Error, with the
// subclass chosen from the SQLSTATE (or its class) so callers catch what they
// can handle, and every field the server sent kept for diagnosis.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

struct pg_result;

namespace stratum {

// What the server (or libstratum) said about a failure. Empty fields were not sent.
struct ErrorFields {
    std::string sqlstate;        // five characters, e.g. "23505"; empty for client-side errors
    std::string message;         // the primary message, as the server wrote it
    std::string detail;
    std::string hint;
    std::string constraint;      // constraint name (integrity violations)
    std::string schema;
    std::string table;
    std::string column;
    std::string severity;        // ERROR, FATAL, PANIC (non-localized)
    std::string statement;       // the SQL text that failed, never its parameter values
};

// Root of every exception libstratum throws. what() is the server's message
// and its SQLSTATE ("... [SQLSTATE 23505]"), never the detail, which can
// quote key values; the fields are available one by one. detail() is empty
// for a unique violation on a tenant table: PostgreSQL leaves the key out of
// the DETAIL wherever row level security applies (it could be another
// tenant's value); constraint() and table() still name the key.
class Error : public std::runtime_error {
public:
    explicit Error(ErrorFields fields);
    Error(std::string sqlstate, std::string message);

    const std::string &sqlstate() const noexcept { return fields_->sqlstate; }
    const std::string &message() const noexcept { return fields_->message; }
    const std::string &detail() const noexcept { return fields_->detail; }
    const std::string &hint() const noexcept { return fields_->hint; }
    const std::string &constraint() const noexcept { return fields_->constraint; }
    const std::string &schema() const noexcept { return fields_->schema; }
    const std::string &table() const noexcept { return fields_->table; }
    const std::string &column() const noexcept { return fields_->column; }
    const std::string &severity() const noexcept { return fields_->severity; }
    const std::string &statement() const noexcept { return fields_->statement; }
    const ErrorFields &fields() const noexcept { return *fields_; }

    // Serialization failures and deadlocks: running the transaction again may succeed.
    bool is_transient() const noexcept;

    // Whether the failed work may have been committed. Every error out of
    // Pool::with_tenant, Pool::query, Tx::exec/exec_batch/commit says one of
    // the two: definitely_not_committed() (nothing of it is in the database,
    // running it again is safe) or committed_unknown() (only
    // CommitOutcomeUnknown there: the connection broke during COMMIT and the
    // server could not be asked in time). A ConnectionLost from a bare
    // Connection::exec in autocommit is unknown too: libstratum did not ask.
    bool committed_unknown() const noexcept { return committed_unknown_; }
    bool definitely_not_committed() const noexcept { return !committed_unknown_; }
    // Set by libstratum where it knows better than the error's class (a
    // connection lost before COMMIT was sent, or after the server said the
    // transaction aborted).
    void set_committed_unknown(bool unknown) noexcept { committed_unknown_ = unknown; }

private:
    std::shared_ptr<const ErrorFields> fields_;  // shared: exceptions are copied
    bool committed_unknown_ = false;
};

// --- client side ------------------------------------------------------------

// A value rejected before any round trip (model validation, bad options,
// a malformed tenant id). field() names what was wrong.
class ValidationError : public Error {
public:
    ValidationError(std::string field, std::string problem);
    const std::string &field() const noexcept { return field_; }

private:
    std::string field_;
};

// An operation did not finish in time. Two kinds, told apart by class:
// AcquireTimeout (no connection in time: nothing was sent) and QueryCanceled
// (57014: statement_timeout, or the round-trip timeout's cancel, answered by
// the server: the statement failed and its transaction did not commit). A
// round trip whose cancel gets no answer is a ConnectionLost instead (a
// COMMIT in it is resolved like any lost COMMIT).
class Timeout : public Error {
public:
    using Error::Error;
};

// No connection within the acquire timeout; nothing was sent to the server.
class AcquireTimeout : public Timeout {
public:
    using Timeout::Timeout;
};

// No connection became free within the acquire timeout.
class PoolExhausted : public AcquireTimeout {
public:
    PoolExhausted(std::size_t pool_size, std::size_t waiters,
                  std::chrono::milliseconds longest_holder_age,
                  std::chrono::milliseconds waited);
    std::size_t pool_size() const noexcept { return pool_size_; }
    std::size_t waiters() const noexcept { return waiters_; }
    std::chrono::milliseconds longest_holder_age() const noexcept { return longest_holder_age_; }

private:
    std::size_t pool_size_;
    std::size_t waiters_;
    std::chrono::milliseconds longest_holder_age_;
};

// The result of a query did not have the shape the caller asked for
// (one_row() on zero rows, value<T>() on a NULL, a text that is not an int ...).
class UnexpectedResult : public Error {
public:
    explicit UnexpectedResult(std::string message);
};

// A misuse of the library (a finished transaction used again, ...).
class UsageError : public Error {
public:
    explicit UsageError(std::string message);
};

// --- connection -------------------------------------------------------------

// The connection broke (class 08, admin shutdown 57P01, crash 57P02, server
// starting 57P03, or the socket closed). Born committed_unknown(); libstratum
// clears that where it knows nothing was committed: before COMMIT was sent,
// or after asking the server (pg_xact_status) about a COMMIT in flight, which
// it does by itself. with_tenant runs the transaction again only then.
class ConnectionLost : public Error {
public:
    explicit ConnectionLost(ErrorFields fields);
    ConnectionLost(std::string sqlstate, std::string message);
};

// A new connection could not be made (server down, refused, authentication...).
// Nothing was sent: definitely not committed.
class CannotConnect : public ConnectionLost {
public:
    explicit CannotConnect(ErrorFields fields);
    CannotConnect(std::string sqlstate, std::string message);
};

// 08007: the connection broke while COMMIT was in flight and the server
// could not tell in time (commit_resolution_timeout) whether the transaction
// committed: the server stayed down, or the transaction stayed in progress.
// The only error whose committed_unknown() is true after with_tenant,
// Tx::commit or Pool::query; never retried. Check with xid():
// SELECT pg_xact_status('<xid>'::xid8) once the server is back.
class CommitOutcomeUnknown : public ConnectionLost {
public:
    CommitOutcomeUnknown(std::string xid, std::string why);
    // The transaction's id (xid8, with its epoch), as text.
    const std::string &xid() const noexcept { return xid_; }

private:
    std::string xid_;
};

// 57P01 / 57P02 / 57P03: the server is shutting down, crashed or starting.
class ServerShutdown : public ConnectionLost {
public:
    using ConnectionLost::ConnectionLost;
};

// --- tenant context and permissions (42501 and the extension's codes) ------

// 42501 for any other reason than a missing tenant context: privileges, a row
// level security WITH CHECK failure, the tenant guard.
class PermissionDenied : public Error {
public:
    using Error::Error;
};

// 42501 "no tenant context ...": the statement needs stratum.set_tenant().
class NoTenantContext : public PermissionDenied {
public:
    using PermissionDenied::PermissionDenied;
};

// A row that would belong to another tenant: RLS WITH CHECK ("new row
// violates row-level security policy") or the guard ("tenant_id of a row ...
// cannot be changed").
class TenantViolation : public PermissionDenied {
public:
    using PermissionDenied::PermissionDenied;
};

// 42704 raised by stratum.set_tenant: the tenant is not registered.
class UnknownTenant : public Error {
public:
    using Error::Error;
};

// 55000 raised by stratum.set_tenant: the tenant is suspended or archived.
class InactiveTenant : public Error {
public:
    using Error::Error;
};

// --- integrity (class 23) ---------------------------------------------------

class IntegrityViolation : public Error {
public:
    using Error::Error;
};
class UniqueViolation : public IntegrityViolation {
public:
    using IntegrityViolation::IntegrityViolation;
};
class ForeignKeyViolation : public IntegrityViolation {
public:
    using IntegrityViolation::IntegrityViolation;
};
class CheckViolation : public IntegrityViolation {
public:
    using IntegrityViolation::IntegrityViolation;
};
class NotNullViolation : public IntegrityViolation {
public:
    using IntegrityViolation::IntegrityViolation;
};
class ExclusionViolation : public IntegrityViolation {
public:
    using IntegrityViolation::IntegrityViolation;
};

// --- transaction outcome (class 40, 25) -------------------------------------

// Running the whole transaction again may succeed; with_tenant does so.
class TransactionRollback : public Error {
public:
    using Error::Error;
};
class SerializationFailure : public TransactionRollback {
public:
    using TransactionRollback::TransactionRollback;
};
class DeadlockDetected : public TransactionRollback {
public:
    using TransactionRollback::TransactionRollback;
};

// 25006: a write on a read-only server (the primary was demoted) or in a READ ONLY transaction.
class ReadOnlyTransaction : public Error {
public:
    using Error::Error;
};

// --- statements (class 42, 22, 53, 57) ---------------------------------------

class SyntaxError : public Error {  // 42601
public:
    using Error::Error;
};
class UndefinedTable : public Error {  // 42P01
public:
    using Error::Error;
};
class UndefinedColumn : public Error {  // 42703
public:
    using Error::Error;
};
class UndefinedFunction : public Error {  // 42883
public:
    using Error::Error;
};
class DataError : public Error {  // class 22: bad input values
public:
    using Error::Error;
};
class InsufficientResources : public Error {  // class 53
public:
    using Error::Error;
};
class QueryCanceled : public Timeout {  // 57014 (statement_timeout, cancel)
public:
    using Timeout::Timeout;
};

// The exception for these fields, chosen from the SQLSTATE (exact code first,
// then its class); a plain Error when nothing more specific fits.
std::exception_ptr make_error(ErrorFields fields);
[[noreturn]] void throw_error(ErrorFields fields);

// The fields of a failed libpq result (PGRES_FATAL_ERROR).
ErrorFields error_fields(const pg_result *result);

}  // namespace stratum
