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

-- The first tenant table a view, or a table's rules, read (following views),
-- or NULL.
CREATE FUNCTION stratum._tenant_source(rel oid) RETURNS regclass
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT s::regclass FROM stratum._view_sources(rel) s
     WHERE stratum._tenant_attnum(s) IS NOT NULL LIMIT 1
$$;

-- SECURITY DEFINER functions (outside PostgreSQL's and stratum's schemas) of
-- a role that bypasses row level security.
CREATE FUNCTION stratum._bypassing_definers() RETURNS TABLE (fn regprocedure, owner name)
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT p.oid::regprocedure, o.rolname FROM pg_proc p
      JOIN pg_roles o ON o.oid = p.proowner
     WHERE p.prosecdef AND (o.rolsuper OR o.rolbypassrls)
       AND p.pronamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace,
                                  'stratum'::regnamespace)
$$;

-- How a unique column's values are generated: 'random' (a random UUID
-- default: guessing another tenant's key is hopeless), 'sequential'
-- (identity or serial: every tenant draws from one counter, so keys are
-- guessable and an insert with an explicit key tells whether another tenant
-- holds it), or NULL (not generated).
CREATE FUNCTION stratum._generated_key_kind(rel oid, col smallint) RETURNS text
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE
        WHEN a.attidentity <> '' THEN 'sequential'
        WHEN pg_get_expr(d.adbin, d.adrelid) ~ '^nextval\(' THEN 'sequential'
        WHEN pg_get_expr(d.adbin, d.adrelid) ~ '^(gen_random_uuid|(\w+\.)?uuid_generate_v4)\(\)$'
             AND a.atttypid = 'uuid'::regtype THEN 'random'
        END
      FROM pg_attribute a
      LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE a.attrelid = rel AND a.attnum = col
$$;

-- An expression's text without parentheses and spaces, to compare two
-- spellings of the same policy.
CREATE FUNCTION stratum._bare(expression text) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT regexp_replace(expression, '[() ]', '', 'g') $$;

-- Citus: how many shards of a distributed tenant table lack forced row
-- level security or stratum's policy alone (as Citus copies them there).
CREATE FUNCTION stratum._citus_shard_check(rel regclass, OUT bad bigint, OUT total bigint)
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    EXECUTE format($q$
        SELECT count(*) FILTER (WHERE NOT success OR result <> 't'), count(*)
          FROM run_command_on_shards(%L, $cmd$
            SELECT c.relrowsecurity AND c.relforcerowsecurity
               AND EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid
                              AND p.polname = 'stratum_tenant_isolation' AND p.polpermissive
                              AND regexp_replace(pg_get_expr(p.polqual, p.polrelid), '[() ]', '', 'g')
                                  = %L)
               AND NOT EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polpermissive
                                  AND p.polname <> 'stratum_tenant_isolation')
              FROM pg_class c WHERE c.oid = '%%1$s'::regclass$cmd$)$q$,
        rel, stratum._bare(stratum._isolation_using(rel)))
    INTO bad, total;
END
$$;

CREATE FUNCTION stratum.isolation_report()
    RETURNS TABLE (relation regclass, kind text, tenant_column boolean, rls_enabled boolean,
                   rls_forced boolean, isolation_policy boolean, tenant_index boolean,
                   audited boolean, problems text[], verdict text, subject text)
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
    key_kind text;
    risk record;
    citus boolean := stratum._citus_present();
    distributed boolean;
    shard_state record;
