-- The audit trail: stratum.audit_log (partitioned by time, tenant-isolated,
-- append-only), the C++ triggers that write it (extension/audit_*.cpp), and
-- the functions that switch auditing on and off, read a row's history and
-- keep the log's size in check.

-- Steps of 1024: each writing session takes a block of ids per call
-- (extension/audit_writer.cpp), so ids cost no sequence access per row.
CREATE SEQUENCE stratum.audit_log_id_seq AS bigint INCREMENT BY 1024;

CREATE TABLE stratum.audit_log (
    -- Fixed-width and indexed columns first: they are found without walking
    -- the variable-width ones.
    id              bigint      NOT NULL DEFAULT nextval('stratum.audit_log_id_seq'),
    logged_at       timestamptz NOT NULL,
    xact_id         xid8        NOT NULL,
    table_oid       oid         NOT NULL,
    tenant_id       uuid,
    row_key         jsonb,
    operation       text        NOT NULL CONSTRAINT audit_log_operation_values
                    CHECK (operation IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE')),
    actor           text,
    db_user         text        NOT NULL,
    table_schema    text        NOT NULL,
    table_name      text        NOT NULL,
    old_row         jsonb,
    new_row         jsonb,
    changed_columns text[]
) PARTITION BY RANGE (logged_at);
ALTER SEQUENCE stratum.audit_log_id_seq OWNED BY stratum.audit_log.id;
COMMENT ON TABLE stratum.audit_log IS
    'Every change to an audited table, written by stratum''s triggers; tenant-isolated and append-only';
COMMENT ON COLUMN stratum.audit_log.id IS
    'Increases with each entry a session writes; order entries by (logged_at, id)';
COMMENT ON COLUMN stratum.audit_log.logged_at IS
    'Start of the statement that made the change (statement_timestamp())';
COMMENT ON COLUMN stratum.audit_log.xact_id IS 'Top-level transaction id (pg_current_xact_id())';
COMMENT ON COLUMN stratum.audit_log.tenant_id IS
    'The row''s tenant_id when the table has one, else the transaction''s tenant, else NULL';
COMMENT ON COLUMN stratum.audit_log.actor IS 'stratum.current_actor() when the change was made';
COMMENT ON COLUMN stratum.audit_log.db_user IS 'The database role that made the change (current_user)';
COMMENT ON COLUMN stratum.audit_log.table_oid IS
    'The audited table (for a partitioned table, the table audit was enabled on; for TRUNCATE, the table truncated)';
COMMENT ON COLUMN stratum.audit_log.row_key IS
    'Primary key (else replica identity index) of the row after the change, before it for DELETE; NULL when the table has neither';
COMMENT ON COLUMN stratum.audit_log.old_row IS 'The row before UPDATE or DELETE, without excluded columns';
COMMENT ON COLUMN stratum.audit_log.new_row IS 'The row after INSERT or UPDATE, without excluded columns';
COMMENT ON COLUMN stratum.audit_log.changed_columns IS 'For UPDATE: the audited columns whose value changed';

-- Entries land here until stratum.create_audit_partitions() makes monthly
-- partitions; nothing is ever refused for want of a partition.
CREATE TABLE stratum.audit_log_default PARTITION OF stratum.audit_log DEFAULT;

-- A BRIN bloom operator class for jsonb (PostgreSQL ships them for scalar
-- types only): the summary of a block range is a bloom filter of the values
-- hashed with jsonb's own hash function.
CREATE OPERATOR CLASS stratum.jsonb_bloom_ops FOR TYPE jsonb USING brin AS
    OPERATOR 1 = (jsonb, jsonb),
    FUNCTION 1 brin_bloom_opcinfo(internal),
    FUNCTION 2 brin_bloom_add_value(internal, internal, internal, internal),
    FUNCTION 3 brin_bloom_consistent(internal, internal, internal, integer),
    FUNCTION 4 brin_bloom_union(internal, internal, internal),
    FUNCTION 5 brin_bloom_options(internal),
    FUNCTION 11 jsonb_hash(jsonb);

-- One index, a BRIN, because every audited write would pay for every index
-- here: a B-tree or hash index costs each audited row about as much as the
-- rest of its entry (one descent, one WAL record per row), while a block
-- range is summarized once, after it fills (autosummarize), and costs the
-- writer nothing before. Per 16 pages it holds
--  * a bloom filter of tenants and the time range: "what did tenant T change
--    since X" (and the index led by tenant_id that row level security
--    wants); the log is written in time order, so a time range is a few
--    block ranges;
--  * a bloom filter of row keys: "the history of this row" reads the ranges
--    whose filter has the key (about 480 entries per range fill one; 1 in
--    1,000 ranges answers yes without it). The index stays about 1% of the
--    log's size, and a lookup reads all of it: about 1 ms per million
--    entries (docs/audit.md).
--
-- It is made on each partition rather than on the partitioned log: the log
-- is a member of the extension, its monthly partitions are not, and
-- pg_restore recreates a partition's indexes itself — with indexes on the
-- parent, ATTACH PARTITION would already have made them and the restore
-- would fail on "already exists".
CREATE FUNCTION stratum._audit_partition_indexes(part regclass) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    EXECUTE format('CREATE INDEX ON %s USING brin (tenant_id uuid_bloom_ops, logged_at, '
                   'row_key stratum.jsonb_bloom_ops (n_distinct_per_range = 600, false_positive_rate = 0.001)) '
                   'WITH (pages_per_range = 16, autosummarize = on)', part);
