// Shared fixtures of the client tests (see client_support.hpp).
#include "client_support.hpp"

#include "test_env.hpp"

namespace stratum::test {

PoolOptions app_pool_options(const std::string &dbname, bool background)
{
    PoolOptions options;
    options.primary = app_conninfo(dbname);
    options.min_size = 0;
    options.max_size = 10;
    options.acquire_timeout = std::chrono::seconds(10);
    options.background_maintenance = background;
    return options;
}

void owner_sql(const std::string &sql, const std::string &dbname)
{
    admin_sql("SET ROLE stratum_owner; " + sql + "; RESET ROLE", dbname);
}

void create_tenant_table(const std::string &name, const std::string &columns,
                         const std::string &dbname)
{
    owner_sql("CREATE TABLE " + name + " (" + columns + "); SELECT stratum.enable_tenancy('" +
                  name + "')",
              dbname);
    admin_sql("SELECT stratum.grant_app_role('stratum_app')", dbname);
}

int backend_count(const std::string &role, const std::string &dbname)
{
    return std::stoi(admin_sql("SELECT count(*) FROM pg_stat_activity WHERE usename = '" + role +
                                   "' AND datname = '" + dbname + "'",
                               "postgres"));
}

}  // namespace stratum::test
