// The steady clock and the manual clock tests use.
#include "stratum/clock.hpp"

namespace stratum {
namespace {

class SteadyClock final : public Clock {
public:
    time_point now() const noexcept override { return std::chrono::steady_clock::now(); }
};

}  // namespace

std::shared_ptr<const Clock> Clock::steady()
{
    static const std::shared_ptr<const Clock> clock = std::make_shared<SteadyClock>();
    return clock;
}

ManualClock::ManualClock() noexcept
    : ticks_(std::chrono::steady_clock::now().time_since_epoch().count())
{
}

}  // namespace stratum