END
$$;
SELECT stratum._audit_partition_indexes('stratum.audit_log_default');

-- The column policy: an entry holding a column its reader may not SELECT on
-- the audited table is not shown to that reader (extension/audit_visibility.cpp).
CREATE FUNCTION stratum._audit_entry_readable(table_oid oid, old_row jsonb, new_row jsonb)
    RETURNS boolean
    AS 'MODULE_PATHNAME', 'stratum_audit_entry_readable'
    LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION stratum._audit_entry_readable(oid, jsonb, jsonb) IS
    'Internal: the audit log''s column policy (may the reader read every column the entry holds?)';

SELECT stratum._apply_rls(part) FROM stratum._relation_tree('stratum.audit_log') AS part;


CREATE FUNCTION stratum._audit_column_policy(part regclass) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    -- (With Citus the rule is part of the isolation policy: see _isolation_using.)
    IF NOT stratum._citus_present() AND NOT EXISTS (SELECT 1 FROM pg_policy WHERE polrelid = part AND polname = 'stratum_audit_columns') THEN
        EXECUTE format('CREATE POLICY stratum_audit_columns ON %s AS RESTRICTIVE FOR SELECT '
                       'USING (stratum._audit_entry_readable(table_oid, old_row, new_row))', part);
    END IF;
END
$$;
SELECT stratum._audit_column_policy(part) FROM stratum._relation_tree('stratum.audit_log') AS part;

SELECT pg_catalog.pg_extension_config_dump('stratum.audit_log', '');
SELECT pg_catalog.pg_extension_config_dump('stratum.audit_log_default', '');
SELECT pg_catalog.pg_extension_config_dump('stratum.audit_log_id_seq', '');

-- Append-only: UPDATE, DELETE and TRUNCATE are refused for every role but
-- the log's owner (the retention functions run as it). Privileges refuse
-- them first; this guard explains itself to a role that was granted more.
CREATE FUNCTION stratum._audit_log_append_only() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    owner regrole;
BEGIN
    SELECT relowner INTO owner FROM pg_class WHERE oid = TG_RELID;
    IF pg_has_role(current_user, owner, 'USAGE') THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'stratum.audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = 'Audit entries are written by stratum''s triggers and are never changed or removed by other roles.',
              HINT = 'The log''s owner removes old entries with stratum.drop_audit_partitions().';
