// Pool metrics: a lock-free latency histogram and the plain snapshot structs
// the /metrics endpoint renders (Prometheus text) and tests read.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace stratum {

struct LatencySummary {
    std::uint64_t count = 0;
    double p50_us = 0;
    double p95_us = 0;
    double p99_us = 0;
    double max_us = 0;
    double mean_us = 0;
};

// Cumulative counts at chosen upper bounds: the shape of a Prometheus
// histogram. `count` is the +Inf bucket and equals the sum of the buckets read.
struct LatencyBuckets {
    std::vector<double> upper_bounds_seconds;  // ascending
    std::vector<std::uint64_t> cumulative;     // values at or below each bound
    std::uint64_t count = 0;
    double sum_seconds = 0;
};

// Log-linear buckets (32 per power of two, about 3% resolution) of
// nanosecond values; record() is a few relaxed atomic adds, never a lock.
class LatencyHistogram {
public:
    static constexpr std::size_t exact_below = 64;
    static constexpr std::size_t sub_buckets = 32;
    static constexpr std::size_t octaves = 35;  // up to 2^40 ns (about 18 minutes)
    static constexpr std::size_t bucket_count = exact_below + octaves * sub_buckets;

    void record(std::chrono::nanoseconds value) noexcept;
    LatencySummary summary() const noexcept;
    // Value (ns) at quantile q in [0, 1]; 0 when empty.
    double quantile_ns(double q) const noexcept;
    std::uint64_t count() const noexcept { return count_.load(std::memory_order_relaxed); }
    // Counts at `upper_bounds_seconds` (ascending), exact to the histogram's
    // resolution: a value within ~3% above a bound may be counted at it.
    LatencyBuckets buckets(std::span<const double> upper_bounds_seconds) const;
    void reset() noexcept;

    static std::size_t bucket_of(std::uint64_t ns) noexcept;
    static double bucket_middle_ns(std::size_t bucket) noexcept;

private:
    std::array<std::atomic<std::uint64_t>, bucket_count> buckets_{};
    std::atomic<std::uint64_t> count_{0};
    std::atomic<std::uint64_t> sum_ns_{0};
    std::atomic<std::uint64_t> max_ns_{0};
};

// One server the pool connects to.
struct EndpointMetrics {
    std::string name;            // host:port as configured (never credentials)
    std::string role;            // "primary" or "replica"
    bool healthy = true;         // last dial or health check succeeded
    std::size_t in_use = 0;
    std::size_t idle = 0;
    std::size_t total = 0;       // open connections (in use + idle + being checked)
    std::size_t dialing = 0;     // connections being opened now
    std::size_t waiters = 0;
    std::size_t max_size = 0;
    std::uint64_t acquires = 0;
    std::uint64_t reused = 0;    // acquires served by an existing connection
    std::uint64_t timeouts = 0;
    std::uint64_t created = 0;
    std::uint64_t closed = 0;
    std::uint64_t failed = 0;    // dials that failed
    std::uint64_t broken = 0;    // connections found broken (query, poll, health check)
    std::uint64_t evictions = 0; // times every connection was dropped at once (restart, failover)
    std::uint64_t health_checks = 0;
    std::uint32_t consecutive_failures = 0;  // dials failed in a row (backoff grows with it)
    std::string last_error;      // of the last failed dial
};

struct PoolMetrics {
    LatencySummary acquire;      // primary and replicas
    std::size_t in_use = 0;
    std::size_t idle = 0;
    std::size_t total = 0;
    std::size_t waiters = 0;
    std::size_t max_size = 0;    // of the primary
    std::size_t min_size = 0;
    std::uint64_t acquires = 0;
    std::uint64_t timeouts = 0;
    std::uint64_t created = 0;
    std::uint64_t closed = 0;
    std::uint64_t failed = 0;
    std::uint64_t broken = 0;
    std::uint64_t evictions = 0;
    std::uint64_t reused = 0;
    double reuse_rate = 0;       // reused / acquires
    std::uint64_t round_trips = 0;
    std::uint64_t retries = 0;   // transactions run again after 40001/40P01
    std::uint64_t slow_queries = 0;
    std::uint64_t tenant_waits = 0;  // acquires that waited for their tenant's limit
    std::vector<EndpointMetrics> endpoints;  // the primary first, then replicas in order
};

}  // namespace stratum
