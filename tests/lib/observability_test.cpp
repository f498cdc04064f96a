// Slow-query log lines (structured fields, secrets redacted) through the
// pool's log sink, and the before/after query hooks.
#include <gtest/gtest.h>

#include <mutex>
#include <sstream>

#include <stratum/stratum.hpp>

#include "client_support.hpp"
#include "test_env.hpp"

using namespace stratum;

namespace {

const std::string db = "stratum_observability_test";

class ObservabilityTest : public ::testing::Test {
protected:
    static void SetUpTestSuite()
    {
        test::recreate_database(db);
        test::create_tenant_table("accounts",
                                  "id int PRIMARY KEY, email text UNIQUE, password_hash text", db);
    }
    void SetUp() override
    {
        test::admin_sql("TRUNCATE accounts", db);
    }

    // A sink that keeps this pool's lines as "<level> <logger>: <message>".
    LogSink sink()
    {
        return [this](const LogRecord &record) {
            std::lock_guard lock(mutex);
            log << to_string(record.level) << ' ' << record.logger << ": " << record.message << '\n';
        };
    }
    std::string text()
    {
        std::lock_guard lock(mutex);
        return log.str();
    }

    std::mutex mutex;
    std::ostringstream log;
};

TEST_F(ObservabilityTest, SlowQueryLogHasFieldsAndNeverSecrets)
{
    PoolOptions o = test::app_pool_options(db);
    o.observability.slow_query_threshold = std::chrono::microseconds(1);  // everything is slow
    o.observability.log_parameters = true;
    o.observability.log_sink = sink();
    o.observability.logger_name = "observability_test";
    Pool pool(o);
    pool.query(test::acme, "INSERT INTO accounts VALUES ($1, $2, $3)", 1, "a@example.com",
               secret(std::string("s3cr3t-hash")));
    EXPECT_THROW(pool.query(test::acme, "INSERT INTO accounts VALUES ($1, $2, $3)", 2,
                            "a@example.com", secret(std::string("other-hash"))),
                 UniqueViolation);
    const std::string text = this->text();
    EXPECT_NE(text.find("warn observability_test: slow query tenant=aaaaaaaa-0000-4000-8000-000000000001"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("rows=1 sqlstate=00000"), std::string::npos) << text;
    EXPECT_NE(text.find("sqlstate=23505"), std::string::npos) << text;
    EXPECT_NE(text.find("duration_ms="), std::string::npos) << text;
    EXPECT_NE(text.find("sql=\"INSERT INTO accounts VALUES ($1, $2, $3)\""), std::string::npos) << text;
    EXPECT_NE(text.find("$2='a@example.com'"), std::string::npos) << text;
    EXPECT_NE(text.find("$3=<secret>"), std::string::npos) << text;
    EXPECT_EQ(text.find("s3cr3t-hash"), std::string::npos) << text;
    EXPECT_EQ(text.find("other-hash"), std::string::npos) << text;
    // libstratum's own statements (the tenant context) are not logged as the user's.
    EXPECT_EQ(text.find("set_tenant"), std::string::npos) << text;
    EXPECT_EQ(pool.metrics().slow_queries, 2u);
}

TEST_F(ObservabilityTest, ParametersStayOutOfLogsUnlessAskedFor)
{
    PoolOptions o = test::app_pool_options(db);
    o.observability.slow_query_threshold = std::chrono::microseconds(1);
    o.observability.log_sink = sink();
    o.observability.logger_name = "observability_test";
    Pool pool(o);
    pool.query(test::acme, "SELECT $1::text", "a-plain-value");
    EXPECT_NE(text().find("SELECT $1::text"), std::string::npos);
    EXPECT_EQ(text().find("a-plain-value"), std::string::npos) << text();

    // Fast queries are not logged at all with a sensible threshold.
    PoolOptions quiet = o;
    quiet.observability.slow_query_threshold = std::chrono::seconds(10);
    Pool calm(quiet);
    log.str("");
    calm.query(test::acme, "SELECT 1");
    EXPECT_EQ(text(), "");
}

TEST_F(ObservabilityTest, HooksSeeEachStatementOnce)
{
    std::mutex mutex;
    std::vector<std::string> before, after;
    std::vector<std::string> states;
    std::vector<std::size_t> rows;
    std::vector<bool> had_tenant;
    PoolOptions o = test::app_pool_options(db);
    o.observability.before_query = [&](const QueryEvent &e) {
        std::lock_guard lock(mutex);
        before.emplace_back(e.sql);
    };
    o.observability.after_query = [&](const QueryEvent &e) {
        std::lock_guard lock(mutex);
        after.emplace_back(e.sql);
        states.emplace_back(e.sqlstate);
        rows.push_back(e.rows);
        had_tenant.push_back(e.tenant != nullptr && *e.tenant == test::acme);
        EXPECT_GT(e.duration.count(), 0);
        EXPECT_FALSE(e.endpoint.empty());
    };
    Pool pool(o);
    pool.with_tenant(test::acme, [](Tx &tx) {
        tx.exec("INSERT INTO accounts (id, email) VALUES (1, 'x@example.com')");
        tx.exec("SELECT * FROM accounts");
    });
    EXPECT_THROW(pool.query(test::acme, "SELECT 1/0"), DataError);
    const std::vector<std::string> expected{"INSERT INTO accounts (id, email) VALUES (1, 'x@example.com')",
                                            "SELECT * FROM accounts", "SELECT 1/0"};
    EXPECT_EQ(before, expected);
    EXPECT_EQ(after, expected);
    EXPECT_EQ(states, (std::vector<std::string>{"", "", "22012"}));
    EXPECT_EQ(rows, (std::vector<std::size_t>{1, 1, 0}));
    EXPECT_EQ(had_tenant, (std::vector<bool>{true, true, true}));
}

TEST_F(ObservabilityTest, AHookThatThrowsDoesNotBreakTheQuery)
{
    PoolOptions o = test::app_pool_options(db);
    o.observability.after_query = [](const QueryEvent &) { throw std::runtime_error("tracing broke"); };
    o.observability.log_sink = sink();
    o.observability.logger_name = "observability_test";
    Pool pool(o);
    EXPECT_EQ(pool.query(test::acme, "SELECT 5").value<int>(), 5);
    EXPECT_NE(text().find("error observability_test: after_query hook threw: tracing broke"),
              std::string::npos)
        << text();
}

// Without a sink of its own, a pool writes to the process-wide one
// (stratum::set_log_sink), which a service points at its logging.
TEST_F(ObservabilityTest, PoolsWithoutASinkWriteToTheProcessWideOne)
{
    set_log_sink(sink());
    PoolOptions o = test::app_pool_options(db);
    o.observability.slow_query_threshold = std::chrono::microseconds(1);
    Pool pool(o);
    pool.query(test::acme, "SELECT 6");
    set_log_sink({});
    EXPECT_NE(text().find("warn stratum: slow query tenant=aaaaaaaa-0000-4000-8000-000000000001"),
              std::string::npos)
        << text();
    // Restored: nothing more arrives here.
    log.str("");
    pool.query(test::acme, "SELECT 7");
    EXPECT_EQ(text(), "");
}

}  // namespace
