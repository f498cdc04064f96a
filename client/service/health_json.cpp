// The health report and pool metrics as JSON (`stratum health --json` and
// the /health endpoints share these shapes).
#include "health_json.hpp"

#include <cctype>
#include <ctime>

#include "stratum/logging.hpp"

namespace stratum {

namespace detail {

Json utc_timestamp(std::chrono::system_clock::time_point time)
{
    if (time.time_since_epoch().count() == 0)
        return nullptr;
    using namespace std::chrono;
    const auto ms = duration_cast<milliseconds>(time.time_since_epoch()).count();
    const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char text[64];
    std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                  utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                  static_cast<int>(ms % 1000));
    return std::string(text);
}

std::string presentable_error(std::string_view text)
{
    const std::string masked = logging::redact(text);
    std::string out;
    out.reserve(masked.size());
    bool blank = false;
    for (char c : masked) {
        if (std::isspace(static_cast<unsigned char>(c)) ||
            std::iscntrl(static_cast<unsigned char>(c))) {
            blank = !out.empty();
            continue;
        }
        if (blank)
            out += ' ';
        blank = false;
        out += c;
    }
    return out;
}

std::string dump_json(const Json &json, int indent)
{
    return json.dump(indent, ' ', false, Json::error_handler_t::replace);
}

namespace {

Json text_or_null(const std::string &text)
{
    if (text.empty())
        return nullptr;
    return presentable_error(text);
}

template <class T>
Json optional_json(const std::optional<T> &value)
{
    if (!value)
        return nullptr;
    return *value;
}

}  // namespace

Json component_json(const ComponentHealth &component)
{
    const HealthResult &r = component.result;
    Json out;
    out["kind"] = std::string(to_string(component.kind));
    out["state"] = std::string(to_string(r.state));
    out["required"] = component.required;
    out["latency_ms"] = static_cast<double>(r.latency.count()) / 1000.0;
    out["error"] = text_or_null(r.error);
    out["last_error"] = text_or_null(r.last_error);
    out["last_error_at"] = utc_timestamp(r.last_error_at);
    out["reconnecting"] = r.reconnecting;
    out["checked_at"] = utc_timestamp(r.checked_at);
    out["detail"] = text_or_null(r.detail);
    if (const auto &pg = component.postgres) {
        out["endpoint"] = pg->endpoint;
        out["role"] = pg->role;
        out["server_version"] =
            pg->server_version.empty() ? Json(nullptr) : Json(pg->server_version);
        out["in_recovery"] = pg->in_recovery;
        out["read_only"] = pg->read_only;
        if (pg->role == "replica") {
            out["lag_seconds"] = optional_json(pg->lag_seconds);
            out["lag_bytes"] = optional_json(pg->lag_bytes);
            out["replay_paused"] = pg->replay_paused;
        }
        out["reconnects"] = pg->reconnects;
    }
    if (const auto &pool = component.pool) {
        out["in_use"] = pool->in_use;
        out["idle"] = pool->idle;
        out["total"] = pool->total;
        out["max_size"] = pool->max_size;
        out["waiters"] = pool->waiters;
        out["timeouts"] = pool->timeouts;
        out["timeouts_since_last_check"] = pool->timeouts_since_last;
    }
    if (const auto &m = component.migrations) {
        out["source"] = m->source;
        out["version"] = optional_json(m->version);
        out["applied"] = m->applied;
        out["pending"] = optional_json(m->pending);
        out["out_of_order"] = m->out_of_order;
        out["drifted"] = m->drifted;
        out["missing"] = m->missing;
        out["unknown"] = m->unknown;
        Json problems = Json::array();
        for (const std::string &problem : m->problems)
            problems.push_back(presentable_error(problem));
        out["problems"] = std::move(problems);
        out["invalid_indexes"] = m->invalid_indexes;
    }
    return out;
}

Json report_json(const HealthReport &report)
{
    Json out;
    out["state"] = std::string(to_string(report.state));
    out["checked_at"] = utc_timestamp(report.checked_at);
    Json components = Json::object();
    for (const ComponentHealth &component : report.components)
        components[component.result.component] = component_json(component);
    out["components"] = std::move(components);
    return out;
}

Json pool_metrics_json(const PoolMetrics &m)
{
    Json out;
    out["in_use"] = m.in_use;
    out["idle"] = m.idle;
    out["total"] = m.total;
    out["max_size"] = m.max_size;
    out["min_size"] = m.min_size;
    out["waiters"] = m.waiters;
    out["acquires"] = m.acquires;
    out["timeouts"] = m.timeouts;
    out["created"] = m.created;
    out["closed"] = m.closed;
    out["failed"] = m.failed;
    out["broken"] = m.broken;
    out["evictions"] = m.evictions;
    out["reuse_rate"] = m.reuse_rate;
    out["round_trips"] = m.round_trips;
    out["retries"] = m.retries;
    out["acquire_latency_us"] = {{"count", m.acquire.count}, {"p50", m.acquire.p50_us},
                                 {"p95", m.acquire.p95_us},  {"p99", m.acquire.p99_us},
                                 {"max", m.acquire.max_us},  {"mean", m.acquire.mean_us}};
    Json endpoints = Json::array();
    for (const EndpointMetrics &e : m.endpoints) {
        Json entry;
        entry["endpoint"] = e.name;
        entry["role"] = e.role;
        entry["healthy"] = e.healthy;
        entry["in_use"] = e.in_use;
        entry["idle"] = e.idle;
        entry["total"] = e.total;
        entry["dialing"] = e.dialing;
        entry["waiters"] = e.waiters;
        entry["max_size"] = e.max_size;
        entry["acquires"] = e.acquires;
        entry["timeouts"] = e.timeouts;
        entry["created"] = e.created;
        entry["closed"] = e.closed;
        entry["failed"] = e.failed;
        entry["consecutive_failures"] = e.consecutive_failures;
        entry["last_error"] = text_or_null(e.last_error);
        endpoints.push_back(std::move(entry));
    }
    out["endpoints"] = std::move(endpoints);
    return out;
}

}  // namespace detail

std::string HealthReport::to_json(int indent) const
{
    return detail::dump_json(detail::report_json(*this), indent);
}

}  // namespace stratum
