-- Least privilege for application roles: what they need and nothing more.

-- The ways a role could step around tenant isolation, each with its remedy:
-- its own attributes, every role it is a member of (directly or through a
-- chain, with or without INHERIT: SET ROLE reaches them either way), and
-- privileges on tenant tables or stratum beyond what an application needs.
-- grant_app_role refuses a role with any of them; isolation_report() lists
-- them for every registered application role, so one acquired later shows.
CREATE FUNCTION stratum._role_escapes(role_name name)
    RETURNS TABLE (verdict text, problem text, remedy text)
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r pg_roles;
    other record;
    via text;
    rel record;
    fn record;
BEGIN
    SELECT * INTO r FROM pg_roles WHERE rolname = role_name;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    FOR other IN
        SELECT x.oid, x.rolname, x.oid = r.oid AS self, x.rolsuper, x.rolbypassrls,
               x.rolcreaterole, x.rolreplication
          FROM pg_roles x
         WHERE x.oid = r.oid OR pg_has_role(r.oid, x.oid, 'MEMBER')
         ORDER BY x.oid <> r.oid, x.rolname
    LOOP
        via := CASE WHEN other.self THEN format('role %I', role_name)
                    ELSE format('role %I is a member of %I, which', role_name, other.rolname) END;
        verdict := 'leak';
        IF other.rolsuper THEN
            problem := via || ' is a superuser and bypasses row level security';
            remedy := CASE WHEN other.self THEN format('ALTER ROLE %I NOSUPERUSER', role_name)
                           ELSE format('REVOKE %I FROM %I', other.rolname, role_name) END;
            RETURN NEXT;
        ELSIF other.rolbypassrls THEN
            problem := via || ' has BYPASSRLS and reads every tenant''s rows';
            remedy := CASE WHEN other.self THEN format('ALTER ROLE %I NOBYPASSRLS', role_name)
                           ELSE format('REVOKE %I FROM %I', other.rolname, role_name) END;
            RETURN NEXT;
        END IF;
        IF other.rolcreaterole AND NOT other.rolsuper THEN
            problem := via || ' has CREATEROLE and can make itself a member of the tables'' owner';
            remedy := CASE WHEN other.self THEN format('ALTER ROLE %I NOCREATEROLE', role_name)
                           ELSE format('REVOKE %I FROM %I', other.rolname, role_name) END;
            RETURN NEXT;
        END IF;
        IF other.rolreplication AND NOT other.rolsuper THEN
            problem := via || ' has REPLICATION and can stream every row of the database';
            remedy := CASE WHEN other.self THEN format('ALTER ROLE %I NOREPLICATION', role_name)
                           ELSE format('REVOKE %I FROM %I', other.rolname, role_name) END;
            RETURN NEXT;
        END IF;
        remedy := CASE WHEN other.self THEN NULL
                       ELSE format('REVOKE %I FROM %I', other.rolname, role_name) END;
        IF other.rolname IN ('pg_read_server_files', 'pg_write_server_files', 'pg_execute_server_program') THEN
            problem := format('role %I is a member of %I and can reach the database''s files on the server',
                              role_name, other.rolname);
            RETURN NEXT;
        ELSIF other.rolname IN ('pg_read_all_stats', 'pg_stat_scan_tables') THEN
            verdict := 'warning';
            problem := format('role %I is a member of %I and sees the statistics and statements of every session',
                              role_name, other.rolname);
            RETURN NEXT;
        END IF;
        -- A role that owns a tenant table (or is a member of its owner) can
        -- switch its row level security off.
        SELECT c.oid::regclass AS rel INTO rel FROM pg_class c
         WHERE c.relowner = other.oid AND EXISTS (SELECT 1 FROM pg_policy p
                WHERE p.polrelid = c.oid AND p.polname = 'stratum_tenant_isolation')
         ORDER BY c.oid LIMIT 1;
        IF FOUND THEN
            verdict := 'leak';
            problem := format('%s owns tenant table %s and can switch its row level security off',
                              via, rel.rel);
            remedy := coalesce(remedy, 'Keep tables owned by a separate migration role (ALTER TABLE ... OWNER TO)');
            RETURN NEXT;
        END IF;
    END LOOP;

    -- Privileges on tenant tables beyond the DML grant_app_role gives.
    verdict := 'leak';
    FOR rel IN SELECT DISTINCT p.polrelid::regclass AS rel FROM pg_policy p
                WHERE p.polname = 'stratum_tenant_isolation' ORDER BY 1 LOOP
        CONTINUE WHEN pg_has_role(r.oid, (SELECT relowner FROM pg_class WHERE oid = rel.rel), 'MEMBER');
        IF has_table_privilege(r.oid, rel.rel, 'TRUNCATE') THEN
            problem := format('role %I may TRUNCATE tenant table %s, every tenant''s rows at once', role_name, rel.rel);
            remedy := format('REVOKE TRUNCATE ON %s FROM %I, PUBLIC', rel.rel, role_name);
            RETURN NEXT;
        END IF;
        IF has_table_privilege(r.oid, rel.rel, 'TRIGGER') THEN
            problem := format('role %I may create triggers on tenant table %s, which would run in every tenant''s sessions',
                              role_name, rel.rel);
            remedy := format('REVOKE TRIGGER ON %s FROM %I, PUBLIC', rel.rel, role_name);
            RETURN NEXT;
        END IF;
        IF has_table_privilege(r.oid, rel.rel, 'REFERENCES') THEN
            problem := format('role %I may reference tenant table %s in a foreign key, whose checks ignore row level security',
                              role_name, rel.rel);
            remedy := format('REVOKE REFERENCES ON %s FROM %I, PUBLIC', rel.rel, role_name);
            RETURN NEXT;
        END IF;
    END LOOP;

    IF has_schema_privilege(r.oid, 'stratum', 'CREATE') THEN
        problem := format('role %I may create objects in schema stratum', role_name);
        remedy := format('REVOKE CREATE ON SCHEMA stratum FROM %I, PUBLIC', role_name);
        RETURN NEXT;
    END IF;
    -- stratum's administrative functions run as the extension's owner;
    -- granted to the role itself or to PUBLIC (a membership is reported above).
    FOR fn IN SELECT p.oid::regprocedure AS fn FROM pg_proc p
               WHERE p.pronamespace = 'stratum'::regnamespace AND p.prosecdef
                 AND EXISTS (SELECT 1 FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) acl
                              WHERE acl.grantee IN (r.oid, 0) AND acl.privilege_type = 'EXECUTE')
               ORDER BY 1 LOOP
        problem := format('role %I may run %s, which acts as the extension''s owner', role_name, fn.fn);
        remedy := format('REVOKE EXECUTE ON FUNCTION %s FROM %I, PUBLIC', fn.fn, role_name);
        RETURN NEXT;
    END LOOP;
