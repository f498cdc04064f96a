// The admin endpoints over real HTTP: off without a token (403), every
// request without the right token refused (401 + WWW-Authenticate) and
// nothing done, actions that really apply and roll back migrations and seeds
// in the database, seeding refused in production, failures mapped to status
// codes, and no secret in any response or log line.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <mutex>

#include <nlohmann/json.hpp>

#include <stratum/service.hpp>

#include "client_support.hpp"
#include "http_test_support.hpp"

using namespace stratum;
using namespace std::chrono_literals;
using nlohmann::json;
using testing::HasSubstr;

namespace {

const std::string db = "stratum_http_admin_test";
const std::string token = "tk-7f3a9c1e5b2d8a4f6e0c";  // 22 characters
const std::string db_password = "db-pw 'q' @=9Xz";

// Admin actions that do real work on the test database as the migration role,
// the way the runner will: apply, roll back, list, seed.
class LedgerActions {
public:
    LedgerActions()
    {
        ConnectionOptions options;
        connection_ = Connection::open(
            test::conninfo_at(test::required_env("STRATUM_TEST_PGPORT"), "stratum_owner", db),
            options, std::chrono::steady_clock::now() + 10s);
    }

    std::vector<std::pair<std::int64_t, std::string>> migrations = {
        {1, "CREATE TABLE admin_one (id int)"}, {2, "CREATE TABLE admin_two (id int)"}};
    std::atomic<int> seeds_called{0};

