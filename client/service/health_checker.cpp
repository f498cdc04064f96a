// stratum::HealthChecker: runs one round of probes (in parallel; replicas
// after the primary), remembers each component's last error and whether it
// is reconnecting, logs state changes, and repeats in the background.
#include <algorithm>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "health_probes.hpp"
#include "stratum/errors.hpp"
#include "stratum/health.hpp"
#include "stratum/logging.hpp"
#include "stratum/object_store.hpp"
#include "stratum/pool.hpp"
#include "stratum/redis.hpp"

namespace stratum {

using namespace std::chrono;

namespace {

// What the checker remembers of a component between rounds.
struct Memory {
    std::string last_error;
    system_clock::time_point last_error_at{};
    bool ever_reachable = false;
    std::optional<HealthState> previous;
};

std::string plural(std::int64_t count, std::string_view one, std::string_view many)
{
    return std::to_string(count) + " " + std::string(count == 1 ? one : many);
}

std::string migration_summary(const MigrationFacts &facts)
{
    std::string text = facts.version ? "version " + std::to_string(*facts.version) : "no version";
    text += ", " + std::to_string(facts.applied) + " applied";
    text +=
        facts.pending ? ", " + std::to_string(*facts.pending) + " pending" : ", pending unknown";
    text += facts.source == "ledger" ? " (ledger only)" : "";
    return text;
}

std::string migration_error(const MigrationFacts &facts)
{
    std::vector<std::string> parts;
    if (facts.drifted > 0)
        parts.push_back(
            plural(facts.drifted, "applied migration differs", "applied migrations differ") +
            " from the files (drift)");
    if (!facts.problems.empty())
        parts.push_back(
            "the ledger check found " +
            plural(static_cast<std::int64_t>(facts.problems.size()), "problem", "problems") + ": " +
            facts.problems.front());
    if (!facts.invalid_indexes.empty())
        parts.push_back(plural(static_cast<std::int64_t>(facts.invalid_indexes.size()),
                               "INVALID index", "INVALID indexes") +
                        " (left by a failed concurrent build: drop and build again): " +
                        facts.invalid_indexes.front());
    if (facts.pending.value_or(0) > 0)
        parts.push_back(plural(*facts.pending, "migration", "migrations") + " pending");
    if (facts.out_of_order > 0)
        parts.push_back(plural(facts.out_of_order, "migration", "migrations") +
                        " older than an applied one, not applied (out of order)");
    if (facts.missing > 0)
        parts.push_back(plural(facts.missing, "applied migration has", "applied migrations have") +
                        " no file");
    if (facts.unknown > 0)
        parts.push_back(plural(facts.unknown, "applied migration is", "applied migrations are") +
                        " newer than every file");
    std::string text;
    for (const std::string &part : parts)
        text += (text.empty() ? "" : "; ") + part;
    return text;
}

}  // namespace

struct HealthChecker::State {
    HealthConfig options;
    HealthSources sources;
    detail::ProbeConnection primary;
    std::vector<detail::ProbeConnection> replicas;
    detail::ProbeConnection ledger;  // the migration probe's own connection

    std::mutex round_mutex;  // one round at a time
    std::map<std::string, Memory> memory;
    std::optional<std::uint64_t> pool_timeouts_seen;

    mutable std::mutex report_mutex;
    HealthReport latest;
    std::atomic<std::uint64_t> rounds{0};

    std::thread background;
    std::mutex stop_mutex;
    std::condition_variable stop_cv;
    bool stopping = false;
    std::atomic<bool> running{false};

    State(const Config &config, HealthSources s)
        : options(config.health)
        , sources(std::move(s))
        , primary(config.postgres_master_conninfo(),
                  detail::configured_endpoint(config.database.postgres.master))
        , ledger(config.postgres_master_conninfo(),
                 detail::configured_endpoint(config.database.postgres.master))
    {
        const auto conninfos = config.postgres_replica_conninfos();
        for (std::size_t i = 0; i < conninfos.size(); i++)
            replicas.emplace_back(
                conninfos[i], detail::configured_endpoint(config.database.postgres.replicas[i]));
        if (!sources.redis && config.database.redis)
            sources.redis = std::make_shared<RedisClient>(*config.database.redis);
        if (!sources.minio && config.database.minio)
            sources.minio = std::make_shared<ObjectStore>(*config.database.minio);
        if (!sources.migrations)
            sources.migrations = default_migration_probe(config);
    }

