// SQLSTATE -> exception class mapping, and the fields of a libpq error result.
#include "stratum/errors.hpp"

#include <libpq-fe.h>

namespace stratum {
namespace {

// what(): the server's message and its SQLSTATE. Never the detail: a unique
// violation's detail quotes the key values, which may be secret.
std::string describe(const ErrorFields &fields)
{
    if (fields.sqlstate.empty())
        return fields.message;
    return fields.message + " [SQLSTATE " + fields.sqlstate + "]";
}

bool starts_with(std::string_view text, std::string_view prefix)
{
    return text.substr(0, prefix.size()) == prefix;
}

std::string field_of(const PGresult *result, int code)
{
    const char *value = PQresultErrorField(result, code);
    return value != nullptr ? value : "";
}

template <class E>
std::exception_ptr make(ErrorFields &&fields)
{
    return std::make_exception_ptr(E(std::move(fields)));
}

std::exception_ptr insufficient_privilege(ErrorFields &&fields)
{
    const std::string &m = fields.message;
    if (starts_with(m, "no tenant context"))
        return make<NoTenantContext>(std::move(fields));
    if (starts_with(m, "new row violates row-level security policy") ||
        (starts_with(m, "tenant_id of a row") && m.find("cannot be changed") != std::string::npos))
        return make<TenantViolation>(std::move(fields));
    return make<PermissionDenied>(std::move(fields));
}

}  // namespace

Error::Error(ErrorFields fields)
    : std::runtime_error(describe(fields)),
      fields_(std::make_shared<const ErrorFields>(std::move(fields)))
{
}

Error::Error(std::string sqlstate, std::string message)
    : Error(ErrorFields{.sqlstate = std::move(sqlstate), .message = std::move(message)})
{
}

bool Error::is_transient() const noexcept
{
    return sqlstate() == "40001" || sqlstate() == "40P01";
}

ValidationError::ValidationError(std::string field, std::string problem)
    : Error(ErrorFields{.message = field + ": " + problem, .column = field}), field_(std::move(field))
{
}

namespace {

std::string exhausted_message(std::size_t pool_size, std::size_t waiters,
                              std::chrono::milliseconds longest, std::chrono::milliseconds waited)
{
    return "connection pool exhausted: all " + std::to_string(pool_size) +
           " connections in use for " + std::to_string(waited.count()) + " ms, " +
           std::to_string(waiters) + " waiters, longest holder has had its connection for " +
           std::to_string(longest.count()) + " ms";
}

}  // namespace

PoolExhausted::PoolExhausted(std::size_t pool_size, std::size_t waiters,
                             std::chrono::milliseconds longest_holder_age,
                             std::chrono::milliseconds waited)
    : AcquireTimeout(ErrorFields{.message = exhausted_message(pool_size, waiters, longest_holder_age,
                                                       waited)}),
      pool_size_(pool_size), waiters_(waiters), longest_holder_age_(longest_holder_age)
{
}

ConnectionLost::ConnectionLost(ErrorFields fields) : Error(std::move(fields))
{
    set_committed_unknown(true);
}

ConnectionLost::ConnectionLost(std::string sqlstate, std::string message)
    : ConnectionLost(ErrorFields{.sqlstate = std::move(sqlstate), .message = std::move(message)})
{
}

CannotConnect::CannotConnect(ErrorFields fields) : ConnectionLost(std::move(fields))
{
    set_committed_unknown(false);
}

CannotConnect::CannotConnect(std::string sqlstate, std::string message)
    : CannotConnect(ErrorFields{.sqlstate = std::move(sqlstate), .message = std::move(message)})
{
}

CommitOutcomeUnknown::CommitOutcomeUnknown(std::string xid, std::string why)
    : ConnectionLost(ErrorFields{
          .sqlstate = "08007",
          .message = "the connection was lost during COMMIT and whether transaction " + xid +
                     " committed is unknown: " + why}),
      xid_(std::move(xid))
{
}

UnexpectedResult::UnexpectedResult(std::string message) : Error(ErrorFields{.message = std::move(message)})
{
}

UsageError::UsageError(std::string message) : Error(ErrorFields{.message = std::move(message)}) {}

std::exception_ptr make_error(ErrorFields fields)
{
    const std::string code = fields.sqlstate;
    if (code.size() != 5)
        return make<Error>(std::move(fields));

    // Exact codes first.
    if (code == "42501")
        return insufficient_privilege(std::move(fields));
    if (code == "23505")
        return make<UniqueViolation>(std::move(fields));
    if (code == "23503")
        return make<ForeignKeyViolation>(std::move(fields));
    if (code == "23514")
        return make<CheckViolation>(std::move(fields));
    if (code == "23502")
        return make<NotNullViolation>(std::move(fields));
    if (code == "23P01")
        return make<ExclusionViolation>(std::move(fields));
    if (code == "40001")
        return make<SerializationFailure>(std::move(fields));
    if (code == "40P01")
        return make<DeadlockDetected>(std::move(fields));
    if (code == "25006")
        return make<ReadOnlyTransaction>(std::move(fields));
    if (code == "42601")
        return make<SyntaxError>(std::move(fields));
    if (code == "42P01")
        return make<UndefinedTable>(std::move(fields));
    if (code == "42703")
        return make<UndefinedColumn>(std::move(fields));
    if (code == "42883")
        return make<UndefinedFunction>(std::move(fields));
    // The extension's tenant codes (set_tenant / SET stratum.tenant_id).
    if (code == "42704" && starts_with(fields.message, "tenant "))
        return make<UnknownTenant>(std::move(fields));
    if (code == "55000" && starts_with(fields.message, "tenant "))
        return make<InactiveTenant>(std::move(fields));
    if (code == "57014")
        return make<QueryCanceled>(std::move(fields));
    if (code == "57P01" || code == "57P02" || code == "57P03")
        return make<ServerShutdown>(std::move(fields));

    // Then the class.
    const std::string_view cls = std::string_view(code).substr(0, 2);
    if (cls == "08")
        return make<ConnectionLost>(std::move(fields));
    if (cls == "23")
        return make<IntegrityViolation>(std::move(fields));
    if (cls == "40")
        return make<TransactionRollback>(std::move(fields));
    if (cls == "22")
        return make<DataError>(std::move(fields));
    if (cls == "53")
        return make<InsufficientResources>(std::move(fields));
    return make<Error>(std::move(fields));
}

void throw_error(ErrorFields fields)
{
    std::rethrow_exception(make_error(std::move(fields)));
}

ErrorFields error_fields(const PGresult *result)
{
    ErrorFields fields;
    fields.sqlstate = field_of(result, PG_DIAG_SQLSTATE);
    fields.message = field_of(result, PG_DIAG_MESSAGE_PRIMARY);
    if (fields.message.empty()) {
        // libpq-made results (e.g. a lost connection) have only the error text.
        fields.message = PQresultErrorMessage(result);
        while (!fields.message.empty() &&
               (fields.message.back() == '\n' || fields.message.back() == ' '))
            fields.message.pop_back();
    }
    fields.detail = field_of(result, PG_DIAG_MESSAGE_DETAIL);
    fields.hint = field_of(result, PG_DIAG_MESSAGE_HINT);
    fields.constraint = field_of(result, PG_DIAG_CONSTRAINT_NAME);
    fields.schema = field_of(result, PG_DIAG_SCHEMA_NAME);
    fields.table = field_of(result, PG_DIAG_TABLE_NAME);
    fields.column = field_of(result, PG_DIAG_COLUMN_NAME);
    fields.severity = field_of(result, PG_DIAG_SEVERITY_NONLOCALIZED);
    return fields;
}

}  // namespace stratum
