// Load on the pool, bounded in time, results printed (make soak runs it, see
// scripts/soak.sh). Exits non-zero when a run saw an error or leaked a
// connection: these are soak checks as much as figures.
//
//   load_bench connections N                    N connections leased at once (N <= 1000)
//   load_bench clients THREADS POOL SECONDS     tenant transactions, acquire percentiles
//   load_bench sustained CLIENTS QPS SECONDS WINDOW
//                                               primary-key reads at a target rate,
//                                               percentiles per window of WINDOW seconds
//   load_bench exhaustion POOL SECONDS          demand 3x the pool, then 1/4 of it
//
// STRATUM_BENCH_CONNINFO: the application role's connection string;
// STRATUM_BENCH_ADMIN_CONNINFO: a superuser's (server-side counts);
// STRATUM_BENCH_ACCOUNTS: rows of tenant_accounts (aid 1..N, all tenant acme).
#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <stratum/stratum.hpp>

using namespace stratum;
using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

namespace {

const TenantId acme{"aaaaaaaa-0000-4000-8000-000000000001"};

std::string env(const char *name, const char *fallback)
{
    const char *value = std::getenv(name);
    return value != nullptr ? value : fallback;
}

std::string conninfo()
{
    return env("STRATUM_BENCH_CONNINFO", "user=stratum_app");
}

long accounts()
{
    return std::stol(env("STRATUM_BENCH_ACCOUNTS", "1000000"));
}

// Connections the application role has open, as the server counts them.
long server_backends()
{
    auto conn = Connection::open(env("STRATUM_BENCH_ADMIN_CONNINFO", "user=postgres dbname=postgres"),
                                 ConnectionOptions{}, Steady::now() + 10s);
    return conn->exec("SELECT count(*) FROM pg_stat_activity WHERE usename = 'stratum_app'")
        .value<long>();
}

double ms(double us)
{
    return us / 1000.0;
}

void print_acquire(const char *label, const LatencySummary &s)
{
    std::printf("  %-28s p50 %.3f ms  p95 %.3f ms  p99 %.3f ms  max %.3f ms  (%llu acquires)\n", label,
                ms(s.p50_us), ms(s.p95_us), ms(s.p99_us), ms(s.max_us),
                static_cast<unsigned long long>(s.count));
}

// Nothing leased, no more connections than allowed, client and server agree.
bool check_recovered(Pool &pool)
{
    PoolMetrics m = pool.metrics();
    const long backends = server_backends();
    std::printf("  after: in use %zu, open %zu (max %zu), server backends of the role %ld\n", m.in_use,
                m.total, m.max_size, backends);
    const bool ok = m.in_use == 0 && m.total <= m.max_size && backends <= static_cast<long>(m.max_size);
    if (!ok)
        std::printf("  LEAK: the pool did not return to normal\n");
    return ok;
}

int connections(std::size_t n)
{
    PoolOptions o;
    o.primary = conninfo();
    o.min_size = 0;
    o.max_size = n;
    o.acquire_timeout = 120s;
    o.max_concurrent_dials = 8;
    o.background_maintenance = false;
    Pool pool(o);

    std::mutex mutex;
    std::set<int> pids;
    std::atomic<int> errors{0};
    std::barrier all_leased(static_cast<std::ptrdiff_t>(n) + 1);
    std::barrier may_release(static_cast<std::ptrdiff_t>(n) + 1);
    const auto start = Steady::now();
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < n; i++)
        threads.emplace_back([&] {
            Lease lease;
            try {
                lease = pool.acquire();
                int pid = lease->exec("SELECT pg_backend_pid()").value<int>();
                std::lock_guard lock(mutex);
                pids.insert(pid);
            } catch (const std::exception &e) {
                if (errors++ == 0)
                    std::printf("  error: %s\n", e.what());
            }
            all_leased.arrive_and_wait();
            may_release.arrive_and_wait();
        });
    all_leased.arrive_and_wait();
    const double open_s = std::chrono::duration<double>(Steady::now() - start).count();
    const long backends = server_backends();
    PoolMetrics peak = pool.metrics();
    std::printf("connections: %zu leased at once in %.2f s; %zu distinct backends, %ld on the server, "
                "pool in use %zu, errors %d\n",
                n, open_s, pids.size(), backends, peak.in_use, errors.load());
    may_release.arrive_and_wait();
    for (auto &t : threads)
        t.join();

