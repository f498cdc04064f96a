// Where the thin library's own log lines go (pool warnings, slow queries, a
// hook that threw): a callback, no logging library underneath. The default
// writes info and above to stderr; stratum::logging::setup() (stratum-service)
// routes them through spdlog with the service's structured lines.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

namespace stratum {

enum class LogLevel : std::uint8_t { debug, info, warn, error };

// "debug", "info", "warn", "error".
std::string_view to_string(LogLevel level) noexcept;

// One line. Views are valid during the call only.
struct LogRecord {
    LogLevel level = LogLevel::info;
    std::string_view logger;   // ObservabilityOptions::logger_name ("stratum" unless set)
    std::string_view message;  // one line; never a secret parameter's value
};

using LogSink = std::function<void(const LogRecord &)>;

// Replaces the process-wide sink; an empty one restores the default (stderr).
// Thread-safe. A sink runs on the thread that logs and must not throw (what
// it throws is swallowed).
void set_log_sink(LogSink sink);

// Hands `record` to `sink`, or to the process-wide sink when `sink` is empty.
// Never throws.
void write_log(const LogSink &sink, const LogRecord &record) noexcept;

}  // namespace stratum
