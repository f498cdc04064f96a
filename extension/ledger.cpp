// The migration ledger's SQL-callable functions: apply, rollback, and the
// pieces the runner needs for non-transactional migrations. They run with the
// caller's privileges; only the ledger's own rows are written as its owner
// (ledger_store.cpp).
#include "boundary.hpp"
#include "checksum.hpp"
#include "ledger_lock.hpp"
#include "ledger_run.hpp"
#include "ledger_script.hpp"
#include "ledger_store.hpp"
#include "tenant_context.hpp"


namespace stratum {
namespace {

// SQLSTATEs of stratum's migration ledger (class SM), for the runner to act on.
constexpr int errcode_migration_drift = MAKE_SQLSTATE('S', 'M', '0', '0', '1');
constexpr int errcode_dependency_missing = MAKE_SQLSTATE('S', 'M', '0', '0', '2');
constexpr int errcode_ledger_tampered = MAKE_SQLSTATE('S', 'M', '0', '0', '3');
constexpr int errcode_not_in_ledger = MAKE_SQLSTATE('S', 'M', '0', '0', '4');
constexpr int errcode_irreversible = MAKE_SQLSTATE('S', 'M', '0', '0', '5');

// A migration as passed in: validated, hashed, labelled.
struct Migration {
    LedgerKey key;
    const char *name;
    const char *up_sql;
    const char *down_sql;  // nullptr: none
    Datum depends_on;      // bigint[], '{}' when none
    int dependency_count;
    bool repair;
    char checksum[checksum_hex_length + 1];
    char down_checksum[checksum_hex_length + 1];
    const char *label;
    const char *caller;  // role and actor when called: the SQL run may change both
    const char *actor;
};

const char *text_arg(FunctionCallInfo fcinfo, int n)
{
    return PG_ARGISNULL(n) ? nullptr : text_to_cstring(PG_GETARG_TEXT_PP(n));
}

[[noreturn]] void raise_null(const char *what)
{
    ereport(ERROR,
            (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("%s must not be null", what)));
    pg_unreachable();
}

bool valid_environment(const char *environment)
{
    size_t length = strlen(environment);
    if (length == 0 || length > 63)
        return false;
    for (size_t i = 0; i < length; i++) {
        unsigned char c = environment[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '_' && c != '-' && c != '.')))
            return false;
    }
    return true;
}

// Reads scope, version, kind and environment from the given argument
// positions and checks them.
LedgerKey key_arg(FunctionCallInfo fcinfo, int scope_arg, int version_arg, int kind_arg,
                  int environment_arg)
{
    LedgerKey key;
    key.scope = text_arg(fcinfo, scope_arg);
    if (key.scope == nullptr)
        raise_null("scope");
    if (key.scope[0] == '\0')
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("scope must be 'master' or a tenant schema, not empty")));
    if (PG_ARGISNULL(version_arg))
        raise_null("version");
    key.version = PG_GETARG_INT64(version_arg);
    if (key.version < 0)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("version must not be negative, got " INT64_FORMAT, key.version)));
    key.kind = text_arg(fcinfo, kind_arg);
    if (key.kind == nullptr)
        raise_null("kind");
    const char *environment = text_arg(fcinfo, environment_arg);
    if (strcmp(key.kind, "migration") == 0) {
        if (environment != nullptr && environment[0] != '\0')
            ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                            errmsg("environment \"%s\" given for a migration", environment),
                            errhint("Only seeds belong to an environment; migrations run in "
                                    "every one.")));
        key.environment = "";
    } else if (strcmp(key.kind, "seed") == 0) {
        if (environment == nullptr || !valid_environment(environment))
            ereport(ERROR,
                    (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                     errmsg("seed needs an environment such as 'development', got %s",
                            environment != nullptr ? quote_literal_cstr(environment) : "NULL"),
                     errhint("An environment name is 1 to 63 letters, digits, '_', '-' or '.', "
                             "starting with a letter or digit.")));
        key.environment = environment;
    } else {
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("kind must be 'migration' or 'seed', got %s",
                               quote_literal_cstr(key.kind))));
    }
    return key;
}

const char *label_of(const LedgerKey &key, const char *name)
{
    const char *what = strcmp(key.kind, "seed") == 0
                           ? psprintf("seed %s/%s/" INT64_FORMAT, key.scope, key.environment,
                                      key.version)
                           : psprintf("migration %s/" INT64_FORMAT, key.scope, key.version);
    return name != nullptr ? psprintf("%s (%s)", what, name) : what;
}

