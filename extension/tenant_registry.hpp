// Validates a tenant when it is set: reads stratum.tenants directly (no SQL,
// no permission check) and remembers, per backend, the tenants found active.
#pragma once

#include "pg.hpp"

namespace stratum {

enum class TenantState {
    no_registry,  // the extension is not installed in this database
    unknown,
    active,
    inactive,  // suspended or archived: may not be set
    registry_missing,  // a Citus worker without its copy of the registry
};

// Looks the tenant up (the per-backend cache of active tenants first, then the
// primary key with the latest snapshot). Must run in a transaction.
TenantState lookup_tenant_state(const pg_uuid_t *tenant_id);

// Forgets the cached tenants after a relcache invalidation of the registry
// (TRUNCATE, VACUUM FULL, ALTER, DROP) or of everything (InvalidOid): the
// TIDs may point at other rows now.
void forget_cached_tenants(Oid relid);

}  // namespace stratum
