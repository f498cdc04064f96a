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

-- The functions the isolation policy and tenant_id's default call: the
-- executor checks EXECUTE on them each time it starts a statement that uses
-- them. With PostgreSQL's default privileges (no ACL: EXECUTE for PUBLIC)
-- that check reads nothing; an explicit ACL is pg_proc's last column, found
-- by walking the thirty before it, which cost a primary-key lookup as a
-- tenant about 2,000 of its 53,000 instructions. So no GRANT or REVOKE of
-- stratum's ever names them (they guard nothing: see 90_internal.sql).
CREATE FUNCTION stratum._default_acl_functions() RETURNS oid[]
    LANGUAGE sql STABLE
    AS $$ SELECT ARRAY['stratum.current_tenant()'::regprocedure::oid,
                       'stratum.current_tenant_or_null()'::regprocedure::oid] $$;

CREATE FUNCTION stratum.set_tenant(tenant uuid) RETURNS void
    AS 'MODULE_PATHNAME', 'stratum_set_tenant'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION stratum.set_tenant(uuid) IS
    'Sets the tenant for the rest of the transaction (like SET LOCAL); the tenant must be registered and active';

-- A bind parameter that sets the tenant (extension/tenant_param.cpp):
-- libstratum declares one more parameter of this type in the statements it
-- runs for a tenant, so the tenant travels in the statement's own Bind
-- instead of a set_tenant statement before it. Converting a value to it is
-- SET LOCAL stratum.tenant_id with the same checks; it stores the UUID.
CREATE TYPE stratum.tenant_param;
CREATE FUNCTION stratum.tenant_param_in(cstring) RETURNS stratum.tenant_param
    AS 'MODULE_PATHNAME', 'stratum_tenant_param_in'
    LANGUAGE C STRICT STABLE PARALLEL UNSAFE;
CREATE FUNCTION stratum.tenant_param_out(stratum.tenant_param) RETURNS cstring
    AS 'MODULE_PATHNAME', 'stratum_tenant_param_out'
    LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE TYPE stratum.tenant_param (
    INPUT = stratum.tenant_param_in,
    OUTPUT = stratum.tenant_param_out,
    INTERNALLENGTH = 16,
    ALIGNMENT = char,
    STORAGE = plain
);
COMMENT ON TYPE stratum.tenant_param IS
    'A statement parameter that sets the transaction''s tenant when it is bound (as set_tenant does)';

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
