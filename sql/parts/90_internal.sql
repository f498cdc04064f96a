-- Internal self-tests and the default privileges of everything above.

CREATE FUNCTION stratum._boundary_selftest(scenario text) RETURNS integer
    AS 'MODULE_PATHNAME', 'stratum_boundary_selftest'
    LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION stratum._boundary_selftest(text) IS
    'Internal: exercises the C++/PostgreSQL error boundary for the regression suite';

-- Nothing in schema stratum is callable by PUBLIC; grant_app_role grants
-- application roles what they need. Registry changes run as the extension
-- owner (SECURITY DEFINER) and are for administrators only.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA stratum FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA stratum FROM PUBLIC;
-- The audit log's column policy runs as whoever reads the log.
GRANT EXECUTE ON FUNCTION stratum._audit_entry_readable(oid, jsonb, jsonb) TO PUBLIC;
-- ... and so does the registry's (stratum.tenants is read by every role granted it).
GRANT EXECUTE ON FUNCTION stratum._tenant_visible(uuid) TO PUBLIC;
