// Pool acquire/release cost: uncontended (against a bare mutex + vector, the
// floor) and 100 threads on 25 connections (against a textbook mutex +
// condition_variable pool), with FIFO order measured. Run by bench/pool.sh.
//
//   pool_bench uncontended ITERATIONS
//   pool_bench syscalls ITERATIONS        (silent; bench/pool.sh runs it under strace)
//   pool_bench contended THREADS CONNECTIONS SECONDS HOLD_US
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <stratum/stratum.hpp>

using namespace stratum;
using Steady = std::chrono::steady_clock;

namespace {

std::string conninfo()
{
    const char *value = std::getenv("STRATUM_BENCH_CONNINFO");
    return value != nullptr ? value : "user=stratum_app";
}

PoolOptions options(std::size_t size)
{
    PoolOptions o;
    o.primary = conninfo();
    o.min_size = size;
    o.max_size = std::max<std::size_t>(size, 10);
    o.background_maintenance = false;
    o.acquire_timeout = std::chrono::seconds(60);
    return o;
}

double percentile(std::vector<double> &values, double q)
{
    if (values.empty())
        return 0;
    std::size_t k = static_cast<std::size_t>(q * static_cast<double>(values.size() - 1));
    std::nth_element(values.begin(), values.begin() + static_cast<long>(k), values.end());
    return values[k];
}

// Each sample times `batch` iterations (clock overhead amortised), in ns per iteration.
template <class F>
std::vector<double> sample(std::size_t iterations, std::size_t batch, F &&body)
{
    std::vector<double> out;
    out.reserve(iterations / batch);
    for (std::size_t i = 0; i < iterations / batch; i++) {
        auto t0 = Steady::now();
        for (std::size_t j = 0; j < batch; j++)
            body();
        auto t1 = Steady::now();
        out.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count() / static_cast<double>(batch));
    }
    return out;
}

int uncontended(std::size_t iterations)
{
    Pool pool(options(10));
    pool.run_maintenance();  // 10 connections open and idle

    // The floor: what any pool costs at least (lock, pop, unlock, lock, push, unlock).
    std::mutex mutex;
    std::vector<int> stack{1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    auto floor_op = [&] {
        int item;
        {
            std::lock_guard lock(mutex);
            item = stack.back();
            stack.pop_back();
        }
        std::lock_guard lock(mutex);
        stack.push_back(item);
    };
    auto pool_op = [&] {
        Lease lease = pool.acquire();
        lease.release();
    };
    // Warm up, then alternate rounds so both see the same machine.
    sample(100000, 1, pool_op);
    sample(100000, 1, floor_op);
    std::vector<double> pool_single, floor_single, pool_batched, floor_batched;
    for (int round = 0; round < 4; round++) {
        auto a = sample(iterations / 4, 1, pool_op);
        auto b = sample(iterations / 4, 1, floor_op);
        auto c = sample(iterations / 4, 100, pool_op);
        auto d = sample(iterations / 4, 100, floor_op);
        pool_single.insert(pool_single.end(), a.begin(), a.end());
        floor_single.insert(floor_single.end(), b.begin(), b.end());
        pool_batched.insert(pool_batched.end(), c.begin(), c.end());
        floor_batched.insert(floor_batched.end(), d.begin(), d.end());
    }
    // The clock itself, to read the single-op samples correctly.
    auto clock_cost = sample(iterations / 4, 1, [] {});
    const double clock_ns = percentile(clock_cost, 0.5);
    PoolMetrics m = pool.metrics();
    std::printf("acquire+release, uncontended, %zu iterations (ns per acquire+release):\n", iterations);
    std::printf("  %-28s %8s %8s %8s %10s\n", "", "p50", "p99", "p99.9", "mean/100");
    std::printf("  %-28s %8.0f %8.0f %8.0f %10.1f\n", "stratum::Pool", percentile(pool_single, 0.5) - clock_ns,
                percentile(pool_single, 0.99) - clock_ns, percentile(pool_single, 0.999) - clock_ns,
                percentile(pool_batched, 0.5));
    std::printf("  %-28s %8.0f %8.0f %8.0f %10.1f\n", "mutex+vector floor", percentile(floor_single, 0.5) - clock_ns,
                percentile(floor_single, 0.99) - clock_ns, percentile(floor_single, 0.999) - clock_ns,
                percentile(floor_batched, 0.5));
    std::printf("  (clock read %.0f ns subtracted from single samples; mean/100 = median of 100-op batches)\n",
                clock_ns);
    std::printf("  ratio to floor (batched median): %.2f   target p99 < 2000 ns: %s\n",
                percentile(pool_batched, 0.5) / percentile(floor_batched, 0.5),
                percentile(pool_single, 0.99) - clock_ns < 2000 ? "met" : "MISSED");
    std::printf("  pool's own acquire histogram: p50 %.3f us  p99 %.3f us  (%llu acquires, reuse rate %.4f)\n",
                m.acquire.p50_us, m.acquire.p99_us, static_cast<unsigned long long>(m.acquire.count),
                m.reuse_rate);
    return 0;
}

int syscalls(std::size_t iterations)
{
    Pool pool(options(10));
    pool.run_maintenance();
    for (int i = 0; i < 1000; i++)
        pool.acquire().release();
    // A marker strace shows, so the counting starts here.
    std::FILE *marker = std::fopen("/dev/null", "w");
    std::fclose(marker);
    for (std::size_t i = 0; i < iterations; i++)
        pool.acquire().release();
    marker = std::fopen("/dev/null", "w");
    std::fclose(marker);
    return 0;
}

// The textbook pool: a mutex, a condition_variable, notify_one. Not FIFO:
// a releasing thread (or a newcomer) can take the connection before the
// woken waiter runs.
class NaivePool {
public:
    explicit NaivePool(int size)
    {
        for (int i = 0; i < size; i++)
            idle_.push_back(i);
    }
    int acquire()
    {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] { return !idle_.empty(); });
        int c = idle_.back();
        idle_.pop_back();
        return c;
    }
    void release(int c)
    {
        {
            std::lock_guard lock(mutex_);
            idle_.push_back(c);
        }
        cv_.notify_one();
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<int> idle_;
};