// Hashes SQL as UTF-8 (converted from the database encoding if need be), after
// checking that it is UTF-8 where the server has not already done so.
void checksum_sql(const char *label, const char *part, const char *sql,
                  char out[checksum_hex_length + 1])
{
    int length = static_cast<int>(strlen(sql));
    int encoding = GetDatabaseEncoding();
    const char *utf8 = sql;
    if (encoding == PG_UTF8 || encoding == PG_SQL_ASCII) {
        int valid = pg_encoding_verifymbstr(PG_UTF8, sql, length);
        if (valid < length) {
            int line = 1;
            for (int i = 0; i < valid; i++)
                line += sql[i] == '\n';
            ereport(ERROR,
                    (errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
                     errmsg("%s: %s is not valid UTF-8 at line %d (byte 0x%02x)", label, part,
                            line, static_cast<unsigned char>(sql[valid])),
                     errhint("Migration files are UTF-8; convert the file, e.g. with iconv.")));
        }
    } else {
        utf8 = pg_server_to_any(sql, length, PG_UTF8);
        length = static_cast<int>(strlen(utf8));
    }
    if (!migration_checksum(utf8, length, out))
        ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY),
                        errmsg("could not compute SHA-256: OpenSSL failed")));
}

// depends_on as a checked bigint[] (NULL is an empty array).
Datum dependencies_arg(FunctionCallInfo fcinfo, int n, const LedgerKey &key, int *count)
{
    if (PG_ARGISNULL(n)) {
        *count = 0;
        return PointerGetDatum(construct_empty_array(INT8OID));
    }
    ArrayType *array = PG_GETARG_ARRAYTYPE_P(n);
    if (ARR_NDIM(array) > 1)
        ereport(ERROR, (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
                        errmsg("depends_on must be a one-dimensional array of versions")));
    Datum *elements;
    bool *nulls;
    deconstruct_array(array, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elements, &nulls,
                      count);
    for (int i = 0; i < *count; i++) {
        if (nulls[i])
            ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                            errmsg("depends_on must not contain NULL")));
        if (DatumGetInt64(elements[i]) == key.version && strcmp(key.kind, "migration") == 0)
            ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                            errmsg("migration " INT64_FORMAT " cannot depend on itself",
                                   key.version)));
    }
    return PointerGetDatum(array);
}

// A name is shown in status listings and logs: bounded, and without control
// characters that could forge a line there.
void check_migration_name(int64 version, const char *name)
{
    constexpr int max_characters = 200;
    for (const char *c = name; *c != '\0'; c++)
        if (static_cast<unsigned char>(*c) < 0x20 || *c == 0x7f)
            ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                            errmsg("migration " INT64_FORMAT " name must not contain control characters",
                                   version)));
    if (pg_mbstrlen(name) > max_characters)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("migration " INT64_FORMAT " name must be at most %d characters",
                               version, max_characters)));
}

// Reads the arguments shared by apply, record and check: scope 0, version 1,
// name 2, up_sql 3, down_sql 4, depends_on 5, kind 6, environment 7, repair 9.
Migration migration_args(FunctionCallInfo fcinfo)
{
    Migration m{};
    m.key = key_arg(fcinfo, 0, 1, 6, 7);
    m.name = text_arg(fcinfo, 2);
    if (m.name == nullptr || m.name[0] == '\0')
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("migration " INT64_FORMAT " needs a name", m.key.version)));
    check_migration_name(m.key.version, m.name);
    m.label = label_of(m.key, m.name);
    m.up_sql = text_arg(fcinfo, 3);
    if (m.up_sql == nullptr)
        raise_null("up_sql");
    m.down_sql = text_arg(fcinfo, 4);
    m.depends_on = dependencies_arg(fcinfo, 5, m.key, &m.dependency_count);
    m.repair = !PG_ARGISNULL(9) && PG_GETARG_BOOL(9);
    m.caller = GetUserNameFromId(GetUserId(), false);
    m.actor = actor_of_transaction();
    if (m.actor != nullptr)
        m.actor = pstrdup(m.actor);
    checksum_sql(m.label, "up SQL", m.up_sql, m.checksum);
    if (m.down_sql != nullptr)
        checksum_sql(m.label, "down SQL", m.down_sql, m.down_checksum);
    return m;
}

bool same_down(const Migration &m, const LedgerRow &row)
{
    if (m.down_sql == nullptr || row.down_checksum == nullptr)
        return m.down_sql == nullptr && row.down_checksum == nullptr;
    return strcmp(m.down_checksum, row.down_checksum) == 0;
}

