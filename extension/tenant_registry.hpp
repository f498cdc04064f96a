// Reads stratum.tenants directly (no SQL, no permission check) to validate a
// tenant when it is set.
#pragma once

#include "pg.hpp"

namespace stratum {

enum class TenantState {
    no_registry,  // the extension is not installed in this database
    unknown,
    active,
    inactive,  // suspended or archived: may not be set
};

// Looks the tenant up with the latest snapshot. Must run in a transaction.
TenantState lookup_tenant_state(const pg_uuid_t *tenant_id);

}  // namespace stratum
