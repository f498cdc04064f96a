// Fault: failover under a write workload, on a primary + streaming standby
// pair of its own. The primary is stopped, the standby promoted; the pool,
// configured with both hosts, finds the new primary; reads from the replica go
// on throughout; replication lag is visible while the primary is loaded (to
// the server and in the health checker's report); and
// nothing the client saw commit is missing on the new primary.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include <stratum/service.hpp>

#include "client_support.hpp"
#include "http_test_support.hpp"
#include "reliability/write_oracle.hpp"
#include "test_env.hpp"

using namespace stratum;
using namespace std::chrono_literals;

namespace {

std::string primary_port()
{
    return test::required_env("STRATUM_TEST_FAULT_PRIMARY_PORT");
}
std::string standby_port()
{
    return test::required_env("STRATUM_TEST_FAULT_STANDBY_PORT");
}

TEST(FailoverFault, PromotedStandbyTakesOverAndNothingCommittedIsLost)
{
    const std::string primary_admin = test::conninfo_at(primary_port(), "postgres");
    reliability::WriteOracle::create_tables_at(primary_admin);
    test::wait_for_replica(standby_port(), primary_port());

    PoolOptions o;
    o.primary = "host=127.0.0.1,127.0.0.1 port=" + primary_port() + "," + standby_port() +
                " user=stratum_app dbname=stratum_test connect_timeout=2"
                " options='-c synchronous_commit=on'";
    o.replicas.push_back(ReplicaOptions{.conninfo = test::conninfo_at(standby_port(), "stratum_app")});
    o.min_size = 2;
    o.max_size = 10;
    o.maintenance_interval = 100ms;
    o.reconnect_backoff_min = 10ms;
    o.reconnect_backoff_max = 200ms;
    o.acquire_timeout = 1s;
    Pool pool(o);

    // Replica reads and the primary's view of replication lag, all along.
    std::atomic<bool> stop{false}, primary_down{false};
    std::atomic<int> reads_ok{0}, reads_failed{0}, reads_while_down{0};
    std::atomic<long> max_lag_bytes{0}, max_health_lag_bytes{0};
    // What `stratum health` sees of the same pair: the standby as replica 0.
    HealthChecker health(Config::parse(
        "database:\n  postgres:\n"
        "    master: {host: 127.0.0.1, port: " + primary_port() + ", user: stratum_owner, dbname: stratum_test}\n"
        "    replicas:\n      - {host: 127.0.0.1, port: " + standby_port() + "}\n"
        "health: {timeout: 1s, max_replication_lag: 30s}\n",
        "failover.yaml", LoadOptions{.env = std::map<std::string, std::string>{}}));
    std::thread reader([&] {
        while (!stop) {
            try {
                pool.replica_query(test::acme, "SELECT count(*) FROM fault_ledger").value<long>();
                reads_ok++;
                reads_while_down += primary_down.load();
            } catch (const Error &e) {
                reads_failed++;
            }
            std::this_thread::sleep_for(2ms);
        }
    });
    std::thread lag_sampler([&] {
        while (!stop && !primary_down) {
            try {
                auto lag = reliability::column_of(
                    primary_admin, "SELECT coalesce(max(pg_wal_lsn_diff(pg_current_wal_insert_lsn(), "
                                   "replay_lsn)), 0)::bigint::text FROM pg_stat_replication");
                max_lag_bytes = std::max(max_lag_bytes.load(), std::stol(lag.at(0)));
            } catch (const Error &) {
            }
            const HealthReport report = health.check();
            if (const ComponentHealth *replica = report.find("postgres.replica.0");
                replica != nullptr && replica->postgres && !primary_down)
                max_health_lag_bytes = std::max(max_health_lag_bytes.load(),
                                                static_cast<long>(replica->postgres->lag_bytes.value_or(0)));
            std::this_thread::sleep_for(5ms);
        }
    });

    reliability::WriteOracle oracle;
    std::size_t committed_before = 0, committed_at_promotion = 0;
    oracle.run(
        pool, 4, 3s,
        [&] {
            std::this_thread::sleep_for(1500ms);
            committed_before = oracle.committed();
            primary_down = true;
            ASSERT_EQ(test::pg_ctl_of("STRATUM_TEST_PGCTL_FAULT_PRIMARY", "stop -m fast"), 0);
            std::this_thread::sleep_for(500ms);  // no primary: writes fail, replica reads go on
            ASSERT_EQ(test::pg_ctl_of("STRATUM_TEST_PGCTL_FAULT_STANDBY", "promote"), 0);
            committed_at_promotion = oracle.committed();
        },
        /*settle=*/2s);
    stop = true;
    reader.join();
    lag_sampler.join();

    const std::size_t after = oracle.committed() - committed_at_promotion;
    std::printf("failover: %zu commits before, %zu after promotion; replica reads %d ok (%d while the "
                "primary was down), %d failed; max replay lag seen %ld bytes (%ld in the health report)\n",
                committed_before, after, reads_ok.load(), reads_while_down.load(), reads_failed.load(),
                max_lag_bytes.load(), max_health_lag_bytes.load());
    EXPECT_GE(committed_before, 50u);
    EXPECT_GE(after, 50u) << "writes did not resume on the promoted standby";
    EXPECT_GE(reads_while_down.load(), 10) << "replica reads stopped with the primary";
    EXPECT_GT(max_lag_bytes.load(), 0) << "replication lag never showed";
    EXPECT_GT(max_health_lag_bytes.load(), 0) << "replication lag never showed in the health report";
    EXPECT_EQ(pool.query(test::acme, "SELECT inet_server_port()::text").value<std::string>(), standby_port());
    oracle.verify(test::conninfo_at(standby_port(), "postgres"));
    reliability::expect_pool_recovered(pool, test::conninfo_at(standby_port(), "postgres"), "stratum_test");
    // The harness stops every cluster it started on exit and counts a cluster
    // that is already down as a failure: the old primary runs again (alone on
    // its timeline; nothing uses the pair after this test).
    EXPECT_EQ(test::pg_ctl_of("STRATUM_TEST_PGCTL_FAULT_PRIMARY", "start"), 0);
}

}  // namespace
