-- isolation_report(): one row per user table, view and materialized view,
-- saying whether tenant isolation holds for it and what is wrong if not.

-- Relations a view reads, following views through other views.
CREATE FUNCTION stratum._view_sources(view_oid oid) RETURNS SETOF oid
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    WITH RECURSIVE sources(relid) AS (
        SELECT d.refobjid FROM pg_rewrite r
          JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                          AND d.refclassid = 'pg_class'::regclass
         WHERE r.ev_class = view_oid AND d.refobjid <> view_oid
        UNION
        SELECT d.refobjid FROM sources s
          JOIN pg_rewrite r ON r.ev_class = s.relid
          JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                          AND d.refclassid = 'pg_class'::regclass
         WHERE d.refobjid <> s.relid
    )
    SELECT relid FROM sources
$$;

-- attnum of a table's tenant_id uuid column, or NULL.
CREATE FUNCTION stratum._tenant_attnum(rel oid) RETURNS smallint
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT attnum FROM pg_attribute
     WHERE attrelid = rel AND attname = 'tenant_id' AND atttypid = 'uuid'::regtype
       AND attnum > 0 AND NOT attisdropped
$$;

-- True when the column's values are generated (identity, serial, random
-- UUID): a unique key on it cannot be probed by guessing values.
CREATE FUNCTION stratum._is_generated_key(rel oid, col smallint) RETURNS boolean
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT a.attidentity <> ''
        OR coalesce(pg_get_expr(d.adbin, d.adrelid) ~ '^(nextval\(|gen_random_uuid\(\))', false)
      FROM pg_attribute a
      LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE a.attrelid = rel AND a.attnum = col
$$;

CREATE FUNCTION stratum.isolation_report()
    RETURNS TABLE (relation regclass, kind text, tenant_column boolean, rls_enabled boolean,
                   rls_forced boolean, isolation_policy boolean, tenant_index boolean,
                   audited boolean, problems text[], verdict text)
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    rel record;
    tenant_attnum smallint;
    expected text := '(' || stratum._isolation_expression() || ')';
    internal boolean;
    source regclass;
    constraint_row record;
    index_row record;
    bypasses boolean;