    // Second round: every connection is open and idle now.
    std::vector<std::thread> again;
    std::atomic<int> again_errors{0};
    for (std::size_t i = 0; i < n; i++)
        again.emplace_back([&] {
            try {
                pool.query(acme, "SELECT 1").value<int>();
            } catch (const std::exception &) {
                again_errors++;
            }
        });
    for (auto &t : again)
        t.join();
    print_acquire("acquire (both rounds)", pool.metrics().acquire);
    std::printf("  second round: %d errors, %llu connections created in all\n", again_errors.load(),
                static_cast<unsigned long long>(pool.metrics().created));
    const bool ok = check_recovered(pool);
    return errors == 0 && again_errors == 0 && pids.size() == n && ok ? 0 : 1;
}

int clients(int threads, std::size_t size, int seconds)
{
    PoolOptions o;
    o.primary = conninfo();
    o.min_size = size;
    o.max_size = std::max<std::size_t>(size, 10);
    o.acquire_timeout = 10s;
    Pool pool(o);
    while (pool.metrics().total < size)
        std::this_thread::sleep_for(10ms);
    std::atomic<bool> stop{false};
    std::atomic<long> done{0}, errors{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; t++)
        workers.emplace_back([&, t] {
            std::mt19937 random(t);
            std::uniform_int_distribution<long> aid(1, accounts());
            while (!stop) {
                try {
                    pool.with_tenant(acme, [&](Tx &tx) {
                        tx.exec("SELECT abalance FROM tenant_accounts WHERE aid = $1", aid(random));
                    });
                    done++;
                } catch (const std::exception &e) {
                    if (errors++ == 0)
                        std::printf("  error: %s\n", e.what());
                }
            }
        });
    std::this_thread::sleep_for(std::chrono::seconds(seconds));
    stop = true;
    for (auto &w : workers)
        w.join();
    PoolMetrics m = pool.metrics();
    std::printf("clients: %d threads on %zu connections for %d s: %.0f transactions/s, %ld errors, "
                "%llu timeouts\n",
                threads, size, seconds, static_cast<double>(done) / seconds, errors.load(),
                static_cast<unsigned long long>(m.timeouts));
    print_acquire("acquire", m.acquire);
    const bool ok = check_recovered(pool);
    return errors == 0 && ok ? 0 : 1;
}

int sustained(int clients, double target_qps, int seconds, int window)
{
    PoolOptions o;
    o.primary = conninfo();
    o.min_size = static_cast<std::size_t>(clients);
    o.max_size = std::max(clients, 10);
    o.acquire_timeout = 10s;
    Pool pool(o);
    while (pool.metrics().total < static_cast<std::size_t>(clients))
        std::this_thread::sleep_for(10ms);

    const int windows = (seconds + window - 1) / window;
    std::vector<std::unique_ptr<LatencyHistogram>> latency;
    std::vector<std::unique_ptr<std::atomic<long>>> window_errors;
    for (int i = 0; i < windows; i++) {
        latency.push_back(std::make_unique<LatencyHistogram>());
        window_errors.push_back(std::make_unique<std::atomic<long>>(0));
    }
    std::atomic<long> errors{0};
    const auto start = Steady::now();
    const auto end = start + std::chrono::seconds(seconds);
    // Each client sends on its own schedule, clients/target seconds apart;
    // behind schedule it sends at once (the rate is then the machine's maximum).
    const auto interval = std::chrono::duration_cast<Steady::duration>(
        std::chrono::duration<double>(static_cast<double>(clients) / target_qps));
    std::vector<std::thread> workers;
    for (int c = 0; c < clients; c++)
        workers.emplace_back([&, c] {
            std::mt19937 random(c);
            std::uniform_int_distribution<long> aid(1, accounts());
            auto next = start + interval * c / clients;
            for (;;) {
                auto now = Steady::now();
                if (now < next) {
                    std::this_thread::sleep_until(next);
                    now = Steady::now();
                }
                if (now >= end)
                    break;
                next += interval;
                const int w = std::min<int>(
                    windows - 1, static_cast<int>(std::chrono::duration<double>(now - start).count() / window));
                try {
                    pool.query(acme, "SELECT abalance FROM tenant_accounts WHERE aid = $1", aid(random))
                        .value<int>();
                    latency[w]->record(Steady::now() - now);
                } catch (const std::exception &e) {
                    if (errors++ == 0)
                        std::printf("  error: %s\n", e.what());
                    (*window_errors[w])++;
                }
            }
        });
    for (auto &w : workers)
        w.join();

    std::printf("sustained: %d clients, target %.0f queries/s, %d s, windows of %d s\n", clients, target_qps,
                seconds, window);
    std::uint64_t total = 0;
    for (int i = 0; i < windows; i++) {
        const LatencySummary s = latency[i]->summary();
        const int span = std::min(window, seconds - i * window);
        total += s.count;
        std::printf("  %4d-%4d s  %7.0f q/s  p50 %6.3f ms  p95 %6.3f ms  p99 %6.3f ms  max %7.3f ms  errors %ld\n",
                    i * window, i * window + span, static_cast<double>(s.count) / span, ms(s.p50_us),
                    ms(s.p95_us), ms(s.p99_us), ms(s.max_us), window_errors[i]->load());
    }
    std::printf("  overall: %.0f queries/s (%.0f%% of the target), %ld errors\n",
                static_cast<double>(total) / seconds, 100.0 * static_cast<double>(total) / seconds / target_qps,
                errors.load());
    const bool ok = check_recovered(pool);
    return errors == 0 && ok ? 0 : 1;
}