END
$$;

-- The guard on one relation of the log's partition tree.
CREATE FUNCTION stratum._guard_audit_partition(part regclass) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = part AND tgname = 'stratum_append_only') THEN
        PERFORM stratum._allow_citus_triggers();
        EXECUTE format('CREATE TRIGGER stratum_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON %s '
                       'FOR EACH STATEMENT EXECUTE FUNCTION stratum._audit_log_append_only()', part);
    END IF;
END
$$;
SELECT stratum._guard_audit_partition(part) FROM stratum._relation_tree('stratum.audit_log') AS part;

CREATE FUNCTION stratum.audit_row() RETURNS trigger
    AS 'MODULE_PATHNAME', 'stratum_audit_row'
    LANGUAGE C;
COMMENT ON FUNCTION stratum.audit_row() IS
    'AFTER INSERT/UPDATE/DELETE row trigger stratum_audit: buffers one audit_log entry per changed row; its arguments are the excluded columns';

CREATE FUNCTION stratum.audit_truncate() RETURNS trigger
    AS 'MODULE_PATHNAME', 'stratum_audit_truncate'
    LANGUAGE C;
COMMENT ON FUNCTION stratum.audit_truncate() IS
    'AFTER TRUNCATE statement trigger stratum_audit_truncate: records the TRUNCATE';

-- The arguments of a trigger as pg_trigger.tgargs stores them.
CREATE FUNCTION stratum._trigger_arguments(args bytea) RETURNS text[]
    LANGUAGE plpgsql IMMUTABLE STRICT SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    result text[] := '{}';
    rest bytea := args;
    cut integer;
BEGIN
    LOOP
        cut := position('\x00'::bytea IN rest);
        EXIT WHEN cut = 0;
        result := result || convert_from(substring(rest FROM 1 FOR cut - 1), getdatabaseencoding());
        rest := substring(rest FROM cut + 1);
    END LOOP;
    RETURN result;
END
$$;

-- The arguments of the stratum_audit trigger enable_audit made on rel (one
-- that calls stratum.audit_row), or NULL when rel has none: the excluded
-- columns, then, when there are any, an empty marker and the withheld ones.
CREATE FUNCTION stratum._audit_trigger_arguments(rel regclass) RETURNS text[]
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT stratum._trigger_arguments(tgargs) FROM pg_trigger
     WHERE tgrelid = rel AND tgname = 'stratum_audit' AND tgparentid = 0
       AND tgfoid = 'stratum.audit_row()'::regprocedure
$$;

-- The excluded columns of an audited table (NULL when it is not audited).
CREATE FUNCTION stratum._audit_excluded_columns(rel regclass) RETURNS text[]
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN array_position(a, '') IS NULL THEN a ELSE a[1:array_position(a, '') - 1] END
      FROM stratum._audit_trigger_arguments(rel) AS a
$$;

-- The withheld columns of an audited table, as its trigger has them.
CREATE FUNCTION stratum._audit_withheld_columns(rel regclass) RETURNS text[]
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN array_position(a, '') IS NULL THEN '{}' ELSE a[array_position(a, '') + 1:] END
      FROM stratum._audit_trigger_arguments(rel) AS a
$$;

-- The columns of rel (not excluded) that a registered application role may
-- read some of rel but not: their values are withheld from the audit log,
-- their changes still named in changed_columns. A role that may read none
-- of rel reads none of its entries either (the column policy hides them).
CREATE FUNCTION stratum._audit_withheld(rel regclass, excluded text[]) RETURNS text[]
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(array_agg(a.attname::text ORDER BY a.attname), '{}')
      FROM pg_attribute a
     WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped
       AND a.attname::text <> ALL (excluded)
       AND EXISTS (SELECT 1 FROM stratum.app_roles ar JOIN pg_roles r ON r.rolname = ar.role_name
                    WHERE has_any_column_privilege(r.oid, rel, 'SELECT')
                      AND NOT has_column_privilege(r.oid, rel, a.attnum, 'SELECT'))