BEGIN
    FOR rel IN
        SELECT c.oid, c.relkind, c.relrowsecurity, c.relforcerowsecurity, c.relispartition,
               c.relowner, c.reloptions, n.nspname
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p', 'v', 'm')
           AND n.nspname NOT IN ('pg_catalog', 'information_schema')
           AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
         ORDER BY n.nspname, c.relname
    LOOP
        relation := rel.oid;
        problems := '{}';
        tenant_attnum := stratum._tenant_attnum(rel.oid);
        internal := rel.nspname = 'stratum';
        tenant_column := tenant_attnum IS NOT NULL;
        rls_enabled := rel.relrowsecurity;
        rls_forced := rel.relforcerowsecurity;
        isolation_policy := EXISTS (
            SELECT 1 FROM pg_policy p
             WHERE p.polrelid = rel.oid AND p.polname = 'stratum_tenant_isolation'
               AND NOT p.polpermissive AND p.polcmd = '*' AND p.polroles = '{0}'
               AND pg_get_expr(p.polqual, p.polrelid) = expected
               AND (p.polwithcheck IS NULL OR pg_get_expr(p.polwithcheck, p.polrelid) = expected));
        -- A partitioned table is indexed when it has such an index itself or
        -- every one of its partitions has.
        tenant_index := EXISTS (SELECT 1 FROM pg_index i
                                 WHERE i.indrelid = rel.oid AND i.indkey[0] = tenant_attnum)
            OR rel.relkind = 'p' AND NOT EXISTS (
                SELECT 1 FROM pg_partition_tree(rel.oid) t
                 WHERE t.isleaf AND NOT EXISTS (
                     SELECT 1 FROM pg_index i
                      WHERE i.indrelid = t.relid AND i.indkey[0] = stratum._tenant_attnum(t.relid)));
        audited := EXISTS (SELECT 1 FROM pg_trigger t
                            WHERE t.tgrelid = rel.oid AND t.tgname = 'stratum_audit'
                              AND t.tgenabled <> 'D');

        IF rel.relkind IN ('v', 'm') THEN
            kind := CASE rel.relkind WHEN 'v' THEN 'view' ELSE 'materialized view' END;
            tenant_column := NULL; rls_enabled := NULL; rls_forced := NULL;
            isolation_policy := NULL; tenant_index := NULL; audited := NULL;
            SELECT s::regclass INTO source FROM stratum._view_sources(rel.oid) s
             WHERE stratum._tenant_attnum(s) IS NOT NULL LIMIT 1;
            IF source IS NULL THEN
                verdict := 'shared';
                RETURN NEXT;
                CONTINUE;
            END IF;
            IF rel.relkind = 'm' THEN
                problems := problems || format('leak: stores rows of tenant table %s where row level security cannot reach them', source);
            ELSIF NOT EXISTS (SELECT 1 FROM pg_options_to_table(rel.reloptions)
                               WHERE option_name = 'security_invoker'
                                 AND lower(option_value) IN ('true', 'on', 'yes', '1')) THEN
                SELECT rolsuper OR rolbypassrls INTO bypasses FROM pg_roles WHERE oid = rel.relowner;
                IF bypasses THEN
                    problems := problems || format('leak: reads tenant table %s as its owner, who bypasses row level security (set security_invoker = true)', source);
                ELSE
                    problems := problems || format('warning: reads tenant table %s with its owner''s privileges (set security_invoker = true)', source);
                END IF;
            END IF;
        ELSE
            kind := CASE WHEN rel.relispartition THEN 'partition'
                         WHEN rel.relkind = 'p' THEN 'partitioned table' ELSE 'table' END;

            IF tenant_column THEN
                IF NOT rls_enabled THEN
                    problems := problems || 'leak: row level security is not enabled'::text;
                END IF;
                IF NOT rls_forced THEN
                    problems := problems || 'leak: row level security is not forced, so the table owner sees every tenant'::text;
                END IF;
                IF NOT isolation_policy THEN
                    problems := problems || 'leak: policy stratum_tenant_isolation is missing or altered (run stratum.enable_tenancy)'::text;
                END IF;
                IF NOT tenant_index AND rel.relkind = 'r' AND NOT rel.relispartition
                   OR NOT tenant_index AND rel.relkind = 'p' THEN
                    problems := problems || 'warning: no index leads with tenant_id'::text;
                END IF;
                IF NOT internal THEN
                    IF NOT (SELECT attnotnull FROM pg_attribute WHERE attrelid = rel.oid AND attnum = tenant_attnum) THEN
                        problems := problems || 'warning: tenant_id allows NULL'::text;
                    END IF;
                    IF NOT rel.relispartition AND NOT EXISTS (
                           SELECT 1 FROM pg_trigger WHERE tgrelid = rel.oid AND tgname = 'stratum_tenant_guard') THEN
                        problems := problems || 'warning: no stratum_tenant_guard, so roles bypassing row level security can move rows between tenants'::text;
                    END IF;
                    IF EXISTS (SELECT 1 FROM pg_policy WHERE polrelid = rel.oid AND polpermissive
                                                         AND polname <> 'stratum_tenant_access') THEN
                        problems := problems || 'note: other permissive policies cannot widen stratum_tenant_isolation; write narrowing policies AS RESTRICTIVE'::text;
                    END IF;
                END IF;
                IF NOT audited AND NOT internal THEN
                    problems := problems || 'note: changes are not audited'::text;
                END IF;
            END IF;

            IF NOT rel.relispartition AND NOT internal THEN
                -- A unique key without tenant_id answers "does another tenant have this value?".
                FOR index_row IN
                    SELECT i.indexrelid::regclass AS idx, i.indkey::smallint[] AS cols
                      FROM pg_index i WHERE i.indrelid = rel.oid AND i.indisunique
                LOOP
                    CONTINUE WHEN NOT tenant_column OR tenant_attnum = ANY (index_row.cols);
                    CONTINUE WHEN array_length(index_row.cols, 1) = 1
                                  AND stratum._is_generated_key(rel.oid, index_row.cols[0]);
                    problems := problems || format('warning: unique index %s does not include tenant_id, so an insert reveals whether another tenant has the value', index_row.idx);
                END LOOP;
                -- A foreign key to a tenant table must carry tenant_id on both sides.
                FOR constraint_row IN
                    SELECT con.conname, con.confrelid::regclass AS target, con.conkey, con.confkey
                      FROM pg_constraint con
                     WHERE con.conrelid = rel.oid AND con.contype = 'f'
                       AND stratum._tenant_attnum(con.confrelid) IS NOT NULL
                LOOP
                    CONTINUE WHEN EXISTS (
                        SELECT 1 FROM generate_subscripts(constraint_row.conkey, 1) k
                         WHERE constraint_row.conkey[k] = tenant_attnum
                           AND constraint_row.confkey[k] = stratum._tenant_attnum(constraint_row.target));
                    problems := problems || format('leak: foreign key %I references tenant table %s without tenant_id, so a row can point at another tenant''s row',
                                                   constraint_row.conname, constraint_row.target);
                END LOOP;
            END IF;
        END IF;

        verdict := CASE
            WHEN EXISTS (SELECT 1 FROM unnest(problems) p WHERE p LIKE 'leak:%') THEN 'leak'
            WHEN EXISTS (SELECT 1 FROM unnest(problems) p WHERE p LIKE 'warning:%') THEN 'warning'
            WHEN NOT coalesce(tenant_column, false) AND rel.relkind IN ('r', 'p') THEN 'shared'
            ELSE 'ok' END;
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION stratum.isolation_report() IS
    'One row per user table and view: isolation checks, problems (leak/warning/note) and a verdict (ok, warning, leak, shared)';
