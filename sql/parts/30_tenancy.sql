-- Row level security that makes a table tenant-isolated, its undoing, the
-- partition follow-up, schema-per-tenant, and least-privilege grants.

CREATE FUNCTION stratum.tenant_guard() RETURNS trigger
    AS 'MODULE_PATHNAME', 'stratum_tenant_guard'
    LANGUAGE C;
COMMENT ON FUNCTION stratum.tenant_guard() IS
    'BEFORE UPDATE row trigger: refuses to change a row''s tenant_id';

-- Application roles registered with grant_app_role(); enable_tenancy grants
-- them DML on every table it makes tenant-isolated.
CREATE TABLE stratum.app_roles (
    role_name  name        NOT NULL PRIMARY KEY,
    granted_at timestamptz NOT NULL DEFAULT now()
);
SELECT pg_catalog.pg_extension_config_dump('stratum.app_roles', '');

-- The policy expression, in one place: a plain call, not a sub-select. A
-- sub-select made the tenant an InitPlan, whose start (a Result node, its
-- own permission check, the plan cache's walk for sub-links) cost about 6.5k
-- instructions on every execution, a tenth of a primary-key lookup. The
-- call is STABLE, so an index scan on tenant_id evaluates it once, as its
-- key; a filter calls it per row, a read of the tenant in force (46
-- instructions a row more than an InitPlan's value, no allocation). It never
-- raises: without a tenant it matches nothing, and the statement guard
-- (extension/isolation.cpp) has refused the statement before any row. The
-- same expression serves Citus, which refuses sub-selects in the policies
-- of distributed tables; only the policy's form differs there (_apply_rls).
CREATE FUNCTION stratum._isolation_expression() RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT 'tenant_id = stratum.current_tenant_or_null()' $$;

-- The isolation policy's USING expression for rel: on the audit log in the
-- Citus form it also holds the column rule (the log's only policy there).
CREATE FUNCTION stratum._isolation_using(rel regclass) RETURNS text
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT stratum._isolation_expression()
        || CASE WHEN stratum._citus_present()
                     AND rel IN (SELECT relid FROM pg_partition_tree('stratum.audit_log'))
                THEN ' AND stratum._audit_entry_readable(table_oid, old_row, new_row)'
                ELSE '' END
$$;

-- True when rel carries stratum's isolation policy.
CREATE FUNCTION stratum._has_isolation_policy(rel regclass) RETURNS boolean
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT EXISTS (SELECT 1 FROM pg_policy
                    WHERE polrelid = rel AND polname = 'stratum_tenant_isolation')
$$;

-- rel and, when it is partitioned, every partition below it.
CREATE FUNCTION stratum._relation_tree(rel regclass) RETURNS SETOF regclass
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT rel UNION SELECT relid FROM pg_partition_tree(rel)
$$;

-- Drops stratum's two policies from one relation, where they exist.
CREATE FUNCTION stratum._drop_isolation_policies(rel regclass) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    policy name;
BEGIN
    FOR policy IN SELECT polname FROM pg_policy
                   WHERE polrelid = rel AND polname IN ('stratum_tenant_isolation', 'stratum_tenant_access') LOOP
        EXECUTE format('DROP POLICY %I ON %s', policy, rel);
    END LOOP;
END
$$;

-- RLS on one relation (no recursion): ENABLE, FORCE, and the policies.
-- stratum_tenant_isolation is RESTRICTIVE so that no permissive policy added
-- later can widen a tenant's view; stratum_tenant_access is the permissive
-- policy that RLS needs before any row is visible at all. With Citus, one
-- permissive policy instead: Citus recreates every policy on the shards as
-- PERMISSIVE, so the RESTRICTIVE + "true" pair would open every row there.
CREATE FUNCTION stratum._apply_rls(rel regclass) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    -- Re-created every time, so a policy someone altered is put right. The
    -- policies come before ALTER TABLE so that stratum_partition_tenancy,
    -- which that ALTER fires, finds the relation done.
    PERFORM stratum._drop_isolation_policies(rel);
    IF stratum._citus_present() THEN
        EXECUTE format('CREATE POLICY stratum_tenant_isolation ON %s AS PERMISSIVE FOR ALL '
                       'USING (%s) WITH CHECK (%s)',
                       rel, stratum._isolation_using(rel), stratum._isolation_expression());
    ELSE
        EXECUTE format('CREATE POLICY stratum_tenant_isolation ON %s AS RESTRICTIVE FOR ALL '
                       'USING (%s) WITH CHECK (%s)',
                       rel, stratum._isolation_expression(), stratum._isolation_expression());
        EXECUTE format('CREATE POLICY stratum_tenant_access ON %s AS PERMISSIVE FOR ALL '
                       'USING (true) WITH CHECK (true)', rel);
    END IF;
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', rel);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', rel);
END
$$;

-- The sequences a table's serial and identity columns use.
CREATE FUNCTION stratum._owned_sequences(rel regclass) RETURNS SETOF regclass
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT d.objid::regclass FROM pg_depend d JOIN pg_class s ON s.oid = d.objid
     WHERE d.refobjid = rel AND d.refclassid = 'pg_class'::regclass
       AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') AND s.relkind = 'S'
$$;

-- Grants a registered application role DML on one tenant table.
CREATE FUNCTION stratum._grant_table(rel regclass, role_name name) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    schema regnamespace;
    seq regclass;
BEGIN
    SELECT relnamespace::regnamespace INTO schema FROM pg_class WHERE oid = rel;
    IF NOT has_schema_privilege(role_name, schema, 'USAGE') THEN
        IF has_schema_privilege(schema, 'USAGE WITH GRANT OPTION') THEN
            EXECUTE format('GRANT USAGE ON SCHEMA %s TO %I', schema, role_name);
        ELSE
            RAISE NOTICE 'role % cannot reach schema % yet', quote_ident(role_name), schema
                USING HINT = format('The schema''s owner can run: GRANT USAGE ON SCHEMA %s TO %I', schema, role_name);
        END IF;
    END IF;
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO %I', rel, role_name);
    -- USAGE is all nextval() needs; SELECT would also show the sequence's
    -- last_value, which counts every tenant's inserts.
    FOR seq IN SELECT stratum._owned_sequences(rel) LOOP
        EXECUTE format('GRANT USAGE ON SEQUENCE %s TO %I', seq, role_name);
    END LOOP;
END
$$;

CREATE FUNCTION stratum.enable_tenancy(rel regclass) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    has_rows boolean;
    tenant_column record;
    tenant_attnum smallint;
    part regclass;
    app_role name;
BEGIN
    PERFORM stratum._assert_table(rel);
    IF (SELECT relnamespace FROM pg_class WHERE oid = rel) = 'stratum'::regnamespace THEN
        RAISE EXCEPTION '% belongs to stratum itself and cannot be tenant-isolated', rel
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    SELECT attnum, atttypid, attnotnull INTO tenant_column FROM pg_attribute
     WHERE attrelid = rel AND attname = 'tenant_id' AND attnum > 0 AND NOT attisdropped;
    IF NOT FOUND THEN
        -- Existing rows belong to no tenant yet: refuse rather than guess.
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s)', rel) INTO STRICT has_rows;
        IF has_rows THEN
            RAISE EXCEPTION 'table % has rows but no tenant_id column', rel
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'Add tenant_id uuid, fill it for every row, then call stratum.enable_tenancy again.';
        END IF;
        -- Added without a default: a default would be evaluated right now.
        EXECUTE format('ALTER TABLE %s ADD COLUMN tenant_id uuid', rel);
    ELSIF tenant_column.atttypid <> 'uuid'::regtype THEN
        RAISE EXCEPTION 'column %.tenant_id has type %, expected uuid', rel, tenant_column.atttypid::regtype
            USING ERRCODE = 'datatype_mismatch';
    END IF;
    IF NOT stratum._is_distributed(rel) THEN
        EXECUTE format('ALTER TABLE %s ALTER COLUMN tenant_id SET DEFAULT stratum.current_tenant()', rel);
        IF NOT coalesce(tenant_column.attnotnull, false) THEN
            EXECUTE format('ALTER TABLE %s ALTER COLUMN tenant_id SET NOT NULL', rel);
        END IF;
    ELSIF NOT EXISTS (SELECT 1 FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
                       WHERE d.adrelid = rel AND a.attname = 'tenant_id'
                         AND pg_get_expr(d.adbin, d.adrelid) = 'stratum.current_tenant()') THEN
        -- Citus lets no ALTER TABLE touch the distribution column.
        RAISE NOTICE 'tenant_id of distributed table % keeps its default', rel
            USING HINT = 'INSERTs must name tenant_id (the policy still checks it); stratum.distribute_table() sets the default before distributing.';
    END IF;

    SELECT attnum INTO tenant_attnum FROM pg_attribute
     WHERE attrelid = rel AND attname = 'tenant_id' AND NOT attisdropped;
    IF NOT EXISTS (SELECT 1 FROM pg_index WHERE indrelid = rel AND indkey[0] = tenant_attnum) THEN
        EXECUTE format('CREATE INDEX ON %s (tenant_id)', rel);
    END IF;

    -- Partitions are reached directly too, so each one gets its own policy;
    -- stratum_partition_tenancy covers partitions created later.
    FOR part IN SELECT stratum._relation_tree(rel) LOOP
        PERFORM stratum._apply_rls(part);
    END LOOP;

    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = rel AND tgname = 'stratum_tenant_guard'
                                              AND NOT tgisinternal) THEN
        PERFORM stratum._allow_citus_triggers();
        EXECUTE format('CREATE TRIGGER stratum_tenant_guard BEFORE UPDATE OF tenant_id ON %s '
                       'FOR EACH ROW EXECUTE FUNCTION stratum.tenant_guard()', rel);
    END IF;

    FOR app_role IN SELECT role_name FROM stratum.app_roles LOOP
        PERFORM stratum._grant_table(rel, app_role);
    END LOOP;
