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

// Registers the relcache callback that empties the cache (from _PG_init).
void register_tenant_cache_invalidation();

}  // namespace stratum
