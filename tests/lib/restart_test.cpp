// Server restarts (its own binary: it stops and starts the shared test
// cluster). The pool drops dead connections at the first sign, reconnects
// with backoff and capped dials, and recovers without help.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include <libpq-fe.h>

#include <stratum/stratum.hpp>

#include "client_support.hpp"
#include "test_env.hpp"

using namespace stratum;
using namespace std::chrono_literals;

namespace {

const std::string db = "stratum_restart_test";

bool server_up()
{
    PGPing ping = PQping(test::superuser_conninfo("postgres").c_str());
    return ping == PQPING_OK;
}

class RestartTest : public ::testing::Test {
protected:
    static void SetUpTestSuite()
    {
        test::recreate_database(db);
        test::create_tenant_table("events", "id serial PRIMARY KEY, n int NOT NULL", db);
        test::admin_sql("GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO stratum_app", db);
    }
    // Whatever happened, leave the cluster running for the tests after us.
    void TearDown() override
    {
        if (!server_up())
            test::pg_ctl("start");
    }
    static PoolOptions options()
    {
        PoolOptions o = test::app_pool_options(db, /*background=*/true);
        o.min_size = 4;
        o.maintenance_interval = 100ms;
        o.reconnect_backoff_min = 20ms;
        o.reconnect_backoff_max = 500ms;
        o.acquire_timeout = 15s;
        return o;
    }
    template <class P>
    static bool eventually(P pred, std::chrono::milliseconds limit = 15s)
    {
        const auto until = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < until) {
            if (pred())
                return true;
            std::this_thread::sleep_for(20ms);
        }
        return pred();
    }
};

TEST_F(RestartTest, IdleConnectionsAreReplacedAfterARestart)
{
    Pool pool(options());
    ASSERT_TRUE(eventually([&] { return pool.metrics().idle == 4; }));
    std::set<int> before;
    {
        std::vector<Lease> leases;
        for (int i = 0; i < 4; i++) {
            leases.push_back(pool.acquire());
            before.insert(leases.back()->backend_pid());
        }
    }
    ASSERT_EQ(test::pg_ctl("restart -m fast"), 0);
    std::this_thread::sleep_for(600ms);  // longer than validate_after_idle

    // The dead ones are found before they are handed out: no error reaches the caller.
    for (int i = 0; i < 10; i++)
        EXPECT_EQ(pool.query(test::acme, "SELECT $1::int", i).value<int>(), i);
    PoolMetrics m = pool.metrics();
    EXPECT_GE(m.evictions, 1u);
    EXPECT_GE(m.broken, 1u);
    // All connections are new: one restart sign dropped every old one at once.
    std::vector<Lease> leases;
    for (int i = 0; i < 4; i++) {
        leases.push_back(pool.acquire());
        EXPECT_EQ(before.count(leases.back()->backend_pid()), 0u);
    }
}

TEST_F(RestartTest, RecoversUnderLoadWithBackoffAndCappedDials)
{
    PoolOptions o = options();
    o.max_concurrent_dials = 2;
    Pool pool(o);
    std::atomic<bool> stop{false}, restarted{false};
    std::atomic<int> ok_after{0}, unexpected{0}, lost{0};
    std::atomic<std::size_t> peak_dialing{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; t++) {
        threads.emplace_back([&, t] {
            while (!stop) {
                try {
                    pool.with_tenant(t % 2 ? test::acme : test::globex, [&](Tx &tx) {
                        tx.exec("INSERT INTO events (n) VALUES ($1)", t);
                    });
                    if (restarted)
                        ok_after++;
                } catch (const ConnectionLost &) {
                    lost++;  // in flight when the server went away: expected
                } catch (const std::exception &e) {
                    unexpected++;
                    ADD_FAILURE() << "unexpected error during restart: " << e.what();
                }
            }
        });
    }
    std::thread sampler([&] {
        while (!stop) {
            std::size_t dialing = pool.metrics().endpoints[0].dialing;
            if (dialing > peak_dialing)
                peak_dialing = dialing;
            std::this_thread::sleep_for(1ms);
        }
    });
    std::this_thread::sleep_for(300ms);
    ASSERT_EQ(test::pg_ctl("stop -m fast"), 0);
    std::this_thread::sleep_for(1500ms);  // down: every dial fails and backs off
    const std::uint64_t failed_while_down = pool.metrics().failed;
    ASSERT_EQ(test::pg_ctl("start"), 0);
    restarted = true;
    EXPECT_TRUE(eventually([&] { return ok_after.load() >= 50; })) << "the pool did not recover";
    stop = true;
    for (auto &t : threads)
        t.join();
    sampler.join();

    PoolMetrics m = pool.metrics();
    EXPECT_EQ(unexpected.load(), 0);
    EXPECT_GE(failed_while_down, 1u);
    // 8 busy threads against a dead server for 1.5 s: backoff keeps dials to a handful per 100 ms.
    EXPECT_LE(failed_while_down, 60u);
    EXPECT_LE(peak_dialing.load(), 2u);
    EXPECT_TRUE(m.endpoints[0].healthy);
    EXPECT_EQ(m.endpoints[0].consecutive_failures, 0u);
    EXPECT_GE(m.evictions, 1u);
}

}  // namespace
