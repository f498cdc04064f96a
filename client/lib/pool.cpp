// Pool and Lease: endpoints for the primary and replicas, replica round
// robin, the maintenance thread, retries and the metrics snapshot.
#include "stratum/pool.hpp"

#include <limits>
#include <random>

#include <libpq-fe.h>

#include "pool_internal.hpp"
#include "stratum/conninfo.hpp"

namespace stratum {
namespace detail {

double random_unit() noexcept
{
    thread_local std::minstd_rand engine(static_cast<unsigned>(
        std::random_device{}() ^ std::hash<std::thread::id>{}(std::this_thread::get_id())));
    return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
}

PreparedConninfo prepare_conninfo(const std::string &conninfo, bool primary, const std::string &field)
{
    char *error = nullptr;
    PQconninfoOption *options = PQconninfoParse(conninfo.c_str(), &error);
    if (options == nullptr) {
        std::string message = error != nullptr ? error : "cannot be parsed";
        PQfreemem(error);
        while (!message.empty() && message.back() == '\n')
            message.pop_back();
        throw ValidationError(field, message);
    }
    PreparedConninfo out;
    std::string host, hostaddr, port, dbname;
    bool has_session_attrs = false;
    for (PQconninfoOption *o = options; o->keyword != nullptr; ++o) {
        if (o->val == nullptr || *o->val == '\0')
            continue;
        std::string_view keyword = o->keyword;
        if (keyword == "host")
            host = o->val;
        else if (keyword == "hostaddr")
            hostaddr = o->val;
        else if (keyword == "port")
            port = o->val;
        else if (keyword == "dbname")
            dbname = o->val;
        else if (keyword == "target_session_attrs")
            has_session_attrs = true;
        if (!out.conninfo.empty())
            out.conninfo += ' ';
        out.conninfo += o->keyword;
        out.conninfo += '=';
        out.conninfo += conninfo::quote(o->val);
    }
    PQconninfoFree(options);
    const std::string &hosts = host.empty() ? hostaddr : host;
    const bool multi_host = hosts.find(',') != std::string::npos;
    if (primary && multi_host && !has_session_attrs)
        out.conninfo += " target_session_attrs='read-write'";
    out.name = (hosts.empty() ? std::string("local") : hosts) + ":" + (port.empty() ? "5432" : port);
    if (!dbname.empty())
        out.name += "/" + dbname;
    return out;
}

PoolState::PoolState(PoolOptions options_in) : options(std::move(options_in))
{
    options.validate();
    clock = options.clock ? options.clock : Clock::steady();
    clock_is_steady = clock == Clock::steady();
    observer = std::make_shared<QueryObserver>(options.observability);

    constexpr std::size_t no_cap = std::numeric_limits<std::size_t>::max();
    PreparedConninfo primary_info = prepare_conninfo(options.primary, true, "primary");
    primary = std::make_unique<Endpoint>(*this, Role::primary, std::move(primary_info.conninfo),
                                         std::move(primary_info.name), options.min_size,
                                         options.max_size, options.max_idle.value_or(no_cap));
    for (std::size_t i = 0; i < options.replicas.size(); i++) {
        const ReplicaOptions &r = options.replicas[i];
        PreparedConninfo info =
            prepare_conninfo(r.conninfo, false, "replicas[" + std::to_string(i) + "].conninfo");
        const std::optional<std::size_t> max_idle = r.max_idle ? r.max_idle : options.max_idle;
        replicas.push_back(std::make_unique<Endpoint>(
            *this, Role::replica, std::move(info.conninfo), std::move(info.name), r.min_size,
            r.max_size != 0 ? r.max_size : options.max_size, max_idle.value_or(no_cap)));
    }
}

PoolState::~PoolState()
{
    stop_maintenance();
}

void PoolState::start_maintenance()
{
    if (options.background_maintenance)
        maintenance_ = std::thread([this] { maintenance_loop(); });
}

void PoolState::stop_maintenance() noexcept
{
    {
        std::lock_guard lock(stop_mutex_);
        stopping_ = true;
    }
    stop_cv_.notify_all();
    if (maintenance_.joinable())
        maintenance_.join();
}

void PoolState::maintenance_loop()
{
    std::unique_lock lock(stop_mutex_);
    while (!stopping_) {
        lock.unlock();
        try {
            primary->maintain();
            for (auto &replica : replicas)
                replica->maintain();
        } catch (const std::exception &) {
            // Allocation failure or similar: try again next round.
        }
        lock.lock();
        stop_cv_.wait_for(lock, options.maintenance_interval, [this] { return stopping_; });
    }
}

}  // namespace detail

// --- Lease ------------------------------------------------------------------

Lease::Lease(Lease &&other) noexcept
    : endpoint_(std::exchange(other.endpoint_, nullptr)), slot_(std::exchange(other.slot_, nullptr))
{
}

Lease &Lease::operator=(Lease &&other) noexcept
{
    if (this != &other) {
        release();
        endpoint_ = std::exchange(other.endpoint_, nullptr);
        slot_ = std::exchange(other.slot_, nullptr);
    }
    return *this;
}

Lease::~Lease()
{
    release();
}

Connection &Lease::operator*() const & noexcept
{
    return *slot_->conn;
}

Connection *Lease::operator->() const noexcept
{
    return slot_->conn.get();
}

void Lease::release() noexcept
{
    if (slot_ != nullptr)
        endpoint_->release(std::exchange(slot_, nullptr), false);
}

void Lease::discard() noexcept
{
    if (slot_ != nullptr)
        endpoint_->release(std::exchange(slot_, nullptr), true);
}

std::string_view Lease::role() const noexcept
{
    return endpoint_ != nullptr ? endpoint_->role_name() : std::string_view();
}

// --- Pool -------------------------------------------------------------------

Pool::Pool(PoolOptions options) : state_(std::make_unique<detail::PoolState>(std::move(options)))
{
    state_->start_maintenance();
}

Pool::~Pool() = default;

const PoolOptions &Pool::options() const noexcept
{
    return state_->options;
}

Lease Pool::acquire()
{
    return state_->primary->acquire(nullptr,
                                    detail::SteadyClock::now() + state_->options.acquire_timeout,
                                    false);
}

Lease Pool::acquire(const TenantId &tenant)
{
    return state_->primary->acquire(&tenant,
                                    detail::SteadyClock::now() + state_->options.acquire_timeout,
                                    false);
}

Lease Pool::replica()
{
    return replica_for(nullptr);
}

Lease Pool::replica(const TenantId &tenant)
{
    return replica_for(&tenant);
}

Lease Pool::replica_for(const TenantId *tenant)
{
    auto &replicas = state_->replicas;
    const auto deadline = detail::SteadyClock::now() + state_->options.acquire_timeout;
    if (!replicas.empty()) {
        const std::size_t start = state_->next_replica.fetch_add(1, std::memory_order_relaxed);
        for (std::size_t i = 0; i < replicas.size(); i++) {
            detail::Endpoint &replica = *replicas[(start + i) % replicas.size()];
            if (!replica.healthy())
                continue;
            try {
                return replica.acquire(tenant, deadline, true);
            } catch (const CannotConnect &) {
                // Marked unhealthy; the maintenance thread probes it again later.
            }
        }
    }
    return state_->primary->acquire(tenant, deadline, false);
}

Result Pool::query(const TenantId &tenant, std::string_view sql, const Params &params)
{
    return query(tenant, QueryOptions{}, sql, params);
}

Result Pool::query(const TenantId &tenant, const QueryOptions &options, std::string_view sql,
                   const Params &params)
{
    Lease lease = acquire(tenant);
    return lease->query(tenant, options, sql, params);
}

Result Pool::replica_query(const TenantId &tenant, std::string_view sql, const Params &params)
{
    return replica_query(tenant, QueryOptions{}, sql, params);
}

Result Pool::replica_query(const TenantId &tenant, const QueryOptions &options,
                           std::string_view sql, const Params &params)
{
    Lease lease = replica(tenant);
    return lease->query(tenant, options, sql, params);
}

bool Pool::retry_after(int attempt)
{
    const RetryOptions &retry = state_->options.retry;
    if (attempt >= retry.max_attempts)
        return false;
    state_->retries.fetch_add(1, std::memory_order_relaxed);
    const int shift = std::min(attempt - 1, 20);
    const auto cap =
        std::min<std::chrono::milliseconds>(retry.max_delay, retry.base_delay * (1LL << shift));
    // Full jitter: transactions that collided once should not collide again.
    std::this_thread::sleep_for(std::chrono::microseconds(static_cast<long long>(
        detail::random_unit() * static_cast<double>(
            std::chrono::duration_cast<std::chrono::microseconds>(cap).count()))));
    return true;
}

void Pool::run_maintenance()
{
    state_->primary->maintain();
    for (auto &replica : state_->replicas)
        replica->maintain();
}

void Pool::evict_primary()
{
    state_->primary->evict();
}

LatencyBuckets Pool::acquire_latency_buckets(std::span<const double> upper_bounds_seconds) const
{
    return state_->acquire_latency.buckets(upper_bounds_seconds);
}

PoolMetrics Pool::metrics() const
{
    PoolMetrics m;
    m.acquire = state_->acquire_latency.summary();
    m.endpoints.push_back(state_->primary->metrics());
    for (auto &replica : state_->replicas)
        m.endpoints.push_back(replica->metrics());
    for (const EndpointMetrics &e : m.endpoints) {
        m.in_use += e.in_use;
        m.idle += e.idle;
        m.total += e.total;
        m.waiters += e.waiters;
        m.acquires += e.acquires;
        m.timeouts += e.timeouts;
        m.created += e.created;
        m.closed += e.closed;
        m.failed += e.failed;
        m.broken += e.broken;
        m.evictions += e.evictions;
        m.reused += e.reused;
    }
    m.max_size = state_->options.max_size;
    m.min_size = state_->options.min_size;
    m.reuse_rate = m.acquires > 0 ? static_cast<double>(m.reused) / static_cast<double>(m.acquires) : 0;
    m.round_trips = state_->round_trips.load(std::memory_order_relaxed);
    m.retries = state_->retries.load(std::memory_order_relaxed);
    m.slow_queries = state_->observer->slow_queries();
    m.tenant_waits = state_->tenant_waits.load(std::memory_order_relaxed);
    return m;
}

}  // namespace stratum