int exhaustion(std::size_t size, int seconds)
{
    PoolOptions o;
    o.primary = conninfo();
    o.min_size = 2;
    o.max_size = size;
    o.acquire_timeout = 100ms;
    o.idle_timeout = 1s;
    o.maintenance_interval = 100ms;
    Pool pool(o);
    auto phase = [&](const char *name, int threads, int hold_ms, int phase_seconds) {
        std::atomic<bool> stop{false};
        std::atomic<long> served{0}, exhausted{0}, errors{0};
        std::atomic<std::size_t> peak{0};
        LatencyHistogram acquire;
        std::vector<std::thread> workers;
        for (int t = 0; t < threads; t++)
            workers.emplace_back([&] {
                while (!stop) {
                    const auto t0 = Steady::now();
                    try {
                        Lease lease = pool.acquire(acme);
                        acquire.record(Steady::now() - t0);
                        Tx tx(*lease, acme);
                        tx.exec("SELECT pg_sleep($1::float8 / 1000)", hold_ms);
                        tx.commit();
                        served++;
                    } catch (const Timeout &) {
                        exhausted++;  // PoolExhausted, or a new connection still being opened
                    } catch (const std::exception &e) {
                        if (errors++ == 0)
                            std::printf("  error: %s\n", e.what());
                    }
                }
            });
        const auto until = Steady::now() + std::chrono::seconds(phase_seconds);
        while (Steady::now() < until) {
            peak = std::max(peak.load(), pool.metrics().total);
            std::this_thread::sleep_for(20ms);
        }
        stop = true;
        for (auto &w : workers)
            w.join();
        std::printf("  %-9s %3d callers: %6.0f served/s, %6ld timed out, %ld errors, peak %zu "
                    "connections\n",
                    name, threads, static_cast<double>(served) / phase_seconds, exhausted.load(),
                    errors.load(), peak.load());
        print_acquire("acquire (successful)", acquire.summary());
        return std::make_pair(exhausted.load(), errors.load());
    };
    // Three callers per connection, each holding it 50 ms: a caller's turn
    // comes after ~150 ms, past the 100 ms acquire timeout.
    std::printf("exhaustion: pool of %zu, acquire timeout 100 ms, each caller holds its connection 50 ms\n",
                size);
    const auto over = phase("overload", static_cast<int>(size * 3), 50, seconds / 2);
    const auto after = phase("after", static_cast<int>(std::max<std::size_t>(size / 4, 1)), 50, seconds / 2);
    std::this_thread::sleep_for(1500ms);  // idle connections above min_size expire
    pool.run_maintenance();
    const bool ok = check_recovered(pool);
    const bool shed = over.first > 0 && after.first == 0 && over.second == 0 && after.second == 0;
    if (!shed)
        std::printf("  FAILED: expected timeouts under overload and none after it\n");
    return ok && shed ? 0 : 1;
}

}  // namespace

int main(int argc, char **argv)
{
    const std::string mode = argc > 1 ? argv[1] : "";
    auto arg = [&](int i, long fallback) { return argc > i ? std::stol(argv[i]) : fallback; };
    try {
        if (mode == "connections")
            return connections(static_cast<std::size_t>(arg(2, 1000)));
        if (mode == "clients")
            return clients(static_cast<int>(arg(2, 100)), static_cast<std::size_t>(arg(3, 25)),
                           static_cast<int>(arg(4, 10)));
        if (mode == "sustained")
            return sustained(static_cast<int>(arg(2, 8)), static_cast<double>(arg(3, 10000)),
                             static_cast<int>(arg(4, 60)), static_cast<int>(arg(5, 5)));
        if (mode == "exhaustion")
            return exhaustion(static_cast<std::size_t>(arg(2, 20)), static_cast<int>(arg(3, 10)));
    } catch (const std::exception &e) {
        std::fprintf(stderr, "load_bench %s: %s\n", mode.c_str(), e.what());
        return 1;
    }
    std::fprintf(stderr, "usage: load_bench connections N | clients THREADS POOL SECONDS | "
                         "sustained CLIENTS QPS SECONDS WINDOW | exhaustion POOL SECONDS\n");
    return 2;
}
