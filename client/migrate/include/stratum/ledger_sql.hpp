// Every statement the client sends to the extension's migration ledger: the
// one place where the migrator (and the health check of stratum-service)
// spell the ledger functions and read stratum.schema_migrations, so that a
// change of the SQL contract (sql/parts/60_ledger*.sql) is a change here.
// The parameters of each are listed in its comment; "key" is scope,
// version, kind, environment (NULL for a migration).
#pragma once

#include <string_view>

namespace stratum::ledger_sql {

// --- planning -------------------------------------------------------------------

// scope, versions bigint[], checksums text[], kind, environment:
// version, state, name, file checksum, ledger checksum.
inline constexpr std::string_view plan =
    "SELECT version, state, coalesce(name, ''), coalesce(file_checksum, ''), "
    "coalesce(ledger_checksum, '') FROM stratum.migration_plan($1, $2::bigint[], $3::text[], $4, $5)";
// scope: the applied migration versions, ascending, as one array.
inline constexpr std::string_view applied_versions =
    "SELECT coalesce(array_agg(version ORDER BY version), '{}') FROM stratum.schema_migrations "
    "WHERE scope = $1 AND kind = 'migration' AND status = 'applied'";
// scope, kind, environment: the applied rows, newest first, with what a
// rollback needs (transactional, reversible, the header's timeouts). A row
// imported from another tool's ledger was recorded by record_migration
// (transactional = false) without running: it rolls back in a transaction
// unless its file declared otherwise.
inline constexpr std::string_view applied_rows =
    "SELECT version, name, transactional OR (metadata ? 'imported_from' AND "
    "NOT coalesce((metadata #>> '{header,no_transaction}')::boolean, false)), "
    "down_sql IS NOT NULL, "
    "(metadata #>> '{header,lock_timeout_ms}')::bigint, "
    "(metadata #>> '{header,statement_timeout_ms}')::bigint "
    "FROM stratum.schema_migrations "
    "WHERE scope = $1 AND kind = $2 AND environment = $3 AND status = 'applied' "
    "ORDER BY version DESC";
// scope, versions bigint[]: applied rows (of any kind) that depend on one of
// these versions, with the dependencies among them.
inline constexpr std::string_view dependents =
    "SELECT kind, environment, version, name, "
    "ARRAY(SELECT d FROM unnest(depends_on) AS d WHERE d = ANY($2::bigint[]) ORDER BY d) "
    "FROM stratum.schema_migrations "
    "WHERE scope = $1 AND status = 'applied' AND depends_on && $2::bigint[] "
    "AND NOT (kind = 'migration' AND version = ANY($2::bigint[])) "
    "ORDER BY kind, environment, version";
// The migration's parameters (scope, version, name, up, down, depends_on,
// kind, environment), transactional, repair: what applying would do.
inline constexpr std::string_view check_migration =
    "SELECT stratum.check_migration($1, $2::bigint, $3, $4, $5, $6::bigint[], $7, "
    "$8, $9::boolean, $10::boolean)";
// The same for a non-transactional migration (transactional = false), repair.
inline constexpr std::string_view check_nontransactional_migration =
    "SELECT stratum.check_migration($1, $2::bigint, $3, $4, $5, $6::bigint[], $7, $8, false, "
    "$9::boolean)";
// key: what rolling back would do.
inline constexpr std::string_view check_rollback =
    "SELECT stratum.check_rollback($1, $2::bigint, $3, $4)";

// --- running ----------------------------------------------------------------------

// The migration's parameters, duration interval, repair, metadata jsonb:
// the action and the server's time for the call (measured in the statement).
inline constexpr std::string_view apply_migration =
    "SELECT s.action, (extract(epoch FROM clock_timestamp() - s.started) * 1000000)::bigint "
    "FROM (SELECT clock_timestamp() AS started, stratum.apply_migration($1, $2::bigint, $3, $4, "
    "$5, $6::bigint[], $7, $8, $9::interval, $10::boolean, $11::jsonb) AS action OFFSET 0) s";
// key, duration interval: the action and the server's time for the call.
inline constexpr std::string_view rollback_migration =
    "SELECT s.action, (extract(epoch FROM clock_timestamp() - s.started) * 1000000)::bigint "
    "FROM (SELECT clock_timestamp() AS started, stratum.rollback_migration($1, $2::bigint, $3, $4, "
    "$5::interval) AS action OFFSET 0) s";
// scope, kind, environment, versions bigint[]: the ledger rows of a batch
// (after a failure: which steps committed, and by which run).
inline constexpr std::string_view batch_rows =
    "SELECT version, status, checksum, "
    "coalesce((extract(epoch FROM duration) * 1000000)::bigint, 0), "
    "coalesce((extract(epoch FROM rollback_duration) * 1000000)::bigint, 0), "
    "coalesce(metadata ->> 'run', '') "
    "FROM stratum.schema_migrations "
    "WHERE scope = $1 AND kind = $2 AND environment = $3 AND version = ANY($4::bigint[])";
// sql: a hook's statements, each with its kind and line.
inline constexpr std::string_view split_hook =
    "SELECT statement, kind, line FROM stratum.split_migration($1) ORDER BY statement_no";
// sql: a migration's statements, numbered, with line and command tag.
inline constexpr std::string_view split_migration =
    "SELECT statement_no, line, command_tag, statement FROM stratum.split_migration($1) "
    "ORDER BY statement_no";
// scope, kind, environment, version: the same for the down SQL the ledger stored.
inline constexpr std::string_view split_stored_down =
    "SELECT statement_no, line, command_tag, statement FROM stratum.split_migration("
    "(SELECT down_sql FROM stratum.schema_migrations WHERE scope = $1 AND kind = $2 "
    "AND environment = $3 AND version = $4::bigint)) ORDER BY statement_no";
// The migration's parameters, duration interval, repair, metadata jsonb:
// records a non-transactional migration that ran.
inline constexpr std::string_view record_migration =
    "SELECT stratum.record_migration($1, $2::bigint, $3, $4, $5, $6::bigint[], $7, $8, "
    "$9::interval, $10::boolean, $11::jsonb)";
// key, duration interval: records a non-transactional rollback that ran.
inline constexpr std::string_view record_rollback =
    "SELECT stratum.record_rollback($1, $2::bigint, $3, $4, $5::interval)";
// scope: the session lock of a scope, without waiting (true when taken); its release.
inline constexpr std::string_view try_lock = "SELECT stratum.try_migration_lock($1)";
inline constexpr std::string_view release_lock = "SELECT stratum.release_migration_lock($1)";
// scope: the same when it is not known whether this session holds it (an
// error met the statements that rode with try_lock); no warning when not.
inline constexpr std::string_view release_lock_if_held =
    "SELECT stratum.release_migration_lock($1) FROM stratum.migration_lock_key($1) AS k "
    "WHERE EXISTS (SELECT FROM pg_catalog.pg_locks AS l WHERE l.locktype = 'advisory' "
    "AND l.pid = pg_catalog.pg_backend_pid() AND l.classid = k.classid AND l.objid = k.objid "
    "AND l.objsubid = 2 AND l.granted)";

// --- reports ------------------------------------------------------------------------

// scope, kind, environment: the applied rows as migration_status shows them.
inline constexpr std::string_view status =
    "SELECT version, transactional, depends_on, reversible, applied_by, "
    "to_json(applied_at) #>> '{}', coalesce(extract(epoch FROM duration) * 1000, 0)::float8 "
    "FROM stratum.migration_status($1) "
    "WHERE kind = $2 AND environment = $3 AND status = 'applied'";
// Migrators waiting for a lock now, and who blocks them.
inline constexpr std::string_view waits =
    "SELECT pid, coalesce(scope, ''), coalesce(waiting_for, ''), "
    "coalesce(to_json(waiting_since) #>> '{}', ''), coalesce(blocked_by, 0), "
    "coalesce(blocker_user::text, ''), coalesce(blocker_application, ''), "
    "coalesce(blocker_state, ''), coalesce(to_json(blocker_xact_start) #>> '{}', ''), "
    "coalesce(blocker_query, '') FROM stratum.migration_waits()";
// The ledger against itself and its log.
inline constexpr std::string_view verify_ledger =
    "SELECT scope, kind, environment, version, problem, detail FROM stratum.verify_ledger()";
// The same, one line of text per problem.
inline constexpr std::string_view verify_ledger_lines =
    "SELECT scope || '/' || version || ' (' || kind || "
    "CASE WHEN environment <> '' THEN ' ' || environment ELSE '' END || '): ' || problem || "
    "coalesce(': ' || detail, '') FROM stratum.verify_ledger() ORDER BY scope, kind, version";
// versions bigint[], checksums text[]: master's migrations not applied nor pending.
inline constexpr std::string_view verify_master =
    "SELECT 'master', version, state, coalesce(name, ''), coalesce(file_checksum, ''), "
    "coalesce(ledger_checksum, '') FROM stratum.migration_plan('master', $1::bigint[], $2::text[]) "
    "WHERE state NOT IN ('applied', 'pending')";
// versions bigint[], checksums text[]: the same for every tenant schema.
inline constexpr std::string_view verify_tenants =
    "SELECT t.schema_name::text, p.version, p.state, coalesce(p.name, ''), "
    "coalesce(p.file_checksum, ''), coalesce(p.ledger_checksum, '') "
    "FROM stratum.tenants t "
    "CROSS JOIN LATERAL stratum.migration_plan(t.schema_name::text, $1::bigint[], $2::text[]) p "
    "WHERE t.schema_name IS NOT NULL AND p.state NOT IN ('applied', 'pending') "
    "ORDER BY 1, 2";
// Master's newest applied migration and how many are applied.
inline constexpr std::string_view master_summary =
    "SELECT max(version) FILTER (WHERE status = 'applied'), "
    "count(*) FILTER (WHERE status = 'applied') "
    "FROM stratum.migration_status('master') WHERE kind = 'migration'";
// versions bigint[], checksums text[]: master's plan counted by state.
inline constexpr std::string_view master_plan_by_state =
    "SELECT state, count(*), max(version) "
    "FROM stratum.migration_plan('master', $1::bigint[], $2::text[]) GROUP BY state";

// --- tenants -------------------------------------------------------------------------

// versions bigint[], behind_only boolean: tenants with their schema, newest
// applied tenant migration and the missing ones.
inline constexpr std::string_view list_tenants =
    "SELECT t.id::text, t.slug, t.name, t.status, coalesce(t.schema_name::text, ''), "
    "(SELECT max(m.version) FROM stratum.schema_migrations m WHERE m.scope = t.schema_name::text "
    "AND m.kind = 'migration' AND m.environment = '' AND m.status = 'applied'), "
    "coalesce(b.missing_versions, '{}') "
    "FROM stratum.tenants t LEFT JOIN stratum.tenants_behind($1::bigint[]) b ON b.tenant_id = t.id "
    "WHERE $2::boolean IS NOT TRUE OR b.tenant_id IS NOT NULL "
    "ORDER BY t.slug";
inline constexpr std::string_view count_tenant_schemas =
    "SELECT count(*) FROM stratum.tenants WHERE schema_name IS NOT NULL";
// slug, name: registers a tenant.
inline constexpr std::string_view create_tenant = "SELECT stratum.create_tenant($1, $2)";
// slug: makes the tenant's schema.
inline constexpr std::string_view create_tenant_schema =
    "SELECT stratum.create_tenant_schema(id)::text FROM stratum.tenants WHERE slug = $1";
// versions bigint[]: queues the tenant schemas behind; how many.
inline constexpr std::string_view queue_tenant_migrations =
    "SELECT stratum.queue_tenant_migrations($1::bigint[])";
// The next queued tenant (SKIP LOCKED): scope, tenant, attempts, target versions.
inline constexpr std::string_view claim_tenant =
    "SELECT scope::text, tenant::text, attempts, target_versions "
    "FROM stratum.claim_tenant_migration()";
// scope: the claimed tenant is done.
inline constexpr std::string_view finish_tenant = "SELECT stratum.finish_tenant_migration($1::name)";
// scope, error: the claimed tenant failed.
inline constexpr std::string_view fail_tenant = "SELECT stratum.fail_tenant_migration($1::name, $2)";

}  // namespace stratum::ledger_sql
