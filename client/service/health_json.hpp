// JSON pieces shared by the health report and the HTTP server (internal).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "stratum/health.hpp"
#include "stratum/metrics.hpp"

namespace stratum::detail {

using Json = nlohmann::ordered_json;

// "2026-11-26T21:58:27.447Z"; JSON null for the epoch (never).
Json utc_timestamp(std::chrono::system_clock::time_point time);

// Error text made safe to show: secrets masked (logging::redact), control
// characters and runs of blanks folded into single spaces.
std::string presentable_error(std::string_view text);

// dump() that replaces invalid UTF-8 instead of throwing.
std::string dump_json(const Json &json, int indent = -1);

Json component_json(const ComponentHealth &component);
Json report_json(const HealthReport &report);
// Live pool metrics: totals, acquire latency percentiles, one entry per server.
Json pool_metrics_json(const PoolMetrics &metrics);

}  // namespace stratum::detail
