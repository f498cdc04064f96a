// The clock the pool reads for idle and lifetime expiry. Tests swap in a
// ManualClock to expire connections without waiting.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>

namespace stratum {

class Clock {
public:
    using time_point = std::chrono::steady_clock::time_point;
    using duration = std::chrono::steady_clock::duration;
    virtual ~Clock() = default;
    virtual time_point now() const noexcept = 0;

    // std::chrono::steady_clock (a vDSO read, no system call).
    static std::shared_ptr<const Clock> steady();
};

// A clock that moves only when told to; starts at the steady clock's now.
class ManualClock final : public Clock {
public:
    ManualClock() noexcept;
    time_point now() const noexcept override
    {
        return time_point(duration(ticks_.load(std::memory_order_acquire)));
    }
    void advance(duration by) noexcept { ticks_.fetch_add(by.count(), std::memory_order_acq_rel); }

private:
    std::atomic<duration::rep> ticks_;
};

}  // namespace stratum
