// Structured logging for libstratum and the stratum command: one line per
// event, as text or JSON, with the same field names everywhere (ts, level,
// component, msg, tenant, duration_ms, sqlstate, ...). spdlog underneath,
// kept out of this header. Secrets are masked before a line is written.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

#include "stratum/config.hpp"
#include "stratum/log_sink.hpp"

namespace stratum::logging {

enum class Level { trace, debug, info, warn, error, critical, off };

// "trace" ... "off" (and "warning"); throws std::invalid_argument.
Level parse_level(std::string_view name);
std::string_view to_string(Level level) noexcept;

// The field names stratum uses; use these rather than inventing synonyms.
namespace field {
inline constexpr std::string_view tenant = "tenant";  // tenant uuid
inline constexpr std::string_view actor = "actor";
inline constexpr std::string_view duration_ms = "duration_ms";  // a double
inline constexpr std::string_view sqlstate = "sqlstate";
inline constexpr std::string_view error = "error";        // an error message
inline constexpr std::string_view endpoint = "endpoint";  // host:port, never a conninfo
inline constexpr std::string_view attempt = "attempt";
inline constexpr std::string_view state = "state";      // up / degraded / down
inline constexpr std::string_view version = "version";  // a migration version
}  // namespace field

// A field's value: text, integer, floating point or boolean.
class Value {
public:
    Value(std::string_view text) : value_(std::string(text)) {}
    Value(const char *text) : value_(std::string(text ? text : "")) {}
    Value(std::string text) : value_(std::move(text)) {}
    Value(bool flag) : value_(flag) {}
    template <class T>
    requires(std::is_integral_v<T> && !std::is_same_v<T, bool>) Value(T number)
        : value_(static_cast<std::int64_t>(number))
    {
    }
    template <class T>
    requires std::is_floating_point_v<T> Value(T number) : value_(static_cast<double>(number)) {}
    // A Secret is never a log value: this overload exists to refuse it.
    Value(const Secret &) = delete;

    const std::variant<std::string, std::int64_t, double, bool> &get() const { return value_; }

private:
    std::variant<std::string, std::int64_t, double, bool> value_;
};

struct Field {
    std::string_view key;
    Value value;
};

// Receives each finished line (without the newline). Default: stderr.
using Writer = std::function<void(std::string_view line)>;

struct Options {
    Level level = Level::info;
    bool json = false;
    Writer writer;  // empty = stderr
};

// Replaces the process's logging setup (also spdlog's default logger, so
// code that calls spdlog directly writes the same format, and the thin
// library's sink: see library_sink). Thread-safe.
void setup(const Options &options);
// From the configuration's logging section; throws std::invalid_argument on
// an unknown level.
void setup(const LoggingConfig &config, Writer writer = {});

bool enabled(Level level) noexcept;

// One event. `component` says which part of stratum speaks ("pool",
// "redis", "minio", "migrate", ...). Never throws.
void log(Level level, std::string_view component, std::string_view msg,
         std::initializer_list<Field> fields = {}) noexcept;

inline void debug(std::string_view component, std::string_view msg,
                  std::initializer_list<Field> fields = {}) noexcept
{
    log(Level::debug, component, msg, fields);
}
inline void info(std::string_view component, std::string_view msg,
                 std::initializer_list<Field> fields = {}) noexcept
{
    log(Level::info, component, msg, fields);
}
inline void warn(std::string_view component, std::string_view msg,
                 std::initializer_list<Field> fields = {}) noexcept
{
    log(Level::warn, component, msg, fields);
}
inline void error(std::string_view component, std::string_view msg,
                  std::initializer_list<Field> fields = {}) noexcept
{
    log(Level::error, component, msg, fields);
}

// The thin library's log lines (pool warnings, slow queries) as lines of this
// logging: to the spdlog logger named like LogRecord::logger when one is
// registered (ObservabilityOptions::logger_name), else a structured line
// whose component is that name. setup() installs it with stratum::set_log_sink.
LogSink library_sink();

// Masks secrets that can hide in free text: password=... in connection
// strings (quoted or not), user:password@ in URLs, bearer tokens. Applied
// to every message and text field; fields named like a secret (password,
// secret, token, authorization) are replaced whole.
std::string redact(std::string_view text);

}  // namespace stratum::logging
