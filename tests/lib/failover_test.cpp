// Failover on the harness's separate primary + standby pair: a fenced
// (read-only) primary is evicted at the first read-only error, and once the
// standby is promoted the pool finds it among the configured hosts.
#include <gtest/gtest.h>

#include <thread>

#include <libpq-fe.h>

#include <stratum/stratum.hpp>

#include "client_support.hpp"
#include "test_env.hpp"

using namespace stratum;
using namespace std::chrono_literals;

namespace {

std::string primary_port()
{
    return test::required_env("STRATUM_TEST_FAILOVER_PRIMARY_PORT");
}
std::string standby_port()
{
    return test::required_env("STRATUM_TEST_FAILOVER_STANDBY_PORT");
}

// Superuser SQL on one cluster of the pair.
std::string sql_on(const std::string &port, const std::string &sql)
{
    std::unique_ptr<PGconn, decltype(&PQfinish)> conn(
        PQconnectdb(test::conninfo_at(port, "postgres", "stratum_test").c_str()), &PQfinish);
    std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(conn.get(), sql.c_str()), &PQclear);
    ExecStatusType status = PQresultStatus(result.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        ADD_FAILURE() << sql << ": " << PQerrorMessage(conn.get());
        return "";
    }
    return status == PGRES_TUPLES_OK && PQntuples(result.get()) > 0 ? PQgetvalue(result.get(), 0, 0) : "";
}

class FailoverTest : public ::testing::Test {
protected:
    static PoolOptions options()
    {
        PoolOptions o;
        // Both hosts; libstratum adds target_session_attrs=read-write.
        o.primary = "host=127.0.0.1,127.0.0.1 port=" + primary_port() + "," + standby_port() +
                    " user=stratum_app dbname=stratum_test connect_timeout=5";
        o.replicas.push_back(ReplicaOptions{.conninfo = test::conninfo_at(standby_port(), "stratum_app")});
        o.min_size = 0;
        o.max_size = 10;
        o.background_maintenance = false;
        o.validate_after_idle = 0ms;
        o.reconnect_backoff_min = 10ms;
        o.reconnect_backoff_max = 100ms;
        return o;
    }
};

TEST_F(FailoverTest, FencedPrimaryIsDroppedAndThePromotedStandbyFound)
{
    sql_on(primary_port(), "CREATE TABLE ledger (id serial PRIMARY KEY, port int NOT NULL); "
                           "SELECT stratum.enable_tenancy('ledger'); "
                           "SELECT stratum.grant_app_role('stratum_app'); "
                           "GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO stratum_app");
    test::wait_for_replica(standby_port(), primary_port());

    Pool pool(options());
    const char *write = "INSERT INTO ledger (port) VALUES (inet_server_port()) RETURNING port";
    EXPECT_EQ(std::to_string(pool.query(test::acme, write).value<int>()), primary_port());
    const int rows_before = pool.query(test::acme, "SELECT count(*)::int FROM ledger").value<int>();
    {
        Lease reader = pool.replica();
        EXPECT_EQ(std::to_string(reader->exec("SELECT inet_server_port()").value<int>()), standby_port());
    }
    {
        std::vector<Lease> warm;
        for (int i = 0; i < 4; i++)
            warm.push_back(pool.acquire());
    }
    ASSERT_EQ(pool.metrics().endpoints[0].idle, 4u);

    // Fence the old primary the way failover tools do: read-only for everyone.
    sql_on(primary_port(), "ALTER SYSTEM SET default_transaction_read_only = on");
    sql_on(primary_port(), "SELECT pg_reload_conf()");
    std::this_thread::sleep_for(300ms);  // the backends pick up the reload
    EXPECT_THROW(pool.query(test::acme, write), ReadOnlyTransaction);
    // The first sign dropped every connection to it, not one at a time.
    EndpointMetrics primary = pool.metrics().endpoints[0];
    EXPECT_EQ(primary.evictions, 1u);
    EXPECT_EQ(primary.idle, 0u);
    // No read-write host yet: a clear error, not a hang.
    PoolOptions quick = options();
    quick.acquire_timeout = 500ms;
    Pool meanwhile(quick);
    EXPECT_THROW(meanwhile.query(test::acme, write), CannotConnect);

    ASSERT_EQ(test::pg_ctl_of("STRATUM_TEST_PGCTL_FAILOVER_STANDBY", "promote"), 0);
    std::string port;
    for (int i = 0; i < 100 && port.empty(); i++) {
        try {
            port = std::to_string(pool.query(test::acme, write).value<int>());
        } catch (const CannotConnect &) {
            std::this_thread::sleep_for(50ms);
        }
    }
    EXPECT_EQ(port, standby_port()) << "writes should land on the promoted standby";
    // Everything committed before the fence is there, the refused write is not.
    EXPECT_EQ(pool.with_tenant(test::acme,
                               [](Tx &tx) { return tx.exec("SELECT count(*)::int FROM ledger").value<int>(); }),
              rows_before + 1);
    EXPECT_FALSE(pool.acquire()->server_is_read_only());
    sql_on(primary_port(), "ALTER SYSTEM RESET default_transaction_read_only");
    sql_on(primary_port(), "SELECT pg_reload_conf()");
}

}  // namespace
