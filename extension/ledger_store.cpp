// The ledger's own SQL: fixed statements prepared once per backend and run as
// the ledger owner with a pinned search_path (see ledger_store.hpp).
#include "boundary.hpp"
#include "ledger_store.hpp"


namespace stratum {
namespace {

enum Statement {
    find_statement,
    tenant_statement,
    missing_dependencies_statement,
    dependents_statement,
    apply_statement,
    repair_statement,
    rollback_statement,
    statement_count,
};

// Parameters shared by the statements that write a whole row ($1..$17).
constexpr int record_parameter_count = 17;
const Oid record_parameter_types[record_parameter_count] = {
    TEXTOID, TEXTOID, TEXTOID, INT8OID,  // key
    TEXTOID, TEXTOID, TEXTOID,           // name, checksum, down_checksum
    TEXTOID, TEXTOID,                    // up_sql, down_sql
    INT8ARRAYOID, BOOLOID, INTERVALOID,  // depends_on, transactional, lock_timeout
    TEXTOID, TEXTOID, TIMESTAMPTZOID,    // done_by, actor, done_at
    INTERVALOID, JSONBOID,               // duration, metadata
};

#define LOG_FROM_RECORDED(action)                                                           \
    "INSERT INTO stratum.schema_migration_log (scope, kind, environment, version, name, "    \
    "    action, checksum, down_checksum, transactional, done_by, actor, done_at, duration)" \
    " SELECT scope, kind, environment, version, name, '" action "', checksum, "            \
    "    down_checksum, transactional, $13, $14, $15, $16 FROM recorded"

struct StatementSource {
    const char *sql;
    int parameter_count;
    Oid parameter_types[4];  // for the short statements; writers use record_parameter_types
};

const StatementSource sources[statement_count] = {
    {"SELECT status, name, checksum, down_checksum, down_sql FROM stratum.schema_migrations"
     " WHERE scope = $1 AND kind = $2 AND environment = $3 AND version = $4",
     4, {TEXTOID, TEXTOID, TEXTOID, INT8OID}},
    {"SELECT 1 FROM stratum.tenants WHERE schema_name = $1", 1, {NAMEOID}},
    {"SELECT string_agg(d::text, ', ' ORDER BY d) FROM unnest($2) AS d"
     " WHERE NOT EXISTS (SELECT 1 FROM stratum.schema_migrations m"
     "  WHERE m.scope = $1 AND m.kind = 'migration' AND m.environment = ''"
     "    AND m.version = d AND m.status = 'applied')",
     2, {TEXTOID, INT8ARRAYOID}},
    {"SELECT string_agg(version::text, ', ' ORDER BY version) FROM stratum.schema_migrations"
     " WHERE scope = $1 AND status = 'applied' AND depends_on @> ARRAY[$2]",
     2, {TEXTOID, INT8OID}},
    {"WITH recorded AS ("
     " INSERT INTO stratum.schema_migrations AS m (scope, kind, environment, version, name,"
     "   checksum, down_checksum, up_sql, down_sql, depends_on, transactional, lock_timeout,"
     "   status, applied_by, actor, applied_at, duration, metadata)"
     " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'applied', $13, $14, $15,"
     "   $16, $17)"
     " ON CONFLICT (scope, kind, environment, version) DO UPDATE SET"
     "   name = excluded.name, checksum = excluded.checksum,"
     "   down_checksum = excluded.down_checksum, up_sql = excluded.up_sql,"
     "   down_sql = excluded.down_sql, depends_on = excluded.depends_on,"
     "   transactional = excluded.transactional, lock_timeout = excluded.lock_timeout,"
     "   status = 'applied', applied_by = excluded.applied_by, actor = excluded.actor,"
     "   applied_at = excluded.applied_at, duration = excluded.duration,"
     "   rolled_back_at = NULL, rolled_back_by = NULL, rollback_duration = NULL,"
     "   metadata = excluded.metadata"
     " RETURNING scope, kind, environment, version, name, checksum, down_checksum,"
     "   transactional) " LOG_FROM_RECORDED("applied"),
     record_parameter_count, {}},
    {"WITH recorded AS ("
     " UPDATE stratum.schema_migrations SET name = $5, checksum = $6, down_checksum = $7,"
     "   up_sql = $8, down_sql = $9, depends_on = $10, metadata = $17"
     " WHERE scope = $1 AND kind = $2 AND environment = $3 AND version = $4"
     " RETURNING scope, kind, environment, version, name, checksum, down_checksum,"
     "   transactional) " LOG_FROM_RECORDED("repaired"),
     record_parameter_count, {}},
    {"WITH recorded AS ("
     " UPDATE stratum.schema_migrations SET status = 'rolled_back', rolled_back_by = $13,"
     "   rolled_back_at = $15, rollback_duration = $16"
     " WHERE scope = $1 AND kind = $2 AND environment = $3 AND version = $4"
     " RETURNING scope, kind, environment, version, name, checksum, down_checksum,"
     "   transactional) " LOG_FROM_RECORDED("rolled_back"),
     record_parameter_count, {}},
};

SPIPlanPtr plans[statement_count];

// The user and search_path the ledger's statements run with, entered and left
// around each of them (an error unwinds both with the transaction).
struct LedgerSession {
    Oid caller;
    int security_context;
    int nest_level;
};

Oid ledger_owner()
{
    Oid schema = get_namespace_oid("stratum", false);
    Oid relid = get_relname_relid("schema_migrations", schema);
    HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
    if (!HeapTupleIsValid(tuple))
        elog(ERROR, "stratum.schema_migrations is missing");
    Oid owner = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple))->relowner;
    ReleaseSysCache(tuple);
    return owner;
}

