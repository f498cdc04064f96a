// The outcome of one health probe of a component (PostgreSQL, Redis, MinIO):
// the shared shape every component's check(timeout) returns, so a health
// checker can collect them and render them as JSON or Prometheus gauges.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace stratum {

enum class HealthState {
    up,        // answers and serves
    degraded,  // answers but cannot fully serve (loading, cluster not ok, slow replica...)
    down,      // unreachable, refused, misconfigured or timed out
};

// "up", "degraded", "down".
std::string_view to_string(HealthState state) noexcept;

struct HealthResult {
    std::string component;  // "redis", "minio", "postgres.master", ...
    HealthState state = HealthState::down;
    std::chrono::microseconds latency{0};  // wall time of the probe, reconnect included
    std::string error;                     // why it is not up now; "" when up
    std::string last_error;                // most recent error seen, kept after recovery
    std::chrono::system_clock::time_point last_error_at{};  // epoch when never failed
    bool reconnecting = false;  // connection lost; the client is retrying
    std::string detail;         // what was checked, e.g. "bucket=app"
    std::chrono::system_clock::time_point checked_at{};

    bool ok() const noexcept { return state == HealthState::up; }
};

}  // namespace stratum
