-- Scale-out on Citus: tenant tables sharded by tenant_id. distribute_table()
-- distributes one (the first time also the audit log, colocated with the
-- tenant tables, and a copy of the tenant registry on every node, which the
-- coordinator keeps in step); sync_citus() brings nodes up to date. The
-- context (set_tenant, set_actor) reaches the workers as SET LOCAL
-- statements (extension/tenant_context.cpp); docs/scale-out.md tells the
-- whole story. Without Citus nothing here runs.

-- Keeps the registry's copy in step with stratum.tenants, in the same
-- (distributed) transaction. ENABLE ALWAYS: it fires also where triggers are
-- off (session_replication_role = replica).
CREATE FUNCTION stratum._mirror_tenant() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM stratum.tenant_registry;
        RETURN NULL;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        DELETE FROM stratum.tenant_registry WHERE id = OLD.id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO stratum.tenant_registry (id, slug, name, status, schema_name, created_at, updated_at)
        VALUES (NEW.id, NEW.slug, NEW.name, NEW.status, NEW.schema_name, NEW.created_at, NEW.updated_at);
    END IF;
    RETURN NULL;
END
$$;

-- What every distributed tenant table relies on, made once and repaired
-- when run again: the registry's copy on every node, the mirror triggers,
-- the audit log distributed by tenant. Runs as the extension's owner (the
-- log and the registry are its).
CREATE FUNCTION stratum._citus_setup() RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    part regclass;
BEGIN
    IF NOT stratum._citus_present() THEN
        RAISE EXCEPTION 'Citus is not installed in this database'
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'CREATE EXTENSION citus and add the workers first.';
    END IF;
    IF stratum._on_citus_worker() THEN
        RAISE EXCEPTION 'run this on the Citus coordinator' USING ERRCODE = 'feature_not_supported';
    END IF;
    PERFORM set_config('citus.enable_unsafe_triggers', 'on', true);

    -- 1. The registry, on every node: workers validate tenants against it.
    IF to_regclass('stratum.tenant_registry') IS NULL THEN
        CREATE TABLE stratum.tenant_registry (
            id          uuid        NOT NULL PRIMARY KEY,
            slug        text        NOT NULL,
            name        text        NOT NULL,
            status      text        NOT NULL,
            schema_name name,
            created_at  timestamptz NOT NULL,
            updated_at  timestamptz NOT NULL);
        COMMENT ON TABLE stratum.tenant_registry IS
            'Citus: the copy of stratum.tenants on every node (a reference table), kept in step by the coordinator';
        PERFORM create_reference_table('stratum.tenant_registry');
    END IF;
    -- Nodes added since get their copy (before it changes: Citus copies no
    -- reference table in a transaction that wrote one).
    PERFORM replicate_reference_tables('block_writes');
    -- Copied whole (Citus joins no local table with a reference table).
    DELETE FROM stratum.tenant_registry;
    INSERT INTO stratum.tenant_registry (id, slug, name, status, schema_name, created_at, updated_at)
    SELECT t.id, t.slug, t.name, t.status, t.schema_name, t.created_at, t.updated_at
      FROM stratum.tenants t;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'stratum.tenants'::regclass
                                              AND tgname = 'stratum_tenants_replicate') THEN
        CREATE TRIGGER stratum_tenants_replicate AFTER INSERT OR UPDATE OR DELETE ON stratum.tenants
            FOR EACH ROW EXECUTE FUNCTION stratum._mirror_tenant();
        CREATE TRIGGER stratum_tenants_replicate_truncate AFTER TRUNCATE ON stratum.tenants
            FOR EACH STATEMENT EXECUTE FUNCTION stratum._mirror_tenant();
        ALTER TABLE stratum.tenants ENABLE ALWAYS TRIGGER stratum_tenants_replicate;
        ALTER TABLE stratum.tenants ENABLE ALWAYS TRIGGER stratum_tenants_replicate_truncate;
    END IF;

    -- 2. The audit log, distributed by tenant and colocated with the tenant
    -- tables: a worker writes a row's entries next to the row. A
    -- distribution column holds no NULL: entries of no tenant get the nil
    -- UUID, which no session can set (so only the owner sees them, as before).
    IF NOT stratum._is_distributed('stratum.audit_log') THEN
        UPDATE stratum.audit_log SET tenant_id = '00000000-0000-0000-0000-000000000000'
         WHERE tenant_id IS NULL;
        FOR part IN SELECT stratum._relation_tree('stratum.audit_log') LOOP
            IF EXISTS (SELECT 1 FROM pg_policy WHERE polrelid = part AND polname = 'stratum_audit_columns') THEN
                EXECUTE format('DROP POLICY stratum_audit_columns ON %s', part);
            END IF;
            PERFORM stratum._apply_rls(part);
        END LOOP;
        PERFORM create_distributed_table('stratum.audit_log', 'tenant_id', colocate_with => 'default');
    END IF;
END
$$;

