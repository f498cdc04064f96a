// stratum::Pool: connections to the primary (and read replicas), handed out
// as Leases. Waiters are served in arrival order; the fast path (an idle
// connection, nobody waiting) takes one uncontended mutex and makes no system
// call. A maintenance thread expires idle and old connections, keeps
// min_size open, health-checks idle ones and reconnects with backoff.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <span>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>

#include "stratum/connection.hpp"
#include "stratum/errors.hpp"
#include "stratum/metrics.hpp"
#include "stratum/pool_options.hpp"
#include "stratum/tx.hpp"
#include "stratum/uuid.hpp"

namespace stratum {

namespace detail {
struct Slot;
class Endpoint;
class PoolState;
}  // namespace detail

// A connection borrowed from the pool; going out of scope gives it back (or
// closes it when it is broken, inside a transaction, or too old).
class Lease {
public:
    Lease() noexcept = default;
    Lease(Lease &&other) noexcept;
    Lease &operator=(Lease &&other) noexcept;
    ~Lease();
    Lease(const Lease &) = delete;
    Lease &operator=(const Lease &) = delete;

    // The connection, while this lease holds it. Not from a temporary Lease
    // (`Tx tx(*pool.acquire(), tenant)` would use a connection already given
    // back): keep the Lease in a variable.
    Connection &operator*() const & noexcept;
    Connection &operator*() const && = delete;
    Connection *operator->() const noexcept;
    Connection &connection() const & noexcept { return **this; }
    Connection &connection() const && = delete;
    explicit operator bool() const noexcept { return slot_ != nullptr; }

    // Gives the connection back now.
    void release() noexcept;
    // Closes the connection instead of giving it back (e.g. after session
    // settings the next user must not inherit).
    void discard() noexcept;
    // "primary" or "replica".
    std::string_view role() const noexcept;

private:
    friend class detail::Endpoint;
    Lease(detail::Endpoint *endpoint, detail::Slot *slot) noexcept : endpoint_(endpoint), slot_(slot) {}
    detail::Endpoint *endpoint_ = nullptr;
    detail::Slot *slot_ = nullptr;
};

class Pool {
public:
    // Validates the options (ValidationError), opens min_size connections in
    // the background and starts the maintenance thread. Does not fail when
    // the server is down: acquire() does, after its timeout.
    explicit Pool(PoolOptions options);
    // Every Lease must have been returned before the pool is destroyed.
    ~Pool();
    Pool(const Pool &) = delete;
    Pool &operator=(const Pool &) = delete;

    // A connection to the primary. Throws PoolExhausted after acquire_timeout
    // (CannotConnect when dials failed in that time; AcquireTimeout when a
    // new connection was still being opened). None of them sent anything.
    Lease acquire();
    // The same, counted against per_tenant_limit for `tenant`.
    Lease acquire(const TenantId &tenant);
    // A connection to a healthy replica (round robin), or to the primary
    // when there is none.
    Lease replica();
    Lease replica(const TenantId &tenant);

    // One statement as `tenant` in ONE round trip (tenant context, statement
    // and commit pipelined; one implicit transaction). Not retried. A commit
    // whose reply is lost is resolved like Tx::commit's (Connection::query).
    template <class... Args>
        requires are_values_v<Args...>
    Result query(const TenantId &tenant, std::string_view sql, Args &&...args)
    {
        return query(tenant, QueryOptions{}, sql, std::forward<Args>(args)...);
    }
    Result query(const TenantId &tenant, std::string_view sql, const Params &params);
    // The same with an actor, still one round trip (the actor travels with
    // the tenant), so audited writes record who made them:
    //   pool.query(tenant, {.actor = "user:42"}, "UPDATE items SET qty = $1 WHERE id = $2", 3, id);
    template <class... Args>
        requires are_values_v<Args...>
    Result query(const TenantId &tenant, const QueryOptions &options, std::string_view sql,
                 Args &&...args)
    {
        Params params(std::forward<Args>(args)...);
        return query(tenant, options, sql, params);
    }
    Result query(const TenantId &tenant, const QueryOptions &options, std::string_view sql,
                 const Params &params);
    // The same on a replica (reads that tolerate replication lag).
    template <class... Args>
        requires are_values_v<Args...>
    Result replica_query(const TenantId &tenant, std::string_view sql, Args &&...args)
    {
        return replica_query(tenant, QueryOptions{}, sql, std::forward<Args>(args)...);
    }
    Result replica_query(const TenantId &tenant, std::string_view sql, const Params &params);
    template <class... Args>
        requires are_values_v<Args...>
    Result replica_query(const TenantId &tenant, const QueryOptions &options, std::string_view sql,
                         Args &&...args)
    {
        Params params(std::forward<Args>(args)...);
        return replica_query(tenant, options, sql, params);
    }
    Result replica_query(const TenantId &tenant, const QueryOptions &options, std::string_view sql,
                         const Params &params);

