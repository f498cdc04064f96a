// Structured log lines (text or JSON) through spdlog, with secrets masked.
#include "stratum/logging.hpp"

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <regex>

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace stratum::logging {

Level parse_level(std::string_view name)
{
    std::string lowered;
    for (char c : name)
        lowered += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    static constexpr std::pair<std::string_view, Level> names[] = {
        {"trace", Level::trace},       {"debug", Level::debug},  {"info", Level::info},
        {"warn", Level::warn},         {"warning", Level::warn}, {"error", Level::error},
        {"critical", Level::critical}, {"off", Level::off},
    };
    for (const auto &[text, level] : names)
        if (text == lowered)
            return level;
    throw std::invalid_argument("unknown log level \"" + std::string(name) + "\"");
}

std::string_view to_string(Level level) noexcept
{
    switch (level) {
    case Level::trace:
        return "trace";
    case Level::debug:
        return "debug";
    case Level::info:
        return "info";
    case Level::warn:
        return "warn";
    case Level::error:
        return "error";
    case Level::critical:
        return "critical";
    case Level::off:
        return "off";
    }
    return "info";
}

namespace {

bool contains_ci(std::string_view text, std::string_view needle)
{
    auto it =
        std::search(text.begin(), text.end(), needle.begin(), needle.end(), [](char a, char b) {
            return std::tolower(static_cast<unsigned char>(a)) == b;
        });
    return it != text.end();
}

bool secret_key(std::string_view key)
{
    for (std::string_view word : {"password", "secret", "token", "authorization", "passwd"})
        if (contains_ci(key, word))
            return true;
    return false;
}

}  // namespace

std::string redact(std::string_view text)
{
    // Cheap checks first: most lines carry nothing to mask.
    bool keyword = contains_ci(text, "password") || contains_ci(text, "passwd");
    bool url = text.find("://") != std::string_view::npos;
    bool bearer = contains_ci(text, "bearer");
    if (!keyword && !url && !bearer)
        return std::string(text);
    std::string out(text);
    if (keyword) {
        // password='quoted \' value' | password=value | "password":"value"
        static const std::regex quoted(R"re(((?:ssl)?pass(?:word|wd)\s*=\s*)'(?:[^'\\]|\\.)*'?)re",
                                       std::regex::icase);
        static const std::regex bare(
            R"re(((?:ssl)?pass(?:word|wd)\s*[=:]\s*)(?!'|\[redacted\])[^\s,;&]+)re",
            std::regex::icase);
        static const std::regex json(R"re(("(?:ssl)?pass(?:word|wd)"\s*:\s*)"(?:[^"\\]|\\.)*")re",
                                     std::regex::icase);
        out = std::regex_replace(out, quoted, "$1[redacted]");
        out = std::regex_replace(out, json, "$1\"[redacted]\"");
        out = std::regex_replace(out, bare, "$1[redacted]");
    }
    if (url) {
        static const std::regex userinfo(R"re(([A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)[^@\s]*@)re");
        out = std::regex_replace(out, userinfo, "$1[redacted]@");
    }
    if (bearer) {
        static const std::regex token(R"re((bearer\s+)[^\s,;]+)re", std::regex::icase);
        out = std::regex_replace(out, token, "$1[redacted]");
    }
    return out;
}

namespace {

// The component and fields of the event being logged on this thread; spdlog
// formats synchronously, in the caller's thread, so the formatter finds them.
struct Record {
    std::string_view component;
    std::initializer_list<Field> fields;
};
thread_local const Record *current_record = nullptr;

std::string_view level_name(spdlog::level::level_enum level)
{
    switch (level) {
    case spdlog::level::trace:
        return "trace";
    case spdlog::level::debug:
        return "debug";
    case spdlog::level::info:
        return "info";
    case spdlog::level::warn:
        return "warn";
    case spdlog::level::err:
        return "error";
    case spdlog::level::critical:
        return "critical";
    default:
        return "off";
    }
}

spdlog::level::level_enum to_spdlog(Level level)
{
    switch (level) {
    case Level::trace:
        return spdlog::level::trace;
    case Level::debug:
        return spdlog::level::debug;
    case Level::info:
        return spdlog::level::info;
    case Level::warn:
        return spdlog::level::warn;
    case Level::error:
        return spdlog::level::err;
    case Level::critical:
        return spdlog::level::critical;
    case Level::off:
        return spdlog::level::off;
    }
    return spdlog::level::info;
}

void iso8601(std::chrono::system_clock::time_point time, std::string &out)
{
    auto since_epoch = time.time_since_epoch();
    std::time_t seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch).count();
    int millis = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch).count() % 1000);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                  utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, millis);
    out += buffer;
}

void json_string(std::string_view text, std::string &out)
{
    out += '"';
    for (char c : text) {
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\t':
            out += "\\t";
            break;
        default:
            if (static_cast<unsigned char>(c) < 0x20) {
                char escaped[8];
                std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
                out += escaped;
            } else {
                out += c;
            }
        }
    }
    out += '"';
}

// A text-format value: bare when it is one plain word, quoted otherwise.
void text_value(std::string_view text, std::string &out)
{
    bool plain = !text.empty();
    for (char c : text)
        if (std::isspace(static_cast<unsigned char>(c)) || c == '"' || c == '=' || c == '\\')
            plain = false;
    if (plain)
        out += text;
    else
        json_string(text, out);
}

