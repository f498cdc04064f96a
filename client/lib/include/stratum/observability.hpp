// Query hooks (before/after every statement, for tracing) and the slow-query
// log. Log lines carry structured key=value fields (tenant, duration, rows,
// SQLSTATE) and never the value of a secret parameter.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "stratum/log_sink.hpp"
#include "stratum/params.hpp"
#include "stratum/uuid.hpp"

namespace stratum {

// One statement as the hooks see it. Views are valid during the call only.
struct QueryEvent {
    std::string_view sql;
    const Params *params = nullptr;          // check is_secret(i) before showing a value
    const TenantId *tenant = nullptr;        // null outside a tenant transaction
    std::string_view endpoint;               // host:port of the server
    // after_query only:
    std::chrono::nanoseconds duration{0};    // the round trip that carried the statement
    std::size_t rows = 0;                    // returned or affected
    std::string_view sqlstate;               // empty on success
    std::string_view error;                  // the server's message on failure
};

using QueryHook = std::function<void(const QueryEvent &)>;

struct ObservabilityOptions {
    // Statements slower than this are logged at warn level; zero turns it off.
    std::chrono::microseconds slow_query_threshold{0};
    // Include parameter values in slow-query lines (secret ones always show as <secret>).
    bool log_parameters = false;
    // Called before each statement is sent and after its result arrived.
    // They run on the caller's thread; an exception they throw is logged and swallowed.
    QueryHook before_query;
    QueryHook after_query;
    // Where this pool's log lines go (slow queries, hooks that threw, pool
    // warnings); empty: the process-wide sink (stratum::set_log_sink).
    LogSink log_sink;
    // The logger every line names (LogRecord::logger). Through the spdlog
    // adapter of stratum-service, the spdlog logger of this name when one is
    // registered, else the service's default logger.
    std::string logger_name = "stratum";
};

// Applies ObservabilityOptions; shared by every connection of a pool.
class QueryObserver {
public:
    explicit QueryObserver(ObservabilityOptions options);
    // Nothing to do for any event: callers skip building events.
    bool idle() const noexcept { return idle_; }
    void before(const QueryEvent &event) const noexcept;
    void after(const QueryEvent &event) const noexcept;
    const ObservabilityOptions &options() const noexcept { return options_; }
    std::uint64_t slow_queries() const noexcept;
    // One line to this pool's log sink, named by logger_name.
    void log(LogLevel level, std::string_view message) const noexcept;

private:
    void call_hook(const QueryHook &hook, const char *name, const QueryEvent &event) const noexcept;
    ObservabilityOptions options_;
    bool idle_;
    mutable std::atomic<std::uint64_t> slow_queries_{0};
};

// key=value text of an event, as the slow-query log writes it.
std::string format_query_event(const QueryEvent &event, bool with_parameters);

}  // namespace stratum
