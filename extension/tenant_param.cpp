// stratum.tenant_param: a type whose input sets the transaction's tenant.
//
// libstratum binds the tenant as one more parameter of the statement it runs
// ("$N::stratum.tenant_param" need not appear in the text: the parameter's
// type is declared in the Parse message). PostgreSQL converts every
// parameter at Bind, before the statement starts, so the tenant is set for
// the transaction exactly as stratum.set_tenant() sets it, with the same
// checks (registered, active, allowed for the session), without a statement
// of its own: no second portal, plan-cache lookup and executor run per
// round trip. On Citus the SET LOCAL it makes is forwarded to the workers
// like set_tenant's, inside a transaction block.
//
// Converting text to this type is equivalent to SET LOCAL stratum.tenant_id,
// which every role may run; it grants nothing new (docs/security.md).
// Outside a transaction block the tenant is kept beside the GUC rather than
// in it (tenant_context.cpp), which spares the server a SET LOCAL's
// bookkeeping on every pool.query.
#include "boundary.hpp"
#include "tenant_context.hpp"

using namespace stratum;

STRATUM_FUNCTION(stratum_tenant_param_in)
{
    const char *text = PG_GETARG_CSTRING(0);
    auto *tenant = static_cast<pg_uuid_t *>(palloc(sizeof(pg_uuid_t)));
    if (!parse_uuid(text, tenant))
        ereport(ERROR, (errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
                        errmsg("invalid tenant id \"%s\"", text),
                        errdetail("stratum.tenant_param takes a UUID such as "
                                  "'0a3c6e0e-6b4e-4c7e-9d55-3f1f4f6a2b10'.")));
    if (!IsTransactionState())
        ereport(ERROR, (errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
                        errmsg("stratum.tenant_param sets the tenant of a transaction, "
                               "and none is in progress")));
    // The same tenant again (a parameter of each statement in a block).
    const pg_uuid_t *current = tenant_of_transaction();
    if (current == nullptr || memcmp(current, tenant, sizeof(pg_uuid_t)) != 0)
        set_tenant_of_transaction(tenant);
    PG_RETURN_POINTER(tenant);
}

STRATUM_FUNCTION(stratum_tenant_param_out)
{
    char *text = static_cast<char *>(palloc(UUID_LEN * 2 + 5));
    format_uuid(reinterpret_cast<const pg_uuid_t *>(PG_GETARG_POINTER(0)), text);
    PG_RETURN_CSTRING(text);
}
