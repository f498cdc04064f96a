-- Internal self-tests and the default privileges of everything above.

CREATE FUNCTION stratum._boundary_selftest(scenario text) RETURNS integer
    AS 'MODULE_PATHNAME', 'stratum_boundary_selftest'
    LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION stratum._boundary_selftest(text) IS
    'Internal: exercises the C++/PostgreSQL error boundary for the regression suite';

CREATE FUNCTION stratum._audit_log_tuple_selftest(log regclass) RETURNS integer
    AS 'MODULE_PATHNAME', 'stratum_audit_log_tuple_selftest'
    LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION stratum._audit_log_tuple_selftest(regclass) IS
    'Internal: compares the audit log rows stratum forms with heap_form_minimal_tuple''s, for the regression suite';

-- Nothing in schema stratum is callable by PUBLIC but the context functions;
-- grant_app_role grants application roles the rest of what they need.
-- Registry changes run as the extension owner (SECURITY DEFINER) and are for
-- administrators only.
DO $$
DECLARE
    fn regprocedure;
BEGIN
    FOR fn IN SELECT p.oid FROM pg_proc p
               WHERE p.pronamespace = 'stratum'::regnamespace
                 AND p.oid <> ALL (stratum._default_acl_functions()) LOOP
        EXECUTE format('REVOKE ALL ON ROUTINE %s FROM PUBLIC', fn);
    END LOOP;
    -- Default privileges changed by the administrator may have left them
    -- without EXECUTE for PUBLIC: policies need it, the speed is second.
    FOR fn IN SELECT p.oid FROM pg_proc p
               WHERE p.oid = ANY (stratum._default_acl_functions()) AND p.proacl IS NOT NULL LOOP
        EXECUTE format('GRANT EXECUTE ON ROUTINE %s TO PUBLIC', fn);
    END LOOP;
END
$$;
REVOKE ALL ON ALL TABLES IN SCHEMA stratum FROM PUBLIC;

-- The context functions guard nothing (any role may SET stratum.tenant_id;
-- the registry, stratum.allowed_tenants and table privileges are what
-- hold), and policies run them as the reading role on every node: on a
-- Citus worker, where grant_app_role never ran, they must work too.
GRANT EXECUTE ON FUNCTION stratum.set_tenant(uuid), stratum.set_actor(text),
    stratum.current_actor() TO PUBLIC;
-- The audit log's column policy runs as whoever reads the log.
GRANT EXECUTE ON FUNCTION stratum._audit_entry_readable(oid, jsonb, jsonb) TO PUBLIC;
-- ... and so does the registry's (stratum.tenants is read by every role granted it).
GRANT EXECUTE ON FUNCTION stratum._tenant_visible(uuid) TO PUBLIC;
-- Facts about Citus that functions running as their caller ask (row_history).
GRANT EXECUTE ON FUNCTION stratum._citus_present(), stratum._on_citus_worker(),
    stratum._is_distributed(regclass), stratum._citus_table_kind(regclass) TO PUBLIC;