-- Unique keys of a table about to be distributed must include tenant_id
-- (Citus enforces no other). A primary key without it becomes
-- (tenant_id, <its columns>) when nothing references it; any other unique
-- key without it is refused with the remedy.
CREATE FUNCTION stratum._citus_keys(rel regclass) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tenant_attnum smallint := stratum._tenant_attnum(rel);
    key record;
    columns text;
    referenced regclass;
BEGIN
    FOR key IN SELECT i.indexrelid::regclass AS idx, i.indisprimary, con.conname,
                      i.indkey::smallint[] AS cols
                 FROM pg_index i
                 LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid
                                            AND con.contype IN ('p', 'u')
                WHERE i.indrelid = rel AND i.indisunique LOOP
        CONTINUE WHEN tenant_attnum = ANY (key.cols);
        IF NOT key.indisprimary THEN
            RAISE EXCEPTION 'unique index % of % does not include tenant_id', key.idx, rel
                USING ERRCODE = 'invalid_table_definition',
                      DETAIL = 'Citus enforces only unique keys that include the distribution column.',
                      HINT = 'Make it unique per tenant: (tenant_id, ...).';
        END IF;
        SELECT c.conrelid::regclass INTO referenced FROM pg_constraint c
         WHERE c.contype = 'f' AND c.confrelid = rel AND c.conindid = key.idx::oid LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'the primary key of % does not include tenant_id, and % references it', rel, referenced
                USING ERRCODE = 'invalid_table_definition',
                      HINT = 'Make the foreign key reference (tenant_id, ...), as a key of one tenant must.';
        END IF;
        SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY k.n) INTO columns
          FROM unnest(key.cols) WITH ORDINALITY AS k(attnum, n)
          JOIN pg_attribute a ON a.attrelid = rel AND a.attnum = k.attnum;
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', rel, key.conname);
        EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I PRIMARY KEY (tenant_id, %s)',
                       rel, key.conname, columns);
    END LOOP;
END
$$;

