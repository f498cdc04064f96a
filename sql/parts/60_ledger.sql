-- The migration ledger: which migrations and seeds are applied in which scope
-- ('master' or a tenant schema), with their SQL, checksums and history; the
-- functions that apply and roll them back under an advisory lock; and what a
-- runner needs to plan, verify and migrate many tenant schemas in parallel.
-- docs/migrations.md is the reference.

-- One row per (scope, kind, environment, version): its current state. A
-- re-apply after a rollback updates the row; every event is appended to
-- stratum.schema_migration_log.
CREATE TABLE stratum.schema_migrations (
    scope             text        NOT NULL,
    kind              text        NOT NULL DEFAULT 'migration',
    environment       text        NOT NULL DEFAULT '',
    version           bigint      NOT NULL,
    name              text        NOT NULL,
    checksum          text        NOT NULL,
    down_checksum     text,
    up_sql            text        NOT NULL,
    down_sql          text,
    depends_on        bigint[]    NOT NULL DEFAULT '{}',
    transactional     boolean     NOT NULL DEFAULT true,
    lock_timeout      interval,
    status            text        NOT NULL,
    applied_by        text        NOT NULL,
    actor             text,
    applied_at        timestamptz NOT NULL,
    duration          interval,
    rolled_back_at    timestamptz,
    rolled_back_by    text,
    rollback_duration interval,
    metadata          jsonb       NOT NULL DEFAULT '{}',
    PRIMARY KEY (scope, kind, environment, version),
    -- Formats (scope, version, hex checksums, environment names) are checked by
    -- the functions that write rows; every constraint here is evaluated (and
    -- its expression read from the catalog) on each apply, so they stay few.
    CONSTRAINT schema_migrations_state CHECK (
        status IN ('applied', 'rolled_back')
        AND ((kind = 'migration' AND environment = '') OR (kind = 'seed' AND environment <> '')))
);
COMMENT ON TABLE stratum.schema_migrations IS
    'Migration ledger: one row per migration or seed and scope, with its SQL and SHA-256 checksums; written only by stratum''s functions';
COMMENT ON COLUMN stratum.schema_migrations.scope IS '''master'' or the tenant schema the migration ran in';
COMMENT ON COLUMN stratum.schema_migrations.environment IS 'The environment of a seed; '''' for migrations';
COMMENT ON COLUMN stratum.schema_migrations.checksum IS
    'SHA-256 (hex) of the up SQL as UTF-8 with CR LF read as LF';
COMMENT ON COLUMN stratum.schema_migrations.down_sql IS
    'What rollback_migration runs: the down SQL as given when the migration was applied';
COMMENT ON COLUMN stratum.schema_migrations.metadata IS
    'Whatever the runner records with a migration (file path, hooks, header options)';
SELECT pg_catalog.pg_extension_config_dump('stratum.schema_migrations', '');

-- Append-only history: applied, repaired, rolled_back. verify_ledger checks
-- the ledger against it.
CREATE TABLE stratum.schema_migration_log (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    scope         text        NOT NULL,
    kind          text        NOT NULL,
    environment   text        NOT NULL,
    version       bigint      NOT NULL,
    name          text        NOT NULL,
    action        text        NOT NULL
                  CONSTRAINT schema_migration_log_action_values
                  CHECK (action IN ('applied', 'repaired', 'rolled_back')),
    checksum      text        NOT NULL,
    down_checksum text,
    transactional boolean     NOT NULL,
    done_by       text        NOT NULL,
    actor         text,
    done_at       timestamptz NOT NULL,
    duration      interval
);
COMMENT ON TABLE stratum.schema_migration_log IS
    'Every apply, repair and rollback of the migration ledger, in order';
SELECT pg_catalog.pg_extension_config_dump('stratum.schema_migration_log', '');
SELECT pg_catalog.pg_extension_config_dump('stratum.schema_migration_log_id_seq', '');