// Refuses statements that have no place in a migration, and (for a
// transactional one) statements that cannot run in a transaction block.
void check_statements(const Script &script, const char *label, const char *part,
                      bool transactional, bool rollback = false)
{
    for (int i = 0; i < script.count; i++) {
        const ScriptStatement &s = script.statements[i];
        switch (s.kind) {
        case StatementClass::transactional:
            break;
        case StatementClass::transaction_control:
            ereport(ERROR,
                    (errcode(ERRCODE_INVALID_TRANSACTION_TERMINATION),
                     errmsg("%s: %s statement %d (line %d) is %s; a migration must not control "
                            "its transaction",
                            label, part, i + 1, s.line, s.tag),
                     errhint("stratum runs each migration in one transaction of its own; remove "
                             "BEGIN, COMMIT and the like from the file.")));
            break;
        case StatementClass::client_copy:
            ereport(ERROR,
                    (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                     errmsg("%s: %s statement %d (line %d) copies from or to the client, which "
                            "the server cannot do",
                            label, part, i + 1, s.line),
                     errhint("Use INSERT ... VALUES, or COPY from a file on the server.")));
            break;
        case StatementClass::no_transaction:
            if (transactional)
                ereport(ERROR,
                        (errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
                         errmsg("%s: %s statement %d (line %d, %s) cannot run inside a "
                                "transaction block",
                                label, part, i + 1, s.line, s.tag),
                         rollback ? errhint("The runner rolls it back outside a transaction: "
                                            "stratum.check_rollback(), the statements under "
                                            "stratum.try_migration_lock(), then "
                                            "stratum.record_rollback().")
                                  : errhint("Declare the migration non-transactional in its "
                                            "header: the runner then runs it outside a "
                                            "transaction under stratum.try_migration_lock() "
                                            "and records it with stratum.record_migration().")));
            break;
        }
    }
}

// Parses both scripts, so that an unterminated down SQL is refused when the
// migration is applied rather than when it is needed.
Script parse_migration(const Migration &m, bool transactional)
{
    Script up = parse_script(m.up_sql, m.label, "up SQL");
    check_statements(up, m.label, "up SQL", transactional);
    if (m.down_sql != nullptr) {
        Script down = parse_script(m.down_sql, m.label, "down SQL");
        check_statements(down, m.label, "down SQL", false);
    }
    return up;
}

[[noreturn]] void raise_drift(const Migration &m, const LedgerRow &row)
{
    ereport(ERROR,
            (errcode(errcode_migration_drift),
             errmsg("%s has changed since it was applied", m.label),
             errdetail("Checksum in the ledger: %s; of the SQL given now: %s.", row.checksum,
                       m.checksum),
             errhint("Restore the file as it was applied, or repair (apply with repair => "
                     "true) to record the new content without running it.")));
    pg_unreachable();
}

void check_dependencies(const Migration &m)
{
    if (m.dependency_count == 0)
        return;
    char *missing = missing_dependencies(m.key.scope, m.depends_on);
    if (missing != nullptr)
        ereport(ERROR,
                (errcode(errcode_dependency_missing),
                 errmsg("%s depends on %s not applied in scope %s", m.label, missing,
                        m.key.scope),
                 errhint("Apply the migrations it depends on first.")));
}

// What to do with a migration, decided under the scope's lock.
enum class Decision { apply, skip, repair };

Decision decide(const Migration &m, const LedgerRow &row)
{
    if (!row.found || !row.applied)
        return Decision::apply;
    if (strcmp(row.checksum, m.checksum) != 0) {
        if (!m.repair)
            raise_drift(m, row);
        return Decision::repair;
    }
    return m.repair && !same_down(m, row) ? Decision::repair : Decision::skip;
}

LedgerRecord record_of(const Migration &m, bool transactional, Datum lock_timeout,
                       TimestampTz done_at, Datum duration, Datum metadata)
{
    LedgerRecord record;
    record.key = m.key;
    record.name = m.name;
    record.checksum = m.checksum;
    record.down_checksum = m.down_sql != nullptr ? m.down_checksum : nullptr;
    record.up_sql = m.up_sql;
    record.down_sql = m.down_sql;
    record.depends_on = m.depends_on;
    record.transactional = transactional;
    record.lock_timeout = lock_timeout;
    record.done_by = m.caller;
    record.actor = m.actor;
    record.done_at = done_at;
    record.duration = duration;
    record.metadata = metadata;
    return record;
}