BEGIN
    FOR rel IN
        SELECT c.oid, c.relkind, c.relrowsecurity, c.relforcerowsecurity, c.relispartition,
               c.relowner, c.reloptions, n.nspname
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
           AND n.nspname NOT IN ('pg_catalog', 'information_schema')
           AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
         ORDER BY n.nspname, c.relname
    LOOP
        relation := rel.oid;
        subject := rel.oid::regclass::text;
        problems := '{}';
        tenant_attnum := stratum._tenant_attnum(rel.oid);
        internal := rel.nspname = 'stratum';
        tenant_column := tenant_attnum IS NOT NULL;
        rls_enabled := rel.relrowsecurity;
        rls_forced := rel.relforcerowsecurity;
        -- stratum's policy in the form for this database: RESTRICTIVE (with
        -- stratum_tenant_access) without Citus, or, where Citus is
        -- installed, the one PERMISSIVE policy. The two share the
        -- expression, so the form is what tells them apart. Citus's is
        -- compared without parentheses and spaces, which the server adds
        -- as it pleases.
        isolation_policy := EXISTS (
            SELECT 1 FROM pg_policy p
             WHERE p.polrelid = rel.oid AND p.polname = 'stratum_tenant_isolation'
               AND p.polcmd = '*' AND p.polroles = '{0}'
               AND CASE WHEN p.polpermissive THEN
                        citus
                        AND stratum._bare(pg_get_expr(p.polqual, p.polrelid)) = stratum._bare(stratum._isolation_using(rel.oid))
                        AND stratum._bare(pg_get_expr(p.polwithcheck, p.polrelid)) = stratum._bare(stratum._isolation_expression())
                   ELSE
                        NOT citus
                        AND pg_get_expr(p.polqual, p.polrelid) = expected
                        AND (p.polwithcheck IS NULL OR pg_get_expr(p.polwithcheck, p.polrelid) = expected)
                   END);
        distributed := citus AND stratum._citus_table_kind(rel.oid) = 'distributed';
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
            source := stratum._tenant_source(rel.oid);
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
        ELSIF rel.relkind = 'f' THEN
            -- Row level security cannot apply to a foreign table: whoever may
            -- read it reads every tenant's rows in it.
            kind := 'foreign table';
            rls_enabled := NULL; rls_forced := NULL; isolation_policy := NULL;
            tenant_index := NULL; audited := NULL;
            IF tenant_column THEN
                problems := problems || 'leak: a foreign table, which row level security cannot apply to: whoever may read it reads every tenant''s rows (keep tenant rows in tables, or grant it to no application role)'::text;
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
                                                         AND polname NOT IN ('stratum_tenant_access', 'stratum_tenant_isolation')) THEN
                        IF EXISTS (SELECT 1 FROM pg_policy WHERE polrelid = rel.oid AND polpermissive
                                                             AND polname = 'stratum_tenant_isolation') THEN
                            problems := problems || 'leak: another permissive policy widens stratum_tenant_isolation (permissive policies are OR''ed): make it AS RESTRICTIVE'::text;
                        ELSE
                            problems := problems || 'note: other permissive policies cannot widen stratum_tenant_isolation; write narrowing policies AS RESTRICTIVE'::text;
                        END IF;
                    END IF;
                END IF;
                IF NOT audited AND NOT internal THEN
                    problems := problems || 'note: changes are not audited'::text;
                END IF;
            END IF;

            IF distributed AND tenant_column THEN
                IF EXISTS (SELECT 1 FROM pg_policy WHERE polrelid = rel.oid AND NOT polpermissive) THEN
                    problems := problems || 'leak: Citus makes every policy PERMISSIVE on the shards, so stratum_tenant_access opens every row there (run stratum.enable_tenancy)'::text;
                END IF;
                SELECT * INTO shard_state FROM stratum._citus_shard_check(rel.oid);
                IF shard_state.bad > 0 THEN
                    problems := problems || format('leak: %s of %s shards lack forced row level security or stratum''s policy alone (run stratum.enable_tenancy)',
                                                   shard_state.bad, shard_state.total);
                END IF;
            END IF;

            -- Keys and references: a partition's own are checked here, those
            -- made with its parent's (an index attached to the parent's, a
            -- constraint with a parent) in the parent's row.
            IF NOT internal THEN
                -- A unique key without tenant_id answers "does another tenant have this value?".
                FOR index_row IN
                    -- The key's columns (numbered from 1): an INCLUDE column is unique with nothing.
                    SELECT i.indexrelid::regclass AS idx, (i.indkey::smallint[])[0:i.indnkeyatts - 1] AS cols
                      FROM pg_index i WHERE i.indrelid = rel.oid AND i.indisunique
                       AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = i.indexrelid)
                LOOP
                    CONTINUE WHEN NOT tenant_column OR tenant_attnum = ANY (index_row.cols);
                    key_kind := CASE WHEN array_length(index_row.cols, 1) = 1
                                     THEN stratum._generated_key_kind(rel.oid, index_row.cols[1]) END;
                    CONTINUE WHEN key_kind = 'random';
                    IF key_kind = 'sequential' THEN
                        problems := problems || format('warning: unique index %s is on a sequential key all tenants share: an insert with an explicit key reveals whether another tenant holds it (use random UUID keys, as create_base_table does, or a key unique per tenant: (tenant_id, id))', index_row.idx);
                    ELSE
                        problems := problems || format('warning: unique index %s does not include tenant_id, so an insert reveals whether another tenant has the value (make it unique per tenant: (tenant_id, ...))', index_row.idx);
                    END IF;
                END LOOP;
                -- So does an exclusion constraint unless rows conflict only
                -- within a tenant: tenant_id compared with =.
                FOR constraint_row IN
                    SELECT con.conname, con.conkey, con.conexclop
                      FROM pg_constraint con
                     WHERE con.conrelid = rel.oid AND con.contype = 'x' AND con.conparentid = 0
                LOOP
                    CONTINUE WHEN NOT tenant_column OR EXISTS (
                        SELECT 1 FROM generate_subscripts(constraint_row.conkey, 1) k
                          JOIN pg_operator o ON o.oid = constraint_row.conexclop[k]
                         WHERE constraint_row.conkey[k] = tenant_attnum AND o.oprname = '=');
                    problems := problems || format('warning: exclusion constraint %I does not compare tenant_id with =, so an insert reveals whether another tenant has a conflicting row (add tenant_id WITH = to it)', constraint_row.conname);
                END LOOP;
                -- A foreign key to a tenant table must carry tenant_id on both sides.
                FOR constraint_row IN
                    SELECT con.conname, con.confrelid::regclass AS target, con.conkey, con.confkey
                      FROM pg_constraint con
                     WHERE con.conrelid = rel.oid AND con.contype = 'f' AND con.conparentid = 0
                       AND stratum._tenant_attnum(con.confrelid) IS NOT NULL
                LOOP
                    CONTINUE WHEN EXISTS (
                        SELECT 1 FROM generate_subscripts(constraint_row.conkey, 1) k
                         WHERE constraint_row.conkey[k] = tenant_attnum
                           AND constraint_row.confkey[k] = stratum._tenant_attnum(constraint_row.target));
                    problems := problems || format('leak: foreign key %I references tenant table %s without tenant_id, so a row can point at another tenant''s row',
                                                   constraint_row.conname, constraint_row.target);
                END LOOP;
                -- A rule's actions run with the table owner's privileges:
                -- an owner who bypasses row level security reads through
                -- them for every tenant, as a view of that owner would.
                IF EXISTS (SELECT 1 FROM pg_rewrite r WHERE r.ev_class = rel.oid) THEN
                    SELECT rolsuper OR rolbypassrls INTO bypasses FROM pg_roles WHERE oid = rel.relowner;
                    source := stratum._tenant_source(rel.oid);
                    IF bypasses AND source IS NOT NULL THEN
                        problems := problems || format('leak: a rule on it reads tenant table %s as its owner, who bypasses row level security (give the table an owner row level security applies to, or drop the rule)', source);
                    END IF;
                END IF;
            END IF;
        END IF;

        verdict := CASE
            WHEN EXISTS (SELECT 1 FROM unnest(problems) p WHERE p LIKE 'leak:%') THEN 'leak'
            WHEN EXISTS (SELECT 1 FROM unnest(problems) p WHERE p LIKE 'warning:%') THEN 'warning'
            WHEN NOT coalesce(tenant_column, false) AND rel.relkind IN ('r', 'p') THEN 'shared'
            ELSE 'ok' END;
        RETURN NEXT;
    END LOOP;

    -- Then the application roles and the settings: what lets a session step
    -- around isolation, or leaves a channel open between sessions.
    relation := NULL; tenant_column := NULL; rls_enabled := NULL; rls_forced := NULL;
    isolation_policy := NULL; tenant_index := NULL; audited := NULL;
    FOR risk IN SELECT r.kind, r.subject, array_agg(r.verdict || ': ' || r.problem
                                                     || coalesce(' (remedy: ' || r.remedy || ')', '')
                                                     ORDER BY r.verdict, r.problem) AS problems
                  FROM stratum.isolation_risks() r
                 GROUP BY r.kind, r.subject
                 ORDER BY r.kind, r.subject LOOP
        kind := risk.kind;
        subject := risk.subject;
        problems := risk.problems;
        verdict := CASE
            WHEN EXISTS (SELECT 1 FROM unnest(problems) p WHERE p LIKE 'leak:%') THEN 'leak'
            WHEN EXISTS (SELECT 1 FROM unnest(problems) p WHERE p LIKE 'warning:%') THEN 'warning'
            ELSE 'ok' END;
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION stratum.isolation_report() IS
    'One row per user table, view and foreign table, then per application role and setting: isolation checks, problems (leak/warning/note, with remedies) and a verdict (ok, warning, leak, shared)';