    AdminActions actions()
    {
        AdminActions a;
        a.migrate_up = [this](const AdminRequest &request) {
            const json options = json::parse(request.body);
            const std::int64_t target = options.value("target", std::int64_t{1000});
            json applied = json::array();
            std::lock_guard lock(mutex_);
            Tx tx(*connection_);
            for (const auto &[version, sql] : migrations) {
                if (version > target)
                    break;
                const std::string down =
                    "DROP TABLE admin_" + std::string(version == 1 ? "one" : "two");
                const auto outcome =
                    tx.exec("SELECT stratum.apply_migration('master', $1, $2, $3, $4)", version,
                            "m" + std::to_string(version), sql, down)
                        .value<std::string>();
                applied.push_back({{"version", version}, {"outcome", outcome}});
            }
            tx.commit();
            return AdminResponse{200, json{{"applied", applied}}.dump()};
        };
        a.migrate_down = [this](const AdminRequest &) {
            std::lock_guard lock(mutex_);
            Tx tx(*connection_);
            const auto version =
                tx.exec("SELECT max(version) FROM stratum.schema_migrations "
                        "WHERE scope = 'master' AND kind = 'migration' AND status = 'applied'")
                    .value<std::optional<std::int64_t>>();
            if (!version)
                throw AdminError(409, "nothing_to_roll_back", "no applied migration");
            const auto outcome =
                tx.exec("SELECT stratum.rollback_migration('master', $1)", *version)
                    .value<std::string>();
            tx.commit();
            return AdminResponse{200, json{{"version", *version}, {"outcome", outcome}}.dump()};
        };
        a.migration_status = [this](const AdminRequest &) {
            std::lock_guard lock(mutex_);
            const auto rows =
                connection_
                    ->exec("SELECT coalesce(json_agg(json_build_object('version', version, "
                           "'kind', kind, 'status', status) ORDER BY kind, version), '[]')::text "
                           "FROM stratum.migration_status('master')")
                    .value<std::string>();
            return AdminResponse{200, "{\"migrations\":" + rows + "}"};
        };
        a.seed = [this](const AdminRequest &) {
            seeds_called++;
            std::lock_guard lock(mutex_);
            const auto outcome =
                connection_
                    ->exec(
                        "SELECT stratum.apply_migration('master', 1, 'demo_rows', "
                        "'CREATE TABLE seeded_demo (id int); INSERT INTO seeded_demo VALUES (1)', "
                        "kind => 'seed', environment => 'development')")
                    .value<std::string>();
            return AdminResponse{200, json{{"seed", 1}, {"outcome", outcome}}.dump()};
        };
        return a;
    }

private:
    std::mutex mutex_;
    std::unique_ptr<Connection> connection_;
};

struct AdminServer {
    AdminServer(AdminActions admin, const std::string &admin_token, bool production = false)
        : config(test::topology_config(topology(), {{"PGPASSWORD", db_password}}))
        , checker(config)
    {
        HttpServerOptions options;
        options.listen = HostPort{"127.0.0.1", 0};
        options.admin_token = Secret(admin_token);
        options.production = production;
        server = std::make_unique<HttpServer>(options, checker, nullptr, std::move(admin));
        server->start();
        port = server->port();
    }
    static test::Topology topology()
    {
        test::Topology t;
        t.dbname = db;
        t.replicas = t.redis = t.minio = false;
        return t;
    }
    Config config;
    HealthChecker checker;
    std::unique_ptr<HttpServer> server;
    int port = 0;
};

std::string bearer(const std::string &value)
{
    return "Authorization: Bearer " + value;
}

std::string ledger()
{
    return test::admin_sql(
        "SELECT coalesce(string_agg(kind || ':' || version || ':' || status, ',' "
        "ORDER BY kind, version), '') FROM stratum.schema_migrations",
        db);
}

class HttpAdminTest : public ::testing::Test {
protected:
    void SetUp() override { test::recreate_database(db); }
};

const std::vector<std::pair<std::string, std::string>> admin_endpoints = {
    {"POST", "/admin/migrations/up"},
    {"POST", "/admin/migrations/down"},
    {"GET", "/admin/migrations/status"},
    {"POST", "/admin/database/seed"},
};

TEST_F(HttpAdminTest, OffWhenNoTokenIsConfigured)
{
    LedgerActions ledger_actions;
    AdminServer s(ledger_actions.actions(), "");
    for (const auto &[method, path] : admin_endpoints) {
        for (const std::vector<std::string> &headers :
             {std::vector<std::string>{}, {bearer("anything")}}) {
            auto response = test::http(s.port, method, path, headers, std::string("{}"));
            EXPECT_EQ(response.status, 403) << path;
            json error = json::parse(response.body)["error"];
            EXPECT_EQ(error["code"], "admin_disabled");
            EXPECT_THAT(error["message"].get<std::string>(), HasSubstr("STRATUM_ADMIN_TOKEN"));
        }
    }
    EXPECT_EQ(ledger(), "");
    EXPECT_EQ(ledger_actions.seeds_called, 0);
    EXPECT_EQ(test::http(s.port, "GET", "/health/database").status, 200);  // the rest still works
}

TEST_F(HttpAdminTest, EveryRequestWithoutTheRightTokenIsRefused)
{
    LedgerActions ledger_actions;
    AdminServer s(ledger_actions.actions(), token);
    struct Attempt {
        std::vector<std::string> headers;
        std::string challenge_error;  // "" = no error attribute (no credentials at all)
    };
    const std::vector<Attempt> attempts = {
        {{}, ""},
        {{bearer("wrong")}, "invalid_token"},
        {{bearer(token.substr(0, token.size() - 1))}, "invalid_token"},  // a prefix
        {{bearer(token + "0")}, "invalid_token"},                        // longer
        {{bearer("TK-7F3A9C1E5B2D8A4F6E0C")}, "invalid_token"},  // case matters in the token
        {{"Authorization: Basic " + token}, "invalid_request"},
        {{"Authorization: " + token}, "invalid_request"},
        {{"Authorization: Bearer"}, "invalid_request"},
        {{"Authorization: Bearer    "}, "invalid_request"},
        {{bearer(token + " extra")}, "invalid_request"},
        {{"Authorization: Bearer" + token}, "invalid_request"},
        {{bearer(token), bearer(token)}, "invalid_request"},  // two headers
        {{"X-Admin-Token: " + token}, ""},
    };
    for (const auto &[method, path] : admin_endpoints) {
        for (const Attempt &attempt : attempts) {
            auto response = test::http(s.port, method, path, attempt.headers, std::string("{}"));
            const std::string what =
                method + " " + path + " with " + testing::PrintToString(attempt.headers);
            EXPECT_EQ(response.status, 401) << what;
            const std::string challenge = response.header("www-authenticate");
            EXPECT_THAT(challenge, testing::StartsWith("Bearer realm=\"stratum\"")) << what;
            if (attempt.challenge_error.empty())
                EXPECT_THAT(challenge, testing::Not(HasSubstr("error="))) << what;
            else
                EXPECT_THAT(challenge, HasSubstr("error=\"" + attempt.challenge_error + "\""))
                    << what;
            EXPECT_EQ(json::parse(response.body)["error"]["code"], "unauthorized") << what;
        }
    }
    // Authentication comes before the method check: nothing about the
    // endpoint is told without the token.
    auto wrong_method = test::http(s.port, "DELETE", "/admin/migrations/up");
    EXPECT_EQ(wrong_method.status, 401);
    EXPECT_FALSE(wrong_method.has_header("allow"));
    EXPECT_EQ(ledger(), "");
    EXPECT_EQ(ledger_actions.seeds_called, 0);
}

TEST_F(HttpAdminTest, MigrationsUpStatusAndDownWithTheToken)
{
    LedgerActions ledger_actions;
    AdminServer s(ledger_actions.actions(), token);
    auto before = json::parse(test::http(s.port, "GET", "/health/migrations").body);
    EXPECT_TRUE(before["components"]["migrations"]["version"].is_null());

    auto up = test::http(s.port, "POST", "/admin/migrations/up",
                         {bearer(token), "Content-Type: application/json"},
                         std::string(R"({"target": 2})"));
    ASSERT_EQ(up.status, 200) << up.raw;
    EXPECT_EQ(up.header("content-type"), "application/json");
    json applied = json::parse(up.body)["applied"];
    ASSERT_EQ(applied.size(), 2u);
    EXPECT_EQ(applied[0]["outcome"], "applied");
    EXPECT_EQ(ledger(), "migration:1:applied,migration:2:applied");
    EXPECT_EQ(test::admin_sql("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'admin_%'", db),
              "2");
    // The action refreshed the health report: no waiting for the next round.
    auto health = json::parse(test::http(s.port, "GET", "/health/migrations").body);
    EXPECT_EQ(health["components"]["migrations"]["version"], 2);

    auto again =
        test::http(s.port, "POST", "/admin/migrations/up", {"Authorization: bearer " + token});
    ASSERT_EQ(again.status, 200);  // the scheme is case-insensitive; a body is optional
    EXPECT_EQ(json::parse(again.body)["applied"][1]["outcome"], "skipped");

    auto status = test::http(s.port, "GET", "/admin/migrations/status", {bearer(token)});
    ASSERT_EQ(status.status, 200);
    json rows = json::parse(status.body)["migrations"];
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[1]["status"], "applied");

