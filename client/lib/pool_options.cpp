// PoolOptions::validate: every field checked before a pool is built.
#include "stratum/pool_options.hpp"

#include "stratum/errors.hpp"

namespace stratum {
namespace {

void require(bool ok, const char *field, const std::string &problem)
{
    if (!ok)
        throw ValidationError(field, problem);
}

}  // namespace

void PoolOptions::validate() const
{
    require(!primary.empty(), "primary", "a connection string or URL is required");
    require(max_size >= 1 && max_size <= 1000, "max_size",
            "must be between 1 and 1000, not " + std::to_string(max_size));
    require(min_size <= max_size, "min_size",
            "must not exceed max_size (" + std::to_string(max_size) + "), not " +
                std::to_string(min_size));
    require(!max_idle || *max_idle >= min_size, "max_idle",
            "must not be less than min_size (" + std::to_string(min_size) +
                "): those connections are kept open, idle ones too");
    require(acquire_timeout.count() > 0, "acquire_timeout", "must be positive");
    require(connect_timeout.count() > 0, "connect_timeout", "must be positive");
    require(idle_timeout.count() >= 0, "idle_timeout", "must not be negative");
    require(max_lifetime.count() >= 0, "max_lifetime", "must not be negative");
    require(max_lifetime_jitter >= 0 && max_lifetime_jitter <= 0.5, "max_lifetime_jitter",
            "must be between 0 and 0.5");
    require(health_check_interval.count() >= 0, "health_check_interval", "must not be negative");
    require(validate_after_idle.count() >= 0, "validate_after_idle", "must not be negative");
    require(maintenance_interval.count() > 0, "maintenance_interval", "must be positive");
    require(reconnect_backoff_min.count() > 0, "reconnect_backoff_min", "must be positive");
    require(reconnect_backoff_max >= reconnect_backoff_min, "reconnect_backoff_max",
            "must not be less than reconnect_backoff_min");
    require(max_concurrent_dials >= 1, "max_concurrent_dials", "must be at least 1");
    require(per_tenant_limit <= max_size, "per_tenant_limit", "must not exceed max_size");
    require(retry.max_attempts >= 1, "retry.max_attempts", "must be at least 1");
    require(retry.base_delay.count() >= 0 && retry.max_delay >= retry.base_delay, "retry.max_delay",
            "must not be less than retry.base_delay");
    require(connection.round_trip_timeout.count() >= 0, "connection.round_trip_timeout",
            "must not be negative");
    for (std::size_t i = 0; i < replicas.size(); i++) {
        const std::string field = "replicas[" + std::to_string(i) + "]";
        if (replicas[i].conninfo.empty())
            throw ValidationError(field + ".conninfo", "a connection string or URL is required");
        if (replicas[i].max_size > 1000)
            throw ValidationError(field + ".max_size", "must be at most 1000");
        std::size_t max = replicas[i].max_size != 0 ? replicas[i].max_size : max_size;
        if (replicas[i].min_size > max)
            throw ValidationError(field + ".min_size", "must not exceed max_size");
        std::optional<std::size_t> idle = replicas[i].max_idle ? replicas[i].max_idle : max_idle;
        if (idle && *idle < replicas[i].min_size)
            throw ValidationError(field + ".max_idle", "must not be less than min_size");
    }
}

}  // namespace stratum