END
$$;
COMMENT ON FUNCTION stratum.enable_tenancy(regclass) IS
    'Makes a table tenant-isolated: tenant_id column, index, forced RLS, isolation policy, guard; idempotent';

CREATE FUNCTION stratum.disable_tenancy(rel regclass) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    part regclass;
BEGIN
    PERFORM stratum._assert_table(rel);
    PERFORM stratum._drop_trigger(rel, 'stratum_tenant_guard');
    FOR part IN SELECT stratum._relation_tree(rel) LOOP
        PERFORM stratum._drop_isolation_policies(part);
        IF NOT EXISTS (SELECT 1 FROM pg_policy WHERE polrelid = part) THEN
            EXECUTE format('ALTER TABLE %s NO FORCE ROW LEVEL SECURITY', part);
            EXECUTE format('ALTER TABLE %s DISABLE ROW LEVEL SECURITY', part);
        END IF;
    END LOOP;
    IF EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = rel AND attname = 'tenant_id'
                                            AND NOT attisdropped) THEN
        EXECUTE format('ALTER TABLE %s ALTER COLUMN tenant_id DROP DEFAULT', rel);
    END IF;
END
$$;
COMMENT ON FUNCTION stratum.disable_tenancy(regclass) IS
    'Removes stratum''s policies and guard (and RLS when no other policy remains); the tenant_id column and its data stay';

