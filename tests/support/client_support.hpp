// Shared fixtures of the client tests: the two template tenants, pool options
// for the application role, and tables made tenant-isolated the way a
// migration would (owned by stratum_owner, granted to stratum_app).
#pragma once

#include <string>

#include <stratum/stratum.hpp>

namespace stratum::test {

// The tenants the template database carries.
inline const TenantId acme{"aaaaaaaa-0000-4000-8000-000000000001"};
inline const TenantId globex{"bbbbbbbb-0000-4000-8000-000000000002"};

// Options for a pool of the application role on `dbname` (no background
// maintenance unless asked: tests drive run_maintenance() themselves).
PoolOptions app_pool_options(const std::string &dbname, bool background = false);

// Runs SQL as the migration role stratum_owner (through SET ROLE).
void owner_sql(const std::string &sql, const std::string &dbname);

// CREATE TABLE name (columns) as stratum_owner, stratum.enable_tenancy on it,
// and the application role granted what it needs.
void create_tenant_table(const std::string &name, const std::string &columns,
                         const std::string &dbname);

// One transaction of the tenant-leak workloads, as `tenant`, whose notes
// table holds one row with the tenant's slug: kind 0 a one-round-trip query,
// 1 a with_tenant transaction, 2 a lease that sets no tenant (and must see
// none). Returns the leaks it saw; `server_pid` gets kind 0's backend.
int tenant_leak_probe(Pool &pool, const TenantId &tenant, int kind, int &server_pid);

// How many server backends `role` has open on `dbname` (from pg_stat_activity).
int backend_count(const std::string &role, const std::string &dbname);

}  // namespace stratum::test
