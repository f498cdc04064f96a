// `stratum health` as a subprocess: its JSON and text output and its exit
// codes (0 up, 0 with a warning when degraded, 1 when a component is down, 2
// for a bad configuration), and no secret in what it prints.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "http_test_support.hpp"

using namespace std::chrono_literals;
using nlohmann::json;
using testing::HasSubstr;
using testing::Not;

namespace stratum {
namespace {

const std::string db = "stratum_cli_health_test";

class CliHealthTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() { test::recreate_database(db); }
    void SetUp() override
    {
        for (const auto &port : test::replica_ports())
            test::wait_for_replica(port);
    }
    static test::Topology topology()
    {
        test::Topology t;
        t.dbname = db;
        return t;
    }
    // The environment the command runs with: nothing from the test's own
    // that could change the configuration.
    static std::map<std::string, std::string> env(std::map<std::string, std::string> extra = {})
    {
        std::map<std::string, std::string> e = {{"DATABASE_URL", ""},
                                                {"STRATUM_ENV", ""},
                                                {"STRATUM_CONFIG", ""},
                                                {"PGPASSWORD", ""},
                                                {"REDIS_URL", ""}};
        for (auto &[k, v] : extra)
            e[k] = v;
        return e;
    }
};

TEST_F(CliHealthTest, EverythingUpExitsZero)
{
    test::TempFile config("stratum.yaml", test::topology_yaml(topology()));
    const auto result = test::run_stratum({"health", "--json", "--config", config.path()}, env());
    ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
    const json report = json::parse(result.out);
    EXPECT_EQ(report["state"], "up");
    EXPECT_EQ(report["components"].size(), 6u);
    EXPECT_EQ(report["components"]["postgres.master"]["state"], "up");
    EXPECT_EQ(report["components"]["postgres.replica.1"]["role"], "replica");
    EXPECT_TRUE(report["components"]["migrations"]["applied"].is_number());
    EXPECT_THAT(result.err, Not(HasSubstr("warning")));

    const auto text = test::run_stratum({"health", "--config", config.path()}, env());
    EXPECT_EQ(text.exit_code, 0);
    EXPECT_THAT(text.out, HasSubstr("overall: up"));
    EXPECT_THAT(text.out, testing::ContainsRegex("postgres.master +up"));
    EXPECT_THAT(text.out, HasSubstr("redis"));
}

TEST_F(CliHealthTest, ADownComponentExitsOne)
{
    test::TempFile config("stratum.yaml", test::topology_yaml(topology()));
    const std::string closed = "127.0.0.1:" + std::to_string(test::closed_port());
    const auto result = test::run_stratum({"health", "--json", "--config", config.path()},
                                          env({{"STRATUM_DATABASE_REDIS_ADDR", closed}}));
    EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
    const json report = json::parse(result.out);
    EXPECT_EQ(report["state"], "degraded");  // Redis is optional...
    EXPECT_EQ(report["components"]["redis"]["state"], "down");
    EXPECT_THAT(result.err, HasSubstr("redis is down"));  // ...but down is down
}

TEST_F(CliHealthTest, ADownPrimaryExitsOne)
{
    test::Topology t = topology();
    t.replicas = t.redis = t.minio = false;
    test::TempFile config("stratum.yaml", test::topology_yaml(t));
    const std::string url =
        "postgresql://stratum_owner@127.0.0.1:" + std::to_string(test::closed_port()) + "/" + db;
    const auto result = test::run_stratum(
        {"health", "--json", "--config", config.path(), "--database", url}, env());
    EXPECT_EQ(result.exit_code, 1);
    const json report = json::parse(result.out);
    EXPECT_EQ(report["state"], "down");
    EXPECT_EQ(report["components"]["postgres.master"]["state"], "down");
    EXPECT_THAT(result.err, HasSubstr("postgres.master is down"));
}

TEST_F(CliHealthTest, DegradedExitsZeroWithAWarning)
{
    // The primary listed as a replica: reachable, but not a standby.
    test::Topology t = topology();
    t.replicas = t.redis = t.minio = false;
    std::string yaml = test::topology_yaml(t);
    const std::string replica =
        "    replicas: [{host: 127.0.0.1, port: " + test::required_env("STRATUM_TEST_PGPORT") +
        "}]\n";
    yaml.insert(yaml.find('\n', yaml.find("master:")) + 1, replica);
    test::TempFile config("stratum.yaml", yaml);
    const auto result = test::run_stratum({"health", "--config", config.path()}, env());
    EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
    EXPECT_THAT(result.out, HasSubstr("overall: degraded"));
    EXPECT_THAT(result.err, HasSubstr("warning: postgres.replica.0 is degraded: not a standby"));
}

TEST_F(CliHealthTest, BadConfigurationExitsTwo)
{
    const auto missing =
        test::run_stratum({"health", "--config", "/nonexistent/stratum.yaml"}, env());
    EXPECT_EQ(missing.exit_code, 2);
    EXPECT_THAT(missing.err, HasSubstr("configuration"));
    test::TempFile config("stratum.yaml", "health: {timeout: soon}\n");
    const auto invalid = test::run_stratum({"health", "--config", config.path()}, env());
    EXPECT_EQ(invalid.exit_code, 2);
    EXPECT_THAT(invalid.err, HasSubstr("health.timeout"));
    EXPECT_EQ(test::run_stratum({"health", "--no-such-flag"}, env()).exit_code, 2);
}

TEST_F(CliHealthTest, NoSecretInTheOutput)
{
    test::Topology t = topology();
    t.replicas = false;
    test::TempFile config("stratum.yaml", test::topology_yaml(t));
    const std::string url =
        "postgresql://stratum_owner:sup3r-s3cret@127.0.0.1:" + std::to_string(test::closed_port()) +
        "/" + db;
    for (const char *format : {"--json", "--log-level=debug"}) {
        const auto result =
            test::run_stratum({"health", format, "--config", config.path(), "--database", url},
                              env({{"STRATUM_DATABASE_REDIS_PASSWORD", "redis-s3cret"}}));
        EXPECT_EQ(result.exit_code, 1) << result.err;
        EXPECT_THAT(result.out + result.err, Not(HasSubstr("sup3r-s3cret")));
        EXPECT_THAT(result.out + result.err, Not(HasSubstr("redis-s3cret")));
        EXPECT_THAT(result.out + result.err, Not(HasSubstr("S3RVER,")));
    }
}

}  // namespace
}  // namespace stratum