END
$$;

-- The settings (name=value) that ALTER ROLE and ALTER DATABASE give a role's
-- sessions in this database.
CREATE FUNCTION stratum._role_settings(role_name name) RETURNS SETOF text
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT c FROM pg_db_role_setting s CROSS JOIN LATERAL unnest(s.setconfig) c
     WHERE s.setrole IN (0, (SELECT oid FROM pg_roles WHERE rolname = role_name))
       AND s.setdatabase IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))
$$;

-- Whether a boolean setting that opens a channel for application roles
-- (stratum.app_role_listen, stratum.app_role_keep_rows) is on for the role
-- in this database: for everyone, or set for the role.
CREATE FUNCTION stratum._app_role_setting_on(role_name name, setting text) RETURNS boolean
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(current_setting(setting, true), 'off') IN ('on', 'true')
        OR EXISTS (SELECT 1 FROM stratum._role_settings(role_name) c
                    WHERE lower(c) IN (setting || '=on', setting || '=true'))
$$;

-- Whether every application role's sessions start with stratum's library
-- loaded: preloaded for the server, or in session_preload_libraries for the
-- database or for each registered role. Otherwise a session gets the
-- utility hook (app_role_guard.cpp) only at its first stratum call, and what
-- it ran before was not refused.
CREATE FUNCTION stratum._preloaded_for_server() RETURNS boolean
    AS 'MODULE_PATHNAME', 'stratum_preloaded_for_server'
    LANGUAGE C STRICT STABLE;