Datum metadata_arg(FunctionCallInfo fcinfo, int n)
{
    if (PG_ARGISNULL(n))
        return DirectFunctionCall1(jsonb_in, CStringGetDatum("{}"));
    return PG_GETARG_DATUM(n);
}

int interval_ms(const Interval *interval, const char *what)
{
    int64 usecs = interval->time + interval->day * USECS_PER_DAY +
                  static_cast<int64>(interval->month) * DAYS_PER_MONTH * USECS_PER_DAY;
    if (usecs < 0 || usecs / 1000 > INT_MAX)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("%s must be between 0 and %d ms", what, INT_MAX)));
    return static_cast<int>(usecs / 1000);
}

Datum interval_between(TimestampTz start, TimestampTz end)
{
    return DirectFunctionCall2(timestamp_mi, TimestampTzGetDatum(end), TimestampTzGetDatum(start));
}

// The search_path a tenant scope's SQL runs with: the tenant's schema first,
// then the caller's path.
const char *search_path_for(const char *scope)
{
    if (strcmp(scope, "master") == 0)
        return nullptr;
    const char *quoted = quote_identifier(scope);
    if (namespace_search_path == nullptr || namespace_search_path[0] == '\0')
        return quoted;
    return psprintf("%s, %s", quoted, namespace_search_path);
}

void require_session_lock(const char *scope, const char *label)
{
    if (!holds_session_lock(scope))
        ereport(ERROR,
                (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                 errmsg("%s: this session does not hold the migration lock of scope %s", label,
                        scope),
                 errhint("Take it with stratum.try_migration_lock(%s) before running a "
                         "non-transactional migration, and release it after recording it.",
                         quote_literal_cstr(scope))));
}

Datum outcome(const char *word)
{
    return CStringGetTextDatum(word);
}

// The stored down SQL, checked against the checksum recorded with it.
void check_down_sql(const char *label, const LedgerRow &row)
{
    if (row.down_sql == nullptr)
        ereport(ERROR,
                (errcode(errcode_irreversible),
                 errmsg("%s has no down SQL and cannot be rolled back", label),
                 errhint("Write a new migration that undoes it instead.")));
    char checksum[checksum_hex_length + 1];
    checksum_sql(label, "stored down SQL", row.down_sql, checksum);
    if (row.down_checksum == nullptr || strcmp(checksum, row.down_checksum) != 0)
        ereport(ERROR,
                (errcode(errcode_ledger_tampered),
                 errmsg("%s: the down SQL stored in the ledger does not match its checksum",
                        label),
                 errdetail("Recorded: %s; computed now: %s.",
                           row.down_checksum != nullptr ? row.down_checksum : "none", checksum),
                 errhint("The ledger was changed outside stratum; see "
                         "stratum.verify_ledger().")));
}

void check_dependents(const char *label, const LedgerKey &key)
{
    if (strcmp(key.kind, "migration") != 0)
        return;
    char *dependents = dependents_of(key.scope, key.version);
    if (dependents != nullptr)
        ereport(ERROR,
                (errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
                 errmsg(strchr(dependents, ',') != nullptr
                            ? "%s cannot be rolled back: migrations %s depend on it"
                            : "%s cannot be rolled back: migration %s depends on it",
                        label, dependents),
                 errhint("Roll those back first.")));
}

// The ledger row to roll back (raises when there is none); names the label.
LedgerRow find_for_rollback(const LedgerKey &key, const char **label)
{
    LedgerRow row = find_migration(key);
    if (!row.found)
        ereport(ERROR, (errcode(errcode_not_in_ledger),
                        errmsg("%s is not in the ledger", *label)));
    *label = label_of(key, row.name);
    return row;
}

}  // namespace
}  // namespace stratum

using namespace stratum;