CREATE FUNCTION stratum.distribute_table(rel regclass, colocate_with regclass DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    kind text;
    part regclass;
    unforced regclass[];
    table_group integer;
    log_group integer;
BEGIN
    PERFORM stratum._assert_table(rel);
    IF (SELECT relnamespace FROM pg_class WHERE oid = rel) = 'stratum'::regnamespace THEN
        RAISE EXCEPTION '% belongs to stratum itself', rel USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF (SELECT relispartition FROM pg_class WHERE oid = rel) THEN
        RAISE EXCEPTION '% is a partition', rel
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Distribute the partitioned table: its partitions follow.';
    END IF;
    -- The registry's copy and the distributed log are made by the
    -- extension's owner; Citus lets one transaction touch colocated shards
    -- as one role only, so a first distribution by another role needs them
    -- made beforehand (sync_citus, once).
    IF NOT stratum._is_distributed('stratum.audit_log') OR to_regclass('stratum.tenant_registry') IS NULL THEN
        IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
            RAISE EXCEPTION 'stratum is not set up on this Citus cluster yet'
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'As a superuser, in a transaction of its own: SELECT stratum.sync_citus();';
        END IF;
        PERFORM stratum.sync_citus();
    END IF;
    kind := stratum._citus_table_kind(rel);
    IF kind IS NOT NULL AND kind <> 'distributed' THEN
        RAISE EXCEPTION '% is already a Citus % table', rel, kind USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Tenancy first, in the form that holds on every node (column, default,
    -- index, guard; one permissive policy). Again on a distributed table:
    -- it puts an older form right.
    PERFORM stratum.enable_tenancy(rel);
    IF kind IS NULL THEN
        PERFORM stratum._citus_keys(rel);
        PERFORM set_config('citus.enable_unsafe_triggers', 'on', true);
        -- Citus reads the table to move its rows into the shards, and checks
        -- its foreign keys on them: the owner must see every tenant's rows
        -- for that, so row level security is not forced on the table and the
        -- tables it references meanwhile (they are locked exclusively: no one
        -- else sees them so).
        SELECT array_agg(DISTINCT t) INTO unforced FROM (
            SELECT stratum._relation_tree(rel) AS t
            UNION
            SELECT stratum._relation_tree(c.confrelid) FROM pg_constraint c
             WHERE c.conrelid = rel AND c.contype = 'f') tables
         WHERE (SELECT relforcerowsecurity FROM pg_class WHERE oid = t);
        FOREACH part IN ARRAY coalesce(unforced, '{}') LOOP
            EXECUTE format('ALTER TABLE %s NO FORCE ROW LEVEL SECURITY', part);
        END LOOP;
        PERFORM create_distributed_table(rel, 'tenant_id',
                                         colocate_with => coalesce(colocate_with::text, 'default'));
        FOREACH part IN ARRAY coalesce(unforced, '{}') LOOP
            EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', part);
        END LOOP;
    END IF;
    -- An audited table writes its entries into the log's shard of the same
    -- tenants, on the same node: it must be colocated with the log.
    IF stratum._audit_excluded_columns(rel) IS NOT NULL THEN
        EXECUTE 'SELECT (SELECT colocationid FROM pg_dist_partition WHERE logicalrelid = $1), '
                '(SELECT colocationid FROM pg_dist_partition WHERE logicalrelid = $2)'
           INTO table_group, log_group USING rel, 'stratum.audit_log'::regclass;
        IF table_group IS DISTINCT FROM log_group THEN
            RAISE EXCEPTION 'audited table % is not colocated with stratum.audit_log', rel
                USING ERRCODE = 'invalid_table_definition',
                      HINT = 'Distribute it without colocate_with, or with a table colocated with the log.';
        END IF;
    END IF;
END
$$;
COMMENT ON FUNCTION stratum.distribute_table(regclass, regclass) IS
    'Citus: shards a tenant table on tenant_id, with the keys, policy, triggers and audit that hold on every node; colocated with the other tenant tables (or colocate_with)';

-- The privileges granted on stratum's functions and local tables, as GRANT
-- statements: a role's, or everyone's. (Citus carries the grants on the
-- schema and on distributed tables and their sequences itself.)
CREATE FUNCTION stratum._grant_statements(role_name name DEFAULT NULL) RETURNS SETOF text
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT format('GRANT %s ON FUNCTION %s TO %I', a.privilege_type, p.oid::regprocedure, r.rolname)
      FROM pg_proc p CROSS JOIN LATERAL aclexplode(p.proacl) a JOIN pg_roles r ON r.oid = a.grantee
     WHERE p.pronamespace = 'stratum'::regnamespace AND a.grantee <> p.proowner
       AND (role_name IS NULL OR r.rolname = role_name)
    UNION ALL
    SELECT format('GRANT %s ON TABLE %s TO %I', a.privilege_type, c.oid::regclass, r.rolname)
      FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a JOIN pg_roles r ON r.oid = a.grantee
     WHERE c.relnamespace = 'stratum'::regnamespace AND c.relkind IN ('r', 'p')
       AND a.grantee <> c.relowner AND NOT stratum._is_distributed(c.oid)
       AND NOT stratum._citus_shard(c.oid)
       AND (role_name IS NULL OR r.rolname = role_name)
$$;

-- Functions inside an extension are not objects Citus distributes, so their
-- grants stay on the node they were made on: this makes the workers' grants
-- on stratum's functions and local tables those of the coordinator, for one
-- role (after grant_app_role, revoke_app_role, grant_migrator_role) or for
-- all (sync_citus). Each node commits its part at once; running it again
-- repairs a node that missed it.
CREATE FUNCTION stratum._citus_sync_grants(role_name name DEFAULT NULL) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    roles name[];
    commands text;
    failure record;
BEGIN
    IF NOT stratum._citus_present() OR stratum._on_citus_worker() THEN
        RETURN;
    END IF;
    IF role_name IS NOT NULL THEN
        roles := ARRAY[role_name];
    ELSE
        SELECT coalesce(array_agg(DISTINCT substring(g FROM ' TO (.*)$')::name), '{}') INTO roles
          FROM stratum._grant_statements() g;
    END IF;
    -- Revocations first, then the coordinator's grants.
    SELECT string_agg(c, '; ' ORDER BY step) INTO commands FROM (
        SELECT 1 AS step, format('REVOKE ALL ON ALL FUNCTIONS IN SCHEMA stratum FROM %I', r) AS c
          FROM unnest(roles) r
        UNION ALL
        SELECT 1, format('REVOKE ALL ON TABLE %s FROM %I', c.oid::regclass, r)
          FROM unnest(roles) r, pg_class c
         WHERE c.relnamespace = 'stratum'::regnamespace AND c.relkind IN ('r', 'p')
           AND NOT stratum._is_distributed(c.oid) AND NOT stratum._citus_shard(c.oid)
        UNION ALL
        SELECT 2, g FROM unnest(roles) r, stratum._grant_statements(r) g) statements;
    IF commands IS NULL THEN
        RETURN;
    END IF;
    -- One statement (run_command_on_workers runs the first of several).
    commands := 'DO $stratum_grants$ BEGIN ' || commands || '; END $stratum_grants$';
    FOR failure IN EXECUTE 'SELECT nodename, nodeport, result FROM run_command_on_workers($1) WHERE NOT success'
                   USING commands LOOP
        RAISE WARNING 'stratum: grants not made on Citus node %:%: %', failure.nodename, failure.nodeport, failure.result
            USING HINT = 'Run SELECT stratum.sync_citus() once the node is reachable.';
    END LOOP;
END
$$;

CREATE FUNCTION stratum.sync_citus() RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM stratum._citus_setup();
    PERFORM stratum._citus_sync_grants();
END
$$;
COMMENT ON FUNCTION stratum.sync_citus() IS
    'Citus: prepares the cluster for stratum and brings every node up to date (the tenant registry''s copy, the audit log, grants); run it as a superuser after adding nodes';
