// stratum::HealthChecker: one probe per configured component (the primary,
// each replica with its replication lag, the pool, Redis, MinIO, the
// migration ledger), each bounded by a timeout, run once (`stratum health`)
// or in the background (`stratum serve`), and the report they make.
// See docs/operations.md for the states and which components are required.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stratum/config.hpp"
#include "stratum/health_result.hpp"

namespace stratum {

class Connection;
class ObjectStore;
class Pool;
class RedisClient;

enum class ComponentKind { postgres, pool, redis, minio, migrations };

// "postgres", "pool", "redis", "minio", "migrations".
std::string_view to_string(ComponentKind kind) noexcept;

// What a probe of a PostgreSQL server found.
struct PostgresFacts {
    std::string endpoint;        // host:port (never credentials)
    std::string role;            // "primary" or "replica", as configured
    std::string server_version;  // "15.6"; "" when never reached
    bool in_recovery = false;    // a standby (a primary in recovery is down)
    bool read_only = false;      // default_transaction_read_only: a fenced primary
    // Replicas: how far replay is behind the primary. 0 when it has replayed
    // everything the primary had written when the primary was probed, else
    // the time since the last replayed commit. nullopt when unknown.
    std::optional<double> lag_seconds;
    std::optional<std::int64_t> lag_bytes;  // the primary's WAL position minus the replayed one
    bool replay_paused = false;             // pg_wal_replay_pause() in effect
    std::uint64_t reconnects = 0;           // the probe's connection re-opened after a failure
};

// The pool as its metrics show it at the time of the check.
struct PoolFacts {
    std::size_t in_use = 0;
    std::size_t idle = 0;
    std::size_t total = 0;
    std::size_t max_size = 0;  // of the primary
    std::size_t waiters = 0;
    std::uint64_t timeouts = 0;             // acquire timeouts since the pool started
    std::uint64_t timeouts_since_last = 0;  // since the previous check
};

// The migration ledger of the master scope, compared with the migration
// files when the probe knows them.
struct MigrationFacts {
    std::string source = "ledger";  // "ledger" (ledger only) or "files" (planned against files)
    std::optional<std::int64_t> version;  // highest applied master migration
    std::int64_t applied = 0;             // applied master migrations
    std::optional<std::int64_t> pending;  // files not applied yet (unknown from the ledger alone)
    std::int64_t out_of_order = 0;        // files older than an applied version, not applied
    std::int64_t drifted = 0;             // applied, but the file's checksum differs
    std::int64_t missing = 0;             // applied, file gone
    std::int64_t unknown = 0;             // applied, newer than every file
    std::vector<std::string> problems;    // stratum.verify_ledger findings, one line each
    // INVALID indexes ("public.t_id on t"): a failed concurrent build left
    // them; they slow every write and serve no read (degraded, not down).
    std::vector<std::string> invalid_indexes;
};

struct ComponentHealth {
    HealthResult result;  // result.component is the name: "postgres.master", "redis", ...
    ComponentKind kind = ComponentKind::postgres;
    bool required = false;  // counts for the overall state (see overall_state)
    std::optional<PostgresFacts> postgres;
    std::optional<PoolFacts> pool;
    std::optional<MigrationFacts> migrations;
};

struct HealthReport {
    HealthState state = HealthState::down;               // overall
    std::chrono::system_clock::time_point checked_at{};  // epoch: never checked
    std::vector<ComponentHealth> components;  // master, replicas, pool, redis, minio, migrations

    bool checked() const noexcept { return checked_at.time_since_epoch().count() != 0; }
    const ComponentHealth *find(std::string_view name) const noexcept;
    // Is any component (required or not) down? `stratum health` exits 1 then.
    bool any_down() const noexcept;
    // The components of these kinds, with the state recomputed over them.
    HealthReport only(std::initializer_list<ComponentKind> kinds) const;
    // {"state": ..., "checked_at": ..., "components": {name: {...}, ...}};
    // error texts are passed through logging::redact. indent < 0: one line.
    std::string to_json(int indent = -1) const;
};

// The worst state among required components; when that is up but an
// optional component is not, degraded. No components at all: down.
HealthState overall_state(const std::vector<ComponentHealth> &components) noexcept;

// Reads the migration state on a connection to the primary. It may throw
// (stratum::Error): a permission error makes the component degraded, any
// other error down.
using MigrationProbe = std::function<MigrationFacts(Connection &)>;

// The ledger alone: version and count of applied master migrations and
// stratum.verify_ledger() problems; `pending` stays unknown.
MigrationFacts probe_migration_ledger(Connection &connection);

// The ledger against migration files: stratum.migration_plan for the master
// scope with the versions and checksums (SHA-256 hex) of the files, in one
// round trip, plus verify_ledger.
MigrationFacts probe_migration_plan(Connection &connection,
                                    const std::vector<std::int64_t> &versions,
                                    const std::vector<std::string> &checksums);

// The probe used when HealthSources::migrations is empty: planned against
// the files of config.migrations.dir/master (re-read each round) when that
// directory exists, else the ledger alone. Unusable files make the
// component down, with the files' problems as its error.
MigrationProbe default_migration_probe(const Config &config);

// Up: nothing pending and no drift. Degraded: pending, out of order, missing
// or unknown versions. Down: drift or ledger problems.
HealthState migration_state(const MigrationFacts &facts) noexcept;

// What the checker probes besides the configuration's servers.
struct HealthSources {
    const Pool *pool = nullptr;  // adds the "pool" component (serve); must outlive the checker
    std::shared_ptr<RedisClient> redis;  // null: one is made when Redis is configured
    std::shared_ptr<ObjectStore> minio;  // null: one is made when MinIO is configured
    MigrationProbe migrations;           // empty: default_migration_probe(config)
    bool check_migrations = true;        // false: no "migrations" component
};

// Thread-safe. Probes of one round run in parallel (the replicas after the
// primary, whose WAL position they are compared with), so a round takes at
// most about twice config.health.timeout. Each PostgreSQL probe keeps its own
// connection (not the pool's: a busy pool must not look like a dead server)
// and re-opens it after a failure.
class HealthChecker {
public:
    explicit HealthChecker(const Config &config, HealthSources sources = {});
    ~HealthChecker();  // stops the background thread
    HealthChecker(const HealthChecker &) = delete;
    HealthChecker &operator=(const HealthChecker &) = delete;

    // One round now; it becomes latest(). Never throws for a component failure.
    HealthReport check();
    // The last round's report (checked() is false before the first round).
    HealthReport latest() const;
    // latest(), running a round first when none ran yet.
    HealthReport current();

    // A round now (on the caller's thread), then one every config.health.interval
    // on a background thread, until stop().
    void start();
    void stop() noexcept;
    bool running() const noexcept;
    std::uint64_t rounds() const noexcept;  // rounds completed

    const HealthConfig &options() const noexcept;

private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace stratum
