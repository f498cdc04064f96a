// One server's connections: the acquire fast path, FIFO hand-off to waiters,
// dials capped in number and spaced by backoff, eviction on the first sign of
// a restart or failover, and the maintenance pass.
#include "pool_internal.hpp"

#include <algorithm>

#ifdef __linux__
#include <sched.h>
#endif

namespace stratum::detail {

// --- intrusive lists ----------------------------------------------------------

void SlotList::push_front(Slot *s) noexcept
{
    s->prev = nullptr;
    s->next = head;
    if (head != nullptr)
        head->prev = s;
    else
        tail = s;
    head = s;
    size++;
}

void SlotList::push_back(Slot *s) noexcept
{
    s->next = nullptr;
    s->prev = tail;
    if (tail != nullptr)
        tail->next = s;
    else
        head = s;
    tail = s;
    size++;
}

void SlotList::remove(Slot *s) noexcept
{
    (s->prev != nullptr ? s->prev->next : head) = s->next;
    (s->next != nullptr ? s->next->prev : tail) = s->prev;
    s->prev = s->next = nullptr;
    size--;
}

Slot *SlotList::pop_front() noexcept
{
    Slot *s = head;
    if (s != nullptr)
        remove(s);
    return s;
}

void SlotList::append(SlotList &other) noexcept
{
    while (Slot *s = other.pop_front())
        push_back(s);
}

void WaiterList::push_back(Waiter *w) noexcept
{
    w->next = nullptr;
    w->prev = tail;
    (tail != nullptr ? tail->next : head) = w;
    tail = w;
    w->queued = true;
}

void WaiterList::push_front(Waiter *w) noexcept
{
    w->prev = nullptr;
    w->next = head;
    (head != nullptr ? head->prev : tail) = w;
    head = w;
    w->queued = true;
}

void WaiterList::remove(Waiter *w) noexcept
{
    (w->prev != nullptr ? w->prev->next : head) = w->next;
    (w->next != nullptr ? w->next->prev : tail) = w->prev;
    w->prev = w->next = nullptr;
    w->queued = false;
}

// --- Endpoint -----------------------------------------------------------------

Endpoint::Endpoint(PoolState &pool, Role role, std::string conninfo, std::string name,
                   std::size_t min_size, std::size_t max_size, std::size_t max_idle)
    : pool_(pool), role_(role), conninfo_(std::move(conninfo)), name_(std::move(name)),
      min_size_(min_size), max_size_(max_size), max_idle_(max_idle)
{
}

void Endpoint::log(LogLevel level, const std::string &what) const noexcept
{
    try {
        pool_.observer->log(level, "pool " + name_ + " (" + std::string(role_name()) + "): " + what);
    } catch (...) {
        // Logging never takes the pool down.
    }
}

Endpoint::~Endpoint()
{
    SlotList to_close;
    {
        std::lock_guard lock(mutex_);
        to_close.append(idle_);
        if (!in_use_.empty())
            log(LogLevel::error, "destroyed with " + std::to_string(in_use_.size) +
                                     " connections still leased");
    }
    close(to_close);
}

bool Endpoint::tenant_ok_locked(const TenantId *tenant) const
{
    const std::size_t limit = pool_.options.per_tenant_limit;
    if (limit == 0 || tenant == nullptr)
        return true;
    auto it = tenant_counts_.find(*tenant);
    return it == tenant_counts_.end() || it->second < limit;
}

namespace {

// Identifies the calling thread while it lives (the address of its own copy).
const void *this_thread_token() noexcept
{
    thread_local const char token = 0;
    return &token;
}

// How far into the idle list a thread looks for the connection it returned.
constexpr int affinity_scan = 8;

// Locks an endpoint's mutex, spinning a little before sleeping on it. Its
// critical sections are short (a few cache misses), but with more threads
// than cores the holder is often preempted right there by a thread the
// kernel just woke (its query's answer arrived): sleeping then costs a futex
// wait, a wake-up and two context switches, where the holder is back within
// microseconds. 8 threads on 2 cores (bench/query.sh): 22,571 futex calls in
// 5 s and 0.85 of the exchange written by hand; spinning, ~150 calls and
// 0.90-0.98. What glibc's adaptive mutexes do, for a std::mutex (condition
// variables need one). Not noexcept: std::mutex::lock may throw, as before.
constexpr int lock_spins = 100;

// CPUs this process may run on (its affinity mask, so a container pinned to
// one CPU counts one), at least 1.
int usable_cpus()
{
#ifdef __linux__
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0)
        return std::max(1, CPU_COUNT(&set));
#endif
    return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

void lock_adaptively(std::mutex &mutex)
{
    // On one CPU the holder cannot run while we spin.
    static const int spins = usable_cpus() > 1 ? lock_spins : 0;
    for (int i = 0; i < spins; i++) {
        if (mutex.try_lock())
            return;
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#elif defined(__aarch64__)
        asm volatile("yield");
#endif
    }
    mutex.lock();
}

}  // namespace

bool Endpoint::usable_locked(const Slot *s, Clock::time_point now) const noexcept
{
    return !s->conn->is_broken() && s->generation == generation_ && now < s->expires_at;
}

// An idle connection for the thread `preferred`: the one it returned last
// when that is among the most recently returned and still usable, else the
// most recently returned, closing the unusable ones on the way. A thread
// that gets its own connection back finds that connection's buffers,
// statements and results in its own CPU's cache; handed round the threads,
// they move between CPUs on every query (8 threads sharing a pool: a fifth
// fewer queries a second than with one pool each, bench/query.sh).
Slot *Endpoint::take_idle_locked(SlotList &to_close, Clock::time_point now, const void *preferred)
{
    Slot *s = idle_.head;
    for (int i = 0; i < affinity_scan && s != nullptr; i++, s = s->next) {
        if (s->last_holder == preferred && usable_locked(s, now)) {
            idle_.remove(s);
            return s;
        }
    }
    while ((s = idle_.pop_front()) != nullptr) {
        if (usable_locked(s, now))
            return s;
        total_--;
        closed_++;
        broken_ += s->conn->is_broken();
        to_close.push_back(s);
    }
    return nullptr;
}

void Endpoint::lend_locked(Slot *slot, const TenantId *tenant, SteadyClock::time_point now)
{
    slot->leased_at = now;
    in_use_.push_back(slot);
    if (pool_.options.per_tenant_limit > 0 && tenant != nullptr) {
        slot->has_tenant = true;
        slot->tenant = *tenant;
        tenant_counts_[*tenant]++;
    }
}

void Endpoint::unlend_locked(Slot *slot)
{
    in_use_.remove(slot);
    if (slot->has_tenant) {
        auto it = tenant_counts_.find(slot->tenant);
        if (it != tenant_counts_.end() && --it->second == 0)
            tenant_counts_.erase(it);
        slot->has_tenant = false;
    }
}

// Serves waiters in arrival order: an idle connection for the first one that
// may take it, else permission to open one while there is room.
void Endpoint::dispatch_locked(SlotList &to_close, Clock::time_point now)
{
    for (Waiter *w = waiters_.head; w != nullptr;) {
        Waiter *next = w->next;
        if (w->dialing || !tenant_ok_locked(w->tenant)) {
            w = next;
            continue;
        }
        if (Slot *s = take_idle_locked(to_close, now, w->thread)) {
            lend_locked(s, w->tenant, SteadyClock::now());
            w->slot = s;
            waiters_.remove(w);
            waiting_--;
            w->cv.notify_one();
        } else if (total_ + dialing_ < max_size_ && dialing_ < dial_limit_locked()) {
            dialing_++;
            w->dial = true;
            w->dialing = true;
            waiting_--;
            w->cv.notify_one();
        } else {
            break;
        }
        w = next;
    }
}

void Endpoint::evict_locked(SlotList &to_close)
{
    generation_++;
    evictions_++;
    closed_ += idle_.size;
    total_ -= idle_.size;
    to_close.append(idle_);
    if (role_ == Role::replica)
        healthy_.store(false, std::memory_order_relaxed);
}

void Endpoint::trim_idle_locked(SlotList &to_close)
{
    while (idle_.size > max_idle_) {
        Slot *s = idle_.tail;
        idle_.remove(s);
        total_--;
        closed_++;
        to_close.push_back(s);
    }
}

void Endpoint::on_failure_locked(Failure failure, std::uint64_t generation, SlotList &to_close)
{
    if (failure == Failure::none || generation != generation_)
        return;  // nothing to react to, or already evicted
    if (failure == Failure::read_only && role_ == Role::replica)
        return;  // a write sent to a replica: the caller's mistake, not a failover
    log(LogLevel::warn, std::string(failure == Failure::read_only ? "server became read-only (failover)"
                                    : failure == Failure::shutdown ? "server is shutting down"
                                                                   : "connection lost") +
                            " - dropping all " + std::to_string(idle_.size) +
                            " idle connections, busy ones when returned");
    evict_locked(to_close);
}

void Endpoint::close(SlotList &slots) noexcept
{
    while (Slot *s = slots.pop_front())
        delete s;  // PQfinish: a system call, never under the lock
}

std::chrono::milliseconds Endpoint::backoff_locked()
{
    const auto &o = pool_.options;
    const std::uint32_t shift = std::min<std::uint32_t>(consecutive_failures_ - 1, 20);
    const std::chrono::milliseconds cap = std::min<std::chrono::milliseconds>(
        o.reconnect_backoff_max, o.reconnect_backoff_min * (1LL << shift));
    // Half fixed, half random: spread out, but never back to back.
    auto half = cap / 2;
    return half + std::chrono::milliseconds(
                      static_cast<long long>(random_unit() * static_cast<double>(half.count() + 1)));
}

void Endpoint::dial_failed_locked(const std::string &error)
{
    failed_++;
    consecutive_failures_++;
    last_error_ = error;
    last_failure_at_ = SteadyClock::now();
    next_dial_at_ = last_failure_at_ + backoff_locked();
    healthy_.store(false, std::memory_order_relaxed);
}

std::size_t Endpoint::dial_limit_locked() const noexcept
{
    // While dials fail, one probe at a time: the others wait for its verdict.
    return consecutive_failures_ > 0 ? 1 : pool_.options.max_concurrent_dials;
}

Deadline Endpoint::next_waiting_dial_locked() const noexcept
{
    if (consecutive_failures_ == 0)
        return {};
    return std::min(next_dial_at_, last_failure_at_ + probe_interval_while_waiting);
}

void Endpoint::dial_succeeded_locked()
{
    if (consecutive_failures_ > 0)
        log(LogLevel::info, "connected again after " + std::to_string(consecutive_failures_) +
                                " failed attempts");
    consecutive_failures_ = 0;
    next_dial_at_ = {};
    healthy_.store(true, std::memory_order_relaxed);
    // Callers holding a dial permission may be waiting out a backoff: the
    // server is back, so they dial now instead of sleeping past its return.
    for (Waiter *w = waiters_.head; w != nullptr; w = w->next)
        if (w->dialing)
            w->cv.notify_one();
}

Slot *Endpoint::dial(Deadline deadline, bool respect_backoff)
{
    if (respect_backoff) {
        std::lock_guard lock(mutex_);
        if (SteadyClock::now() < next_dial_at_)
            return nullptr;
    }
    const Deadline full = SteadyClock::now() + pool_.options.connect_timeout;
    if (deadline <= SteadyClock::now())
        return nullptr;
    std::unique_ptr<Connection> conn;
    try {
        conn = Connection::open(conninfo_, pool_.options.connection, std::min(deadline, full));
    } catch (const Error &error) {
        // Cut short by the caller's acquire deadline: not the server's fault.
        if (deadline < full && SteadyClock::now() >= deadline)
            return nullptr;
        std::lock_guard lock(mutex_);
        dial_failed_locked(error.message());
        if (consecutive_failures_ == 1 || consecutive_failures_ % 10 == 0)
            log(LogLevel::warn, "cannot connect (" + std::to_string(consecutive_failures_) +
                                    " failures in a row): " + error.message());
        return nullptr;
    }
    conn->set_observer(pool_.observer);
    conn->count_round_trips_in(&pool_.round_trips);
    auto *slot = new Slot;
    slot->conn = std::move(conn);
    slot->created = pool_.clock->now();
    slot->idle_since = slot->created;
    slot->last_checked = slot->created;
    const auto lifetime = pool_.options.max_lifetime;
    if (lifetime.count() > 0) {
        const double shortened = 1.0 - pool_.options.max_lifetime_jitter * random_unit();
        slot->expires_at = slot->created + std::chrono::duration_cast<Clock::duration>(
                                               lifetime * shortened);
    } else {
        slot->expires_at = Clock::time_point::max();
    }
    std::lock_guard lock(mutex_);
    dial_succeeded_locked();
    slot->generation = generation_;
    return slot;
}

void Endpoint::throw_timeout_locked(SteadyClock::time_point started)
{
    const auto waited =
        std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - started);
    if (consecutive_failures_ > 0 && total_ < max_size_)
        throw CannotConnect(ErrorFields{
            .sqlstate = "08001",
            .message = "could not connect to " + name_ + " within " +
                       std::to_string(waited.count()) + " ms: " + last_error_});
    std::chrono::milliseconds longest{0};
    if (in_use_.head != nullptr)
        longest = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() -
                                                                        in_use_.head->leased_at);
    throw PoolExhausted(max_size_, waiting_, longest, waited);
}