-- Citus: each node's registry copy and grants against the coordinator's.
CREATE FUNCTION stratum._citus_node_risks()
    RETURNS TABLE (subject text, verdict text, problem text, remedy text)
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    node record;
    registry text;
    grants text;
BEGIN
    SELECT md5(coalesce(string_agg(format('%s/%s', id, status), ',' ORDER BY id), '')) INTO registry
      FROM stratum.tenants;
    SELECT md5(coalesce(string_agg(g, ';' ORDER BY g), '')) INTO grants FROM stratum._grant_statements() g;
    FOR node IN EXECUTE $q$
        SELECT nodename || ':' || nodeport AS node, success, result
          FROM run_command_on_workers($cmd$
            SELECT coalesce((SELECT extversion FROM pg_extension WHERE extname = 'stratum'), '-') || ' '
                || CASE WHEN NOT stratum._citus_registry_here() THEN '-'
                        ELSE (SELECT md5(coalesce(string_agg(format('%s/%s', id, status), ',' ORDER BY id), ''))
                                FROM stratum.tenant_registry) END || ' '
                || (SELECT md5(coalesce(string_agg(g, ';' ORDER BY g), '')) FROM stratum._grant_statements() g)
          $cmd$)$q$ LOOP
        subject := node.node;
        IF NOT node.success OR split_part(node.result, ' ', 1) = '-' THEN
            verdict := 'leak';
            problem := 'the node has no stratum (or cannot be asked): its shards are checked by nothing of stratum''s';
            remedy := 'CREATE EXTENSION stratum there (Citus does when it adds a node), then SELECT stratum.sync_citus()';
            RETURN NEXT;
            CONTINUE;
        END IF;
        IF split_part(node.result, ' ', 2) = '-' THEN
            verdict := 'warning';
            problem := 'the node has no copy of the tenant registry yet: no tenant can be set there, so its queries fail';
            remedy := 'SELECT stratum.sync_citus()';
            RETURN NEXT;
        ELSIF split_part(node.result, ' ', 2) IS DISTINCT FROM registry THEN
            verdict := 'leak';
            problem := 'the node''s copy of the tenant registry differs from stratum.tenants: a suspended tenant may still be set there';
            remedy := 'SELECT stratum.sync_citus()';
            RETURN NEXT;
        END IF;
        IF split_part(node.result, ' ', 3) IS DISTINCT FROM grants THEN
            verdict := 'warning';
            problem := 'stratum''s grants on the node differ from the coordinator''s';
            remedy := 'SELECT stratum.sync_citus()';
            RETURN NEXT;
        END IF;
    END LOOP;
