-- Tenant and actor context: transaction-scoped, implemented in C++
-- (extension/tenant_context.cpp).

-- The planner calls a function's support function while planning it, so a
-- statement whose isolation policy or default calls the context functions
-- loads the library (and with it the statement guard, extension/isolation.cpp)
-- before it runs, also without shared_preload_libraries.
CREATE FUNCTION stratum._load_support(internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'stratum_load_support'
    LANGUAGE C STRICT;

CREATE FUNCTION stratum.current_tenant() RETURNS uuid
    AS 'MODULE_PATHNAME', 'stratum_current_tenant'
    LANGUAGE C STABLE PARALLEL SAFE SUPPORT stratum._load_support;
COMMENT ON FUNCTION stratum.current_tenant() IS
    'Tenant of the current transaction; raises 42501 when none is set';

CREATE FUNCTION stratum.current_tenant_or_null() RETURNS uuid
    AS 'MODULE_PATHNAME', 'stratum_current_tenant_or_null'
    LANGUAGE C STABLE PARALLEL SAFE SUPPORT stratum._load_support;
COMMENT ON FUNCTION stratum.current_tenant_or_null() IS
    'Tenant of the current transaction, or NULL when none is set; never raises (the isolation policy uses it)';

CREATE FUNCTION stratum.set_tenant(tenant uuid) RETURNS void
    AS 'MODULE_PATHNAME', 'stratum_set_tenant'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION stratum.set_tenant(uuid) IS
    'Sets the tenant for the rest of the transaction (like SET LOCAL); the tenant must be registered and active';

CREATE FUNCTION stratum.set_actor(actor text) RETURNS void
    AS 'MODULE_PATHNAME', 'stratum_set_actor'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION stratum.set_actor(text) IS
    'Sets who acts for the rest of the transaction; recorded by the audit trail';

CREATE FUNCTION stratum.current_actor() RETURNS text
    AS 'MODULE_PATHNAME', 'stratum_current_actor'
    LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION stratum.current_actor() IS
    'Actor of the current transaction, or NULL when none is set';
