// Internals of stratum::Pool: slots, intrusive lists, one Endpoint per server
// (the primary and each replica) and the state the Pool shares with them.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "stratum/pool.hpp"

namespace stratum::detail {

using SteadyClock = std::chrono::steady_clock;
using Deadline = SteadyClock::time_point;

// One pooled connection and its bookkeeping.
struct Slot {
    std::unique_ptr<Connection> conn;
    Slot *prev = nullptr;  // in the idle list or the in-use list
    Slot *next = nullptr;
    Clock::time_point created{};      // the pool's clock (expiry)
    Clock::time_point expires_at{};
    Clock::time_point idle_since{};
    Clock::time_point last_checked{};
    SteadyClock::time_point leased_at{};  // real time (holder age)
    std::uint64_t generation = 0;     // of its endpoint when it joined; older ones are evicted
    bool has_tenant = false;          // counted against per_tenant_limit
    TenantId tenant;
    const void *last_holder = nullptr;  // the thread that returned it (see take_idle_locked)
};

// Intrusive doubly linked list of slots; no allocation.
struct SlotList {
    Slot *head = nullptr;
    Slot *tail = nullptr;
    std::size_t size = 0;

    bool empty() const noexcept { return head == nullptr; }
    void push_front(Slot *s) noexcept;
    void push_back(Slot *s) noexcept;
    void remove(Slot *s) noexcept;
    Slot *pop_front() noexcept;
    void append(SlotList &other) noexcept;
};

// A thread waiting for a connection; lives on that thread's stack.
struct Waiter {
    std::condition_variable cv;
    Waiter *prev = nullptr;
    Waiter *next = nullptr;
    const TenantId *tenant = nullptr;  // null: not counted per tenant
    const void *thread = nullptr;      // the waiting thread (its own connection is preferred)
    Slot *slot = nullptr;              // granted: this connection
    bool dial = false;                 // granted: open a new connection
    bool dialing = false;              // opening one (keeps its place in the queue)
    bool queued = false;
};

struct WaiterList {
    Waiter *head = nullptr;
    Waiter *tail = nullptr;
    void push_back(Waiter *w) noexcept;
    void push_front(Waiter *w) noexcept;
    void remove(Waiter *w) noexcept;
};

class PoolState;

enum class Role : std::uint8_t { primary, replica };

// While callers wait and dials fail, one probe dial at most this often
// (however long the backoff has grown): a server that is back is found
// within this, and a down one sees at most a few dials a second per pool.
inline constexpr std::chrono::milliseconds probe_interval_while_waiting{200};

// The pool of connections to one server (or one multi-host primary).
class Endpoint {
public:
    Endpoint(PoolState &pool, Role role, std::string conninfo, std::string name,
             std::size_t min_size, std::size_t max_size, std::size_t max_idle);
    ~Endpoint();

    // fail_fast: a failed dial throws CannotConnect at once (replicas: try the next).
    Lease acquire(const TenantId *tenant, Deadline deadline, bool fail_fast);
    void release(Slot *slot, bool discard) noexcept;
    void maintain();
    void evict();
    EndpointMetrics metrics() const;
    bool healthy() const noexcept { return healthy_.load(std::memory_order_relaxed); }
    Role role() const noexcept { return role_; }
    std::string_view role_name() const noexcept { return role_ == Role::primary ? "primary" : "replica"; }

private:
    bool tenant_ok_locked(const TenantId *tenant) const;
    bool usable_locked(const Slot *s, Clock::time_point now) const noexcept;
    Slot *take_idle_locked(SlotList &to_close, Clock::time_point now, const void *preferred);
    void lend_locked(Slot *slot, const TenantId *tenant, SteadyClock::time_point now);
    void unlend_locked(Slot *slot);
    void dispatch_locked(SlotList &to_close, Clock::time_point now);
    void evict_locked(SlotList &to_close);
    // Closes the least recently used idle connections above max_idle.
    void trim_idle_locked(SlotList &to_close);
    void on_failure_locked(Failure failure, std::uint64_t generation, SlotList &to_close);
    void dial_failed_locked(const std::string &error);
    void dial_succeeded_locked();
    // Dials allowed at once: max_concurrent_dials, or one probe while dials fail.
    std::size_t dial_limit_locked() const noexcept;
    // When a caller waiting for a connection may dial again after a failure.
    Deadline next_waiting_dial_locked() const noexcept;
    // Opens a connection; nullptr on failure (or, with respect_backoff, while
    // the backoff after a failure runs).
    Slot *dial(Deadline deadline, bool respect_backoff);
    void close(SlotList &slots) noexcept;
    std::chrono::milliseconds backoff_locked();
    [[noreturn]] void throw_timeout_locked(SteadyClock::time_point started);
    // "pool <name> (<role>): what" to the pool's log sink.
    void log(LogLevel level, const std::string &what) const noexcept;

    PoolState &pool_;
    const Role role_;
    const std::string conninfo_;
    const std::string name_;
    const std::size_t min_size_;
    const std::size_t max_size_;
    const std::size_t max_idle_;  // SIZE_MAX: no cap

    mutable std::mutex mutex_;
    SlotList idle_;     // front: most recently returned (LIFO keeps hot connections hot)
    SlotList in_use_;   // front: the longest holder
    WaiterList waiters_;
    std::size_t waiting_ = 0;   // queued and not dialing
    std::size_t total_ = 0;     // open connections: idle + in use + being checked
    std::size_t dialing_ = 0;
    std::size_t checking_ = 0;
    std::uint64_t generation_ = 1;
    std::unordered_map<TenantId, std::size_t> tenant_counts_;
    std::uint32_t consecutive_failures_ = 0;
    SteadyClock::time_point next_dial_at_{};     // background probes wait for this
    SteadyClock::time_point last_failure_at_{};
    std::string last_error_;
    std::atomic<bool> healthy_{true};

    // Counters (under mutex_).
    std::uint64_t acquires_ = 0, reused_ = 0, timeouts_ = 0, created_ = 0, closed_ = 0,
                  failed_ = 0, broken_ = 0, evictions_ = 0, health_checks_ = 0;
};

class PoolState {
public:
    explicit PoolState(PoolOptions options);
    ~PoolState();

    PoolOptions options;
    std::shared_ptr<const Clock> clock;
    bool clock_is_steady;
    std::shared_ptr<const QueryObserver> observer;
    LatencyHistogram acquire_latency;
    std::atomic<std::uint64_t> round_trips{0};
    std::atomic<std::uint64_t> retries{0};
    std::atomic<std::uint64_t> tenant_waits{0};
    std::unique_ptr<Endpoint> primary;
    std::vector<std::unique_ptr<Endpoint>> replicas;
    std::atomic<std::size_t> next_replica{0};

    void start_maintenance();
    void stop_maintenance() noexcept;

private:
    void maintenance_loop();
    std::thread maintenance_;
    std::mutex stop_mutex_;
    std::condition_variable stop_cv_;
    bool stopping_ = false;
};

// A random number in [0, 1) from a per-thread generator.
double random_unit() noexcept;

// The connection string to dial (parsed, normalised; read-write added to a
// multi-host primary) and its display name (hosts and ports, no secrets).
struct PreparedConninfo {
    std::string conninfo;
    std::string name;
};
PreparedConninfo prepare_conninfo(const std::string &conninfo, bool primary, const std::string &field);

}  // namespace stratum::detail
