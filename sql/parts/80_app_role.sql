-- Least privilege for application roles: what they need and nothing more.

CREATE FUNCTION stratum.grant_app_role(role_name name) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r pg_roles;
    rel regclass;
BEGIN
    SELECT * INTO r FROM pg_roles WHERE rolname = role_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'role % does not exist', quote_ident(role_name)
            USING ERRCODE = 'undefined_object';
    END IF;
    IF r.rolsuper OR r.rolbypassrls THEN
        RAISE EXCEPTION 'role % bypasses row level security and cannot be an application role',
                        quote_ident(role_name)
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Use a role created without SUPERUSER and BYPASSRLS.';
    END IF;
    SELECT c.oid INTO rel FROM pg_class c
     WHERE c.relowner = r.oid AND stratum._has_isolation_policy(c.oid) ORDER BY c.oid LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'role % owns tenant table % and could switch its row level security off',
                        quote_ident(role_name), rel
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Keep tables owned by a separate migration role.';
    END IF;

    EXECUTE format('GRANT USAGE ON SCHEMA stratum TO %I', role_name);
    EXECUTE format('GRANT EXECUTE ON FUNCTION stratum.current_tenant(), stratum.current_tenant_or_null(), '
                   'stratum.set_tenant(uuid), stratum.set_actor(text), stratum.current_actor() TO %I',
                   role_name);
    EXECUTE format('GRANT SELECT ON stratum.tenants TO %I', role_name);
    -- The audit trail: read through row level security, never written.
    EXECUTE format('GRANT SELECT ON stratum.audit_log TO %I', role_name);
    EXECUTE format('GRANT EXECUTE ON FUNCTION stratum.row_history(regclass, jsonb) TO %I', role_name);
    FOR rel IN SELECT DISTINCT p.polrelid::regclass FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
                WHERE p.polname = 'stratum_tenant_isolation'
                  AND c.relnamespace <> 'stratum'::regnamespace LOOP
        PERFORM stratum._grant_table(rel, role_name);
    END LOOP;
    INSERT INTO stratum.app_roles (role_name) VALUES (grant_app_role.role_name)
        ON CONFLICT DO NOTHING;
END
$$;
COMMENT ON FUNCTION stratum.grant_app_role(name) IS
    'Grants an application role what it needs (context functions, tenant tables, reading the audit trail); refuses superusers, BYPASSRLS roles and table owners';

CREATE FUNCTION stratum.revoke_app_role(role_name name) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    rel regclass;
    seq regclass;
BEGIN
    FOR rel IN SELECT DISTINCT p.polrelid::regclass FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
                WHERE p.polname = 'stratum_tenant_isolation'
                  AND c.relnamespace <> 'stratum'::regnamespace LOOP
        EXECUTE format('REVOKE ALL ON %s FROM %I', rel, role_name);
        -- The sequences _grant_table granted along with the table.
        FOR seq IN SELECT d.objid::regclass FROM pg_depend d
                    WHERE d.refobjid = rel AND d.classid = 'pg_class'::regclass
                      AND d.deptype IN ('a', 'i')
                      AND (SELECT relkind FROM pg_class WHERE oid = d.objid) = 'S' LOOP
            EXECUTE format('REVOKE ALL ON SEQUENCE %s FROM %I', seq, role_name);
        END LOOP;
    END LOOP;
    EXECUTE format('REVOKE ALL ON ALL FUNCTIONS IN SCHEMA stratum FROM %I', role_name);
    EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA stratum FROM %I', role_name);
    EXECUTE format('REVOKE USAGE ON SCHEMA stratum FROM %I', role_name);
    DELETE FROM stratum.app_roles WHERE app_roles.role_name = revoke_app_role.role_name;
END
$$;
COMMENT ON FUNCTION stratum.revoke_app_role(name) IS 'Undoes grant_app_role';

CREATE FUNCTION stratum.grant_migrator_role(role_name name) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
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
    EXECUTE format('GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA stratum TO %I', role_name);
    EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA stratum TO %I', role_name);
END
$$;
COMMENT ON FUNCTION stratum.grant_migrator_role(name) IS
    'Grants the role that owns application tables and runs migrations the use of every stratum function';
