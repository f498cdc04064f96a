// Fault: server backends terminated at random (pg_terminate_backend) while a
// write workload runs. Nothing the client saw commit is lost, nothing is
// there twice or in part, and the pool recovers without leaking connections.
#include <gtest/gtest.h>

#include <thread>

#include <stratum/stratum.hpp>

#include "client_support.hpp"
#include "reliability/write_oracle.hpp"
#include "test_env.hpp"

using namespace stratum;
using namespace std::chrono_literals;

namespace {

const std::string db = "stratum_backend_kill_test";

TEST(BackendKillFault, WorkloadLosesNothingAndThePoolRecovers)
{
    test::recreate_database(db);
    reliability::WriteOracle::create_tables(db);
    PoolOptions o = test::app_pool_options(db, /*background=*/true);
    o.max_size = 12;
    o.min_size = 4;
    o.maintenance_interval = 100ms;
    o.reconnect_backoff_min = 5ms;
    o.reconnect_backoff_max = 50ms;
    o.acquire_timeout = 5s;
    Pool pool(o);

    reliability::WriteOracle oracle;
    int kills = 0;
    oracle.run(pool, 8, 6s, [&] {
        std::mt19937 random(42);
        const auto until = std::chrono::steady_clock::now() + 5s;
        while (std::chrono::steady_clock::now() < until) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20 + random() % 80));
            kills += std::stoi(test::admin_sql(
                "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE usename = 'stratum_app' AND datname = '" + db + "' ORDER BY random() LIMIT 1) k",
                "postgres"));
        }
    });
    std::printf("backends terminated: %d\n", kills);
    EXPECT_GE(kills, 20);
    EXPECT_GE(oracle.committed(), 100u) << "the workload made no progress between the kills";
    EXPECT_GE(oracle.failed(), 1u) << "no transaction was hit: the fault did not bite";
    oracle.verify(test::superuser_conninfo(db));
    // The server came back within the resolution timeout: every lost COMMIT
    // was resolved with it, none reported unknown.
    EXPECT_EQ(oracle.unknown(), 0u);
    reliability::expect_pool_recovered(pool, test::superuser_conninfo("postgres"), db);
    EXPECT_GE(pool.metrics().broken, 1u);
}

}  // namespace