    // Runs fn(tx) in one transaction as `tenant` and commits: one round trip
    // more than the statements fn runs (BEGIN and the tenant context travel
    // with the first statement). A serialization failure, a deadlock, or a
    // lost connection that surely did not commit (before COMMIT, or a COMMIT
    // the server says aborted) runs it again on a new connection (bounded by
    // retry, with backoff and jitter); anything else does not, and a
    // transaction that committed is never run twice: a lost COMMIT is
    // resolved with the server (see Tx::commit), CommitOutcomeUnknown is
    // thrown when it cannot be. Any exception rolls back. Returns what fn returns.
    template <class F>
    auto with_tenant(const TenantId &tenant, F &&fn, const TxOptions &options = {})
        -> std::invoke_result_t<F &, Tx &>
    {
        return run_transaction(&tenant, fn, options);
    }
    // The same without tenant context (maintenance, cross-tenant reads by a privileged role).
    template <class F>
    auto transaction(F &&fn, const TxOptions &options = {}) -> std::invoke_result_t<F &, Tx &>
    {
        return run_transaction(nullptr, fn, options);
    }

    PoolMetrics metrics() const;
    // The acquire latency (primary and replicas) as cumulative counts at
    // these upper bounds (seconds, ascending): a Prometheus histogram.
    LatencyBuckets acquire_latency_buckets(std::span<const double> upper_bounds_seconds) const;
    // One maintenance pass now (the background thread runs one every maintenance_interval).
    void run_maintenance();
    // Drops every connection to the primary (idle ones now, busy ones when
    // returned), as the pool does by itself at the first sign of a restart
    // or failover.
    void evict_primary();
    const PoolOptions &options() const noexcept;

private:
    template <class F>
    auto run_transaction(const TenantId *tenant, F &fn, const TxOptions &options)
        -> std::invoke_result_t<F &, Tx &>
    {
        using R = std::invoke_result_t<F &, Tx &>;
        for (int attempt = 1;; attempt++) {
            try {
                Lease lease = tenant != nullptr ? acquire(*tenant) : acquire();
                Tx tx = tenant != nullptr ? Tx(*lease, *tenant, options) : Tx(*lease, options);
                if constexpr (std::is_void_v<R>) {
                    fn(tx);
                    tx.commit();
                    return;
                } else {
                    R result = fn(tx);
                    tx.commit();
                    return result;
                }
            } catch (const TransactionRollback &error) {
                if (!error.is_transient() || !retry_after(attempt))
                    throw;
            } catch (const CannotConnect &) {
                throw;  // acquire already waited its acquire_timeout
            } catch (const ConnectionLost &error) {
                // Only what surely did not commit runs again; a commit whose
                // outcome is unknown (CommitOutcomeUnknown) never does.
                if (error.committed_unknown() || !retry_after(attempt))
                    throw;
            }
        }
    }
    // Sleeps before attempt+1 when another attempt is allowed.
    bool retry_after(int attempt);
    Lease replica_for(const TenantId *tenant);

    std::unique_ptr<detail::PoolState> state_;
};

}  // namespace stratum