struct Record {
    std::uint64_t arrived;
    std::uint64_t granted;
    double wait_us;
};

// How many later arrivals were served before each acquire (Fenwick tree over grant order).
void report_contended(const char *name, std::vector<Record> records, std::size_t connections)
{
    std::sort(records.begin(), records.end(), [](auto &a, auto &b) { return a.arrived > b.arrived; });
    // Iterating from the latest arrival back: count already-seen (later) arrivals granted earlier.
    std::uint64_t max_grant = 0;
    for (auto &r : records)
        max_grant = std::max(max_grant, r.granted);
    std::vector<std::uint32_t> tree(max_grant + 2, 0);
    auto add = [&](std::uint64_t i) {
        for (i++; i < tree.size(); i += i & (~i + 1))
            tree[i]++;
    };
    auto sum = [&](std::uint64_t i) {
        std::uint64_t s = 0;
        for (i++; i > 0; i -= i & (~i + 1))
            s += tree[i];
        return s;
    };
    std::uint64_t overtaken_far = 0, max_overtaken = 0;
    for (auto &r : records) {
        std::uint64_t overtaken = r.granted > 0 ? sum(r.granted - 1) : 0;
        max_overtaken = std::max(max_overtaken, overtaken);
        overtaken_far += overtaken > connections;
        add(r.granted);
    }
    std::vector<double> waits;
    for (auto &r : records)
        waits.push_back(r.wait_us);
    std::printf("  %-18s %9zu %9.0f %9.0f %9.0f %9.0f %12.3f%% %10llu\n", name, records.size(),
                percentile(waits, 0.5), percentile(waits, 0.95), percentile(waits, 0.99),
                *std::max_element(waits.begin(), waits.end()),
                100.0 * static_cast<double>(overtaken_far) / static_cast<double>(records.size()),
                static_cast<unsigned long long>(max_overtaken));
}