$$;

-- The statement trigger that goes with stratum_audit, on one relation (a
-- partition's TRUNCATE only fires the partition's own).
CREATE FUNCTION stratum._audit_statement_triggers(rel regclass) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM stratum._allow_citus_triggers();
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = rel AND tgname = 'stratum_audit_truncate') THEN
        EXECUTE format('CREATE TRIGGER stratum_audit_truncate AFTER TRUNCATE ON %s '
                       'FOR EACH STATEMENT EXECUTE FUNCTION stratum.audit_truncate()', rel);
    END IF;
END
$$;

-- Makes stratum_audit on rel exclude the given columns and withhold what the
-- application roles may not read, re-creating it only when that changes (or,
-- with enable, when it is disabled).
CREATE FUNCTION stratum._sync_audit_trigger(rel regclass, excluded text[], enable boolean)
    RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    withheld text[] := stratum._audit_withheld(rel, excluded);
    wanted text[];
    enabled "char";
    arguments text;
BEGIN
    wanted := excluded || CASE WHEN cardinality(withheld) > 0 THEN '{""}'::text[] || withheld
                               ELSE '{}'::text[] END;
    SELECT tgenabled INTO enabled FROM pg_trigger
     WHERE tgrelid = rel AND tgname = 'stratum_audit' AND tgparentid = 0;
    IF stratum._audit_trigger_arguments(rel) IS NOT DISTINCT FROM wanted
       AND (enabled = 'O' OR NOT enable) THEN
        RETURN;
    END IF;
    SELECT coalesce(string_agg(quote_literal(c), ', ' ORDER BY n), '') INTO arguments
      FROM unnest(wanted) WITH ORDINALITY AS w(c, n);
    PERFORM stratum._allow_citus_triggers();
    EXECUTE format('CREATE OR REPLACE TRIGGER stratum_audit AFTER INSERT OR UPDATE OR DELETE ON %s '
                   'FOR EACH ROW EXECUTE FUNCTION stratum.audit_row(%s)', rel, arguments);
    IF NOT enable AND enabled IS NOT NULL AND enabled <> 'O' THEN
        EXECUTE format('ALTER TABLE %s DISABLE TRIGGER stratum_audit', rel);
    END IF;
END
$$;

-- Brings every audited table's withheld columns in step with the current
-- privileges of the application roles (after GRANT, REVOKE and changes of
-- the registered roles). Runs as the extension owner: tables may belong to
-- different roles, and it only ever acts on stratum's own triggers.
CREATE FUNCTION stratum._audit_withhold_all() RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    rel regclass;
BEGIN
    FOR rel IN SELECT t.tgrelid::regclass FROM pg_trigger t
                WHERE t.tgname = 'stratum_audit' AND t.tgparentid = 0
                  AND t.tgfoid = 'stratum.audit_row()'::regprocedure LOOP
        PERFORM stratum._sync_audit_trigger(rel, stratum._audit_excluded_columns(rel), false);
    END LOOP;
END
$$;

CREATE FUNCTION stratum.enable_audit(rel regclass, exclude_columns text[] DEFAULT '{}')
    RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    excluded text[];
    column_name text;
    ancestor regclass;
    part regclass;
