// Fault: more demand than connections, then the demand drops. Callers beyond
// the pool's capacity get an AcquireTimeout (PoolExhausted, or a new
// connection still being opened) after the acquire timeout (never a hang,
// never an extra connection), and once demand falls the pool serves
// everyone again with nothing leaked, on the client or on the server.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include <stratum/stratum.hpp>

#include "client_support.hpp"
#include "socket_support.hpp"
#include "reliability/write_oracle.hpp"
#include "test_env.hpp"

using namespace stratum;
using namespace std::chrono_literals;

namespace {

const std::string db = "stratum_pool_exhaustion_test";

TEST(PoolExhaustionFault, OverloadThenRecovery)
{
    test::recreate_database(db);
    PoolOptions o = test::app_pool_options(db, /*background=*/true);
    o.min_size = 2;
    o.max_size = 10;
    o.acquire_timeout = 100ms;
    o.idle_timeout = 300ms;  // back down to min_size once the burst is over
    o.maintenance_interval = 50ms;
    Pool pool(o);

    // Phase 1: 40 callers, each holding a connection for 50 ms: a caller would
    // wait about 4 holds for its turn, twice the acquire timeout.
    std::atomic<int> ok{0}, exhausted{0}, other{0};
    std::atomic<std::size_t> peak_total{0}, peak_backends{0};
    auto hammer = [&](int threads, std::chrono::milliseconds hold, std::chrono::milliseconds duration) {
        std::atomic<bool> stop{false};
        std::vector<std::thread> pool_threads;
        for (int t = 0; t < threads; t++)
            pool_threads.emplace_back([&, t] {
                while (!stop) {
                    try {
                        pool.with_tenant(t % 2 ? test::acme : test::globex, [&](Tx &tx) {
                            tx.exec("SELECT pg_sleep($1::float8 / 1000)", static_cast<int>(hold.count()));
                        });
                        ok++;
                    } catch (const PoolExhausted &e) {
                        exhausted++;
                        EXPECT_EQ(e.pool_size(), 10u);
                    } catch (const AcquireTimeout &) {
                        // The pool was still growing and the caller's new
                        // connection took longer than the acquire timeout to
                        // open (a loaded 2-core CI machine): the same refusal.
                        exhausted++;
                    } catch (const std::exception &e) {
                        other++;
                        ADD_FAILURE() << e.what();
                    }
                }
            });
        const auto until = std::chrono::steady_clock::now() + duration;
        while (std::chrono::steady_clock::now() < until) {
            peak_total = std::max(peak_total.load(), pool.metrics().total);
            peak_backends = std::max<std::size_t>(peak_backends.load(), test::backend_count("stratum_app", db));
            std::this_thread::sleep_for(50ms);
        }
        stop = true;
        for (auto &t : pool_threads)
            t.join();
    };
    hammer(40, 50ms, 2s);
    const int overload_ok = ok, overload_exhausted = exhausted;
    std::printf("overload: %d served, %d PoolExhausted, peak %zu connections (%zu on the server)\n",
                overload_ok, overload_exhausted, peak_total.load(), peak_backends.load());
    EXPECT_GE(overload_exhausted, 1) << "demand never exceeded the pool";
    EXPECT_GE(overload_ok, 100);
    EXPECT_LE(peak_total.load(), 10u);
    EXPECT_LE(peak_backends.load(), 10u);
    EXPECT_EQ(pool.metrics().in_use, 0u);

    // Phase 2: demand drops to 3 callers: nobody waits out the timeout.
    ok = 0;
    exhausted = 0;
    hammer(3, 5ms, 1s);
    std::printf("after the drop: %d served, %d PoolExhausted\n", ok.load(), exhausted.load());
    EXPECT_EQ(exhausted.load(), 0);
    EXPECT_GE(ok.load(), 50);
    EXPECT_EQ(other.load(), 0);

    // Idle connections above min_size are closed again.
    for (int i = 0; i < 50 && pool.metrics().total > o.min_size; i++)
        std::this_thread::sleep_for(50ms);
    EXPECT_LE(pool.metrics().total, o.min_size + 1);
    reliability::expect_pool_recovered(pool, test::superuser_conninfo("postgres"), db);
}

// Found by the exhaustion soak: a caller whose acquire timeout ran out while
// its new connection was still being opened got CannotConnect ("backing off
// after failed attempts") though no dial had failed; under load that looked
// like an outage. It is a Timeout, counted as one.
TEST(PoolExhaustionFault, DialCutShortByTheAcquireTimeoutIsATimeout)
{
    test::SilentPort server;  // accepts, never answers: dials are slow, none fails
    PoolOptions o;
    o.primary = "host=127.0.0.1 port=" + std::to_string(server.port()) + " user=stratum_app dbname=x";
    o.min_size = 0;
    o.max_size = 10;
    o.background_maintenance = false;
    o.connect_timeout = 5s;
    o.acquire_timeout = 200ms;
    Pool pool(o);
    const auto started = std::chrono::steady_clock::now();
    try {
        pool.acquire();
        ADD_FAILURE() << "acquired a connection from a server that never answers";
    } catch (const CannotConnect &e) {
        ADD_FAILURE() << "CannotConnect although no dial failed: " << e.what();
    } catch (const Timeout &e) {
        EXPECT_NE(std::string(e.what()).find("being opened"), std::string::npos) << e.what();
    }
    EXPECT_LT(std::chrono::steady_clock::now() - started, 2s) << "waited past the acquire timeout";
    EXPECT_EQ(pool.metrics().timeouts, 1u);
    EXPECT_EQ(pool.metrics().failed, 0u);
}

}  // namespace
