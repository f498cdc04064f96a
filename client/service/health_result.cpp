// Names of health states, as health output and metrics spell them.
#include "stratum/health_result.hpp"

namespace stratum {

std::string_view to_string(HealthState state) noexcept
{
    switch (state) {
    case HealthState::up:
        return "up";
    case HealthState::degraded:
        return "degraded";
    case HealthState::down:
        return "down";
    }
    return "down";
}

}  // namespace stratum
