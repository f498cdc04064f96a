// `stratum serve` as a subprocess: it listens where told (a free loopback
// port here), serves health, metrics and admin endpoints with the pool from
// the configuration, refuses unsafe settings, and on SIGTERM or SIGINT stops
// accepting, finishes the request in progress, closes its connections and
// exits 0.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "http_test_support.hpp"

using namespace std::chrono_literals;
using nlohmann::json;
using testing::HasSubstr;

namespace stratum {
namespace {

const std::string db = "stratum_http_serve_test";
const std::string token = "serve-token-0123456789";
const std::string application = "stratum-serve-test";

class ServeTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() { test::recreate_database(db); }
    void SetUp() override
    {
        for (const auto &port : test::replica_ports())
            test::wait_for_replica(port);
        test::Topology t;
        t.dbname = db;
        std::string yaml = test::topology_yaml(t);
        // Tag every connection of the server, to see them closed at exit.
        const std::string user = "user: stratum_owner";
        yaml.replace(yaml.find(user), user.size(),
                     user + ", application_name: " + application +
                         ", max_idle_conns: 2, max_open_conns: 10");
        config = std::make_unique<test::TempFile>("stratum.yaml", yaml);
    }
    std::map<std::string, std::string> env(const std::string &admin_token = token)
    {
        return {{"DATABASE_URL", ""},
                {"STRATUM_ENV", ""},
                {"STRATUM_CONFIG", ""},
                {"STRATUM_ADMIN_TOKEN", admin_token}};
    }
    // Starts `stratum serve` and returns its port (0 when it did not come up).
    int start(test::Subprocess &process)
    {
        const std::string line = process.wait_for_output("listening on http://127.0.0.1:", 30s);
        if (line.empty()) {
            ADD_FAILURE() << "stratum serve did not start:\n" << process.out() << process.err();
            return 0;
        }
        return std::stoi(line.substr(line.rfind(':') + 1));
    }
    static int server_connections()
    {
        return std::stoi(test::admin_sql(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = '" + application + "'",
            "postgres"));
    }