END
$$;

-- The roles and settings side of the report: one row per problem, with its
-- remedy. For every application role registered with grant_app_role, the
-- ways it could step around row level security (stratum._role_escapes) and
-- the channels PostgreSQL leaves open between sessions of one role; for the
-- database, the settings that open a channel for everyone.
CREATE FUNCTION stratum.isolation_risks()
    RETURNS TABLE (kind text, subject text, verdict text, problem text, remedy text)
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    app record;
    rel regclass;
    seq regclass;
    risk record;
BEGIN
    FOR app IN SELECT a.role_name, r.oid FROM stratum.app_roles a
                 JOIN pg_roles r ON r.rolname = a.role_name ORDER BY a.role_name LOOP
        kind := 'role';
        subject := app.role_name;
        RETURN QUERY SELECT 'role'::text, app.role_name::text, e.verdict, e.problem, e.remedy
                       FROM stratum._role_escapes(app.role_name) e;
        -- Channels between sessions of one role: every tenant's sessions
        -- share it, so what one role can see or do of its own sessions,
        -- each tenant can of the others'. A row each: whether it is open
        -- for this role, what crosses, the remedy.
        FOR risk IN SELECT c.problem, c.remedy FROM (VALUES
            (has_function_privilege(app.oid, 'pg_catalog.lo_get(oid)', 'EXECUTE')
             OR has_function_privilege(app.oid, 'pg_catalog.lo_open(oid, integer)', 'EXECUTE'),
             'large objects belong to the role that made them: every tenant''s session can read and change every other''s',
             'REVOKE EXECUTE ON FUNCTION lo_open(oid, integer), lo_get(oid), lo_get(oid, bigint, integer), lo_create(oid), lo_creat(integer), lo_from_bytea(oid, bytea), lo_put(oid, bigint, bytea), lo_unlink(oid) FROM PUBLIC'),
            (current_setting('track_activities')::boolean AND NOT EXISTS (
                 SELECT 1 FROM stratum._role_settings(app.role_name) c WHERE c = 'track_activities=off'),
             'pg_stat_activity shows each session the statements other tenants'' sessions of the role are running, with their literals',
             format('send values as bind parameters (libstratum does), or ALTER ROLE %I SET track_activities = off', app.role_name)),
            (has_function_privilege(app.oid, 'pg_catalog.pg_terminate_backend(integer, bigint)', 'EXECUTE')
             OR has_function_privilege(app.oid, 'pg_catalog.pg_cancel_backend(integer)', 'EXECUTE'),
             'a session may cancel or end every other session of the role (pg_cancel_backend, pg_terminate_backend): one tenant''s session can abort another''s transactions',
             'REVOKE EXECUTE ON FUNCTION pg_cancel_backend(integer), pg_terminate_backend(integer, bigint) FROM PUBLIC (libstratum cancels through the protocol, not through them)'),
            (has_function_privilege(app.oid, 'pg_catalog.pg_advisory_lock(bigint)', 'EXECUTE'),
             'advisory locks are shared by the database: a tenant can see (pg_locks) and hold the keys another tenant locks',
             'REVOKE EXECUTE ON the pg_advisory_* and pg_try_advisory_* functions FROM PUBLIC (stratum''s migration ledger does not need them)'),
            -- LISTEN and rows kept past a transaction are refused by stratum
            -- to application roles unless a superuser allowed them.
            (stratum._app_role_setting_on(app.role_name, 'stratum.app_role_listen'),
             'LISTEN is allowed (stratum.app_role_listen = on): every NOTIFY payload reaches every tenant''s listening sessions',
             'keep tenant data out of NOTIFY payloads, or RESET stratum.app_role_listen'),
            (stratum._app_role_setting_on(app.role_name, 'stratum.app_role_keep_rows'),
             'temporary tables that keep their rows and WITH HOLD cursors are allowed (stratum.app_role_keep_rows = on): rows one transaction read wait on the connection for its next transaction, whatever that one''s tenant',
             'drop them before the connection serves another tenant (or close the connection), or RESET stratum.app_role_keep_rows')
        ) AS c(open, problem, remedy) WHERE c.open LOOP
            verdict := 'warning';
            problem := risk.problem;
            remedy := risk.remedy;
            RETURN NEXT;
        END LOOP;
        -- A SECURITY DEFINER function of a role row level security does not
        -- apply to reads every tenant's rows, whoever calls it; a trigger
        -- runs its function for whoever writes, EXECUTE or not.
        FOR risk IN SELECT d.fn, d.owner FROM stratum._bypassing_definers() d
                     WHERE has_function_privilege(app.oid, d.fn, 'EXECUTE')
                     ORDER BY 1 LOOP
            verdict := 'warning';
            problem := format('may run %s, a SECURITY DEFINER function of %I, which bypasses row level security: what it reads, it reads for every tenant',
                              risk.fn, risk.owner);
            remedy := format('give it an owner that row level security applies to (the migration role), or REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC, %I',
                             risk.fn, app.role_name);
            RETURN NEXT;
        END LOOP;
        FOR risk IN SELECT d.fn, d.owner, t.tgrelid::regclass AS rel
                      FROM stratum._bypassing_definers() d
                      JOIN pg_trigger t ON t.tgfoid = d.fn
                     WHERE NOT t.tgisinternal AND t.tgenabled <> 'D'
                       AND NOT has_function_privilege(app.oid, d.fn, 'EXECUTE')  -- reported above
                       AND has_table_privilege(app.oid, t.tgrelid, 'INSERT, UPDATE, DELETE, TRUNCATE')
                     ORDER BY 3, 1 LOOP
            verdict := 'warning';
            problem := format('writes to %s fire %s, a SECURITY DEFINER trigger function of %I, which bypasses row level security: what it reads, it reads for every tenant',
                              risk.rel, risk.fn, risk.owner);
            remedy := format('give %s an owner that row level security applies to (the migration role)', risk.fn);
            RETURN NEXT;
        END LOOP;
        -- A table the role makes is its own: no row level security, shared
        -- by every tenant's sessions, kept past every transaction.
        FOR risk IN SELECT n.oid::regnamespace AS schema FROM pg_namespace n
                     WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname NOT IN ('information_schema', 'stratum')
                       AND has_schema_privilege(app.oid, n.oid, 'CREATE')
                     ORDER BY 1 LOOP
            verdict := 'warning';
            problem := format('may create tables in schema %s: a table it makes is its own, outside row level security, and keeps what one tenant''s session puts there for every other',
                              risk.schema);
            remedy := format('REVOKE CREATE ON SCHEMA %s FROM PUBLIC, %I (the migration role makes the tables; a schema the role owns needs another owner)',
                             risk.schema, app.role_name);
            RETURN NEXT;
        END LOOP;
        FOR rel IN SELECT DISTINCT p.polrelid::regclass FROM pg_policy p
                    WHERE p.polname = 'stratum_tenant_isolation' ORDER BY 1 LOOP
            FOR seq IN SELECT stratum._owned_sequences(rel) LOOP
                CONTINUE WHEN pg_has_role(app.oid, (SELECT relowner FROM pg_class WHERE oid = seq), 'MEMBER');
                verdict := 'warning';
                IF has_sequence_privilege(app.oid, seq, 'SELECT') THEN
                    problem := format('may read sequence %s of tenant table %s, whose last_value counts every tenant''s rows', seq, rel);
                    remedy := format('REVOKE SELECT ON SEQUENCE %s FROM %I (USAGE is all nextval needs)', seq, app.role_name);
                    RETURN NEXT;
                -- USAGE, which nextval needs, is enough for pg_sequence_last_value()
                -- and so for the pg_sequences view.
                ELSIF has_sequence_privilege(app.oid, seq, 'USAGE')
                      AND has_function_privilege(app.oid, 'pg_catalog.pg_sequence_last_value(regclass)', 'EXECUTE') THEN
                    problem := format('may read the last value of sequence %s of tenant table %s through pg_sequence_last_value() (the pg_sequences view), which counts every tenant''s rows', seq, rel);
                    remedy := 'REVOKE EXECUTE ON FUNCTION pg_sequence_last_value(regclass) FROM PUBLIC; the keys nextval hands out count them as well: random UUID keys (as create_base_table makes) count nothing';
                    RETURN NEXT;
                END IF;
            END LOOP;
        END LOOP;
    END LOOP;

    -- Citus: every node validates tenants against its copy of the registry
    -- and needs stratum's grants, which Citus does not carry.
    IF stratum._citus_present() AND NOT stratum._on_citus_worker()
       AND to_regclass('stratum.tenant_registry') IS NOT NULL THEN
        FOR risk IN SELECT * FROM stratum._citus_node_risks() LOOP
            kind := 'node';
            subject := risk.subject;
            verdict := risk.verdict;
            problem := risk.problem;
            remedy := risk.remedy;
            RETURN NEXT;
        END LOOP;
    END IF;

    kind := 'setting';
    IF current_setting('lo_compat_privileges')::boolean THEN
        subject := 'lo_compat_privileges';
        verdict := 'leak';
        problem := 'every role may read and write every large object';
        remedy := 'lo_compat_privileges = off';
        RETURN NEXT;
    END IF;
    IF NOT stratum._library_preloaded() THEN
        subject := 'shared_preload_libraries';
        verdict := 'warning';
        problem := 'stratum''s library is loaded by each session at its first stratum call, not at its start: LISTEN, two-phase commit and temporary tables that keep their rows are not refused to an application role''s session before that, and a SET stratum.tenant_id made before it is ignored';
        remedy := 'shared_preload_libraries = ''stratum'' (a restart), or, for new sessions, ALTER ROLE <application role> SET session_preload_libraries = ''stratum''';
        RETURN NEXT;
    END IF;
    IF current_setting('max_prepared_transactions')::integer > 0 THEN
        subject := 'max_prepared_transactions';
        verdict := 'note';
        problem := 'prepared transactions are enabled; stratum refuses PREPARE TRANSACTION, COMMIT PREPARED and ROLLBACK PREPARED to application roles, since one tenant''s session could finish another''s';
        remedy := NULL;
        RETURN NEXT;
    END IF;
    subject := 'statistics';
    verdict := 'note';
    problem := 'planner statistics, EXPLAIN estimates and counters (pg_class.reltuples, pg_stat_user_tables, "Rows Removed by Filter") describe all tenants'' rows together; they give sizes and value frequencies, never a row';
    remedy := 'nothing in PostgreSQL separates them within one table: a tenant whose row counts must stay secret needs its own database (docs/security.md)';
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION stratum.isolation_risks() IS
    'The roles and settings that step around tenant isolation or leave a channel open between tenants'' sessions, one row per problem with its remedy';
