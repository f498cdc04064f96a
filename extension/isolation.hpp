// What makes a relation tenant-isolated, and the statement guard that
// refuses to touch one without a tenant.
#pragma once

#include "pg.hpp"

namespace stratum {

// The policy enable_tenancy puts on every tenant-isolated relation.
inline constexpr const char *isolation_policy_name = "stratum_tenant_isolation";

// True when rel has row level security enabled and stratum's isolation
// policy: what it holds belongs to tenants, and reads and writes of it by
// roles subject to RLS are confined to the tenant in force.
bool has_isolation_policy(Relation rel);

// Installs the statement guard (from _PG_init).
void install_statement_guard();

}  // namespace stratum