-- Work queue of `stratum tenant migrate`: one row per tenant schema, claimed
-- by workers with FOR UPDATE SKIP LOCKED inside the transaction that migrates it.
CREATE TABLE stratum.tenant_migration_queue (
    scope           name        PRIMARY KEY,
    tenant          uuid        NOT NULL REFERENCES stratum.tenants (id) ON DELETE CASCADE,
    state           text        NOT NULL
                    CONSTRAINT tenant_migration_queue_state_values
                    CHECK (state IN ('pending', 'done', 'failed')),
    target_versions bigint[]    NOT NULL,
    attempts        integer     NOT NULL DEFAULT 0,
    last_error      text,
    queued_at       timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz
);
CREATE INDEX tenant_migration_queue_pending ON stratum.tenant_migration_queue (scope)
    WHERE state = 'pending';
COMMENT ON TABLE stratum.tenant_migration_queue IS
    'Tenant schemas a tenant migration run still has to bring to its target versions';

-- Applying and rolling back (C++, ledger.cpp). None is SECURITY DEFINER: the
-- SQL runs as the caller.

CREATE FUNCTION stratum.apply_migration(
    scope text, version bigint, name text, up_sql text,
    down_sql text DEFAULT NULL,
    depends_on bigint[] DEFAULT '{}',
    kind text DEFAULT 'migration',
    environment text DEFAULT NULL,
    lock_timeout interval DEFAULT '5s',
    repair boolean DEFAULT false,
    metadata jsonb DEFAULT '{}')
    RETURNS text
    AS 'MODULE_PATHNAME', 'stratum_apply_migration'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION stratum.apply_migration(text, bigint, text, text, text, bigint[], text, text, interval, boolean, jsonb) IS
    'Runs the up SQL and records it, in the caller''s transaction under the scope''s migration lock; returns applied, skipped or repaired';

CREATE FUNCTION stratum.rollback_migration(
    scope text, version bigint,
    kind text DEFAULT 'migration',
    environment text DEFAULT NULL,
    lock_timeout interval DEFAULT '5s')
    RETURNS text
    AS 'MODULE_PATHNAME', 'stratum_rollback_migration'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION stratum.rollback_migration(text, bigint, text, text, interval) IS
    'Runs the down SQL stored in the ledger and marks the migration rolled back, in the caller''s transaction; returns rolled_back or skipped';

CREATE FUNCTION stratum.check_migration(
    scope text, version bigint, name text, up_sql text,
    down_sql text DEFAULT NULL,
    depends_on bigint[] DEFAULT '{}',
    kind text DEFAULT 'migration',
    environment text DEFAULT NULL,
    transactional boolean DEFAULT true,
    repair boolean DEFAULT false)
    RETURNS text
    AS 'MODULE_PATHNAME', 'stratum_check_migration'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION stratum.check_migration(text, bigint, text, text, text, bigint[], text, text, boolean, boolean) IS
    'What apply would do, without doing it: pending, skipped or repair; raises what apply would raise before running anything';

CREATE FUNCTION stratum.record_migration(
    scope text, version bigint, name text, up_sql text,
    down_sql text DEFAULT NULL,
    depends_on bigint[] DEFAULT '{}',
    kind text DEFAULT 'migration',
    environment text DEFAULT NULL,
    duration interval DEFAULT NULL,
    repair boolean DEFAULT false,
    metadata jsonb DEFAULT '{}')
    RETURNS text
    AS 'MODULE_PATHNAME', 'stratum_record_migration'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION stratum.record_migration(text, bigint, text, text, text, bigint[], text, text, interval, boolean, jsonb) IS
    'Records a non-transactional migration the runner has run itself; needs the session lock of try_migration_lock';

CREATE FUNCTION stratum.check_rollback(
    scope text, version bigint,
    kind text DEFAULT 'migration',
    environment text DEFAULT NULL)
    RETURNS text
    AS 'MODULE_PATHNAME', 'stratum_check_rollback'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION stratum.check_rollback(text, bigint, text, text) IS
    'What rollback would do, without doing it: pending or skipped; raises what rollback would raise';

CREATE FUNCTION stratum.record_rollback(
    scope text, version bigint,
    kind text DEFAULT 'migration',
    environment text DEFAULT NULL,
    duration interval DEFAULT NULL)
    RETURNS text
    AS 'MODULE_PATHNAME', 'stratum_record_rollback'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION stratum.record_rollback(text, bigint, text, text, interval) IS
    'Records the rollback of a migration whose down SQL the runner has run itself; needs the session lock';

