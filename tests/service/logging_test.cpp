// stratum::logging: field names, text and JSON lines, levels, and that no
// secret reaches a line.
#include <memory>
#include <mutex>
#include <sstream>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "stratum/logging.hpp"

namespace logging = stratum::logging;
using testing::HasSubstr;
using testing::Not;

namespace {

// Collects lines; the writer shares ownership of the storage, so a logger
// that outlives a test never writes into freed memory.
class Capture {
public:
    logging::Writer writer()
    {
        auto storage = storage_;
        return [storage](std::string_view line) {
            std::lock_guard lock(storage->mutex);
            storage->lines.emplace_back(line);
        };
    }
    std::vector<std::string> lines()
    {
        std::lock_guard lock(storage_->mutex);
        return storage_->lines;
    }

private:
    struct Storage {
        std::mutex mutex;
        std::vector<std::string> lines;
    };
    std::shared_ptr<Storage> storage_ = std::make_shared<Storage>();
};

}  // namespace

TEST(Logging, JsonLinesCarryTheStandardFields)
{
    Capture capture;
    logging::setup(logging::Options{logging::Level::info, true, capture.writer()});
    logging::info("pool", "query done",
                  {{logging::field::tenant, "aaaaaaaa-0000-4000-8000-000000000001"},
                   {logging::field::duration_ms, 12.5},
                   {logging::field::sqlstate, "23505"},
                   {logging::field::attempt, 3},
                   {"retried", true}});
    auto lines = capture.lines();
    ASSERT_EQ(lines.size(), 1u);
    auto json = nlohmann::json::parse(lines[0]);
    EXPECT_EQ(json["level"], "info");
    EXPECT_EQ(json["component"], "pool");
    EXPECT_EQ(json["msg"], "query done");
    EXPECT_EQ(json["tenant"], "aaaaaaaa-0000-4000-8000-000000000001");
    EXPECT_DOUBLE_EQ(json["duration_ms"].get<double>(), 12.5);
    EXPECT_EQ(json["sqlstate"], "23505");
    EXPECT_EQ(json["attempt"], 3);
    EXPECT_EQ(json["retried"], true);
    std::string ts = json["ts"];
    EXPECT_EQ(ts.size(), 24u) << ts;  // 2026-01-02T03:04:05.678Z
    EXPECT_EQ(ts.back(), 'Z');
    // Key order is fixed: ts, level, component, msg, then fields.
    EXPECT_EQ(lines[0].rfind("{\"ts\":", 0), 0u);
}

TEST(Logging, TextLinesAreReadable)
{
    Capture capture;
    logging::setup(logging::Options{logging::Level::debug, false, capture.writer()});
    logging::warn("redis", "connection lost",
                  {{logging::field::endpoint, "127.0.0.1:6379"},
                   {logging::field::error, "Connection reset by peer"}});
    auto lines = capture.lines();
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_THAT(lines[0], HasSubstr(" WARN  redis: connection lost endpoint=127.0.0.1:6379 "
                                    "error=\"Connection reset by peer\""));
}

TEST(Logging, LevelsFilter)
{
    Capture capture;
    stratum::LoggingConfig config;
    config.level = "warn";
    logging::setup(config, capture.writer());
    EXPECT_FALSE(logging::enabled(logging::Level::info));
    EXPECT_TRUE(logging::enabled(logging::Level::error));
    logging::info("x", "dropped");
    logging::debug("x", "dropped");
    logging::error("x", "kept");
    auto lines = capture.lines();
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_THAT(lines[0], HasSubstr("kept"));
    config.level = "loud";
    EXPECT_THROW(logging::setup(config, capture.writer()), std::invalid_argument);
}

TEST(Logging, DirectSpdlogCallsUseTheSameFormat)
{
    Capture capture;
    logging::setup(logging::Options{logging::Level::info, true, capture.writer()});
    spdlog::info("from spdlog {}", 42);
    auto lines = capture.lines();
    ASSERT_EQ(lines.size(), 1u);
    auto json = nlohmann::json::parse(lines[0]);
    EXPECT_EQ(json["msg"], "from spdlog 42");
    EXPECT_EQ(json["component"], "stratum");
}

// setup() routes the thin library's lines (stratum::write_log) here: as a
// structured line named by the pool's logger, or to the spdlog logger of that
// name when the application registered one.
TEST(Logging, TheThinLibrarysLinesComeThroughTheServiceLogging)
{
    Capture capture;
    logging::setup(logging::Options{logging::Level::info, true, capture.writer()});
    stratum::write_log({}, stratum::LogRecord{stratum::LogLevel::warn, "stratum", "pool p (primary): connection lost"});
    auto lines = capture.lines();
    ASSERT_EQ(lines.size(), 1u);
    auto json = nlohmann::json::parse(lines[0]);
    EXPECT_EQ(json["level"], "warn");
    EXPECT_EQ(json["component"], "stratum");
    EXPECT_EQ(json["msg"], "pool p (primary): connection lost");

    std::ostringstream other;
    auto logger = std::make_shared<spdlog::logger>(
        "orders_pool", std::make_shared<spdlog::sinks::ostream_sink_mt>(other));
    spdlog::register_logger(logger);
    stratum::write_log({}, stratum::LogRecord{stratum::LogLevel::warn, "orders_pool", "slow query sql=\"SELECT 1\""});
    logger->flush();
    spdlog::drop("orders_pool");
    EXPECT_THAT(other.str(), HasSubstr("slow query sql=\"SELECT 1\""));
    EXPECT_EQ(capture.lines().size(), 1u);  // not also in the service's log
    logging::setup(logging::Options{});
}

TEST(Logging, SecretsNeverReachALine)
{
    Capture capture;
    logging::setup(logging::Options{logging::Level::info, true, capture.writer()});
    logging::error("pool", "connect failed: host='db' password='s3cr\\'et one' user=app");
    logging::error("pool", "connect failed: host=db password=hunter2 user=app");
    logging::error("pool", "bad url postgres://app:hunter3@db:5432/app");
    logging::error("http", "rejected Authorization: Bearer tok-hunter4");
    logging::error(
        "cfg", "loaded",
        {{"password", "hunter5"}, {"admin_token", "hunter6"}, {"detail", "PASSWORD = hunter7"}});
    logging::error("json", R"(body {"password":"hunter8"})");
    std::string all;
    for (const std::string &line : capture.lines())
        all += line + "\n";
    for (const char *secret : {"s3cr", "et one", "hunter2", "hunter3", "hunter4", "hunter5",
                               "hunter6", "hunter7", "hunter8"})
        EXPECT_THAT(all, Not(HasSubstr(secret))) << all;
    EXPECT_THAT(all, HasSubstr("user=app"));
    EXPECT_THAT(all, HasSubstr("postgres://app:[redacted]@db:5432/app"));
    for (const std::string &line : capture.lines())
        EXPECT_TRUE(nlohmann::json::accept(line)) << line;
}

TEST(Logging, RedactLeavesOrdinaryTextAlone)
{
    EXPECT_EQ(logging::redact("tenant acme migrated 3 tables"), "tenant acme migrated 3 tables");
    EXPECT_EQ(logging::redact("see http://example.com/docs"), "see http://example.com/docs");
    EXPECT_EQ(logging::redact("password authentication failed for user \"app\""),
              "password authentication failed for user \"app\"");
}
