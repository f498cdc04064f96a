// Everything a stratum::Pool can be told, as one plain struct with defaults.
// (The YAML configuration is mapped onto it elsewhere; nothing here knows YAML.)
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "stratum/clock.hpp"
#include "stratum/connection.hpp"
#include "stratum/observability.hpp"

namespace stratum {

struct ReplicaOptions {
    std::string conninfo;       // conninfo or postgresql:// URL of one read replica
    std::size_t min_size = 0;
    std::size_t max_size = 0;   // 0: the primary's max_size
    std::optional<std::size_t> max_idle;  // nullopt: the primary's max_idle
};

// with_tenant runs a transaction again after a serialization failure (40001)
// or a deadlock (40P01), and after nothing else.
struct RetryOptions {
    int max_attempts = 5;                      // including the first
    std::chrono::milliseconds base_delay{5};  // full jitter: sleep U(0, min(max, base * 2^n))
    std::chrono::milliseconds max_delay{500};
};

struct PoolOptions {
    // The primary: a conninfo ("host=... dbname=...") or a postgresql:// URL.
    // With several hosts and no target_session_attrs, read-write is added, so
    // a new connection always finds the current primary.
    std::string primary;
    std::vector<ReplicaOptions> replicas;

    std::size_t min_size = 2;     // kept open (and re-opened) by the maintenance thread
    std::size_t max_size = 25;    // 1..1000: a CLI or a sidecar may want 1
    // Idle connections kept at most: one returned while this many are idle
    // is closed (database/sql's SetMaxIdleConns). nullopt: no cap, only
    // idle_timeout closes idle connections. At least min_size.
    std::optional<std::size_t> max_idle;

    std::chrono::milliseconds acquire_timeout{5000};  // then PoolExhausted (or CannotConnect)
    std::chrono::milliseconds connect_timeout{5000};  // one dial
    std::chrono::milliseconds idle_timeout = std::chrono::minutes(30);  // idle connections above min_size closed; 0: never
    std::chrono::milliseconds max_lifetime = std::chrono::hours(24);    // rotated when returned after this; 0: never
    double max_lifetime_jitter = 0.1;                // each lifetime shortened by up to this fraction
    // An idle connection not used for this long gets a round-trip check (SELECT 1).
    std::chrono::milliseconds health_check_interval{30000};
    // A connection idle for longer than this is checked (one poll(), no round
    // trip) before it is handed out; 0 checks every time.
    std::chrono::milliseconds validate_after_idle{500};
    std::chrono::milliseconds maintenance_interval{1000};
    // Run the maintenance thread (tests with a ManualClock call run_maintenance() instead).
    bool background_maintenance = true;

    // After a failed dial, the next waits U(0, min(max, min * 2^failures)) (full jitter).
    std::chrono::milliseconds reconnect_backoff_min{50};
    std::chrono::milliseconds reconnect_backoff_max{5000};
    // Dials in progress at once per server: a restart does not become a storm.
    std::size_t max_concurrent_dials = 4;

    // At most this many connections held at once by one tenant (0: no limit),
    // so one noisy tenant cannot take the whole pool.
    std::size_t per_tenant_limit = 0;

    ConnectionOptions connection;        // prepared statements on/off (off behind PgBouncer), ...
    RetryOptions retry;
    ObservabilityOptions observability;  // slow-query log, hooks
    std::shared_ptr<const Clock> clock;  // for idle/lifetime expiry; null: the steady clock

    // Throws ValidationError naming the first field that is out of range.
    void validate() const;
};

}  // namespace stratum
