// The lock-free latency histogram behind the pool's percentiles.
#include "stratum/metrics.hpp"

#include <bit>
#include <cmath>

namespace stratum {

std::size_t LatencyHistogram::bucket_of(std::uint64_t ns) noexcept
{
    if (ns < exact_below)
        return static_cast<std::size_t>(ns);
    const int msb = 63 - std::countl_zero(ns);  // >= 6
    const int octave = msb - 6;
    if (octave >= static_cast<int>(octaves))
        return bucket_count - 1;
    const std::uint64_t mantissa = (ns >> (msb - 5)) & (sub_buckets - 1);
    return exact_below + static_cast<std::size_t>(octave) * sub_buckets + mantissa;
}

namespace {

// The smallest value (ns) a bucket holds.
double bucket_lowest_ns(std::size_t bucket) noexcept
{
    constexpr std::size_t exact_below = LatencyHistogram::exact_below;
    constexpr std::size_t sub_buckets = LatencyHistogram::sub_buckets;
    if (bucket < exact_below)
        return static_cast<double>(bucket);
    const std::size_t octave = (bucket - exact_below) / sub_buckets;
    const std::size_t mantissa = (bucket - exact_below) % sub_buckets;
    return static_cast<double>((std::uint64_t{1} << (octave + 6)) +
                               mantissa * (std::uint64_t{1} << (octave + 1)));
}

}  // namespace

double LatencyHistogram::bucket_middle_ns(std::size_t bucket) noexcept
{
    if (bucket < exact_below)
        return static_cast<double>(bucket);
    const std::size_t octave = (bucket - exact_below) / sub_buckets;
    const std::size_t mantissa = (bucket - exact_below) % sub_buckets;
    const double width = static_cast<double>(std::uint64_t{1} << (octave + 1));
    const double low = static_cast<double>(std::uint64_t{1} << (octave + 6)) +
                       static_cast<double>(mantissa) * width;
    return low + width / 2;
}

void LatencyHistogram::record(std::chrono::nanoseconds value) noexcept
{
    const std::uint64_t ns = value.count() > 0 ? static_cast<std::uint64_t>(value.count()) : 0;
    buckets_[bucket_of(ns)].fetch_add(1, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
    sum_ns_.fetch_add(ns, std::memory_order_relaxed);
    std::uint64_t seen = max_ns_.load(std::memory_order_relaxed);
    while (ns > seen && !max_ns_.compare_exchange_weak(seen, ns, std::memory_order_relaxed)) {
    }
}

double LatencyHistogram::quantile_ns(double q) const noexcept
{
    std::uint64_t total = 0;
    for (const auto &bucket : buckets_)
        total += bucket.load(std::memory_order_relaxed);
    if (total == 0)
        return 0;
    // The smallest bucket whose cumulative count reaches q of the total.
    const auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total - 1)) + 1;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < bucket_count; i++) {
        seen += buckets_[i].load(std::memory_order_relaxed);
        if (seen >= rank) {
            const double max = static_cast<double>(max_ns_.load(std::memory_order_relaxed));
            const double middle = bucket_middle_ns(i);
            return middle < max ? middle : max;
        }
    }
    return static_cast<double>(max_ns_.load(std::memory_order_relaxed));
}

LatencySummary LatencyHistogram::summary() const noexcept
{
    LatencySummary out;
    out.count = count_.load(std::memory_order_relaxed);
    if (out.count == 0)
        return out;
    out.p50_us = quantile_ns(0.50) / 1e3;
    out.p95_us = quantile_ns(0.95) / 1e3;
    out.p99_us = quantile_ns(0.99) / 1e3;
    out.max_us = static_cast<double>(max_ns_.load(std::memory_order_relaxed)) / 1e3;
    out.mean_us = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) /
                  static_cast<double>(out.count) / 1e3;
    return out;
}

LatencyBuckets LatencyHistogram::buckets(std::span<const double> upper_bounds_seconds) const
{
    LatencyBuckets out;
    out.upper_bounds_seconds.assign(upper_bounds_seconds.begin(), upper_bounds_seconds.end());
    out.cumulative.assign(upper_bounds_seconds.size(), 0);
    // One pass over the buckets, each read once, so the counts agree with
    // each other even while record() runs; a bucket goes to the first bound
    // at or above its lowest value.
    std::size_t bound = 0;
    for (std::size_t i = 0; i < bucket_count; i++) {
        const std::uint64_t n = buckets_[i].load(std::memory_order_relaxed);
        out.count += n;
        if (n == 0)
            continue;
        const double lowest_ns = bucket_lowest_ns(i);
        // Bounds in whole nanoseconds: 63e-9 * 1e9 is 62.999... in doubles.
        while (bound < out.cumulative.size() &&
               std::llround(upper_bounds_seconds[bound] * 1e9) < std::llround(lowest_ns))
            bound++;
        if (bound < out.cumulative.size())
            out.cumulative[bound] += n;
    }
    for (std::size_t b = 1; b < out.cumulative.size(); b++)
        out.cumulative[b] += out.cumulative[b - 1];
    out.sum_seconds = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
    return out;
}

void LatencyHistogram::reset() noexcept
{
    for (auto &bucket : buckets_)
        bucket.store(0, std::memory_order_relaxed);
    count_.store(0, std::memory_order_relaxed);
    sum_ns_.store(0, std::memory_order_relaxed);
    max_ns_.store(0, std::memory_order_relaxed);
}

}  // namespace stratum
