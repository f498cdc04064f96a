// Prometheus text exposition format 0.0.4: a writer that groups samples under
// their # HELP / # TYPE lines and escapes label values, and the renderer of
// stratum's own metrics (pool, health, replication, migrations) for /metrics.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "stratum/health.hpp"
#include "stratum/metrics.hpp"

namespace stratum {

class Pool;

namespace prometheus {

// The Content-Type of the text format.
inline constexpr std::string_view content_type = "text/plain; version=0.0.4; charset=utf-8";

using Labels = std::vector<std::pair<std::string, std::string>>;

// Builds one exposition. Families must not repeat: each family() is followed
// by its samples. Names are checked ([a-zA-Z_:][a-zA-Z0-9_:]*, labels without
// ':'); a bad one throws std::invalid_argument (a programming error).
class TextWriter {
public:
    // # HELP name help  /  # TYPE name type (counter, gauge, histogram, untyped).
    void family(std::string_view name, std::string_view type, std::string_view help);
    // name{labels} value
    void sample(std::string_view name, const Labels &labels, double value);
    // name_bucket{labels,le=...} for each bound and +Inf, name_sum, name_count.
    void histogram(std::string_view name, const Labels &labels, const LatencyBuckets &buckets);

    const std::string &text() const noexcept { return text_; }

private:
    std::string text_;
    std::vector<std::string> families_;
};

// A label value with \, " and newline escaped.
std::string escape_label_value(std::string_view value);
// HELP text with \ and newline escaped.
std::string escape_help(std::string_view text);
// Go's float formatting as Prometheus reads it: integers without exponent or
// decimals, "+Inf", "-Inf", "NaN", otherwise the shortest exact form.
std::string format_value(double value);

// Upper bounds of the acquire-latency histogram, in seconds.
std::span<const double> acquire_latency_bounds() noexcept;

// Everything /metrics shows: the pool's gauges, counters and acquire-latency
// histogram (when `pool` is given), the health state of each component in
// `report`, replication lag per replica, and the migration version and
// pending count.
std::string render_metrics(const HealthReport &report, const Pool *pool);

}  // namespace prometheus

}  // namespace stratum