BEGIN
    PERFORM stratum._assert_table(rel);
    IF (SELECT relnamespace FROM pg_class WHERE oid = rel) = 'stratum'::regnamespace THEN
        RAISE EXCEPTION '% belongs to stratum itself and cannot be audited', rel
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- A reference table's trigger fires on every node's copy: each change
    -- would be recorded once per node.
    IF stratum._citus_table_kind(rel) = 'reference' THEN
        RAISE EXCEPTION '% is a Citus reference table and cannot be audited', rel
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Audit distributed tenant tables (stratum.distribute_table) and tables of the coordinator.';
    END IF;
    IF exclude_columns IS NULL OR array_position(exclude_columns, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'exclude_columns must not be NULL or contain NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT coalesce(array_agg(DISTINCT c ORDER BY c), '{}') INTO excluded FROM unnest(exclude_columns) AS c;

    -- A misspelt exclusion would silently log what it meant to hide.
    SELECT c INTO column_name FROM unnest(excluded) AS c
     WHERE NOT EXISTS (SELECT 1 FROM pg_attribute a
                        WHERE a.attrelid = rel AND a.attname::text = c AND a.attnum > 0
                          AND NOT a.attisdropped)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'table % has no column %', rel, quote_ident(column_name)
            USING ERRCODE = 'undefined_column';
    END IF;
    SELECT a.attname INTO column_name FROM pg_index i
      JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
     WHERE i.indrelid = rel AND i.indisprimary AND a.attname::text = ANY (excluded)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'column % is part of the primary key of % and cannot be excluded from its audit',
                        quote_ident(column_name), rel
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Audit entries name their row by its primary key.';
    END IF;

    SELECT a INTO ancestor FROM pg_partition_ancestors(rel) AS a
     WHERE a <> rel AND stratum._audit_excluded_columns(a) IS NOT NULL
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION '% is a partition of %, which is audited', rel, ancestor
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = format('Partitions are audited with their parent: call stratum.enable_audit(%L) to change it.', ancestor);
    END IF;

    -- A partition audited on its own gives way to its parent's trigger.
    FOR part IN SELECT relid FROM pg_partition_tree(rel) WHERE relid <> rel LOOP
        IF stratum._audit_excluded_columns(part) IS NOT NULL THEN
            EXECUTE format('DROP TRIGGER stratum_audit ON %s', part);
        END IF;
    END LOOP;
    PERFORM stratum._sync_audit_trigger(rel, excluded, true);
    FOR part IN SELECT stratum._relation_tree(rel) LOOP
        PERFORM stratum._audit_statement_triggers(part);
    END LOOP;
END
$$;
COMMENT ON FUNCTION stratum.enable_audit(regclass, text[]) IS
    'Records every INSERT, UPDATE, DELETE and TRUNCATE of a table in stratum.audit_log, without the excluded columns; idempotent, and calling it again changes the exclusions';

CREATE FUNCTION stratum.disable_audit(rel regclass) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    part regclass;
BEGIN
    PERFORM stratum._assert_table(rel);
    IF EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = rel AND tgname = 'stratum_audit'
                                          AND tgparentid <> 0) THEN
        RAISE EXCEPTION '% is audited through its parent table', rel
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Disable the audit of the partitioned table it belongs to.';
    END IF;
    PERFORM stratum._drop_trigger(rel, 'stratum_audit');
    FOR part IN SELECT stratum._relation_tree(rel) LOOP
        PERFORM stratum._drop_trigger(part, 'stratum_audit_truncate');
    END LOOP;
END
$$;
COMMENT ON FUNCTION stratum.disable_audit(regclass) IS
    'Stops auditing a table; its entries in stratum.audit_log stay';

CREATE FUNCTION stratum.audited_tables()
    RETURNS TABLE (relation regclass, exclude_columns text[], withheld_columns text[])
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT t.tgrelid::regclass, stratum._audit_excluded_columns(t.tgrelid),
           stratum._audit_withheld_columns(t.tgrelid)
      FROM pg_trigger t
     WHERE t.tgname = 'stratum_audit' AND t.tgparentid = 0
       AND t.tgfoid = 'stratum.audit_row()'::regprocedure
     ORDER BY t.tgrelid::regclass::text
$$;
COMMENT ON FUNCTION stratum.audited_tables() IS
    'The audited tables, the columns each one excludes from its audit, and the columns whose values it withholds because an application role may not read them';

