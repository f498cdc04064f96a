// Read replicas: pool.replica() goes round robin over healthy replicas, skips
// one that is down without an error reaching the caller, falls back to the
// primary when none is left, and takes them back once they answer again.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include <libpq-fe.h>

#include <stratum/stratum.hpp>

#include "client_support.hpp"
#include "test_env.hpp"

using namespace stratum;
using namespace std::chrono_literals;

namespace {

const std::string db = "stratum_replica_test";

bool up(const std::string &port)
{
    return PQping(test::conninfo_at(port, "postgres", "postgres").c_str()) == PQPING_OK;
}

class ReplicaTest : public ::testing::Test {
protected:
    static void SetUpTestSuite()
    {
        test::recreate_database(db);
        test::create_tenant_table("notes", "id int PRIMARY KEY, body text NOT NULL", db);
        test::admin_sql("SET stratum.tenant_id = 'aaaaaaaa-0000-4000-8000-000000000001'; "
                        "INSERT INTO notes SELECT g, 'note ' || g FROM generate_series(1, 5) g",
                        db);
    }
    void SetUp() override
    {
        ports = test::replica_ports();
        ASSERT_EQ(ports.size(), 2u);
        for (const auto &port : ports)
            test::wait_for_replica(port);
    }
    // Leave both replicas running for whoever comes next.
    void TearDown() override
    {
        if (!up(ports[0]))
            test::pg_ctl_of("STRATUM_TEST_PGCTL_REPLICA1", "start");
        if (!up(ports[1]))
            test::pg_ctl_of("STRATUM_TEST_PGCTL_REPLICA2", "start");
    }
    PoolOptions options()
    {
        PoolOptions o = test::app_pool_options(db);
        for (const auto &port : ports)
            o.replicas.push_back(ReplicaOptions{.conninfo = test::conninfo_at(port, "stratum_app", db)});
        o.validate_after_idle = 0ms;
        o.reconnect_backoff_min = 10ms;
        o.reconnect_backoff_max = 50ms;
        return o;
    }
    static std::string port_of(Lease &lease)
    {
        return std::to_string(lease->exec("SELECT inet_server_port()").value<int>());
    }

    std::vector<std::string> ports;
};

TEST_F(ReplicaTest, RoundRobinOverReplicas)
{
    Pool pool(options());
    std::vector<std::string> seen;
    for (int i = 0; i < 6; i++) {
        Lease lease = pool.replica();
        EXPECT_EQ(lease.role(), "replica");
        EXPECT_TRUE(lease->server_is_standby());
        seen.push_back(port_of(lease));
    }
    for (std::size_t i = 0; i + 1 < seen.size(); i++)
        EXPECT_NE(seen[i], seen[i + 1]) << "replica() should alternate";
    EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()), std::set<std::string>(ports.begin(), ports.end()));

    // Tenant reads on a replica: same isolation, replicated rows.
    EXPECT_EQ(pool.replica_query(test::acme, "SELECT count(*)::int FROM notes").value<int>(), 5);
    EXPECT_EQ(pool.replica_query(test::globex, "SELECT count(*)::int FROM notes").value<int>(), 0);
    // A write sent to a replica is the caller's mistake: an error, but no eviction.
    EXPECT_THROW(pool.replica_query(test::acme, "INSERT INTO notes VALUES (99, 'x')"), ReadOnlyTransaction);
    PoolMetrics m = pool.metrics();
    ASSERT_EQ(m.endpoints.size(), 3u);
    EXPECT_EQ(m.endpoints[1].evictions + m.endpoints[2].evictions, 0u);
    EXPECT_TRUE(m.endpoints[1].healthy && m.endpoints[2].healthy);
    EXPECT_EQ(m.endpoints[1].role, "replica");
}

TEST_F(ReplicaTest, DownReplicasAreSkippedThenThePrimaryServes)
{
    Pool pool(options());
    for (int i = 0; i < 4; i++)
        pool.replica()->exec("SELECT 1");  // a connection to each, now idle

    ASSERT_EQ(test::pg_ctl_of("STRATUM_TEST_PGCTL_REPLICA2", "stop -m fast"), 0);
    for (int i = 0; i < 6; i++) {
        Lease lease = pool.replica();  // never an error: the dead one is skipped
        EXPECT_EQ(port_of(lease), ports[0]);
    }
    EXPECT_FALSE(pool.metrics().endpoints[2].healthy);
    EXPECT_TRUE(pool.metrics().endpoints[1].healthy);

    ASSERT_EQ(test::pg_ctl_of("STRATUM_TEST_PGCTL_REPLICA1", "stop -m fast"), 0);
    const std::string primary_port = test::required_env("STRATUM_TEST_PGPORT");
    for (int i = 0; i < 3; i++) {
        Lease lease = pool.replica();
        EXPECT_EQ(lease.role(), "primary");
        EXPECT_EQ(port_of(lease), primary_port);
    }
    EXPECT_EQ(pool.replica_query(test::acme, "SELECT count(*)::int FROM notes").value<int>(), 5);

    // Back up: the maintenance pass probes them and replica() uses them again.
    ASSERT_EQ(test::pg_ctl_of("STRATUM_TEST_PGCTL_REPLICA1", "start"), 0);
    ASSERT_EQ(test::pg_ctl_of("STRATUM_TEST_PGCTL_REPLICA2", "start"), 0);
    for (int i = 0; i < 200; i++) {
        pool.run_maintenance();
        PoolMetrics m = pool.metrics();
        if (m.endpoints[1].healthy && m.endpoints[2].healthy)
            break;
        std::this_thread::sleep_for(20ms);
    }
    std::set<std::string> seen;
    for (int i = 0; i < 4; i++) {
        Lease lease = pool.replica();
        EXPECT_EQ(lease.role(), "replica");
        seen.insert(port_of(lease));
    }
    EXPECT_EQ(seen.size(), 2u);
}

}  // namespace