// stratum.apply_migration(scope, version, name, up_sql, down_sql, depends_on,
//                         kind, environment, lock_timeout, repair, metadata)
STRATUM_FUNCTION(stratum_apply_migration)
{
    Migration m = migration_args(fcinfo);
    int lock_timeout = PG_ARGISNULL(8) ? -1 : interval_ms(PG_GETARG_INTERVAL_P(8), "lock_timeout");
    Datum metadata = metadata_arg(fcinfo, 10);

    SPI_connect();
    check_scope(m.key.scope);
    lock_scope_for_transaction(m.key.scope, m.label);
    LedgerRow row = find_migration(m.key);
    const char *result = "skipped";
    switch (decide(m, row)) {
    case Decision::skip:
        result = "skipped";
        break;
    case Decision::repair:
        record_migration_row(record_of(m, true, 0, GetCurrentTimestamp(), 0, metadata),
                             "repaired");
        result = "repaired";
        break;
    case Decision::apply: {
        Script script = parse_migration(m, true);
        check_dependencies(m);
        RunSettings settings{m.label, lock_timeout, search_path_for(m.key.scope)};
        TimestampTz started = GetCurrentTimestamp();
        run_script(script, settings);
        TimestampTz finished = GetCurrentTimestamp();
        Datum timeout = PG_ARGISNULL(8) ? 0 : PG_GETARG_DATUM(8);
        record_migration_row(record_of(m, true, timeout, started,
                                       interval_between(started, finished), metadata),
                             "applied");
        result = "applied";
        break;
    }
    }
    SPI_finish();
    return outcome(result);
}

// stratum.check_migration(scope, version, name, up_sql, down_sql, depends_on,
//                         kind, environment, transactional, repair)
STRATUM_FUNCTION(stratum_check_migration)
{
    Migration m = migration_args(fcinfo);
    bool transactional = PG_ARGISNULL(8) || PG_GETARG_BOOL(8);
    SPI_connect();
    check_scope(m.key.scope);
    LedgerRow row = find_migration(m.key);
    const char *result = "skipped";
    switch (decide(m, row)) {
    case Decision::skip:
        break;
    case Decision::repair:
        result = "repair";
        break;
    case Decision::apply:
        parse_migration(m, transactional);
        check_dependencies(m);
        result = "pending";
        break;
    }
    SPI_finish();
    return outcome(result);
}

// stratum.record_migration(scope, version, name, up_sql, down_sql, depends_on,
//                          kind, environment, duration, repair, metadata)
STRATUM_FUNCTION(stratum_record_migration)
{
    Migration m = migration_args(fcinfo);
    Datum duration = PG_ARGISNULL(8) ? 0 : PG_GETARG_DATUM(8);
    Datum metadata = metadata_arg(fcinfo, 10);
    require_session_lock(m.key.scope, m.label);
    SPI_connect();
    check_scope(m.key.scope);
    LedgerRow row = find_migration(m.key);
    const char *result = "skipped";
    switch (decide(m, row)) {
    case Decision::skip:
        break;
    case Decision::repair:
        record_migration_row(record_of(m, false, 0, GetCurrentTimestamp(), 0, metadata),
                             "repaired");
        result = "repaired";
        break;
    case Decision::apply:
        parse_migration(m, false);
        check_dependencies(m);
        record_migration_row(record_of(m, false, 0, GetCurrentTimestamp(), duration, metadata),
                             "applied");
        result = "applied";
        break;
    }
    SPI_finish();
    return outcome(result);
}

// stratum.rollback_migration(scope, version, kind, environment, lock_timeout)
STRATUM_FUNCTION(stratum_rollback_migration)
{
    LedgerKey key = key_arg(fcinfo, 0, 1, 2, 3);
    int lock_timeout = PG_ARGISNULL(4) ? -1 : interval_ms(PG_GETARG_INTERVAL_P(4), "lock_timeout");
    const char *label = label_of(key, nullptr);
    const char *caller = GetUserNameFromId(GetUserId(), false);
    const char *actor = actor_of_transaction();
    if (actor != nullptr)
        actor = pstrdup(actor);

    SPI_connect();
    check_scope(key.scope);
    lock_scope_for_transaction(key.scope, label);
    LedgerRow row = find_for_rollback(key, &label);
    const char *result = "skipped";
    if (row.applied) {
        check_down_sql(label, row);
        check_dependents(label, key);
        Script script = parse_script(row.down_sql, label, "stored down SQL");
        check_statements(script, label, "stored down SQL", true, true);
        RunSettings settings{label, lock_timeout, search_path_for(key.scope)};
        TimestampTz started = GetCurrentTimestamp();
        run_script(script, settings);
        TimestampTz finished = GetCurrentTimestamp();
        record_rollback_row(key, caller, actor, started, interval_between(started, finished));
        result = "rolled_back";
    }
    SPI_finish();
    return outcome(result);
}