Lease Endpoint::acquire(const TenantId *tenant, Deadline deadline, bool fail_fast)
{
    const auto started = SteadyClock::now();
    auto clock_now = [&] { return pool_.clock_is_steady ? SteadyClock::now() : pool_.clock->now(); };
    SlotList to_close;
    Waiter w;
    w.tenant = tenant;
    w.thread = this_thread_token();
    bool front = false;   // re-queue at the front after a bad connection
    bool waited = false;  // the fast path is only for the first try

    lock_adaptively(mutex_);
    std::unique_lock lock(mutex_, std::adopt_lock);
    acquires_++;
    for (;;) {
        Slot *slot = nullptr;
        const Clock::time_point now = pool_.clock_is_steady ? started : pool_.clock->now();
        if (!waited && waiting_ == 0 && tenant_ok_locked(tenant))
            slot = take_idle_locked(to_close, now, w.thread);
        if (slot != nullptr) {
            lend_locked(slot, tenant, started);
        } else {
            waited = true;
            if (!w.queued && !w.dialing) {
                if (!tenant_ok_locked(tenant))
                    pool_.tenant_waits.fetch_add(1, std::memory_order_relaxed);
                front ? waiters_.push_front(&w) : waiters_.push_back(&w);
                waiting_++;
            }
            dispatch_locked(to_close, clock_now());
            while (w.slot == nullptr && !w.dial) {
                if (!to_close.empty()) {
                    lock.unlock();
                    close(to_close);
                    lock.lock();
                    continue;
                }
                if (w.cv.wait_until(lock, deadline) == std::cv_status::timeout && w.slot == nullptr &&
                    !w.dial) {
                    waiters_.remove(&w);
                    waiting_--;
                    timeouts_++;
                    dispatch_locked(to_close, clock_now());  // our place may have held others back
                    try {
                        throw_timeout_locked(started);
                    } catch (...) {
                        lock.unlock();
                        close(to_close);
                        throw;
                    }
                }
            }
            slot = w.slot;
            w.slot = nullptr;
        }

        if (slot != nullptr) {
            // On the fast path `now` is fresh; after a wait it is not.
            const auto idle_for = (waited ? clock_now() : now) - slot->idle_since;
            const bool check = idle_for >= pool_.options.validate_after_idle;
            reused_++;
            lock.unlock();
            close(to_close);
            if (!check || slot->conn->check_alive()) {
                pool_.acquire_latency.record(SteadyClock::now() - started);
                return Lease(this, slot);
            }
            // It died while idle (restart, terminated backend): so did its siblings, probably.
            lock.lock();
            unlend_locked(slot);
            total_--;
            closed_++;
            broken_++;
            on_failure_locked(slot->conn->last_failure() == Failure::none ? Failure::lost
                                                                           : slot->conn->last_failure(),
                              slot->generation, to_close);
            to_close.push_back(slot);
            front = true;
            continue;
        }

        // Permission to open a connection; our place in the queue is kept.
        // While the server fails, the next probe waits a little (bounded by
        // probe_interval_while_waiting, not by the full backoff), and a dial
        // that succeeds elsewhere wakes us at once.
        w.dial = false;
        while (!fail_fast && SteadyClock::now() < next_waiting_dial_locked() &&
               SteadyClock::now() < deadline)
            w.cv.wait_until(lock, std::min(next_waiting_dial_locked(), deadline));
        lock.unlock();
        close(to_close);
        Slot *fresh = SteadyClock::now() < deadline ? dial(deadline, fail_fast) : nullptr;
        lock.lock();
        dialing_--;
        w.dialing = false;
        if (fresh != nullptr) {
            total_++;
            created_++;
            waiters_.remove(&w);
            lend_locked(fresh, tenant, SteadyClock::now());
            dispatch_locked(to_close, clock_now());
            lock.unlock();
            close(to_close);
            pool_.acquire_latency.record(SteadyClock::now() - started);
            return Lease(this, fresh);
        }
        if (fail_fast || SteadyClock::now() >= deadline) {
            waiters_.remove(&w);
            dispatch_locked(to_close, clock_now());
            // A dial cut short by the caller's deadline while no dial has
            // failed is slowness (an overloaded server or client), not an
            // unreachable server: a Timeout, like any other wait that ran out.
            const bool slow = !fail_fast && consecutive_failures_ == 0;
            timeouts_ += slow;
            std::string error = last_error_.empty() ? "backing off after failed attempts" : last_error_;
            lock.unlock();
            close(to_close);
            if (slow)
                throw AcquireTimeout(ErrorFields{
                    .message = "no connection within " +
                               std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                  SteadyClock::now() - started)
                                                  .count()) +
                               " ms: a new connection to " + name_ + " was still being opened"});
            throw CannotConnect(ErrorFields{.sqlstate = "08001",
                                            .message = "could not connect to " + name_ + ": " + error});
        }
        waiting_++;  // back to waiting, in the same place
        // Someone else may be granted the next dial; we wait our turn.
    }
}

