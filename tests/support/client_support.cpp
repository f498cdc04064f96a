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

int tenant_leak_probe(Pool &pool, const TenantId &tenant, int kind, int &server_pid)
{
    const std::string expected = tenant == acme ? "acme" : "globex";
    int leaks = 0;
    switch (kind) {
    case 0: {
        Result r = pool.query(tenant, "SELECT body, pg_backend_pid() FROM notes");
        leaks += !(r.size() == 1 && r[0][0].as<std::string>() == expected);
        server_pid = r.size() == 1 ? r[0][1].as<int>() : 0;
        break;
    }
    case 1:
        pool.with_tenant(tenant, [&](Tx &tx) {
            tx.exec("SELECT pg_sleep(0.001)");
            auto bodies = tx.exec("SELECT body FROM notes").column_values<std::string>();
            leaks += !(bodies.size() == 1 && bodies[0] == expected);
            leaks += tx.exec("SELECT stratum.current_tenant()::text").value<std::string>() != tenant.view();
        });
        break;
    default: {
        // No tenant set: none may be inherited from the connection's last user.
        Lease lease = pool.acquire();
        leaks += lease->exec("SELECT stratum.current_tenant_or_null()")[0][0].is_null() ? 0 : 1;
        try {
            lease->exec("SELECT count(*) FROM notes");
            leaks++;
        } catch (const NoTenantContext &) {
        }
    }
    }
    return leaks;
}

}  // namespace stratum::test