CREATE FUNCTION stratum._library_preloaded() RETURNS boolean
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT stratum._preloaded_for_server()
        OR NOT EXISTS (SELECT 1 FROM stratum.app_roles ar
                        WHERE NOT EXISTS (
                            SELECT 1 FROM stratum._role_settings(ar.role_name) c
                             WHERE c ~ '^session_preload_libraries=(.*[,/"[:space:]])?stratum($|[,"[:space:]])'))
$$;

CREATE FUNCTION stratum.grant_app_role(role_name name) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    escape record;
    rel regclass;
    fn regprocedure;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name) THEN
        RAISE EXCEPTION 'role % does not exist', quote_ident(role_name)
            USING ERRCODE = 'undefined_object';
    END IF;
    SELECT * INTO escape FROM stratum._role_escapes(role_name) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'role % cannot be an application role', quote_ident(role_name)
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = upper(left(escape.problem, 1)) || substr(escape.problem, 2) || '.',
                  HINT = escape.remedy || '.';
    END IF;

    EXECUTE format('GRANT USAGE ON SCHEMA stratum TO %I', role_name);
    EXECUTE format('GRANT EXECUTE ON FUNCTION stratum.set_tenant(uuid), stratum.set_actor(text), '
                   'stratum.current_actor() TO %I', role_name);
    -- The policy's functions keep their default privileges while PUBLIC may
    -- run them (stratum._default_acl_functions); else the role is granted them.
    FOR fn IN SELECT unnest(stratum._default_acl_functions()) LOOP
        IF NOT has_function_privilege(role_name, fn, 'EXECUTE') THEN
            EXECUTE format('GRANT EXECUTE ON ROUTINE %s TO %I', fn, role_name);
        END IF;
    END LOOP;
    EXECUTE format('GRANT SELECT ON stratum.tenants TO %I', role_name);
    -- The audit trail: read through row level security, never written.
    EXECUTE format('GRANT SELECT ON stratum.audit_log TO %I', role_name);
    EXECUTE format('GRANT EXECUTE ON FUNCTION stratum.row_history(regclass, jsonb), '
                   'stratum._audit_entry_readable(oid, jsonb, jsonb) TO %I', role_name);
    FOR rel IN SELECT DISTINCT p.polrelid::regclass FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
                WHERE p.polname = 'stratum_tenant_isolation'
                  AND c.relnamespace <> 'stratum'::regnamespace LOOP
        PERFORM stratum._grant_table(rel, role_name);
    END LOOP;
    INSERT INTO stratum.app_roles (role_name) VALUES (grant_app_role.role_name)
        ON CONFLICT DO NOTHING;
    PERFORM stratum._audit_withhold_all();
    PERFORM stratum._citus_sync_grants(role_name);
END
$$;
COMMENT ON FUNCTION stratum.grant_app_role(name) IS
    'Grants an application role what it needs (context functions, tenant tables, reading the audit trail); refuses a role that could step around row level security (see isolation_report)';

CREATE FUNCTION stratum.revoke_app_role(role_name name) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    fn regprocedure;
    rel regclass;
    seq regclass;