    std::unique_ptr<test::TempFile> config;
};

TEST_F(ServeTest, ServesThenShutsDownGracefullyOnSigterm)
{
    test::Subprocess serve({"serve", "--config", config->path(), "--listen", "127.0.0.1:0"}, env());
    const int port = start(serve);
    ASSERT_NE(port, 0);

    auto database = test::http(port, "GET", "/health/database");
    EXPECT_EQ(database.status, 200) << database.raw;
    EXPECT_EQ(json::parse(database.body)["state"], "up");
    auto pool = test::http(port, "GET", "/health/database/pool");
    EXPECT_EQ(pool.status, 200);
    EXPECT_EQ(json::parse(pool.body)["pool"]["max_size"], 10);  // from the configuration
    EXPECT_EQ(test::http(port, "GET", "/health/migrations").status, 200);
    auto metrics = test::http(port, "GET", "/metrics");
    EXPECT_EQ(metrics.status, 200);
    const test::Exposition parsed = test::parse_exposition(metrics.body);
    EXPECT_TRUE(parsed.errors.empty()) << testing::PrintToString(parsed.errors);
    EXPECT_EQ(parsed.find("stratum_pool_connections_max", {{"role", "primary"}}).at(0).value, 10);
    EXPECT_EQ(test::http(port, "GET", "/admin/migrations/status").status, 401);
    auto status =
        test::http(port, "GET", "/admin/migrations/status", {"Authorization: Bearer " + token});
    EXPECT_EQ(status.status, 200) << status.raw;
    EXPECT_TRUE(json::parse(status.body)["migrations"].is_array());
    EXPECT_GT(server_connections(), 0);

    // A request in progress when the signal comes: it is answered, new
    // connections are refused meanwhile, then the process exits 0.
    int fd = test::connect_loopback(port);
    ASSERT_GE(fd, 0);
    test::send_all(fd, "GET /health/database HTTP/1.1\r\nHost: x\r\n");
    std::this_thread::sleep_for(200ms);
    serve.signal(SIGTERM);
    std::this_thread::sleep_for(500ms);
    EXPECT_EQ(test::connect_loopback(port), -1) << "still accepting after SIGTERM";
    EXPECT_FALSE(serve.wait(0ms)) << "exited before finishing the request in progress";
    test::send_all(fd, "Connection: close\r\n\r\n");
    const auto in_flight = test::parse_response(test::read_until_closed(fd, 10s));
    ::close(fd);
    EXPECT_EQ(in_flight.status, 200);

    const auto code = serve.wait(15s);
    ASSERT_TRUE(code) << "still running 15 s after SIGTERM";
    EXPECT_EQ(*code, 0) << serve.err();
    EXPECT_THAT(serve.err(), HasSubstr("shutting down"));
    EXPECT_THAT(serve.err(), HasSubstr("stopped"));
    EXPECT_THAT(serve.out() + serve.err(), testing::Not(HasSubstr(token)));
    // The pool was closed: its backends go away.
    int left = -1;
    for (int i = 0; i < 100 && left != 0; i++) {
        left = server_connections();
        if (left != 0)
            std::this_thread::sleep_for(50ms);
    }
    EXPECT_EQ(left, 0);
}

TEST_F(ServeTest, AdminEndpointsRunTheMigrationsOfTheConfiguration)
{
    test::recreate_database(db);
    test::TempDir migrations;
    migrations.write("master/001_notes.up.sql", "CREATE TABLE serve_notes (id int);\n");
    migrations.write("master/001_notes.down.sql", "DROP TABLE serve_notes;\n");
    migrations.write("master/002_tags.up.sql", "CREATE TABLE serve_tags (id int);\n");
    migrations.write("master/002_tags.down.sql", "DROP TABLE serve_tags;\n");
    migrations.write("seeds/development/001_rows.sql", "INSERT INTO serve_notes VALUES (1), (2);\n");
    std::string yaml = test::topology_yaml([] {
        test::Topology t;
        t.dbname = db;
        t.replicas = t.redis = t.minio = false;
        return t;
    }());
    yaml += "migrations: {dir: \"" + migrations.path() + "\"}\n";
    test::TempFile file("stratum.yaml", yaml);
    test::Subprocess serve({"serve", "--config", file.path(), "--listen", "127.0.0.1:0"}, env());
    const int port = start(serve);
    ASSERT_NE(port, 0);
    const std::string auth = "Authorization: Bearer " + token;
    auto post = [&](const std::string &path, const std::string &body) {
        return test::http(port, "POST", path, {auth, "Content-Type: application/json"}, body);
    };

    auto before = json::parse(test::http(port, "GET", "/health/migrations").body);
    EXPECT_EQ(before["components"]["migrations"]["source"], "files");
    EXPECT_EQ(before["components"]["migrations"]["pending"], 2);

    auto dry = post("/admin/migrations/up", R"({"dry_run": true})");
    ASSERT_EQ(dry.status, 200) << dry.raw;
    EXPECT_EQ(json::parse(dry.body)["dry_run"], true);
    EXPECT_EQ(test::admin_sql("SELECT count(*) FROM stratum.schema_migrations", db), "0");

    auto up = post("/admin/migrations/up", "{}");
    ASSERT_EQ(up.status, 200) << up.raw;
    EXPECT_EQ(json::parse(up.body)["counts"]["applied"], 2);
    EXPECT_EQ(test::admin_sql("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'serve_%'", db), "2");
    // The health report was refreshed by the action, not at the next round.
    auto after = json::parse(test::http(port, "GET", "/health/migrations").body);
    EXPECT_EQ(after["components"]["migrations"]["pending"], 0);
    EXPECT_EQ(after["components"]["migrations"]["version"], 2);

    auto status = test::http(port, "GET", "/admin/migrations/status", {auth});
    ASSERT_EQ(status.status, 200);
    EXPECT_EQ(json::parse(status.body)["migrations"][1]["state"], "applied");

    auto seeded = post("/admin/database/seed", "{}");
    ASSERT_EQ(seeded.status, 200) << seeded.raw;
    EXPECT_EQ(json::parse(seeded.body)["environment"], "development");
    EXPECT_EQ(test::admin_sql("SELECT count(*) FROM serve_notes", db), "2");

    EXPECT_EQ(post("/admin/migrations/down", R"({"steps": "two"})").status, 400);
    EXPECT_EQ(post("/admin/migrations/down", R"({"steps": 1, "to": 0})").status, 400);
    EXPECT_EQ(post("/admin/migrations/up", R"({"target": 2})").status, 400);  // not an option
    auto down = post("/admin/migrations/down", R"({"steps": 1})");
    ASSERT_EQ(down.status, 200) << down.raw;
    EXPECT_EQ(json::parse(down.body)["migrations"][0]["version"], 2);
    EXPECT_EQ(test::admin_sql("SELECT count(*) FROM pg_tables WHERE tablename = 'serve_tags'", db), "0");

    // A file changed after it was applied: the runner refuses, 409 drift.
    migrations.write("master/001_notes.up.sql", "CREATE TABLE serve_notes (id bigint);\n");
    auto drift = post("/admin/migrations/up", "{}");
    EXPECT_EQ(drift.status, 409) << drift.raw;
    json error = json::parse(drift.body)["error"];
    EXPECT_EQ(error["code"], "drift");
    EXPECT_EQ(error["status"], 409);
    EXPECT_THAT(error["message"].get<std::string>(), HasSubstr("001_notes")) << drift.body;

    serve.signal(SIGTERM);
    EXPECT_EQ(serve.wait(15s).value_or(-1), 0);
}

TEST_F(ServeTest, SigintStopsItToo)
{
    test::Subprocess serve({"serve", "--config", config->path(), "--listen", "127.0.0.1:0"},
                           env(""));
    const int port = start(serve);
    ASSERT_NE(port, 0);
    EXPECT_EQ(test::http(port, "POST", "/admin/migrations/up").status, 403);  // no token: admin off
    serve.signal(SIGINT);
    const auto code = serve.wait(15s);
    ASSERT_TRUE(code);
    EXPECT_EQ(*code, 0);
}

TEST_F(ServeTest, RefusesANonLoopbackAddressUnlessAllowed)
{
    for (const char *listen : {"0.0.0.0:0", "[::]:0", "127.example.com:0"}) {
        const auto refused =
            test::run_stratum({"serve", "--config", config->path(), "--listen", listen}, env());
        EXPECT_EQ(refused.exit_code, 2) << listen;
        EXPECT_THAT(refused.err, HasSubstr("--allow-non-loopback")) << listen;
    }
    // Loopback in another form is fine: it starts (and is stopped here).
    test::Subprocess serve({"serve", "--config", config->path(), "--listen", "127.0.0.2:0"}, env());
    EXPECT_FALSE(serve.wait_for_output("listening on http://127.0.0.2:", 30s).empty())
        << serve.err();
    serve.signal(SIGTERM);
    EXPECT_EQ(serve.wait(15s).value_or(-1), 0);
}

TEST_F(ServeTest, RefusesAShortAdminToken)
{
    const auto refused = test::run_stratum(
        {"serve", "--config", config->path(), "--listen", "127.0.0.1:0"}, env("short"));
    EXPECT_EQ(refused.exit_code, 2);
    EXPECT_THAT(refused.err, HasSubstr("STRATUM_ADMIN_TOKEN"));
    EXPECT_THAT(refused.err, testing::Not(HasSubstr("short\n")));
}

TEST_F(ServeTest, APortInUseFails)
{
    test::SilentPort taken;  // listening, so the port cannot be bound again
    const auto failed = test::run_stratum({"serve", "--config", config->path(), "--listen",
                                           "127.0.0.1:" + std::to_string(taken.port())},
                                          env());
    EXPECT_EQ(failed.exit_code, 1);
    EXPECT_THAT(failed.err,
                HasSubstr("cannot listen on 127.0.0.1:" + std::to_string(taken.port())));
}

}  // namespace
}  // namespace stratum
