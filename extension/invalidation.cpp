// See invalidation.hpp. The callbacks only mark or drop cached state; they
// run whenever invalidations are processed, also outside transactions.
#include "invalidation.hpp"

#include "audit_table_cache.hpp"
#include "audit_visibility.hpp"
#include "citus.hpp"
#include "tenant_registry.hpp"

namespace stratum {
namespace {

void relation_changed(Datum, Oid relid)
{
    forget_cached_tenants(relid);
    audit::forget_audited_tables(relid);
    forget_audit_readers();
    citus::forget_cached_facts();
}

// Roles and memberships decide who may read which audit entries.
void roles_changed(Datum, int, uint32)
{
    forget_audit_readers();
}

// Types (a domain's base, an enum's labels, a composite's columns) and schema
// names reach the audited tables' descriptions without a relcache
// invalidation.
void types_or_schemas_changed(Datum, int, uint32)
{
    audit::forget_audited_tables(InvalidOid);
}

}  // namespace

void register_invalidation_callbacks()
{
    CacheRegisterRelcacheCallback(relation_changed, (Datum) 0);
    CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, roles_changed, (Datum) 0);
    CacheRegisterSyscacheCallback(AUTHOID, roles_changed, (Datum) 0);
    CacheRegisterSyscacheCallback(TYPEOID, types_or_schemas_changed, (Datum) 0);
    CacheRegisterSyscacheCallback(NAMESPACEOID, types_or_schemas_changed, (Datum) 0);
}

}  // namespace stratum