-- New partitions of a tenant-isolated table get its RLS at once, whether
-- created with PARTITION OF or attached later. It fires for every role's
-- CREATE/ALTER TABLE, so it runs as the extension owner (it only ever adds
-- protection) and leaves at once for anything outside a partition tree.
CREATE FUNCTION stratum._on_ddl_command_end() RETURNS event_trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    command record;
    part regclass;
BEGIN
    IF stratum._on_citus_worker() THEN
        RETURN;
    END IF;
    FOR command IN SELECT DISTINCT c.oid FROM pg_event_trigger_ddl_commands() d
                     JOIN pg_class c ON c.oid = d.objid
                    WHERE d.classid = 'pg_class'::regclass
                      AND (c.relispartition OR c.relkind = 'p')
                      -- stratum's own partitioned tables (the audit log) apply
                      -- their RLS themselves; acting here would also collide
                      -- with pg_restore re-creating their partitions' policies.
                      AND c.relnamespace <> 'stratum'::regnamespace LOOP
        CONTINUE WHEN NOT EXISTS (SELECT 1 FROM pg_partition_ancestors(command.oid) a
                                   WHERE stratum._has_isolation_policy(a));
        FOR part IN SELECT stratum._relation_tree(command.oid) LOOP
            IF NOT stratum._has_isolation_policy(part) THEN
                PERFORM stratum._apply_rls(part);
            END IF;
        END LOOP;
    END LOOP;
END
$$;
CREATE EVENT TRIGGER stratum_partition_tenancy ON ddl_command_end
    WHEN TAG IN ('CREATE TABLE', 'ALTER TABLE')
    EXECUTE FUNCTION stratum._on_ddl_command_end();

CREATE FUNCTION stratum.create_tenant_schema(tenant uuid) RETURNS name
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    registered stratum.tenants;
    schema name;
BEGIN
    SELECT * INTO registered FROM stratum.tenants WHERE id = tenant FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'tenant % is not registered', tenant USING ERRCODE = 'undefined_object';
    END IF;
    IF registered.schema_name IS NOT NULL THEN
        RETURN registered.schema_name;
    END IF;
    -- The slug's format (checked on the registry) makes this a plain name.
    schema := 'tenant_' || replace(registered.slug, '-', '_');
    EXECUTE format('CREATE SCHEMA %I AUTHORIZATION %I', schema, session_user);
    UPDATE stratum.tenants SET schema_name = schema WHERE id = tenant;
    RETURN schema;
END
$$;
COMMENT ON FUNCTION stratum.create_tenant_schema(uuid) IS
    'Creates (once) the tenant''s own schema tenant_<slug>, owned by the session user, and records it';