BEGIN
    FOR rel IN SELECT DISTINCT p.polrelid::regclass FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
                WHERE p.polname = 'stratum_tenant_isolation'
                  AND c.relnamespace <> 'stratum'::regnamespace LOOP
        EXECUTE format('REVOKE ALL ON %s FROM %I', rel, role_name);
        -- The sequences _grant_table granted along with the table.
        FOR seq IN SELECT stratum._owned_sequences(rel) LOOP
            EXECUTE format('REVOKE ALL ON SEQUENCE %s FROM %I', seq, role_name);
        END LOOP;
    END LOOP;
    -- Only where the role was granted something: a REVOKE would give the
    -- policy's functions an ACL of their own (stratum._default_acl_functions).
    FOR fn IN SELECT DISTINCT p.oid FROM pg_proc p CROSS JOIN LATERAL aclexplode(p.proacl) a
               WHERE p.pronamespace = 'stratum'::regnamespace
                 AND a.grantee = (SELECT oid FROM pg_roles WHERE rolname = role_name) LOOP
        EXECUTE format('REVOKE ALL ON ROUTINE %s FROM %I', fn, role_name);
    END LOOP;
    EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA stratum FROM %I', role_name);
    EXECUTE format('REVOKE USAGE ON SCHEMA stratum FROM %I', role_name);
    DELETE FROM stratum.app_roles WHERE app_roles.role_name = revoke_app_role.role_name;
    PERFORM stratum._audit_withhold_all();
    PERFORM stratum._citus_sync_grants(role_name);
END
$$;
COMMENT ON FUNCTION stratum.revoke_app_role(name) IS 'Undoes grant_app_role';

-- Confines a login role to some tenants: its sessions can set no other
-- (stratum.allowed_tenants, a superuser's setting the session cannot
-- change). NULL or an empty array lifts the confinement. For roles that must
-- not act for every tenant: a BI tool's, a tenant-bound service's.
CREATE FUNCTION stratum.allow_tenants(role_name name, tenants uuid[]) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name) THEN
        RAISE EXCEPTION 'role % does not exist', quote_ident(role_name)
            USING ERRCODE = 'undefined_object';
    END IF;
    IF array_position(tenants, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'tenants must not contain NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF coalesce(cardinality(tenants), 0) = 0 THEN
        EXECUTE format('ALTER ROLE %I RESET stratum.allowed_tenants', role_name);
    ELSE
        EXECUTE format('ALTER ROLE %I SET stratum.allowed_tenants = %L',
                       role_name, array_to_string(tenants, ','));
    END IF;
END
$$;
COMMENT ON FUNCTION stratum.allow_tenants(name, uuid[]) IS
    'Confines a login role''s sessions to the given tenants (NULL or empty: any tenant); superuser only';

CREATE FUNCTION stratum.grant_migrator_role(role_name name) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    fn regprocedure;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name) THEN
        RAISE EXCEPTION 'role % does not exist', quote_ident(role_name)
            USING ERRCODE = 'undefined_object';
    END IF;
    IF EXISTS (SELECT 1 FROM stratum.app_roles WHERE app_roles.role_name = grant_migrator_role.role_name) THEN
        RAISE EXCEPTION 'role % is an application role; migrations need a role of their own',
                        quote_ident(role_name)
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA stratum TO %I', role_name);
    -- All but the policy's functions while PUBLIC may run them (see
    -- stratum._default_acl_functions).
    FOR fn IN SELECT p.oid FROM pg_proc p
               WHERE p.pronamespace = 'stratum'::regnamespace
                 AND NOT (p.oid = ANY (stratum._default_acl_functions())
                          AND has_function_privilege(role_name, p.oid, 'EXECUTE')) LOOP
        EXECUTE format('GRANT EXECUTE ON ROUTINE %s TO %I', fn, role_name);
    END LOOP;
    EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA stratum TO %I', role_name);
    PERFORM stratum._citus_sync_grants(role_name);
END
$$;
COMMENT ON FUNCTION stratum.grant_migrator_role(name) IS
    'Grants the role that owns application tables and runs migrations the use of every stratum function';