LedgerSession enter_ledger()
{
    LedgerSession session;
    Oid owner = ledger_owner();
    GetUserIdAndSecContext(&session.caller, &session.security_context);
    SetUserIdAndSecContext(owner, session.security_context | SECURITY_LOCAL_USERID_CHANGE);
    session.nest_level = NewGUCNestLevel();
    (void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
                             GUC_ACTION_SAVE, true, 0, false);
    return session;
}

void leave_ledger(const LedgerSession &session)
{
    AtEOXact_GUC(true, session.nest_level);
    SetUserIdAndSecContext(session.caller, session.security_context);
}

SPIPlanPtr plan_of(Statement statement)
{
    if (plans[statement] == nullptr) {
        const StatementSource &source = sources[statement];
        const Oid *types = source.parameter_count == record_parameter_count
                               ? record_parameter_types
                               : source.parameter_types;
        SPIPlanPtr plan =
            SPI_prepare(source.sql, source.parameter_count, const_cast<Oid *>(types));
        if (plan == nullptr)
            elog(ERROR, "stratum ledger: SPI_prepare failed: %s",
                 SPI_result_code_string(SPI_result));
        if (SPI_keepplan(plan) != 0)
            elog(ERROR, "stratum ledger: SPI_keepplan failed");
        plans[statement] = plan;
    }
    return plans[statement];
}

// Runs a ledger statement with the latest snapshot; returns SPI_processed.
uint64 run(Statement statement, Datum *values, const char *nulls, int expected)
{
    LedgerSession session = enter_ledger();
    int rc = SPI_execute_snapshot(plan_of(statement), values, nulls, GetLatestSnapshot(),
                                  InvalidSnapshot, false, true, 0);
    if (rc != expected)
        elog(ERROR, "stratum ledger: statement %d failed: %s", static_cast<int>(statement),
             SPI_result_code_string(rc));
    leave_ledger(session);
    return SPI_processed;
}

char *column_text(int column)
{
    return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, column);
}

Datum text_or_null(const char *text, char *null_flag)
{
    if (text == nullptr) {
        *null_flag = 'n';
        return 0;
    }
    return CStringGetTextDatum(text);
}

void key_values(const LedgerKey &key, Datum *values)
{
    values[0] = CStringGetTextDatum(key.scope);
    values[1] = CStringGetTextDatum(key.kind);
    values[2] = CStringGetTextDatum(key.environment);
    values[3] = Int64GetDatum(key.version);
}

}  // namespace