template <class Acquire, class Release>
std::vector<Record> run_contended(int threads, double seconds, int hold_us, Acquire acquire, Release release)
{
    std::atomic<std::uint64_t> arrivals{0}, grants{0};
    std::atomic<bool> stop{false};
    std::vector<std::vector<Record>> per_thread(static_cast<std::size_t>(threads));
    std::vector<std::thread> pool_threads;
    for (int t = 0; t < threads; t++) {
        pool_threads.emplace_back([&, t] {
            auto &out = per_thread[static_cast<std::size_t>(t)];
            out.reserve(100000);
            while (!stop.load(std::memory_order_relaxed)) {
                auto t0 = Steady::now();
                std::uint64_t arrived = arrivals.fetch_add(1);
                auto handle = acquire();
                std::uint64_t granted = grants.fetch_add(1);
                auto t1 = Steady::now();
                out.push_back({arrived, granted, std::chrono::duration<double, std::micro>(t1 - t0).count()});
                std::this_thread::sleep_for(std::chrono::microseconds(hold_us));
                release(handle);
                std::this_thread::sleep_for(std::chrono::microseconds(hold_us / 4));  // think time
            }
        });
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop = true;
    for (auto &t : pool_threads)
        t.join();
    std::vector<Record> all;
    for (auto &v : per_thread)
        all.insert(all.end(), v.begin(), v.end());
    return all;
}

int contended(int threads, int connections, double seconds, int hold_us)
{
    Pool pool(options(static_cast<std::size_t>(connections)));
    pool.run_maintenance();
    NaivePool naive(connections);
    std::printf("%d threads on %d connections, hold %d us + think %d us, %.0f s each:\n", threads, connections,
                hold_us, hold_us / 4, seconds);
    std::printf("  %-18s %9s %9s %9s %9s %9s %13s %10s\n", "", "acquires", "p50 us", "p95 us", "p99 us",
                "max us", "overtaken>pool", "max overt.");
    auto ours = run_contended(
        threads, seconds, hold_us, [&] { return new Lease(pool.acquire()); },
        [](Lease *lease) { delete lease; });
    auto theirs = run_contended(
        threads, seconds, hold_us, [&] { return naive.acquire(); }, [&](int c) { naive.release(c); });
    report_contended("stratum::Pool", ours, static_cast<std::size_t>(connections));
    report_contended("mutex+condvar", theirs, static_cast<std::size_t>(connections));
    std::vector<double> a, b;
    for (auto &r : ours)
        a.push_back(r.wait_us);
    for (auto &r : theirs)
        b.push_back(r.wait_us);
    const double p95 = percentile(a, 0.95);
    std::printf("  p95 ratio to mutex+condvar %.2f; target p95 < 10 ms: %s; waiters in order: %s\n",
                p95 / percentile(b, 0.95), p95 < 10000 ? "met" : "MISSED",
                "see 'overtaken>pool' (acquires passed by more than a pool's worth of later arrivals)");
    PoolMetrics m = pool.metrics();
    std::printf("  pool's own histogram: p50 %.0f us  p95 %.0f us  p99 %.0f us  timeouts %llu\n", m.acquire.p50_us,
                m.acquire.p95_us, m.acquire.p99_us, static_cast<unsigned long long>(m.timeouts));
    return 0;
}

}  // namespace

int main(int argc, char **argv)
{
    try {
        std::string mode = argc > 1 ? argv[1] : "uncontended";
        if (mode == "uncontended")
            return uncontended(argc > 2 ? std::stoul(argv[2]) : 2000000);
        if (mode == "syscalls")
            return syscalls(argc > 2 ? std::stoul(argv[2]) : 100000);
        if (mode == "contended")
            return contended(argc > 2 ? std::stoi(argv[2]) : 100, argc > 3 ? std::stoi(argv[3]) : 25,
                             argc > 4 ? std::stod(argv[4]) : 5, argc > 5 ? std::stoi(argv[5]) : 1000);
        std::fprintf(stderr, "usage: pool_bench uncontended|syscalls|contended ...\n");
        return 2;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "pool_bench: %s\n", e.what());
        return 1;
    }
}