-- A row's history, oldest first. pk is the row's key as a jsonb object
-- ('{"id": 42}'), or a bare value for a single-column primary key ('42').
CREATE FUNCTION stratum.row_history(rel regclass, pk jsonb)
    RETURNS SETOF stratum.audit_log
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    key jsonb := pk;
    key_columns name[];
BEGIN
    IF rel IS NULL OR pk IS NULL THEN
        RAISE EXCEPTION 'table and key must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT array_agg(a.attname) INTO key_columns FROM pg_index i
      JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
     WHERE i.indrelid = rel AND i.indisprimary;
    IF jsonb_typeof(pk) <> 'object' THEN
        -- tenant_id in the key is the caller's tenant (see below).
        IF coalesce(cardinality(array_remove(key_columns, 'tenant_id')), 0) <> 1 THEN
            RAISE EXCEPTION 'the primary key of % does not have exactly one column', rel
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Pass the key as a jsonb object, e.g. ''{"tenant_id": "...", "id": 1}''.';
        END IF;
        key := jsonb_build_object((array_remove(key_columns, 'tenant_id'))[1], pk);
    END IF;
    -- A key led by tenant_id (as distribute_table makes them) is completed
    -- with the caller's tenant: a row is asked for by its own id.
    IF 'tenant_id' = ANY (key_columns) AND NOT key ? 'tenant_id' THEN
        key := key || jsonb_build_object('tenant_id', stratum.current_tenant_or_null());
    END IF;
    -- With the log distributed by Citus, entries written on a worker carry
    -- that node's oid for the table: the name finds them all.
    IF stratum._is_distributed('stratum.audit_log') THEN
        RETURN QUERY
            SELECT * FROM stratum.audit_log l
             WHERE l.table_schema = (SELECT nspname FROM pg_namespace n JOIN pg_class c ON c.relnamespace = n.oid WHERE c.oid = rel)
               AND l.table_name = (SELECT relname FROM pg_class WHERE oid = rel)
               AND l.row_key = key
             ORDER BY l.logged_at, l.id;
        RETURN;
    END IF;
    RETURN QUERY
        SELECT * FROM stratum.audit_log l
         WHERE l.table_oid = rel AND l.row_key = key
         ORDER BY l.logged_at, l.id;
END
$$;
COMMENT ON FUNCTION stratum.row_history(regclass, jsonb) IS
    'Audit entries of one row, oldest first; the key is a jsonb object or, for a one-column primary key, a bare value';