// stratum.check_rollback(scope, version, kind, environment)
STRATUM_FUNCTION(stratum_check_rollback)
{
    LedgerKey key = key_arg(fcinfo, 0, 1, 2, 3);
    const char *label = label_of(key, nullptr);
    SPI_connect();
    check_scope(key.scope);
    LedgerRow row = find_for_rollback(key, &label);
    const char *result = "skipped";
    if (row.applied) {
        check_down_sql(label, row);
        check_dependents(label, key);
        Script script = parse_script(row.down_sql, label, "stored down SQL");
        check_statements(script, label, "stored down SQL", false);
        result = "pending";
    }
    SPI_finish();
    return outcome(result);
}

// stratum.record_rollback(scope, version, kind, environment, duration)
STRATUM_FUNCTION(stratum_record_rollback)
{
    LedgerKey key = key_arg(fcinfo, 0, 1, 2, 3);
    Datum duration = PG_ARGISNULL(4) ? 0 : PG_GETARG_DATUM(4);
    const char *label = label_of(key, nullptr);
    require_session_lock(key.scope, label);
    SPI_connect();
    check_scope(key.scope);
    LedgerRow row = find_for_rollback(key, &label);
    const char *result = "skipped";
    if (row.applied) {
        check_dependents(label, key);
        record_rollback_row(key, GetUserNameFromId(GetUserId(), false), actor_of_transaction(),
                            GetCurrentTimestamp(), duration);
        result = "rolled_back";
    }
    SPI_finish();
    return outcome(result);
}

// stratum.try_migration_lock(scope) / stratum.release_migration_lock(scope)
STRATUM_FUNCTION(stratum_try_migration_lock)
{
    if (PG_ARGISNULL(0))
        raise_null("scope");
    PG_RETURN_BOOL(try_lock_scope_for_session(text_to_cstring(PG_GETARG_TEXT_PP(0))));
}

STRATUM_FUNCTION(stratum_release_migration_lock)
{
    if (PG_ARGISNULL(0))
        raise_null("scope");
    char *scope = text_to_cstring(PG_GETARG_TEXT_PP(0));
    bool released = unlock_scope_for_session(scope);
    if (!released)
        ereport(WARNING, (errmsg("this session does not hold the migration lock of scope %s",
                                 scope)));
    PG_RETURN_BOOL(released);
}

// stratum.migration_lock_key(scope, OUT classid oid, OUT objid oid)
STRATUM_FUNCTION(stratum_migration_lock_key)
{
    char *scope = text_to_cstring(PG_GETARG_TEXT_PP(0));
    TupleDesc descriptor;
    if (get_call_result_type(fcinfo, nullptr, &descriptor) != TYPEFUNC_COMPOSITE)
        elog(ERROR, "migration_lock_key must return a record");
    Datum values[2] = {ObjectIdGetDatum(migration_lock_class),
                       ObjectIdGetDatum(migration_lock_objid(scope))};
    bool nulls[2] = {false, false};
    return HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(descriptor), values, nulls));
}

// stratum.migration_checksum(sql): what the ledger records for a file.
STRATUM_FUNCTION(stratum_migration_checksum)
{
    char *sql = text_to_cstring(PG_GETARG_TEXT_PP(0));
    char checksum[checksum_hex_length + 1];
    checksum_sql("migration_checksum", "SQL", sql, checksum);
    return CStringGetTextDatum(checksum);
}

// stratum.split_migration(sql): the statements of a migration, for the runner
// to send one by one when the migration cannot run in a transaction.
STRATUM_FUNCTION(stratum_split_migration)
{
    char *sql = text_to_cstring(PG_GETARG_TEXT_PP(0));
    Script script = parse_script(sql, "split_migration", "SQL");
    InitMaterializedSRF(fcinfo, 0);
    auto *result = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
    for (int i = 0; i < script.count; i++) {
        const ScriptStatement &s = script.statements[i];
        const char *kind = "transactional";
        switch (s.kind) {
        case StatementClass::transactional:
            break;
        case StatementClass::no_transaction:
            kind = "no_transaction";
            break;
        case StatementClass::transaction_control:
            kind = "transaction_control";
            break;
        case StatementClass::client_copy:
            kind = "client_copy";
            break;
        }
        Datum values[5] = {Int32GetDatum(i + 1), Int32GetDatum(s.line),
                           CStringGetTextDatum(s.tag), CStringGetTextDatum(kind),
                           CStringGetTextDatum(statement_text(script, i))};
        bool nulls[5] = {false, false, false, false, false};
        tuplestore_putvalues(result->setResult, result->setDesc, values, nulls);
    }
    return (Datum) 0;
}