    ComponentHealth probe_pool();
    ComponentHealth probe_migrations();
    ComponentHealth probe_store(ComponentKind kind);
    void remember(ComponentHealth &component);
    HealthReport round();
};

ComponentHealth HealthChecker::State::probe_pool()
{
    ComponentHealth out;
    out.kind = ComponentKind::pool;
    out.required = true;
    out.result.component = "pool";
    const auto started = steady_clock::now();
    const PoolMetrics metrics = sources.pool->metrics();
    PoolFacts facts;
    facts.in_use = metrics.in_use;
    facts.idle = metrics.idle;
    facts.total = metrics.total;
    facts.max_size = metrics.max_size;
    facts.waiters = metrics.waiters;
    facts.timeouts = metrics.timeouts;
    facts.timeouts_since_last = pool_timeouts_seen && metrics.timeouts >= *pool_timeouts_seen
                                    ? metrics.timeouts - *pool_timeouts_seen
                                    : 0;
    pool_timeouts_seen = metrics.timeouts;

    const EndpointMetrics &primary = metrics.endpoints.front();
    out.result.state = HealthState::up;
    out.result.reconnecting = primary.consecutive_failures > 0;
    if (!primary.healthy) {
        out.result.state = HealthState::down;
        out.result.error = "the pool cannot connect to the primary" +
                           (primary.last_error.empty() ? std::string() : ": " + primary.last_error);
    } else if (metrics.waiters > 0) {
        out.result.state = HealthState::degraded;
        out.result.error = plural(static_cast<std::int64_t>(metrics.waiters), "caller", "callers") +
                           " waiting for a connection";
    } else if (primary.max_size > 0 && primary.in_use >= primary.max_size) {
        out.result.state = HealthState::degraded;
        out.result.error =
            "all " + std::to_string(primary.max_size) + " connections to the primary in use";
    } else if (facts.timeouts_since_last > 0) {
        out.result.state = HealthState::degraded;
        out.result.error = plural(static_cast<std::int64_t>(facts.timeouts_since_last),
                                  "acquire timeout", "acquire timeouts") +
                           " since the last check";
    }
    out.result.detail = std::to_string(facts.in_use) + " in use, " + std::to_string(facts.idle) +
                        " idle, " + std::to_string(facts.total) + " open of " +
                        std::to_string(facts.max_size);
    out.pool = facts;
    out.result.latency = duration_cast<microseconds>(steady_clock::now() - started);
    out.result.checked_at = system_clock::now();
    return out;
}

ComponentHealth HealthChecker::State::probe_migrations()
{
    ComponentHealth out;
    out.kind = ComponentKind::migrations;
    out.required = false;
    out.result.component = "migrations";
    const auto started = steady_clock::now();
    try {
        Connection &connection = ledger.get(started + options.timeout);
        MigrationFacts facts = sources.migrations(connection);
        out.result.state = migration_state(facts);
        out.result.error = out.result.state == HealthState::up ? "" : migration_error(facts);
        out.result.detail = migration_summary(facts);
        out.migrations = std::move(facts);
    } catch (const PermissionDenied &error) {
        // The configured role may read data but not the ledger: say so, but
        // do not call the database down for it.
        out.result.state = HealthState::degraded;
        out.result.error = std::string("cannot read the migration ledger: ") + error.what();
    } catch (const ConnectionLost &error) {
        ledger.drop();
        out.result.state = HealthState::down;
        out.result.error = std::string("cannot read the migration ledger: ") + error.what();
    } catch (const Timeout &error) {
        ledger.drop();  // cancelled mid-statement: start afresh
        out.result.state = HealthState::down;
        out.result.error = std::string("cannot read the migration ledger: ") + error.what();
    } catch (const Error &error) {
        // A server error (no extension, no such function): the connection
        // stays usable.
        out.result.state = HealthState::down;
        out.result.error = std::string("cannot read the migration ledger: ") + error.what();
    } catch (const std::exception &error) {
        // The probe's own failure (unusable migration files, say).
        out.result.state = HealthState::down;
        out.result.error = error.what();
    }
    out.result.latency = duration_cast<microseconds>(steady_clock::now() - started);
    out.result.checked_at = system_clock::now();
    return out;
}

ComponentHealth HealthChecker::State::probe_store(ComponentKind kind)
{
    ComponentHealth out;
    out.kind = kind;
    out.required = false;
    // Both checks never throw and keep to the timeout.
    out.result = kind == ComponentKind::redis ? sources.redis->check(options.timeout)
                                              : sources.minio->check(options.timeout);
    out.result.component = std::string(to_string(kind));
    if (out.result.checked_at.time_since_epoch().count() == 0)
        out.result.checked_at = system_clock::now();
    return out;
}

void HealthChecker::State::remember(ComponentHealth &component)
{
    HealthResult &r = component.result;
    Memory &m = memory[r.component];
    if (!r.error.empty() && r.last_error.empty()) {
        m.last_error = r.error;
        m.last_error_at = r.checked_at;
    } else if (!r.last_error.empty()) {
        m.last_error = r.last_error;  // the client's own memory (Redis, MinIO)
        m.last_error_at = r.last_error_at;
    }
    r.last_error = m.last_error;
    r.last_error_at = m.last_error_at;
    const bool probes_itself =
        component.kind == ComponentKind::postgres || component.kind == ComponentKind::migrations;
    if (probes_itself)
        r.reconnecting = r.state == HealthState::down && m.ever_reachable;
    if (r.state != HealthState::down)
        m.ever_reachable = true;

    if (m.previous != r.state) {
        // Changes are news; the first state seen is only worth a debug line
        // (stratum serve reports the first round itself).
        const logging::Level level = !m.previous                 ? logging::Level::debug
                                     : r.state == HealthState::up ? logging::Level::info
                                                                  : logging::Level::warn;
        logging::log(level, "health", "component state changed",
                     {{"name", r.component},
                      {logging::field::state, std::string(to_string(r.state))},
                      {logging::field::error, r.error}});
        m.previous = r.state;
    }
}

HealthReport HealthChecker::State::round()
{
    std::lock_guard round_lock(round_mutex);
    const milliseconds timeout = options.timeout;
    std::optional<std::uint64_t> primary_lsn;
    auto primary_probe = std::async(
        std::launch::async, [&] { return detail::probe_primary(primary, timeout, primary_lsn); });
    std::optional<std::future<ComponentHealth>> redis_probe, minio_probe, migrations_probe;
    if (sources.redis)
        redis_probe =
            std::async(std::launch::async, [&] { return probe_store(ComponentKind::redis); });
    if (sources.minio)
        minio_probe =
            std::async(std::launch::async, [&] { return probe_store(ComponentKind::minio); });
    if (sources.check_migrations)
        migrations_probe = std::async(std::launch::async, [&] { return probe_migrations(); });

    HealthReport report;
    report.components.push_back(primary_probe.get());
    // The replicas compare their replay position with the primary's, so
    // they are asked after it.
    std::vector<std::future<ComponentHealth>> replica_probes;
    for (std::size_t i = 0; i < replicas.size(); i++)
        replica_probes.push_back(std::async(std::launch::async, [&, i] {
            return detail::probe_replica(replicas[i], "postgres.replica." + std::to_string(i),
                                         timeout, primary_lsn, options.max_replication_lag);
        }));
    for (auto &probe : replica_probes)
        report.components.push_back(probe.get());
    if (sources.pool != nullptr)
        report.components.push_back(probe_pool());
    if (redis_probe)
        report.components.push_back(redis_probe->get());
    if (minio_probe)
        report.components.push_back(minio_probe->get());
    if (migrations_probe)
        report.components.push_back(migrations_probe->get());

    for (ComponentHealth &component : report.components)
        remember(component);
    report.state = overall_state(report.components);
    report.checked_at = system_clock::now();
    {
        std::lock_guard lock(report_mutex);
        latest = report;
    }
    rounds.fetch_add(1, std::memory_order_relaxed);
    return report;
}

HealthChecker::HealthChecker(const Config &config, HealthSources sources)
    : state_(std::make_unique<State>(config, std::move(sources)))
{
}

HealthChecker::~HealthChecker()
{
    stop();
}

HealthReport HealthChecker::check()
{
    return state_->round();
}

HealthReport HealthChecker::latest() const
{
    std::lock_guard lock(state_->report_mutex);
    return state_->latest;
}

HealthReport HealthChecker::current()
{
    if (rounds() == 0)
        return check();
    return latest();
}

void HealthChecker::start()
{
    if (state_->running.exchange(true))
        return;
    check();
    {
        std::lock_guard lock(state_->stop_mutex);
        state_->stopping = false;
    }
    // A zero interval would spin: probes at most every 50ms.
    const milliseconds interval = std::max(state_->options.interval, milliseconds(50));
    state_->background = std::thread([state = state_.get(), interval] {
        std::unique_lock lock(state->stop_mutex);
        for (;;) {
            if (state->stop_cv.wait_for(lock, interval, [state] { return state->stopping; }))
                return;
            lock.unlock();
            try {
                state->round();
            } catch (const std::exception &error) {
                logging::error("health", "health check round failed",
                               {{logging::field::error, error.what()}});
            }
            lock.lock();
        }
    });
}

void HealthChecker::stop() noexcept
{
    if (!state_ || !state_->running.load())
        return;
    {
        std::lock_guard lock(state_->stop_mutex);
        state_->stopping = true;
    }
    state_->stop_cv.notify_all();
    if (state_->background.joinable())
        state_->background.join();
    state_->running = false;
}

bool HealthChecker::running() const noexcept
{
    return state_->running.load();
}

std::uint64_t HealthChecker::rounds() const noexcept
{
    return state_->rounds.load(std::memory_order_relaxed);
}

const HealthConfig &HealthChecker::options() const noexcept
{
    return state_->options;
}

}  // namespace stratum