-- Bounds of the log's range partitions (the DEFAULT partition has none).
CREATE FUNCTION stratum._audit_partitions()
    RETURNS TABLE (partition regclass, lower_bound timestamptz, upper_bound timestamptz)
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT c.oid::regclass,
           coalesce(substring(b.bound FROM $re$FROM \('([^']*)'\)$re$)::timestamptz, '-infinity'),
           coalesce(substring(b.bound FROM $re$TO \('([^']*)'\)$re$)::timestamptz, 'infinity')
      FROM pg_inherits i
      JOIN pg_class c ON c.oid = i.inhrelid
     CROSS JOIN LATERAL (SELECT pg_get_expr(c.relpartbound, c.oid) AS bound) b
     WHERE i.inhparent = 'stratum.audit_log'::regclass AND b.bound <> 'DEFAULT'
$$;

-- Monthly (UTC) partitions of the log, from the oldest entry still waiting in
-- the DEFAULT partition (or this month) through months_ahead months ahead.
-- Entries in the DEFAULT partition move into their month. Returns the
-- partitions it created; run it from a scheduler, e.g. daily.
CREATE FUNCTION stratum.create_audit_partitions(months_ahead integer DEFAULT 3)
    RETURNS SETOF regclass
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    default_part regclass;
    this_month timestamp := date_trunc('month', now() AT TIME ZONE 'UTC');
    month timestamp;
    month_start timestamptz;
    month_end timestamptz;
    part_name name;
    part regclass;
BEGIN
    IF months_ahead IS NULL OR months_ahead NOT BETWEEN 0 AND 120 THEN
        RAISE EXCEPTION 'months_ahead must be between 0 and 120' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT i.inhrelid INTO default_part FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'stratum.audit_log'::regclass
       AND pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT';
    month := this_month;
    IF default_part IS NOT NULL THEN
        EXECUTE format('SELECT least(date_trunc(''month'', min(logged_at) AT TIME ZONE ''UTC''), $1) FROM %s',
                       default_part) INTO month USING this_month;
    END IF;
    WHILE month <= this_month + make_interval(months => months_ahead) LOOP
        month_start := month AT TIME ZONE 'UTC';
        month_end := (month + interval '1 month') AT TIME ZONE 'UTC';
        part_name := 'audit_log_' || to_char(month, 'YYYY_MM');
        month := month + interval '1 month';
        CONTINUE WHEN EXISTS (SELECT 1 FROM stratum._audit_partitions() p
                               WHERE p.lower_bound < month_end AND p.upper_bound > month_start);
        -- Created on its own and attached, rather than CREATE ... PARTITION OF:
        -- attaching leaves the log open for writing while it runs (it locks
        -- only the DEFAULT partition, which it must check). Entries of that
        -- month already in the DEFAULT partition move over first.
        -- A new month takes the DEFAULT partition's indexes: an index a DBA
        -- added there (an exact one on row_key, say) reaches later months.
        IF default_part IS NOT NULL THEN
            EXECUTE format('CREATE TABLE stratum.%I (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)',
                           part_name, default_part);
            EXECUTE format('WITH moved AS (DELETE FROM %s WHERE logged_at >= $1 AND logged_at < $2 RETURNING *) '
                           'INSERT INTO stratum.%I SELECT * FROM moved', default_part, part_name)
                USING month_start, month_end;
            part := format('stratum.%I', part_name)::regclass;
        ELSE
            EXECUTE format('CREATE TABLE stratum.%I (LIKE stratum.audit_log INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                           part_name);
            part := format('stratum.%I', part_name)::regclass;
            PERFORM stratum._audit_partition_indexes(part);
        END IF;
        EXECUTE format('ALTER TABLE stratum.audit_log ATTACH PARTITION stratum.%I FOR VALUES FROM (%L) TO (%L)',
                       part_name, month_start, month_end);
        IF NOT stratum._has_isolation_policy(part) THEN
            PERFORM stratum._apply_rls(part);
        END IF;
        PERFORM stratum._audit_column_policy(part);
        PERFORM stratum._guard_audit_partition(part);
        RETURN NEXT part;
    END LOOP;
END
$$;
COMMENT ON FUNCTION stratum.create_audit_partitions(integer) IS
    'Creates monthly (UTC) partitions of stratum.audit_log through months_ahead months ahead, moving waiting entries out of the DEFAULT partition';

-- Retention: detaches (and unless detach_only, drops) every monthly
-- partition whose entries are all older than older_than. Whole partitions go
-- at once; nothing is rewritten. Only the log's owner may do it.
CREATE FUNCTION stratum.drop_audit_partitions(older_than timestamptz, detach_only boolean DEFAULT false)
    RETURNS SETOF text
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    owner regrole;
    part record;
BEGIN
    IF older_than IS NULL OR detach_only IS NULL THEN
        RAISE EXCEPTION 'older_than and detach_only must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT relowner INTO owner FROM pg_class WHERE oid = 'stratum.audit_log'::regclass;
    IF NOT pg_has_role(current_user, owner, 'USAGE') THEN
        RAISE EXCEPTION 'only the owner of stratum.audit_log can remove audit entries'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Run it as the role that owns the log (the extension''s owner).';
    END IF;
    FOR part IN SELECT p.partition FROM stratum._audit_partitions() p
                 WHERE p.upper_bound <= older_than ORDER BY p.lower_bound LOOP
        EXECUTE format('ALTER TABLE stratum.audit_log DETACH PARTITION %s', part.partition);
        RETURN NEXT part.partition::text;
        IF NOT detach_only THEN
            EXECUTE format('DROP TABLE %s', part.partition);
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION stratum.drop_audit_partitions(timestamptz, boolean) IS
    'Drops (or only detaches, for archiving) the monthly partitions of stratum.audit_log older than a time; owner only';

-- Keeps auditing whole as tables change: new partitions of an audited table
-- get the statement triggers, the exclusions follow a renamed column (and
-- forget a dropped one), and new columns an application role may not read
-- are withheld. Runs as the extension owner, like stratum_partition_tenancy,
-- and acts only on tables whose stratum_audit trigger enable_audit made
-- (it calls stratum.audit_row, which no application role may name in a
-- trigger): a table that merely has a trigger of that name is left alone.
-- (The log's own partitions get their guard from create_audit_partitions; a
-- restore brings theirs along.)
CREATE FUNCTION stratum._audit_on_ddl_command_end() RETURNS event_trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    command record;
    part regclass;
    excluded text[];
    kept text[];
    vanished text[];
    renamed_to text;
BEGIN
    IF stratum._on_citus_worker() THEN
        RETURN;
    END IF;
    FOR command IN SELECT d.objid, max(d.objsubid) AS objsubid FROM pg_event_trigger_ddl_commands() d
                    WHERE d.classid = 'pg_class'::regclass
                      AND (SELECT relkind FROM pg_class WHERE oid = d.objid) IN ('r', 'p')
                    GROUP BY d.objid LOOP
        excluded := stratum._audit_excluded_columns(command.objid);
        CONTINUE WHEN excluded IS NULL;
        FOR part IN SELECT stratum._relation_tree(command.objid) LOOP
            PERFORM stratum._audit_statement_triggers(part);
        END LOOP;

        SELECT coalesce(array_agg(c ORDER BY c), '{}') INTO vanished FROM unnest(excluded) AS c
         WHERE NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = command.objid
                              AND a.attname::text = c AND a.attnum > 0 AND NOT a.attisdropped);
        SELECT coalesce(array_agg(c ORDER BY c), '{}') INTO kept FROM unnest(excluded) AS c
         WHERE c <> ALL (vanished);
        IF cardinality(vanished) > 0 AND command.objsubid > 0 THEN
            -- RENAME COLUMN: exclusions name live columns (enable_audit
            -- checks, drops are forgotten below), so the one that vanished
            -- is the renamed column's old name.
            SELECT attname INTO renamed_to FROM pg_attribute
             WHERE attrelid = command.objid AND attnum = command.objsubid AND NOT attisdropped;
            IF renamed_to IS NOT NULL AND cardinality(vanished) = 1 THEN
                kept := (SELECT array_agg(c ORDER BY c) FROM unnest(kept || renamed_to) AS c);
            END IF;
        END IF;
        PERFORM stratum._sync_audit_trigger(command.objid, kept, false);
    END LOOP;
END
$$;
CREATE EVENT TRIGGER stratum_audit_ddl ON ddl_command_end
    WHEN TAG IN ('CREATE TABLE', 'ALTER TABLE')
    EXECUTE FUNCTION stratum._audit_on_ddl_command_end();

-- GRANT and REVOKE change what an application role may read: the withheld
-- columns of every audited table follow at once.
CREATE FUNCTION stratum._audit_on_privileges_changed() RETURNS event_trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF stratum._on_citus_worker() THEN
        RETURN;
    END IF;
    PERFORM stratum._audit_withhold_all();
END
$$;
CREATE EVENT TRIGGER stratum_audit_privileges ON ddl_command_end
    WHEN TAG IN ('GRANT', 'REVOKE')
    EXECUTE FUNCTION stratum._audit_on_privileges_changed();
