// Go-style durations ("500ms", "30s", "1h30m"), as configuration files and
// migration headers write them.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace stratum {

using Duration = std::chrono::milliseconds;

// Parses a Go-style duration: "500ms", "30s", "30m", "24h", "1h30m", "1.5h",
// "2d" (24h days) or "0". A number without a unit, a negative or an unknown
// unit throws std::invalid_argument.
Duration parse_duration(std::string_view text);

// The shortest exact rendering: "1h30m", "500ms", "0s".
std::string format_duration(Duration duration);

}  // namespace stratum
