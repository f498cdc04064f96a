// Pool sizing, timeouts, FIFO waiters, per-tenant limits, idle and lifetime
// expiry (manual clock), broken connections (pg_terminate_backend), tenant
// context never leaking between pool users, reconnect backoff and metrics.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <stratum/stratum.hpp>

#include "client_support.hpp"
#include "test_env.hpp"

using namespace stratum;
using namespace std::chrono_literals;

namespace {

const std::string db = "stratum_pool_test";

class PoolTest : public ::testing::Test {
protected:
    static void SetUpTestSuite()
    {
        test::recreate_database(db);
        test::create_tenant_table("notes", "id serial PRIMARY KEY, body text NOT NULL", db);
        test::admin_sql("GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO stratum_app", db);
    }
    // Options with an application_name of the test's own, to count its backends.
    PoolOptions options()
    {
        PoolOptions o = test::app_pool_options(db);
        o.connection.application_name = app_name();
        return o;
    }
    std::string app_name() const
    {
        return std::string("pool_test_") +
               ::testing::UnitTest::GetInstance()->current_test_info()->name();
    }
    int server_backends()
    {
        return std::stoi(test::admin_sql(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = '" + app_name() + "'"));
    }
    // Waits (bounded) until pred() holds.
    template <class P>
    static bool eventually(P pred, std::chrono::milliseconds limit = 5s)
    {
        const auto until = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < until) {
            if (pred())
                return true;
            std::this_thread::sleep_for(5ms);
        }
        return pred();
    }
};

TEST_F(PoolTest, OptionsAreValidated)
{
    auto field_of = [](PoolOptions o) {
        try {
            Pool pool(std::move(o));
        } catch (const ValidationError &e) {
            return e.field();
        }
        return std::string("(accepted)");
    };
    PoolOptions o = options();
    o.max_size = 0;
    EXPECT_EQ(field_of(o), "max_size");
    o = options();
    o.max_size = 1001;
    EXPECT_EQ(field_of(o), "max_size");
    o = options();
    o.min_size = 11;
    EXPECT_EQ(field_of(o), "min_size");
    o = options();
    o.primary = "";
    EXPECT_EQ(field_of(o), "primary");
    o = options();
    o.primary = "host=127.0.0.1 nonsense_option=1";
    EXPECT_EQ(field_of(o), "primary");
    o = options();
    o.primary = "postgresql://[::1";
    EXPECT_EQ(field_of(o), "primary");
    o = options();
    o.replicas = {ReplicaOptions{.conninfo = ""}};
    EXPECT_EQ(field_of(o), "replicas[0].conninfo");
    o = options();
    o.per_tenant_limit = 11;
    EXPECT_EQ(field_of(o), "per_tenant_limit");
    o = options();
    o.reconnect_backoff_max = 1ms;
    EXPECT_EQ(field_of(o), "reconnect_backoff_max");
    o = options();
    o.min_size = 2;
    o.max_idle = 1;  // min_size connections are kept open, idle or not
    EXPECT_EQ(field_of(o), "max_idle");
    o = options();
    o.min_size = 0;
    o.max_size = 1;  // a CLI, a test, a sidecar
    EXPECT_EQ(field_of(o), "(accepted)");
    EXPECT_EQ(field_of(options()), "(accepted)");
}

TEST_F(PoolTest, APoolOfOneConnection)
{
    PoolOptions o = options();
    o.min_size = 0;
    o.max_size = 1;
    o.acquire_timeout = 200ms;
    Pool pool(o);
    EXPECT_EQ(pool.query(test::acme, "SELECT 1").value<int>(), 1);
    {
        Lease held = pool.acquire();
        EXPECT_THROW(pool.acquire(), PoolExhausted);
    }
    EXPECT_EQ(pool.with_tenant(test::acme, [](Tx &tx) { return tx.exec("SELECT 2").value<int>(); }), 2);
    EXPECT_EQ(pool.metrics().created, 1u);
    EXPECT_EQ(server_backends(), 1);
}

// max_idle is a cap, as database/sql's MaxIdleConns: connections returned
// while that many are idle are closed, and nothing is opened to reach it.
TEST_F(PoolTest, MaxIdleCapsTheIdleConnections)
{
    PoolOptions o = options();
    o.min_size = 0;
    o.max_idle = 2;
    Pool pool(o);
    pool.run_maintenance();
    EXPECT_EQ(pool.metrics().total, 0u);  // a cap, not a minimum
    {
        std::vector<Lease> leases;
        for (int i = 0; i < 5; i++)
            leases.push_back(pool.acquire());
        EXPECT_EQ(pool.metrics().total, 5u);
    }
    PoolMetrics m = pool.metrics();
    EXPECT_EQ(m.idle, 2u);
    EXPECT_EQ(m.total, 2u);
    EXPECT_EQ(m.closed, 3u);
    EXPECT_TRUE(eventually([&] { return server_backends() == 2; })) << server_backends();
    // The kept ones are reused.
    for (int i = 0; i < 3; i++)
        pool.query(test::acme, "SELECT 1");
    EXPECT_EQ(pool.metrics().created, 5u);
    pool.run_maintenance();
    EXPECT_EQ(pool.metrics().idle, 2u);
}

TEST_F(PoolTest, MinSizeIsKeptOpenAndMaxSizeIsNeverExceeded)
{
    PoolOptions o = options();
    o.min_size = 3;
    Pool pool(o);
    EXPECT_EQ(pool.metrics().total, 0u);  // no thread: nothing opened yet
    pool.run_maintenance();
    EXPECT_EQ(pool.metrics().total, 3u);
    EXPECT_EQ(pool.metrics().idle, 3u);
    EXPECT_EQ(server_backends(), 3);

    std::vector<Lease> leases;
    for (int i = 0; i < 10; i++)
        leases.push_back(pool.acquire());
    PoolMetrics m = pool.metrics();
    EXPECT_EQ(m.total, 10u);
    EXPECT_EQ(m.in_use, 10u);
    EXPECT_EQ(m.created, 10u);
    EXPECT_EQ(server_backends(), 10);
    leases.clear();
    EXPECT_EQ(pool.metrics().idle, 10u);
    EXPECT_EQ(pool.metrics().in_use, 0u);
}

TEST_F(PoolTest, ExhaustionTimesOutNamingSizeWaitersAndHolder)
{
    PoolOptions o = options();
    o.acquire_timeout = 300ms;
    Pool pool(o);
    std::vector<Lease> leases;
    for (int i = 0; i < 10; i++)
        leases.push_back(pool.acquire());
    std::this_thread::sleep_for(100ms);
    const auto started = std::chrono::steady_clock::now();
    try {
        pool.acquire();
        FAIL() << "an 11th connection must not be handed out";
    } catch (const PoolExhausted &e) {
        const auto waited = std::chrono::steady_clock::now() - started;
        EXPECT_GE(waited, 290ms);
        EXPECT_LT(waited, 3s);
        EXPECT_EQ(e.pool_size(), 10u);
        EXPECT_GE(e.longest_holder_age(), 350ms);
        std::string text = e.what();
        EXPECT_NE(text.find("all 10 connections in use"), std::string::npos) << text;
        EXPECT_NE(text.find("waiters"), std::string::npos) << text;
        EXPECT_NE(text.find("longest holder"), std::string::npos) << text;
    }
    EXPECT_EQ(pool.metrics().timeouts, 1u);
    EXPECT_EQ(pool.metrics().waiters, 0u);
    // A Timeout is what a caller catches generically.
    EXPECT_THROW(pool.acquire(), Timeout);
}

TEST_F(PoolTest, WaitersAreServedInArrivalOrder)
{
    Pool pool(options());
    std::vector<Lease> leases;
    for (int i = 0; i < 10; i++)
        leases.push_back(pool.acquire());

    std::mutex mutex;
    std::vector<int> served;
    std::vector<std::thread> threads;
    std::atomic<bool> finish{false};
    for (int i = 0; i < 6; i++) {
        threads.emplace_back([&, i] {
            Lease lease = pool.acquire();
            {
                std::lock_guard lock(mutex);
                served.push_back(i);
            }
            while (!finish)  // hold it: each connection we free serves exactly one waiter
                std::this_thread::sleep_for(1ms);
        });
        // The next thread arrives only once this one is queued.
        ASSERT_TRUE(eventually([&] { return pool.metrics().waiters == static_cast<std::size_t>(i + 1); }));
    }
    // Free one connection at a time: each goes to the longest waiter.
    for (int i = 0; i < 6; i++) {
        leases.pop_back();
        ASSERT_TRUE(eventually([&] {
            std::lock_guard lock(mutex);
            return served.size() == static_cast<std::size_t>(i + 1);
        }));
    }
    finish = true;
    for (auto &t : threads)
        t.join();
    EXPECT_EQ(served, (std::vector<int>{0, 1, 2, 3, 4, 5}));
}

TEST_F(PoolTest, PerTenantLimitKeepsANoisyTenantFromTakingThePool)
{
    PoolOptions o = options();
    o.per_tenant_limit = 2;
    o.acquire_timeout = 200ms;
    Pool pool(o);
    Lease a1 = pool.acquire(test::acme);
    Lease a2 = pool.acquire(test::acme);
    EXPECT_THROW(pool.acquire(test::acme), PoolExhausted);
    // Other tenants (and untenanted work) are not held back.
    Lease g1 = pool.acquire(test::globex);
    Lease g2 = pool.acquire(test::globex);
    Lease plain = pool.acquire();
    EXPECT_EQ(pool.metrics().in_use, 5u);

    // A waiting acme gets the connection acme gives back.
    std::atomic<bool> got{false};
    std::thread waiter([&] {
        Lease third = pool.acquire(test::acme);
        got = true;
    });
    ASSERT_TRUE(eventually([&] { return pool.metrics().waiters == 1; }));
    EXPECT_FALSE(got.load());
    a1.release();
    waiter.join();
    EXPECT_TRUE(got.load());
    EXPECT_GE(pool.metrics().tenant_waits, 1u);
    // with_tenant and query count against the limit too.
    Lease a3 = pool.acquire(test::acme);
    EXPECT_THROW(pool.query(test::acme, "SELECT 1"), PoolExhausted);
    EXPECT_THROW(pool.with_tenant(test::acme, [](Tx &tx) { tx.exec("SELECT 1"); }), PoolExhausted);
    a2.release();
    EXPECT_EQ(pool.query(test::acme, "SELECT 1").value<int>(), 1);
}

TEST_F(PoolTest, IdleConnectionsExpireAboveMinSize)
{
    auto clock = std::make_shared<ManualClock>();
    PoolOptions o = options();
    o.clock = clock;
    o.min_size = 1;
    o.idle_timeout = 30min;
    Pool pool(o);
    {
        std::vector<Lease> leases;
        for (int i = 0; i < 4; i++)
            leases.push_back(pool.acquire());
    }
    EXPECT_EQ(pool.metrics().idle, 4u);
    clock->advance(29min);
    pool.run_maintenance();
    EXPECT_EQ(pool.metrics().idle, 4u);
    clock->advance(2min);
    pool.run_maintenance();
    EXPECT_EQ(pool.metrics().idle, 1u);  // min_size stays
    EXPECT_EQ(pool.metrics().closed, 3u);
    EXPECT_TRUE(eventually([&] { return server_backends() == 1; }));
    // The survivor still works.
    EXPECT_EQ(pool.query(test::acme, "SELECT 2").value<int>(), 2);
}

TEST_F(PoolTest, LifetimeExpiryIsJitteredAndNeverClosesAConnectionInUse)
{
    auto clock = std::make_shared<ManualClock>();
    PoolOptions o = options();
    o.clock = clock;
    o.max_size = 20;
    o.max_lifetime = 60min;
    o.max_lifetime_jitter = 0.1;  // lifetimes between 54 and 60 minutes
    o.idle_timeout = 0ms;
    o.health_check_interval = 0ms;
    Pool pool(o);
    Lease held;
    int held_pid = 0;
    {
        std::vector<Lease> leases;
        for (int i = 0; i < 20; i++)
            leases.push_back(pool.acquire());
        held = std::move(leases.back());
        leases.pop_back();
        held_pid = held->backend_pid();
    }
    EXPECT_EQ(pool.metrics().idle, 19u);
    clock->advance(57min);
    pool.run_maintenance();
    const std::size_t closed = pool.metrics().closed;
    EXPECT_GT(closed, 0u) << "jitter should expire some connections by 57 minutes";
    EXPECT_LT(closed, 19u) << "jitter should keep some connections past 57 minutes";

    clock->advance(4min);
    pool.run_maintenance();
    EXPECT_EQ(pool.metrics().closed, 19u);
    // The one in use was not touched...
    EXPECT_EQ(held->exec("SELECT pg_backend_pid()").value<int>(), held_pid);
    // ...and is rotated when returned.
    held.release();
    EXPECT_EQ(pool.metrics().closed, 20u);
    Lease fresh = pool.acquire();
    EXPECT_NE(fresh->backend_pid(), held_pid);
}

TEST_F(PoolTest, ABackendKilledMidTransactionIsReplaced)
{
    PoolOptions o = options();
    Pool pool(o);
    pool.query(test::acme, "SELECT 1");
    // Lost before COMMIT: surely not committed, so with_tenant runs it again
    // on a new connection.
    int attempts = 0;
    pool.with_tenant(test::acme, [&](Tx &tx) {
        if (++attempts > 1) {
            tx.exec("INSERT INTO notes (body) VALUES ('retried')");
            return;
        }
        tx.exec("INSERT INTO notes (body) VALUES ('lost')");
        test::admin_sql("SELECT pg_terminate_backend(" + std::to_string(tx.connection().backend_pid()) + ")");
        try {
            tx.exec("INSERT INTO notes (body) VALUES ('never')");
            ADD_FAILURE() << "the transaction's connection was terminated";
        } catch (const ConnectionLost &e) {
            EXPECT_TRUE(e.sqlstate() == "57P01" || e.sqlstate().starts_with("08")) << e.what();
            EXPECT_TRUE(e.definitely_not_committed()) << "COMMIT was never sent";
            throw;
        }
    });
    EXPECT_EQ(attempts, 2);
    PoolMetrics m = pool.metrics();
    EXPECT_GE(m.broken, 1u);
    EXPECT_EQ(m.in_use, 0u);
    EXPECT_EQ(m.retries, 1u);
    // The first attempt never committed; the second did, once.
    EXPECT_EQ(pool.query(test::acme, "SELECT count(*)::int FROM notes WHERE body IN ('lost', 'never')").value<int>(), 0);
    EXPECT_EQ(pool.query(test::acme, "SELECT count(*)::int FROM notes WHERE body = 'retried'").value<int>(), 1);
}

TEST_F(PoolTest, AnIdleConnectionThatDiedIsNeverHandedOut)
{
    PoolOptions o = options();
    o.validate_after_idle = 0ms;  // check every time
    Pool pool(o);
    int pid = 0;
    {
        Lease lease = pool.acquire();
        pid = lease->backend_pid();
    }
    test::admin_sql("SELECT pg_terminate_backend(" + std::to_string(pid) + ")");
    ASSERT_TRUE(eventually([&] { return server_backends() == 0; }));
    // No error for the caller: the dead one is dropped and another opened.
    Lease lease = pool.acquire();
    EXPECT_NE(lease->backend_pid(), pid);
    EXPECT_EQ(lease->exec("SELECT 1").value<int>(), 1);
    EXPECT_EQ(pool.metrics().broken, 1u);
}

TEST_F(PoolTest, HealthChecksFindBrokenIdleConnections)
{
    auto clock = std::make_shared<ManualClock>();
    PoolOptions o = options();
    o.clock = clock;
    o.min_size = 2;
    o.health_check_interval = 30s;
    Pool pool(o);
    pool.run_maintenance();
    ASSERT_EQ(pool.metrics().idle, 2u);
    clock->advance(31s);
    pool.run_maintenance();
    EXPECT_EQ(pool.metrics().endpoints[0].health_checks, 2u);
    EXPECT_EQ(pool.metrics().idle, 2u);

    test::admin_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '" +
                    app_name() + "'");
    ASSERT_TRUE(eventually([&] { return server_backends() == 0; }));
    clock->advance(31s);
    pool.run_maintenance();  // finds them dead, evicts, refills to min_size
    PoolMetrics m = pool.metrics();
    EXPECT_GE(m.broken, 1u);
    EXPECT_EQ(m.evictions, 1u);
    EXPECT_EQ(m.idle, 2u);
    EXPECT_EQ(server_backends(), 2);
}

TEST_F(PoolTest, TenantContextNeverLeaksBetweenPoolUsers)
{
    Pool pool(options());
    pool.with_tenant(test::acme, [](Tx &tx) { tx.exec("INSERT INTO notes (body) VALUES ('acme')"); });
    pool.with_tenant(test::globex, [](Tx &tx) { tx.exec("INSERT INTO notes (body) VALUES ('globex')"); });

    // A session-level SET by a careless user does not carry into later transactions either.
    {
        Lease lease = pool.acquire();
        lease->exec("SET stratum.tenant_id = 'aaaaaaaa-0000-4000-8000-000000000001'");
    }

    std::atomic<int> leaks{0}, runs{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; t++) {
        threads.emplace_back([&, t] {
            std::mt19937 random(t);
            for (int i = 0; i < 150; i++) {
                const TenantId &tenant = random() % 2 ? test::acme : test::globex;
                int pid = 0;
                leaks += test::tenant_leak_probe(pool, tenant, static_cast<int>(random() % 3), pid);
                runs++;
            }
        });
    }
    for (auto &t : threads)
        t.join();
    EXPECT_EQ(runs.load(), 8 * 150);
    EXPECT_EQ(leaks.load(), 0);
}

TEST_F(PoolTest, ServerDownFailsWithCannotConnectAndBacksOff)
{
    PoolOptions o = options();
    // A port nothing listens on (the test server's port + 1 is not ours to assume: ask for one).
    o.primary = "host=127.0.0.1 port=1 dbname=" + db + " user=stratum_app";
    o.acquire_timeout = 600ms;
    o.reconnect_backoff_min = 50ms;
    Pool pool(o);
    const auto started = std::chrono::steady_clock::now();
    try {
        pool.acquire();
        FAIL();
    } catch (const CannotConnect &e) {
        EXPECT_NE(std::string(e.what()).find("127.0.0.1:1"), std::string::npos) << e.what();
    }
    EXPECT_GE(std::chrono::steady_clock::now() - started, 550ms);
    EndpointMetrics e = pool.metrics().endpoints[0];
    EXPECT_FALSE(e.healthy);
    // 25-50, 50-100, 100-200, 200-400 ms apart: a handful of dials, not a spin.
    EXPECT_GE(e.failed, 2u);
    EXPECT_LE(e.failed, 6u);
    EXPECT_EQ(e.consecutive_failures, e.failed);
    EXPECT_FALSE(e.last_error.empty());
}

TEST_F(PoolTest, DialsAreCappedInNumber)
{
    PoolOptions o = options();
    o.max_size = 20;
    o.max_concurrent_dials = 2;
    Pool pool(o);
    std::atomic<bool> done{false};
    std::size_t peak = 0;
    std::thread sampler([&] {
        while (!done) {
            peak = std::max(peak, pool.metrics().endpoints[0].dialing);
            std::this_thread::yield();
        }
    });
    std::vector<std::thread> threads;
    std::atomic<int> ok{0};
    for (int i = 0; i < 20; i++)
        threads.emplace_back([&] {
            Lease lease = pool.acquire();
            ok += lease->exec("SELECT 1").value<int>();
            std::this_thread::sleep_for(50ms);
        });
    for (auto &t : threads)
        t.join();
    done = true;
    sampler.join();
    EXPECT_EQ(ok.load(), 20);
    EXPECT_LE(peak, 2u);
    EXPECT_GE(peak, 1u);
}

TEST_F(PoolTest, MultiHostConnectionStringsAndUrls)
{
    const std::string port = test::required_env("STRATUM_TEST_PGPORT");
    PoolOptions o = options();
    // The first host refuses; libpq moves on to the second, which is read-write.
    o.primary = "host=127.0.0.1,127.0.0.1 port=1," + port + " dbname=" + db + " user=stratum_app";
    Pool pool(o);
    EXPECT_EQ(pool.query(test::acme, "SELECT inet_server_port()").value<int>(), std::stoi(port));
    EXPECT_NE(pool.metrics().endpoints[0].name.find("127.0.0.1,127.0.0.1"), std::string::npos);

    PoolOptions url = options();
    url.primary = "postgresql://stratum_app@127.0.0.1:" + port + "/" + db + "?connect_timeout=5";
    Pool from_url(url);
    EXPECT_EQ(from_url.query(test::globex, "SELECT current_user::text").value<std::string>(), "stratum_app");
}

TEST_F(PoolTest, MetricsSnapshot)
{
    Pool pool(options());
    for (int i = 0; i < 20; i++)
        pool.query(test::acme, "SELECT 1");
    {
        Lease a = pool.acquire();
        Lease b = pool.acquire();
        PoolMetrics busy = pool.metrics();
        EXPECT_EQ(busy.in_use, 2u);
        EXPECT_EQ(busy.total, 2u);
    }
    PoolMetrics m = pool.metrics();
    EXPECT_EQ(m.acquires, 22u);
    EXPECT_EQ(m.created, 2u);
    EXPECT_EQ(m.reused, 20u);
    EXPECT_NEAR(m.reuse_rate, 20.0 / 22.0, 1e-9);
    EXPECT_EQ(m.acquire.count, 22u);
    EXPECT_GT(m.acquire.p50_us, 0);
    EXPECT_LE(m.acquire.p50_us, m.acquire.p95_us);
    EXPECT_LE(m.acquire.p95_us, m.acquire.p99_us);
    EXPECT_LE(m.acquire.p99_us, m.acquire.max_us);
    EXPECT_EQ(m.idle, 2u);
    EXPECT_EQ(m.waiters, 0u);
    EXPECT_EQ(m.timeouts, 0u);
    EXPECT_GE(m.round_trips, 20u);
    ASSERT_EQ(m.endpoints.size(), 1u);
    EXPECT_EQ(m.endpoints[0].role, "primary");
    EXPECT_TRUE(m.endpoints[0].healthy);
    // Never a password in the name.
    EXPECT_EQ(m.endpoints[0].name.find("password"), std::string::npos);
}

// More threads than cores fighting over the endpoint's lock (acquire and
// release do nothing else here, so it is contended most of the time, and
// taken spinning): no acquire is lost or counted twice, no connection is
// handed to two threads at once, and every one comes back.
TEST_F(PoolTest, ContendedAcquireAndReleaseKeepTheCounts)
{
    PoolOptions o = options();
    o.min_size = 0;
    o.max_size = 4;
    o.background_maintenance = false;
    Pool pool(o);
    constexpr int threads = 16, rounds = 2000;
    std::mutex held_mutex;
    std::set<const void *> held;  // connections leased right now
    std::atomic<int> doubly_leased{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; t++) {
        workers.emplace_back([&] {
            for (int i = 0; i < rounds; i++) {
                Lease lease = pool.acquire();
                const void *conn = &*lease;
                {
                    std::lock_guard lock(held_mutex);
                    doubly_leased += !held.insert(conn).second;
                }
                std::lock_guard lock(held_mutex);
                held.erase(conn);
            }
        });
    }
    for (auto &w : workers)
        w.join();
    EXPECT_EQ(doubly_leased.load(), 0);
    PoolMetrics m = pool.metrics();
    EXPECT_EQ(m.acquires, static_cast<std::uint64_t>(threads) * rounds);
    EXPECT_EQ(m.reused + m.created, m.acquires);
    EXPECT_LE(m.total, 4u);
    EXPECT_EQ(m.in_use, 0u);
    EXPECT_EQ(m.idle, m.total);
    EXPECT_EQ(m.waiters, 0u);
    EXPECT_EQ(m.timeouts, 0u);
}

TEST_F(PoolTest, DiscardClosesInsteadOfReturning)
{
    Pool pool(options());
    int pid = 0;
    {
        Lease lease = pool.acquire();
        pid = lease->backend_pid();
        lease->exec("SET work_mem = '1MB'");
        lease.discard();
        EXPECT_FALSE(lease);
    }
    EXPECT_EQ(pool.metrics().closed, 1u);
    EXPECT_NE(pool.acquire()->backend_pid(), pid);
}

// A thread gets back the connection it returned, even when another thread
// returned one after it (plain LIFO would hand out that one); a thread
// whose own connection is leased takes the most recently returned one.
TEST_F(PoolTest, AThreadGetsBackTheConnectionItReturned)
{
    PoolOptions o = options();
    o.max_size = 2;
    Pool pool(o);
    Lease a = pool.acquire(), b = pool.acquire();
    const int a_pid = a->backend_pid(), b_pid = b->backend_pid();
    ASSERT_NE(a_pid, b_pid);
    a.release();                                // a: this thread's
    std::thread([&] { b.release(); }).join();   // b: the other thread's, returned last
    {
        Lease again = pool.acquire();
        EXPECT_EQ(again->backend_pid(), a_pid);  // not b, the most recent
    }
    int helper_got = 0;
    std::thread([&] { helper_got = pool.acquire()->backend_pid(); }).join();
    EXPECT_EQ(helper_got, b_pid);  // its own, though a was returned after it
    Lease own = pool.acquire();
    EXPECT_EQ(own->backend_pid(), a_pid);
    EXPECT_EQ(pool.acquire()->backend_pid(), b_pid);  // own one leased: the other
}

TEST(Histogram, QuantilesAreWithinAFewPercent)
{
    LatencyHistogram h;
    for (int i = 1; i <= 10000; i++)
        h.record(std::chrono::nanoseconds(i * 100));  // 100 ns .. 1 ms, uniform
    LatencySummary s = h.summary();
    EXPECT_EQ(s.count, 10000u);
    EXPECT_NEAR(s.p50_us, 500, 500 * 0.04);
    EXPECT_NEAR(s.p95_us, 950, 950 * 0.04);
    EXPECT_NEAR(s.p99_us, 990, 990 * 0.04);
    EXPECT_DOUBLE_EQ(s.max_us, 1000);
    for (std::uint64_t v : {0ull, 63ull, 64ull, 65ull, 1000ull, 123456789ull}) {
        const double middle = LatencyHistogram::bucket_middle_ns(LatencyHistogram::bucket_of(v));
        EXPECT_NEAR(middle, static_cast<double>(v), std::max(1.0, static_cast<double>(v) * 0.035)) << v;
    }
}

}  // namespace