LedgerRow find_migration(const LedgerKey &key)
{
    Datum values[4];
    key_values(key, values);
    LedgerRow row{};
    if (run(find_statement, values, nullptr, SPI_OK_SELECT) == 0)
        return row;
    row.found = true;
    row.applied = strcmp(column_text(1), "applied") == 0;
    row.name = column_text(2);
    row.checksum = column_text(3);
    row.down_checksum = column_text(4);
    row.down_sql = column_text(5);
    return row;
}

void check_scope(const char *scope)
{
    if (strcmp(scope, "master") == 0)
        return;
    if (strlen(scope) >= NAMEDATALEN)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("scope \"%s\" is longer than a schema name can be", scope)));
    Datum values[1] = {DirectFunctionCall1(namein, CStringGetDatum(scope))};
    if (run(tenant_statement, values, nullptr, SPI_OK_SELECT) == 0)
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_SCHEMA_NAME),
                 errmsg("scope \"%s\" is neither 'master' nor the schema of a registered tenant",
                        scope),
                 errhint("Tenant schemas are made by stratum.create_tenant_schema(tenant) and "
                         "listed in stratum.tenants.schema_name.")));
    if (!OidIsValid(get_namespace_oid(scope, true)))
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_SCHEMA_NAME),
                 errmsg("schema \"%s\" of a registered tenant does not exist", scope)));
}

char *missing_dependencies(const char *scope, Datum depends_on)
{
    Datum values[2] = {CStringGetTextDatum(scope), depends_on};
    run(missing_dependencies_statement, values, nullptr, SPI_OK_SELECT);
    return column_text(1);
}

char *dependents_of(const char *scope, int64 version)
{
    Datum values[2] = {CStringGetTextDatum(scope), Int64GetDatum(version)};
    run(dependents_statement, values, nullptr, SPI_OK_SELECT);
    return column_text(1);
}

void record_migration_row(const LedgerRecord &record, const char *action)
{
    Datum values[record_parameter_count];
    char nulls[record_parameter_count + 1];
    memset(nulls, ' ', record_parameter_count);
    nulls[record_parameter_count] = '\0';
    key_values(record.key, values);
    values[4] = CStringGetTextDatum(record.name);
    values[5] = CStringGetTextDatum(record.checksum);
    values[6] = text_or_null(record.down_checksum, &nulls[6]);
    values[7] = CStringGetTextDatum(record.up_sql);
    values[8] = text_or_null(record.down_sql, &nulls[8]);
    values[9] = record.depends_on;
    values[10] = BoolGetDatum(record.transactional);
    values[11] = record.lock_timeout;
    nulls[11] = record.lock_timeout == 0 ? 'n' : ' ';
    values[12] = CStringGetTextDatum(record.done_by);
    values[13] = text_or_null(record.actor, &nulls[13]);
    values[14] = TimestampTzGetDatum(record.done_at);
    values[15] = record.duration;
    nulls[15] = record.duration == 0 ? 'n' : ' ';
    values[16] = record.metadata;
    Statement statement = strcmp(action, "repaired") == 0 ? repair_statement : apply_statement;
    if (run(statement, values, nulls, SPI_OK_INSERT) != 1)
        elog(ERROR, "stratum ledger: %s row for version " INT64_FORMAT " not written", action,
             record.key.version);
}

void record_rollback_row(const LedgerKey &key, const char *done_by, const char *actor,
                         TimestampTz done_at, Datum duration)
{
    Datum values[record_parameter_count] = {};
    char nulls[record_parameter_count + 1];
    memset(nulls, 'n', record_parameter_count);
    nulls[record_parameter_count] = '\0';
    key_values(key, values);
    memset(nulls, ' ', 4);
    values[12] = CStringGetTextDatum(done_by);
    nulls[12] = ' ';
    values[13] = text_or_null(actor, &nulls[13]);
    if (actor != nullptr)
        nulls[13] = ' ';
    values[14] = TimestampTzGetDatum(done_at);
    nulls[14] = ' ';
    values[15] = duration;
    nulls[15] = duration == 0 ? 'n' : ' ';
    if (run(rollback_statement, values, nulls, SPI_OK_INSERT) != 1)
        elog(ERROR, "stratum ledger: rollback of version " INT64_FORMAT " not written",
             key.version);
}

}  // namespace stratum
