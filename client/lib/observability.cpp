// Query hooks and the slow-query log (key=value fields, through the log sink).
#include "stratum/observability.hpp"

#include <atomic>
#include <cstdio>

namespace stratum {
namespace {

// SQL on one line, quoted, cut at 500 characters.
void append_quoted_sql(std::string &out, std::string_view sql)
{
    out += '"';
    std::size_t n = 0;
    for (char c : sql) {
        if (n++ == 500) {
            out += "...";
            break;
        }
        if (c == '\n' || c == '\r' || c == '\t')
            c = ' ';
        if (c == '"' || c == '\\')
            out += '\\';
        out += c;
    }
    out += '"';
}

}  // namespace

QueryObserver::QueryObserver(ObservabilityOptions options)
    : options_(std::move(options)),
      idle_(options_.slow_query_threshold.count() <= 0 && !options_.before_query &&
            !options_.after_query)
{
}

void QueryObserver::log(LogLevel level, std::string_view message) const noexcept
{
    write_log(options_.log_sink, LogRecord{level, options_.logger_name, message});
}

// Runs a hook; what it throws is logged and swallowed.
void QueryObserver::call_hook(const QueryHook &hook, const char *name,
                              const QueryEvent &event) const noexcept
{
    auto report = [&](const char *why) noexcept {
        try {
            std::string line = std::string(name) + " hook threw";
            if (why != nullptr)
                line += std::string(": ") + why;
            log(LogLevel::error, line);
        } catch (...) {
        }
    };
    try {
        hook(event);
    } catch (const std::exception &e) {
        report(e.what());
    } catch (...) {
        report(nullptr);
    }
}

void QueryObserver::before(const QueryEvent &event) const noexcept
{
    if (options_.before_query)
        call_hook(options_.before_query, "before_query", event);
}

void QueryObserver::after(const QueryEvent &event) const noexcept
{
    if (options_.after_query)
        call_hook(options_.after_query, "after_query", event);
    if (options_.slow_query_threshold.count() > 0 && event.duration >= options_.slow_query_threshold) {
        slow_queries_.fetch_add(1, std::memory_order_relaxed);
        try {
            log(LogLevel::warn, "slow query " + format_query_event(event, options_.log_parameters));
        } catch (...) {
            // Logging must not turn a successful query into a failure.
        }
    }
}

std::uint64_t QueryObserver::slow_queries() const noexcept
{
    return slow_queries_.load(std::memory_order_relaxed);
}

std::string format_query_event(const QueryEvent &event, bool with_parameters)
{
    std::string out;
    out.reserve(128 + event.sql.size());
    out += "tenant=";
    out += event.tenant != nullptr ? event.tenant->view() : std::string_view("-");
    out += " duration_ms=";
    char buffer[32];
    int n = std::snprintf(buffer, sizeof buffer, "%.3f",
                          std::chrono::duration<double, std::milli>(event.duration).count());
    out.append(buffer, static_cast<std::size_t>(n));
    out += " rows=" + std::to_string(event.rows);
    out += " sqlstate=";
    out += event.sqlstate.empty() ? std::string_view("00000") : event.sqlstate;
    if (!event.endpoint.empty()) {
        out += " server=";
        out += event.endpoint;
    }
    out += " sql=";
    append_quoted_sql(out, event.sql);
    if (with_parameters && event.params != nullptr && !event.params->empty()) {
        out += " params=";
        append_quoted_sql(out, event.params->redacted());
    }
    return out;
}

}  // namespace stratum