void Endpoint::release(Slot *slot, bool discard) noexcept
{
    const Failure failure = slot->conn->last_failure();
    const bool clean = slot->conn->is_clean();
    SlotList to_close;
    {
        lock_adaptively(mutex_);
        std::lock_guard lock(mutex_, std::adopt_lock);
        const Clock::time_point now = pool_.clock->now();
        unlend_locked(slot);
        on_failure_locked(failure, slot->generation, to_close);
        if (discard || !clean || !usable_locked(slot, now)) {
            total_--;
            closed_++;
            broken_ += slot->conn->is_broken();
            to_close.push_back(slot);
        } else {
            slot->idle_since = now;
            slot->last_holder = this_thread_token();
            idle_.push_front(slot);
        }
        dispatch_locked(to_close, now);
        trim_idle_locked(to_close);  // after the waiters took what they wanted
    }
    close(to_close);
}

void Endpoint::evict()
{
    SlotList to_close;
    {
        std::lock_guard lock(mutex_);
        evict_locked(to_close);
        dispatch_locked(to_close, pool_.clock->now());
    }
    close(to_close);
}

void Endpoint::maintain()
{
    const auto &o = pool_.options;
    SlotList to_close, to_check;
    Clock::time_point now = pool_.clock->now();
    {
        std::lock_guard lock(mutex_);
        // From the least recently used end: expired, stale, idle too long (above min_size).
        for (Slot *s = idle_.tail; s != nullptr;) {
            Slot *prev = s->prev;
            const bool stale = !usable_locked(s, now);
            const bool idle_expired = o.idle_timeout.count() > 0 &&
                                      now - s->idle_since >= o.idle_timeout && total_ > min_size_;
            if (stale || idle_expired) {
                idle_.remove(s);
                total_--;
                closed_++;
                to_close.push_back(s);
            } else if (o.health_check_interval.count() > 0 &&
                       now - std::max(s->idle_since, s->last_checked) >= o.health_check_interval) {
                idle_.remove(s);
                checking_++;
                to_check.push_back(s);
            }
            s = prev;
        }
    }
    close(to_close);

    while (Slot *s = to_check.pop_front()) {
        bool ok = s->conn->check_alive();
        if (ok) {
            try {
                // Bounded: a server that stopped answering must not stall maintenance.
                s->conn->set_round_trip_timeout(o.connect_timeout);
                s->conn->exec("SELECT 1");
                s->conn->set_round_trip_timeout(o.connection.round_trip_timeout);
            } catch (const Error &) {
                ok = false;
            }
        }
        std::lock_guard lock(mutex_);
        checking_--;
        health_checks_++;
        if (ok && s->generation == generation_) {
            s->last_checked = now;
            idle_.push_back(s);  // keeps its place at the idle end
        } else {
            total_--;
            closed_++;
            if (!ok) {
                broken_++;
                on_failure_locked(s->conn->last_failure() == Failure::none ? Failure::lost
                                                                            : s->conn->last_failure(),
                                  s->generation, to_close);
            }
            to_close.push_back(s);
        }
        dispatch_locked(to_close, pool_.clock->now());
    }
    close(to_close);

    // Keep min_size open; probe an unhealthy server once its backoff allows.
    for (;;) {
        {
            std::lock_guard lock(mutex_);
            const bool below_min = total_ + dialing_ < min_size_;
            const bool probe = !healthy() && total_ + dialing_ < max_size_ && dialing_ == 0;
            if ((!below_min && !probe) || dialing_ >= dial_limit_locked() ||
                SteadyClock::now() < next_dial_at_)
                break;
            dialing_++;
        }
        Slot *fresh = dial(SteadyClock::now() + o.connect_timeout, true);
        std::lock_guard lock(mutex_);
        dialing_--;
        if (fresh == nullptr)
            break;
        total_++;
        created_++;
        idle_.push_front(fresh);
        dispatch_locked(to_close, pool_.clock->now());
    }
    {
        std::lock_guard lock(mutex_);
        trim_idle_locked(to_close);
    }
    close(to_close);
}

EndpointMetrics Endpoint::metrics() const
{
    std::lock_guard lock(mutex_);
    EndpointMetrics m;
    m.name = name_;
    m.role = std::string(role_name());
    m.healthy = healthy();
    m.in_use = in_use_.size;
    m.idle = idle_.size;
    m.total = total_;
    m.dialing = dialing_;
    m.waiters = waiting_;
    m.max_size = max_size_;
    m.acquires = acquires_;
    m.reused = reused_;
    m.timeouts = timeouts_;
    m.created = created_;
    m.closed = closed_;
    m.failed = failed_;
    m.broken = broken_;
    m.evictions = evictions_;
    m.health_checks = health_checks_;
    m.consecutive_failures = consecutive_failures_;
    m.last_error = last_error_;
    return m;
}

}  // namespace stratum::detail