    auto down =
        test::http(s.port, "POST", "/admin/migrations/down", {bearer(token)}, std::string("{}"));
    ASSERT_EQ(down.status, 200) << down.raw;
    EXPECT_EQ(json::parse(down.body)["version"], 2);
    EXPECT_EQ(ledger(), "migration:1:applied,migration:2:rolled_back");
    EXPECT_EQ(test::admin_sql("SELECT count(*) FROM pg_tables WHERE tablename = 'admin_two'", db),
              "0");

    auto wrong_method = test::http(s.port, "GET", "/admin/migrations/up", {bearer(token)});
    EXPECT_EQ(wrong_method.status, 405);
    EXPECT_EQ(wrong_method.header("allow"), "POST, OPTIONS");
}

TEST_F(HttpAdminTest, SeedingOutsideProduction)
{
    LedgerActions ledger_actions;
    AdminServer s(ledger_actions.actions(), token);
    auto seeded = test::http(s.port, "POST", "/admin/database/seed", {bearer(token)});
    ASSERT_EQ(seeded.status, 200) << seeded.raw;
    EXPECT_EQ(json::parse(seeded.body)["outcome"], "applied");
    EXPECT_EQ(ledger(), "seed:1:applied");
    EXPECT_EQ(test::admin_sql("SELECT count(*) FROM seeded_demo", db), "1");
}

TEST_F(HttpAdminTest, SeedingIsRefusedInProduction)
{
    LedgerActions ledger_actions;
    AdminServer s(ledger_actions.actions(), token, /*production=*/true);
    auto refused =
        test::http(s.port, "POST", "/admin/database/seed", {bearer(token)}, std::string("{}"));
    EXPECT_EQ(refused.status, 403);
    EXPECT_EQ(json::parse(refused.body)["error"]["code"], "refused_in_production");
    EXPECT_EQ(ledger_actions.seeds_called, 0);
    EXPECT_EQ(ledger(), "");
    EXPECT_EQ(test::admin_sql("SELECT count(*) FROM pg_tables WHERE tablename = 'seeded_demo'", db),
              "0");
    // Migrations are what production is for.
    EXPECT_EQ(test::http(s.port, "POST", "/admin/migrations/up", {bearer(token)}).status, 200);
    // Without the token it is still 401, not a hint that seeding exists.
    EXPECT_EQ(test::http(s.port, "POST", "/admin/database/seed").status, 401);
}

