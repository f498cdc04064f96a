// make soak: failover managed by pg_auto_failover (a monitor and two nodes,
// scripts/lib/services.sh pgaf_start) under a write workload. Twice, while
// writers run, `pg_autoctl perform failover` swaps primary and secondary; the
// pool, given both hosts, follows; the oracle finds every transaction the
// client saw commit on the final primary, none twice. Writers pause 2 ms
// between transactions: unpaced, they outrun the secondary's replay on two
// cores and each failover waits tens of seconds for it to catch up.
//
// STRATUM_SOAK_NODE1_PORT, STRATUM_SOAK_NODE2_PORT: the nodes (database
// stratum_soak with the template and stratum_app); STRATUM_SOAK_FAILOVER: the
// shell command that performs one failover and waits for it.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <thread>

#include <stratum/stratum.hpp>

#include "write_oracle.hpp"
#include "test_env.hpp"

using namespace stratum;
using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

namespace {

std::string admin(const std::string &port)
{
    return "host=127.0.0.1 port=" + port + " user=postgres dbname=stratum_soak";
}

// The node that is primary now, by asking both.
std::string primary_port(const std::string &a, const std::string &b)
{
    for (const std::string &port : {a, b}) {
        try {
            if (reliability::column_of(admin(port), "SELECT pg_is_in_recovery()::text").at(0) == "false")
                return port;
        } catch (const Error &) {
        }
    }
    return "";
}

TEST(AutoFailoverSoak, PerformFailoverUnderLoadTwice)
{
    const std::string node1 = test::required_env("STRATUM_SOAK_NODE1_PORT");
    const std::string node2 = test::required_env("STRATUM_SOAK_NODE2_PORT");
    const std::string failover = test::required_env("STRATUM_SOAK_FAILOVER");
    const std::string first_primary = primary_port(node1, node2);
    ASSERT_FALSE(first_primary.empty());
    reliability::WriteOracle::create_tables_at(admin(first_primary));

    PoolOptions o;
    o.primary = "host=127.0.0.1,127.0.0.1 port=" + node1 + "," + node2 +
                " user=stratum_app dbname=stratum_soak connect_timeout=2 options='-c synchronous_commit=on'";
    o.min_size = 2;
    o.max_size = 10;
    o.maintenance_interval = 100ms;
    o.reconnect_backoff_min = 10ms;
    o.reconnect_backoff_max = 200ms;
    o.acquire_timeout = 1s;
    Pool pool(o);

    std::atomic<bool> stop{false};
    std::atomic<long> max_lag_bytes{0};
    std::thread lag_sampler([&] {
        while (!stop) {
            try {
                const std::string port = primary_port(node1, node2);
                auto lag = reliability::column_of(
                    admin(port), "SELECT coalesce(max(pg_wal_lsn_diff(pg_current_wal_insert_lsn(), "
                                 "replay_lsn)), 0)::bigint::text FROM pg_stat_replication");
                max_lag_bytes = std::max(max_lag_bytes.load(), std::stol(lag.at(0)));
            } catch (const std::exception &) {
            }
            std::this_thread::sleep_for(20ms);
        }
    });

    reliability::WriteOracle oracle;
    // Writes are unavailable while no commit lands: the longest such gap.
    std::atomic<double> longest_gap{0};
    std::thread gap_sampler([&] {
        std::size_t last = oracle.committed();
        auto since = Steady::now();
        while (!stop) {
            std::this_thread::sleep_for(5ms);
            const std::size_t now_committed = oracle.committed();
            if (now_committed != last) {
                last = now_committed;
                since = Steady::now();
            } else {
                longest_gap = std::max(longest_gap.load(),
                                       std::chrono::duration<double>(Steady::now() - since).count());
            }
        }
    });
    oracle.run(
        pool, 4, 5s,
        [&] {
            for (int round = 0; round < 2; round++) {
                std::this_thread::sleep_for(3s);
                const std::string before = primary_port(node1, node2);
                const auto started = Steady::now();
                longest_gap = 0;
                // Returns once the old primary is back as a secondary.
                ASSERT_EQ(std::system(failover.c_str()), 0) << failover;
                const std::string after = primary_port(node1, node2);
                std::printf("failover %d: primary %s -> %s; writes stopped for at most %.1f s; "
                            "pg_autoctl perform failover returned after %.1f s\n",
                            round + 1, before.c_str(), after.c_str(), longest_gap.load(),
                            std::chrono::duration<double>(Steady::now() - started).count());
                EXPECT_NE(before, after);
                EXPECT_LT(longest_gap.load(), 30.0) << "writes stopped for more than 30 s";
            }
        },
        /*settle=*/3s, /*pause=*/2ms);
    stop = true;
    lag_sampler.join();
    gap_sampler.join();

    const std::string final_primary = primary_port(node1, node2);
    std::printf("autofailover: %zu commits, %zu failed or unknown; max replay lag seen %ld bytes; final "
                "primary %s\n",
                oracle.committed(), oracle.failed(), max_lag_bytes.load(), final_primary.c_str());
    EXPECT_EQ(final_primary, first_primary) << "two failovers should bring the first primary back";
    EXPECT_GE(oracle.committed(), 500u);
    oracle.verify(admin(final_primary));
    reliability::expect_pool_recovered(pool, admin(final_primary), "stratum_soak");
}

}  // namespace