CREATE FUNCTION stratum.try_migration_lock(scope text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'stratum_try_migration_lock'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION stratum.try_migration_lock(text) IS
    'Session-level migration lock of a scope for non-transactional migrations; never waits, true when held';

CREATE FUNCTION stratum.release_migration_lock(scope text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'stratum_release_migration_lock'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION stratum.release_migration_lock(text) IS
    'Releases what try_migration_lock took';

CREATE FUNCTION stratum.migration_lock_key(scope text, OUT classid oid, OUT objid oid)
    AS 'MODULE_PATHNAME', 'stratum_migration_lock_key'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stratum.migration_lock_key(text) IS
    'The advisory lock of a scope as pg_locks shows it (locktype advisory, objsubid 2)';

CREATE FUNCTION stratum.migration_checksum(sql text) RETURNS text
    AS 'MODULE_PATHNAME', 'stratum_migration_checksum'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stratum.migration_checksum(text) IS
    'SHA-256 (hex) of SQL as the ledger records it: UTF-8, CR LF read as LF';

CREATE FUNCTION stratum.split_migration(sql text)
    RETURNS TABLE (statement_no integer, line integer, command_tag text, kind text, statement text)
    AS 'MODULE_PATHNAME', 'stratum_split_migration'
    LANGUAGE C IMMUTABLE STRICT;
COMMENT ON FUNCTION stratum.split_migration(text) IS
    'The statements of migration SQL, by the server''s parser: kind is transactional, no_transaction, transaction_control or client_copy';

-- Reading the ledger.

CREATE FUNCTION stratum.migration_status(scope text DEFAULT NULL)
    RETURNS TABLE (scope text, kind text, environment text, version bigint, name text,
                   status text, checksum text, transactional boolean, depends_on bigint[],
                   reversible boolean, applied_by text, actor text, applied_at timestamptz,
                   duration interval, rolled_back_at timestamptz, rolled_back_by text)
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT m.scope, m.kind, m.environment, m.version, m.name, m.status, m.checksum,
           m.transactional, m.depends_on, m.down_sql IS NOT NULL, m.applied_by, m.actor,
           m.applied_at, m.duration, m.rolled_back_at, m.rolled_back_by
      FROM stratum.schema_migrations m
     WHERE $1 IS NULL OR m.scope = $1
     ORDER BY m.scope <> 'master', m.scope, m.kind, m.environment, m.version
$$;
COMMENT ON FUNCTION stratum.migration_status(text) IS
    'One row per migration and seed known to the ledger (of one scope, or all)';

CREATE FUNCTION stratum.migration_plan(scope text, versions bigint[], checksums text[],
                                       kind text DEFAULT 'migration',
                                       environment text DEFAULT NULL)
    RETURNS TABLE (version bigint, state text, name text, file_checksum text,
                   ledger_checksum text, applied_at timestamptz)
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    env text := coalesce($5, '');
BEGIN
    IF $1 IS NULL OR $2 IS NULL OR $3 IS NULL OR $4 IS NULL THEN
        RAISE EXCEPTION 'scope, versions, checksums and kind must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF $4 NOT IN ('migration', 'seed') THEN
        RAISE EXCEPTION 'kind must be ''migration'' or ''seed'', got %', quote_literal($4)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF cardinality($2) <> cardinality($3) THEN
        RAISE EXCEPTION '% versions but % checksums', cardinality($2), cardinality($3)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF array_position($2, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'versions must not contain NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF EXISTS (SELECT 1 FROM unnest($3) AS c WHERE c IS NULL OR c !~ '^[0-9a-f]{64}$') THEN
        RAISE EXCEPTION 'checksums must be SHA-256 in 64 lower-case hex digits'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF (SELECT count(DISTINCT v) FROM unnest($2) AS v) <> cardinality($2) THEN
        RAISE EXCEPTION 'versions must not repeat: %',
            (SELECT string_agg(v::text, ', ') FROM (SELECT v FROM unnest($2) AS v
                GROUP BY v HAVING count(*) > 1 ORDER BY v) AS repeated)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY
    WITH files AS (
        SELECT f.v AS version, f.c AS checksum FROM unnest($2, $3) AS f(v, c)
    ), ledger AS (
        SELECT m.version, m.name, m.checksum, m.status, m.applied_at
          FROM stratum.schema_migrations m
         WHERE m.scope = $1 AND m.kind = $4 AND m.environment = env
    ), bounds AS (
        SELECT (SELECT max(l.version) FROM ledger l WHERE l.status = 'applied') AS top_applied,
               (SELECT max(f.version) FROM files f) AS top_file
    )
    SELECT coalesce(f.version, l.version),
           CASE
               WHEN f.version IS NULL AND l.version > coalesce(b.top_file, -1) THEN 'unknown'
               WHEN f.version IS NULL THEN 'missing'
               WHEN l.status = 'applied' AND l.checksum <> f.checksum THEN 'drifted'
               WHEN l.status = 'applied' THEN 'applied'
               WHEN f.version < b.top_applied THEN 'out_of_order'
               ELSE 'pending'
           END,
           l.name, f.checksum, l.checksum,
           CASE WHEN l.status = 'applied' THEN l.applied_at END
      FROM files f
      FULL JOIN ledger l ON l.version = f.version
     CROSS JOIN bounds b
     WHERE f.version IS NOT NULL OR l.status = 'applied'
     ORDER BY 1;
END
$$;
COMMENT ON FUNCTION stratum.migration_plan(text, bigint[], text[], text, text) IS
    'Compares the versions and checksums of the files on disk with the ledger: applied, pending, out_of_order, drifted, missing (applied, file gone) or unknown (applied, newer than every file)';

CREATE FUNCTION stratum.verify_ledger(scope text DEFAULT NULL)
    RETURNS TABLE (scope text, kind text, environment text, version bigint, problem text,
                   detail text)
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    WITH ledger AS (
        SELECT m.* FROM stratum.schema_migrations m WHERE $1 IS NULL OR m.scope = $1
    ), last_event AS (
        SELECT DISTINCT ON (l.scope, l.kind, l.environment, l.version) l.*
          FROM stratum.schema_migration_log l
         WHERE $1 IS NULL OR l.scope = $1
         ORDER BY l.scope, l.kind, l.environment, l.version, l.id DESC
    ), problems AS (
        SELECT m.scope, m.kind, m.environment, m.version, 'up_sql_changed' AS problem,
               format('stored up SQL hashes to %s, recorded checksum is %s',
                      stratum.migration_checksum(m.up_sql), m.checksum) AS detail
          FROM ledger m
         WHERE stratum.migration_checksum(m.up_sql) <> m.checksum
        UNION ALL
        SELECT m.scope, m.kind, m.environment, m.version, 'down_sql_changed',
               format('stored down SQL hashes to %s, recorded checksum is %s',
                      stratum.migration_checksum(m.down_sql), m.down_checksum)
          FROM ledger m
         WHERE stratum.migration_checksum(m.down_sql) <> m.down_checksum
        UNION ALL
        SELECT m.scope, m.kind, m.environment, m.version, 'disagrees_with_log',
               CASE WHEN e.id IS NULL THEN 'no event in stratum.schema_migration_log'
                    ELSE format('ledger: %s, checksum %s, down %s; last event %s: %s, checksum %s, down %s',
                                m.status, m.checksum, coalesce(m.down_checksum, 'none'), e.id,
                                e.action, e.checksum, coalesce(e.down_checksum, 'none')) END
          FROM ledger m
          LEFT JOIN last_event e USING (scope, kind, environment, version)
         WHERE e.id IS NULL
            OR (m.status = 'applied' AND (e.action = 'rolled_back'
                                          OR e.checksum <> m.checksum
                                          OR e.down_checksum IS DISTINCT FROM m.down_checksum))
            OR (m.status = 'rolled_back' AND e.action <> 'rolled_back')
        UNION ALL
        SELECT e.scope, e.kind, e.environment, e.version, 'row_deleted',
               format('last event %s (%s at %s) has no ledger row', e.id, e.action, e.done_at)
          FROM last_event e
         WHERE NOT EXISTS (SELECT 1 FROM stratum.schema_migrations m
                            WHERE (m.scope, m.kind, m.environment, m.version)
                                = (e.scope, e.kind, e.environment, e.version))
        UNION ALL
        SELECT m.scope, m.kind, m.environment, m.version, 'dependency_not_applied',
               format('depends on %s, which is not applied', d.version)
          FROM ledger m
         CROSS JOIN LATERAL unnest(m.depends_on) AS d(version)
         WHERE m.status = 'applied'
           AND NOT EXISTS (SELECT 1 FROM stratum.schema_migrations a
                            WHERE a.scope = m.scope AND a.kind = 'migration'
                              AND a.environment = '' AND a.version = d.version
                              AND a.status = 'applied')
    )
    SELECT p.scope, p.kind, p.environment, p.version, p.problem, p.detail
      FROM problems p
     ORDER BY p.scope <> 'master', p.scope, p.kind, p.environment, p.version, p.problem
$$;
COMMENT ON FUNCTION stratum.verify_ledger(text) IS
    'Checks the ledger against its own checksums and log; no rows means consistent';

-- Schema-per-tenant: who is behind, and a queue for parallel workers.

CREATE FUNCTION stratum.tenants_behind(versions bigint[] DEFAULT NULL)
    RETURNS TABLE (tenant_id uuid, slug text, schema_name name, latest_version bigint,
                   missing_versions bigint[])
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    WITH applied AS (
        SELECT m.scope, m.version FROM stratum.schema_migrations m
         WHERE m.kind = 'migration' AND m.environment = '' AND m.status = 'applied'
           AND m.scope <> 'master'
    ), target AS (
        SELECT DISTINCT v FROM unnest(coalesce($1, ARRAY(
            SELECT a.version FROM applied a
              JOIN stratum.tenants t ON t.schema_name = a.scope::name))) AS v
    ), latest AS (
        SELECT a.scope, max(a.version) AS version FROM applied a GROUP BY a.scope
    )
    SELECT t.id, t.slug, t.schema_name, l.version, array_agg(g.v ORDER BY g.v)
      FROM stratum.tenants t
     CROSS JOIN target g
      LEFT JOIN latest l ON l.scope = t.schema_name::text
     WHERE t.schema_name IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM applied a
                        WHERE a.scope = t.schema_name::text AND a.version = g.v)
     GROUP BY t.id, t.slug, t.schema_name, l.version
     ORDER BY t.schema_name
$$;
COMMENT ON FUNCTION stratum.tenants_behind(bigint[]) IS
    'Tenant schemas lacking any of the given tenant migration versions (default: any version applied in some tenant schema)';

CREATE FUNCTION stratum.queue_tenant_migrations(versions bigint[]) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    pending integer;
BEGIN
    IF versions IS NULL OR array_position(versions, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'versions must be an array of tenant migration versions without NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    INSERT INTO stratum.tenant_migration_queue AS q
           (scope, tenant, state, target_versions, queued_at, finished_at)
    SELECT t.schema_name, t.id, CASE WHEN b.schema_name IS NULL THEN 'done' ELSE 'pending' END,
           versions, now(), NULL
      FROM stratum.tenants t
      LEFT JOIN stratum.tenants_behind(versions) b ON b.schema_name = t.schema_name
     WHERE t.schema_name IS NOT NULL
    ON CONFLICT (scope) DO UPDATE
       SET state = excluded.state, target_versions = excluded.target_versions,
           queued_at = excluded.queued_at,
           finished_at = CASE WHEN excluded.state = 'done' THEN q.finished_at END;
    SELECT count(*) INTO pending FROM stratum.tenant_migration_queue WHERE state = 'pending';
    RETURN pending;
END
$$;
COMMENT ON FUNCTION stratum.queue_tenant_migrations(bigint[]) IS
    'Starts (or resumes) a tenant migration run: every tenant schema lacking one of the versions becomes pending; returns how many';

CREATE FUNCTION stratum.claim_tenant_migration()
    RETURNS TABLE (scope name, tenant uuid, attempts integer, target_versions bigint[])
    LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT q.scope, q.tenant, q.attempts, q.target_versions
      FROM stratum.tenant_migration_queue q
     WHERE q.state = 'pending'
     ORDER BY q.scope
     LIMIT 1
       FOR UPDATE SKIP LOCKED
$$;
COMMENT ON FUNCTION stratum.claim_tenant_migration() IS
    'Claims one pending tenant schema for the rest of the calling transaction (FOR UPDATE SKIP LOCKED); no row when none is left';

CREATE FUNCTION stratum.finish_tenant_migration(scope name) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    target bigint[];
    missing text;
BEGIN
    SELECT q.target_versions INTO target FROM stratum.tenant_migration_queue q
     WHERE q.scope = finish_tenant_migration.scope;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'tenant schema % is not queued', quote_ident(finish_tenant_migration.scope)
            USING ERRCODE = 'undefined_object';
    END IF;
    SELECT string_agg(v::text, ', ' ORDER BY v) INTO missing FROM unnest(target) AS v
     WHERE NOT EXISTS (SELECT 1 FROM stratum.schema_migrations m
                        WHERE m.scope = finish_tenant_migration.scope::text
                          AND m.kind = 'migration' AND m.environment = ''
                          AND m.version = v AND m.status = 'applied');
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'tenant schema % still lacks migrations %',
                        quote_ident(finish_tenant_migration.scope), missing
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    UPDATE stratum.tenant_migration_queue q
       SET state = 'done', finished_at = now(), last_error = NULL
     WHERE q.scope = finish_tenant_migration.scope;
END
$$;
COMMENT ON FUNCTION stratum.finish_tenant_migration(name) IS
    'Marks a claimed tenant schema done, in the transaction that migrated it (checks that every target version is applied)';

CREATE FUNCTION stratum.fail_tenant_migration(scope name, error text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    UPDATE stratum.tenant_migration_queue q
       SET state = 'failed', attempts = q.attempts + 1, last_error = error, finished_at = now()
     WHERE q.scope = fail_tenant_migration.scope;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'tenant schema % is not queued', quote_ident(fail_tenant_migration.scope)
            USING ERRCODE = 'undefined_object';
    END IF;
END
$$;
COMMENT ON FUNCTION stratum.fail_tenant_migration(name, text) IS
    'Records that migrating a tenant schema failed (after its transaction rolled back); the next queue_tenant_migrations makes it pending again';

-- Who waits: migrators (holders of or waiters for a migration lock) that wait
-- for a lock now, and the sessions blocking them.
CREATE FUNCTION stratum.migration_waits()
    RETURNS TABLE (pid integer, scope text, waiting_for text, waiting_since timestamptz,
                   blocked_by integer, blocker_user name, blocker_application text,
                   blocker_state text, blocker_xact_start timestamptz, blocker_query text)
    LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    WITH migrators AS (
        SELECT DISTINCT l.pid, l.objid FROM pg_locks l
         WHERE l.locktype = 'advisory' AND l.classid = 1398033713 AND l.objsubid = 2
           AND l.database = (SELECT d.oid FROM pg_database d
                              WHERE d.datname = current_database())
    ), scopes AS (
        SELECT s.scope, (stratum.migration_lock_key(s.scope)).objid
          FROM (SELECT 'master'::text AS scope
                UNION SELECT t.schema_name::text FROM stratum.tenants t
                 WHERE t.schema_name IS NOT NULL) s
    ), waits AS (
        SELECT l.pid, string_agg(format('%s on %s', l.mode,
                                        coalesce(l.relation::regclass::text,
                                                 l.locktype || coalesce(' ' || l.transactionid, ''))),
                                 '; ') AS waiting_for,
               min(l.waitstart) AS waiting_since
          FROM pg_locks l WHERE NOT l.granted GROUP BY l.pid
    )
    SELECT m.pid, s.scope, w.waiting_for, w.waiting_since, b.pid, b.usename,
           b.application_name, b.state, b.xact_start, b.query
      FROM migrators m
      JOIN waits w ON w.pid = m.pid
      LEFT JOIN scopes s ON s.objid = m.objid
     CROSS JOIN LATERAL unnest(pg_blocking_pids(m.pid)) AS blocker(pid)
      LEFT JOIN pg_stat_activity b ON b.pid = blocker.pid
     ORDER BY m.pid, b.pid
$$;
COMMENT ON FUNCTION stratum.migration_waits() IS
    'Migrators waiting for a lock right now, one row per blocking session';
