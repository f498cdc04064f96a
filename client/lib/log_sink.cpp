// The process-wide log sink of the thin library, and its stderr default.
#include "stratum/log_sink.hpp"

#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

namespace stratum {
namespace {

void write_stderr(const LogRecord &record)
{
    if (record.level < LogLevel::info)
        return;
    std::string line(record.logger);
    line += ' ';
    line += to_string(record.level);
    line += ": ";
    line += record.message;
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), stderr);
}

std::mutex sink_mutex;
std::shared_ptr<const LogSink> process_sink;  // null: write_stderr

std::shared_ptr<const LogSink> current_sink()
{
    std::lock_guard lock(sink_mutex);
    return process_sink;
}

}  // namespace

std::string_view to_string(LogLevel level) noexcept
{
    switch (level) {
    case LogLevel::debug:
        return "debug";
    case LogLevel::info:
        return "info";
    case LogLevel::warn:
        return "warn";
    case LogLevel::error:
        return "error";
    }
    return "info";
}

void set_log_sink(LogSink sink)
{
    auto next = sink ? std::make_shared<const LogSink>(std::move(sink)) : nullptr;
    std::lock_guard lock(sink_mutex);
    process_sink = std::move(next);
}

void write_log(const LogSink &sink, const LogRecord &record) noexcept
{
    try {
        if (sink) {
            sink(record);
        } else if (auto shared = current_sink()) {
            (*shared)(record);
        } else {
            write_stderr(record);
        }
    } catch (...) {
        // Logging must never take the caller down.
    }
}

}  // namespace stratum