std::string number_text(const std::variant<std::string, std::int64_t, double, bool> &value)
{
    if (const auto *integer = std::get_if<std::int64_t>(&value))
        return std::to_string(*integer);
    if (const auto *flag = std::get_if<bool>(&value))
        return *flag ? "true" : "false";
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.3f", std::get<double>(value));
    std::string text(buffer);
    while (text.size() > 1 && text.back() == '0')  // 12.500 -> 12.5, 3.000 -> 3
        text.pop_back();
    if (text.back() == '.')
        text.pop_back();
    return text;
}

bool reserved(std::string_view key)
{
    return key == "ts" || key == "level" || key == "component" || key == "msg";
}

class Formatter final : public spdlog::formatter {
public:
    explicit Formatter(bool json) : json_(json) {}

    void format(const spdlog::details::log_msg &message, spdlog::memory_buf_t &dest) override
    {
        std::string line;
        line.reserve(160);
        std::string_view component =
            current_record != nullptr
                ? current_record->component
                : std::string_view(message.logger_name.data(), message.logger_name.size());
        std::string msg = redact(std::string_view(message.payload.data(), message.payload.size()));
        std::string_view level = level_name(message.level);
        if (json_) {
            line += "{\"ts\":\"";
            iso8601(message.time, line);
            line += "\",\"level\":\"";
            line += level;
            line += "\",\"component\":";
            json_string(component, line);
            line += ",\"msg\":";
            json_string(msg, line);
        } else {
            iso8601(message.time, line);
            line += ' ';
            std::string upper;
            for (char c : level)
                upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
            upper.resize(std::max<size_t>(upper.size(), 5), ' ');
            line += upper;
            line += ' ';
            line += component;
            line += ": ";
            line += msg;
        }
        if (current_record != nullptr)
            for (const Field &field : current_record->fields) {
                std::string key(field.key);
                if (reserved(key))
                    key += '_';
                const auto &value = field.value.get();
                const auto *text = std::get_if<std::string>(&value);
                std::string masked;
                if (text != nullptr)
                    masked = secret_key(key) ? "[redacted]" : redact(*text);
                if (json_) {
                    line += ',';
                    json_string(key, line);
                    line += ':';
                    if (text != nullptr)
                        json_string(masked, line);
                    else
                        line += number_text(value);
                } else {
                    line += ' ';
                    line += key;
                    line += '=';
                    if (text != nullptr)
                        text_value(masked, line);
                    else
                        line += number_text(value);
                }
            }
        if (json_)
            line += '}';
        line += '\n';
        dest.append(line.data(), line.data() + line.size());
    }

    std::unique_ptr<spdlog::formatter> clone() const override
    {
        return std::make_unique<Formatter>(json_);
    }

private:
    bool json_;
};

class WriterSink final : public spdlog::sinks::base_sink<std::mutex> {
public:
    explicit WriterSink(Writer writer) : writer_(std::move(writer)) {}

protected:
    void sink_it_(const spdlog::details::log_msg &message) override
    {
        spdlog::memory_buf_t formatted;
        formatter_->format(message, formatted);
        std::string_view line(formatted.data(), formatted.size());
        if (!line.empty() && line.back() == '\n')
            line.remove_suffix(1);
        writer_(line);
    }
    void flush_() override {}

private:
    Writer writer_;
};

std::mutex logger_mutex;
std::shared_ptr<spdlog::logger> active_logger;
std::atomic<int> active_level{static_cast<int>(Level::info)};

std::shared_ptr<spdlog::logger> make_logger(const Options &options)
{
    spdlog::sink_ptr sink;
    if (options.writer)
        sink = std::make_shared<WriterSink>(options.writer);
    else
        sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    auto logger = std::make_shared<spdlog::logger>("stratum", sink);
    logger->set_formatter(std::make_unique<Formatter>(options.json));
    logger->set_level(to_spdlog(options.level));
    logger->flush_on(spdlog::level::warn);
    return logger;
}

std::shared_ptr<spdlog::logger> current_logger()
{
    std::lock_guard lock(logger_mutex);
    if (!active_logger)
        active_logger = make_logger(Options{});
    return active_logger;
}

}  // namespace

void setup(const Options &options)
{
    auto logger = make_logger(options);
    {
        std::lock_guard lock(logger_mutex);
        active_logger = logger;
        active_level.store(static_cast<int>(options.level), std::memory_order_relaxed);
    }
    spdlog::set_default_logger(logger);
    set_log_sink(library_sink());
}

LogSink library_sink()
{
    return [](const LogRecord &record) {
        const Level level = record.level == LogLevel::debug  ? Level::debug
                            : record.level == LogLevel::info ? Level::info
                            : record.level == LogLevel::warn ? Level::warn
                                                             : Level::error;
        // A logger the application registered under this name gets the line as it is.
        if (auto named = spdlog::get(std::string(record.logger)); named && named != current_logger()) {
            named->log(to_spdlog(level), "{}", record.message);
            return;
        }
        log(level, record.logger, record.message);
    };
}

void setup(const LoggingConfig &config, Writer writer)
{
    Options options;
    options.level = parse_level(config.level);
    options.json = config.json;
    options.writer = std::move(writer);
    setup(options);
}

bool enabled(Level level) noexcept
{
    return level != Level::off &&
           static_cast<int>(level) >= active_level.load(std::memory_order_relaxed);
}

void log(Level level, std::string_view component, std::string_view msg,
         std::initializer_list<Field> fields) noexcept
{
    if (!enabled(level))
        return;
    try {
        auto logger = current_logger();
        Record record{component, fields};
        current_record = &record;
        logger->log(to_spdlog(level), "{}", msg);
        current_record = nullptr;
    } catch (...) {
        current_record = nullptr;  // logging never takes the caller down
    }
}

}  // namespace stratum::logging