TEST_F(HttpAdminTest, FailuresMapToStatusCodes)
{
    LedgerActions ledger_actions;
    AdminActions actions = ledger_actions.actions();
    AdminServer plain(actions, token);
    ASSERT_EQ(test::http(plain.port, "POST", "/admin/migrations/up", {bearer(token)}).status, 200);

    // The file of version 1 changed after it was applied: drift, from the database.
    ledger_actions.migrations[0].second = "CREATE TABLE admin_one (id bigint)";
    auto drift = test::http(plain.port, "POST", "/admin/migrations/up", {bearer(token)});
    EXPECT_EQ(drift.status, 409) << drift.raw;
    json error = json::parse(drift.body)["error"];
    EXPECT_EQ(error["code"], "drift");
    EXPECT_THAT(error["message"].get<std::string>(), HasSubstr("has changed since it was applied"));

    // Rolled back twice, then nothing left: the action's own AdminError.
    EXPECT_EQ(test::http(plain.port, "POST", "/admin/migrations/down", {bearer(token)}).status,
              200);
    EXPECT_EQ(test::http(plain.port, "POST", "/admin/migrations/down", {bearer(token)}).status,
              200);
    auto nothing = test::http(plain.port, "POST", "/admin/migrations/down", {bearer(token)});
    EXPECT_EQ(nothing.status, 409);
    EXPECT_EQ(json::parse(nothing.body)["error"]["code"], "nothing_to_roll_back");

    auto not_json =
        test::http(plain.port, "POST", "/admin/migrations/up",
                   {bearer(token), "Content-Type: application/json"}, std::string("{target: 1"));
    EXPECT_EQ(not_json.status, 400);
    EXPECT_EQ(json::parse(not_json.body)["error"]["code"], "invalid_json");
    EXPECT_EQ(test::http(plain.port, "POST", "/admin/migrations/up", {bearer(token)},
                         std::string("[1, 2]"))
                  .status,
              400);
    auto text = test::http(plain.port, "POST", "/admin/migrations/up",
                           {bearer(token), "Content-Type: text/plain"}, std::string("{}"));
    EXPECT_EQ(text.status, 415);

    AdminActions broken;
    broken.migrate_up = [](const AdminRequest &) -> AdminResponse {
        throw std::runtime_error("internal detail: password=hunter2 at /srv/app");
    };
    broken.migrate_down = [](const AdminRequest &) -> AdminResponse {
        throw CannotConnect("08006", "could not connect to server");
    };
    AdminServer failing(broken, token);
    auto internal = test::http(failing.port, "POST", "/admin/migrations/up", {bearer(token)});
    EXPECT_EQ(internal.status, 500);
    EXPECT_EQ(json::parse(internal.body)["error"]["code"], "internal_error");
    EXPECT_THAT(internal.raw, testing::Not(HasSubstr("hunter2")));
    EXPECT_THAT(internal.raw, testing::Not(HasSubstr("/srv/app")));
    auto unavailable = test::http(failing.port, "POST", "/admin/migrations/down", {bearer(token)});
    EXPECT_EQ(unavailable.status, 503);
    EXPECT_EQ(unavailable.header("retry-after"), "5");
    auto missing = test::http(failing.port, "GET", "/admin/migrations/status", {bearer(token)});
    EXPECT_EQ(missing.status, 501);
    EXPECT_EQ(json::parse(missing.body)["error"]["code"], "not_available");
}

TEST_F(HttpAdminTest, NoSecretInAnyResponseOrLogLine)
{
    std::vector<std::string> log_lines;
    std::mutex log_mutex;
    logging::Options log;
    log.level = logging::Level::debug;
    log.writer = [&](std::string_view line) {
        std::lock_guard lock(log_mutex);
        log_lines.emplace_back(line);
    };
    logging::setup(log);

    LedgerActions ledger_actions;
    AdminServer s(ledger_actions.actions(), token);
    ASSERT_EQ(s.config.database.postgres.master.password.reveal(), db_password);
    std::vector<test::HttpResponse> responses;
    const std::vector<std::vector<std::string>> credentials = {
        {}, {bearer(token)}, {bearer("nope")}, {"Authorization: Basic " + token}};
    const std::vector<std::string> paths = {
        "/health",  "/health/database", "/health/database/pool", "/health/migrations",
        "/metrics", "/nowhere"};
    for (const auto &headers : credentials) {
        for (const auto &[method, path] : admin_endpoints)
            for (const char *m : {method.c_str(), "GET", "PUT", "OPTIONS"})
                responses.push_back(test::http(s.port, m, path, headers, std::string("{}")));
        for (const std::string &path : paths)
            for (const char *m : {"GET", "HEAD", "POST", "OPTIONS"})
                responses.push_back(test::http(s.port, m, path, headers));
    }
    responses.push_back(test::http(s.port, "POST", "/admin/migrations/up", {bearer(token)},
                                   std::string(70000, 'x')));
    logging::setup(logging::Options{});

    ASSERT_GT(responses.size(), 100u);
    for (const test::HttpResponse &response : responses) {
        ASSERT_NE(response.status, 0);
        EXPECT_THAT(response.raw, testing::Not(HasSubstr(token)));  // headers and body
        EXPECT_THAT(response.raw, testing::Not(HasSubstr("db-pw")));
    }
    EXPECT_FALSE(log_lines.empty());
    for (const std::string &line : log_lines) {
        EXPECT_THAT(line, testing::Not(HasSubstr(token)));
        EXPECT_THAT(line, testing::Not(HasSubstr("db-pw")));
    }
}

}  // namespace
