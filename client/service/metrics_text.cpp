// What /metrics exposes: pool gauges, counters and the acquire-latency
// histogram, health states as state sets, replication lag and the migration
// ledger's version and pending count (docs/operations.md lists them all).
#include <array>
#include <chrono>

#include "stratum/pool.hpp"
#include "stratum/prometheus.hpp"

namespace stratum::prometheus {

namespace {

constexpr std::array<double, 16> acquire_bounds = {
    1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 5e-4, 1e-3, 5e-3, 0.01, 0.05, 0.1, 0.5, 1, 5,
};

using Gauge = std::size_t EndpointMetrics::*;
using Counter = std::uint64_t EndpointMetrics::*;

void pool_metrics(TextWriter &out, const Pool &pool)
{
    const PoolMetrics m = pool.metrics();
    auto labels = [](const EndpointMetrics &e) {
        return Labels{{"endpoint", e.name}, {"role", e.role}};
    };
    const std::array<std::tuple<const char *, Gauge, const char *>, 6> gauges = {{
        {"stratum_pool_connections_in_use", &EndpointMetrics::in_use, "Connections lent out now."},
        {"stratum_pool_connections_idle", &EndpointMetrics::idle,
         "Open connections waiting in the pool."},
        {"stratum_pool_connections_open", &EndpointMetrics::total,
         "Open connections (in use, idle and being checked): the pool's total."},
        {"stratum_pool_connections_max", &EndpointMetrics::max_size,
         "The most connections the pool opens."},
        {"stratum_pool_waiters", &EndpointMetrics::waiters,
         "Callers waiting for a connection now."},
        {"stratum_pool_dialing", &EndpointMetrics::dialing, "Connections being opened now."},
    }};
    for (const auto &[name, field, help] : gauges) {
        out.family(name, "gauge", help);
        for (const EndpointMetrics &e : m.endpoints)
            out.sample(name, labels(e), static_cast<double>(e.*field));
    }
    out.family("stratum_pool_endpoint_healthy", "gauge",
               "1 when the last dial or health check of the server succeeded, else 0.");
    for (const EndpointMetrics &e : m.endpoints)
        out.sample("stratum_pool_endpoint_healthy", labels(e), e.healthy ? 1 : 0);

    const std::array<std::tuple<const char *, Counter, const char *>, 8> counters = {{
        {"stratum_pool_acquires_total", &EndpointMetrics::acquires, "Connections handed out."},
        {"stratum_pool_acquire_timeouts_total", &EndpointMetrics::timeouts,
         "Acquires that gave up after the acquire timeout."},
        {"stratum_pool_connections_created_total", &EndpointMetrics::created,
         "Connections opened."},
        {"stratum_pool_connections_closed_total", &EndpointMetrics::closed, "Connections closed."},
        {"stratum_pool_connect_failures_total", &EndpointMetrics::failed, "Dials that failed."},
        {"stratum_pool_connections_broken_total", &EndpointMetrics::broken,
         "Connections found broken (query, poll or health check)."},
        {"stratum_pool_evictions_total", &EndpointMetrics::evictions,
         "Times every connection to the server was dropped at once (restart, failover)."},
        {"stratum_pool_reused_total", &EndpointMetrics::reused,
         "Acquires served by an open connection."},
    }};
    for (const auto &[name, field, help] : counters) {
        out.family(name, "counter", help);
        for (const EndpointMetrics &e : m.endpoints)
            out.sample(name, labels(e), static_cast<double>(e.*field));
    }

    out.family("stratum_pool_acquire_duration_seconds", "histogram",
               "Time to get a connection from the pool (primary and replicas).");
    out.histogram("stratum_pool_acquire_duration_seconds", {},
                  pool.acquire_latency_buckets(acquire_latency_bounds()));
    out.family("stratum_pool_round_trips_total", "counter", "Round trips to the servers.");
    out.sample("stratum_pool_round_trips_total", {}, static_cast<double>(m.round_trips));
    out.family("stratum_pool_transaction_retries_total", "counter",
               "Transactions run again after a serialization failure or deadlock.");
    out.sample("stratum_pool_transaction_retries_total", {}, static_cast<double>(m.retries));
}

double seconds_since_epoch(std::chrono::system_clock::time_point time)
{
    using namespace std::chrono;
    return static_cast<double>(duration_cast<milliseconds>(time.time_since_epoch()).count()) /
           1000.0;
}

void health_metrics(TextWriter &out, const HealthReport &report)
{
    constexpr std::array<HealthState, 3> states = {HealthState::up, HealthState::degraded,
                                                   HealthState::down};
    out.family("stratum_health_state", "gauge",
               "1 for the component's current state (up, degraded, down), 0 for the others.");
    for (const ComponentHealth &c : report.components)
        for (HealthState state : states)
            out.sample("stratum_health_state",
                       {{"component", c.result.component},
                        {"kind", std::string(to_string(c.kind))},
                        {"state", std::string(to_string(state))}},
                       c.result.state == state ? 1 : 0);
    out.family("stratum_health_overall_state", "gauge",
               "1 for the overall state (worst of the required components), 0 for the others.");
    for (HealthState state : states)
        out.sample("stratum_health_overall_state", {{"state", std::string(to_string(state))}},
                   report.checked() && report.state == state ? 1 : 0);
    out.family("stratum_health_required", "gauge",
               "1 when the component counts for the overall state, 0 when it is optional.");
    for (const ComponentHealth &c : report.components)
        out.sample("stratum_health_required", {{"component", c.result.component}},
                   c.required ? 1 : 0);
    out.family("stratum_health_probe_duration_seconds", "gauge",
               "How long the component's last probe took.");
    for (const ComponentHealth &c : report.components)
        out.sample("stratum_health_probe_duration_seconds", {{"component", c.result.component}},
                   static_cast<double>(c.result.latency.count()) / 1e6);
    out.family("stratum_health_reconnecting", "gauge",
               "1 while a connection that once worked is lost and being re-opened.");
    for (const ComponentHealth &c : report.components)
        out.sample("stratum_health_reconnecting", {{"component", c.result.component}},
                   c.result.reconnecting ? 1 : 0);
    out.family("stratum_health_last_check_timestamp_seconds", "gauge",
               "When the last health check round finished (Unix time).");
    if (report.checked())
        out.sample("stratum_health_last_check_timestamp_seconds", {},
                   seconds_since_epoch(report.checked_at));

    out.family("stratum_replication_lag_seconds", "gauge",
               "How far the replica's replay is behind the primary (absent when unknown).");
    for (const ComponentHealth &c : report.components)
        if (c.postgres && c.postgres->role == "replica" && c.postgres->lag_seconds)
            out.sample("stratum_replication_lag_seconds",
                       {{"component", c.result.component}, {"endpoint", c.postgres->endpoint}},
                       *c.postgres->lag_seconds);
    out.family("stratum_replication_lag_bytes", "gauge",
               "WAL the replica has not replayed yet, against the primary's position.");
    for (const ComponentHealth &c : report.components)
        if (c.postgres && c.postgres->role == "replica" && c.postgres->lag_bytes)
            out.sample("stratum_replication_lag_bytes",
                       {{"component", c.result.component}, {"endpoint", c.postgres->endpoint}},
                       static_cast<double>(*c.postgres->lag_bytes));
}

void migration_metrics(TextWriter &out, const HealthReport &report)
{
    const ComponentHealth *c = report.find("migrations");
    const MigrationFacts *facts = c != nullptr && c->migrations ? &*c->migrations : nullptr;
    out.family("stratum_migration_version", "gauge",
               "Highest applied migration of the master scope (absent when none or unknown).");
    if (facts != nullptr && facts->version)
        out.sample("stratum_migration_version", {{"scope", "master"}},
                   static_cast<double>(*facts->version));
    out.family("stratum_migrations_applied", "gauge", "Applied migrations of the master scope.");
    if (facts != nullptr)
        out.sample("stratum_migrations_applied", {{"scope", "master"}},
                   static_cast<double>(facts->applied));
    out.family("stratum_migrations_pending", "gauge",
               "Migration files not applied yet (absent when the files are not known).");
    if (facts != nullptr && facts->pending)
        out.sample("stratum_migrations_pending", {{"scope", "master"}},
                   static_cast<double>(*facts->pending));
    out.family("stratum_migrations_drifted", "gauge",
               "Applied migrations whose file changed since (drift).");
    if (facts != nullptr)
        out.sample("stratum_migrations_drifted", {{"scope", "master"}},
                   static_cast<double>(facts->drifted));
    out.family("stratum_migration_ledger_problems", "gauge",
               "Problems stratum.verify_ledger() reports.");
    if (facts != nullptr)
        out.sample("stratum_migration_ledger_problems", {{"scope", "all"}},
                   static_cast<double>(facts->problems.size()));
}

}  // namespace

std::span<const double> acquire_latency_bounds() noexcept
{
    return acquire_bounds;
}

std::string render_metrics(const HealthReport &report, const Pool *pool)
{
    TextWriter out;
    out.family("stratum_build_info", "gauge", "The stratum version serving these metrics.");
    out.sample("stratum_build_info", {{"version", "0.1.0"}}, 1);
    if (pool != nullptr)
        pool_metrics(out, *pool);
    health_metrics(out, report);
    migration_metrics(out, report);
    return out.text();
}

}  // namespace stratum::prometheus
