// stratum::Config: environments, overrides, validation, production rules and
// the redaction of secrets.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "stratum/config.hpp"
#include "stratum/config_pool.hpp"

using namespace std::chrono_literals;
using stratum::Config;
using stratum::ConfigError;
using stratum::LoadOptions;
using testing::HasSubstr;
using testing::Not;

namespace {

const std::filesystem::path fixtures =
    std::filesystem::path(__FILE__).parent_path().parent_path() / "fixtures" / "config";

std::string fixture(const std::string &name)
{
    return (fixtures / name).string();
}

LoadOptions options(const std::string &file, const std::string &environment = "",
                    std::map<std::string, std::string> env = {})
{
    LoadOptions out;
    out.path = file.empty() ? "" : fixture(file);
    out.environment = environment;
    out.env = std::move(env);
    return out;
}

// The problems of a load that must fail, as "key: message" lines.
std::vector<stratum::ConfigProblem> problems_of(const LoadOptions &load)
{
    try {
        Config::load(load);
    } catch (const ConfigError &e) {
        return e.problems();
    }
    ADD_FAILURE() << "the configuration loaded, but it should have been refused";
    return {};
}

const stratum::ConfigProblem *find_problem(const std::vector<stratum::ConfigProblem> &problems,
                                           const std::string &key)
{
    for (const auto &problem : problems)
        if (problem.key == key)
            return &problem;
    return nullptr;
}

std::string all_messages(const std::vector<stratum::ConfigProblem> &problems)
{
    std::string out;
    for (const auto &problem : problems)
        out += problem.to_string() + "\n";
    return out;
}

}  // namespace

TEST(Duration, ParsesGoStyleDurations)
{
    EXPECT_EQ(stratum::parse_duration("500ms"), 500ms);
    EXPECT_EQ(stratum::parse_duration("30s"), 30s);
    EXPECT_EQ(stratum::parse_duration("30m"), 30min);
    EXPECT_EQ(stratum::parse_duration("24h"), 24h);
    EXPECT_EQ(stratum::parse_duration("1h30m"), 90min);
    EXPECT_EQ(stratum::parse_duration("1.5h"), 90min);
    EXPECT_EQ(stratum::parse_duration("2d"), 48h);
    EXPECT_EQ(stratum::parse_duration("1m30s250ms"), 90250ms);
    EXPECT_EQ(stratum::parse_duration("0"), 0ms);
}

TEST(Duration, RefusesWhatIsNotADuration)
{
    for (const char *bad : {"", "10", "-5s", "10 s", "5x", "ms", "1h-30m", "1..5h", "5sec"})
        EXPECT_THROW(stratum::parse_duration(bad), std::invalid_argument) << bad;
}

TEST(Duration, FormatsTheShortestExactForm)
{
    EXPECT_EQ(stratum::format_duration(90min), "1h30m");
    EXPECT_EQ(stratum::format_duration(500ms), "500ms");
    EXPECT_EQ(stratum::format_duration(0ms), "0s");
    EXPECT_EQ(stratum::parse_duration(stratum::format_duration(90250ms)), 90250ms);
}

TEST(HostPort, ParsesAndRefuses)
{
    EXPECT_EQ(stratum::parse_host_port("localhost:6379"), (stratum::HostPort{"localhost", 6379}));
    EXPECT_EQ(stratum::parse_host_port("[::1]:9000"), (stratum::HostPort{"::1", 9000}));
    EXPECT_EQ((stratum::HostPort{"::1", 9000}).to_string(), "[::1]:9000");
    for (const char *bad :
         {"localhost", ":6379", "host:0", "host:70000", "host:abc", "http://host:80", "::1:80"})
        EXPECT_THROW(stratum::parse_host_port(bad), std::invalid_argument) << bad;
}

TEST(Config, LoadsTheDefaultEnvironmentMergedOverDefaults)
{
    Config config = Config::load(options("environments.yaml"));
    EXPECT_EQ(config.environment, "local");
    EXPECT_FALSE(config.production);
    const auto &master = config.database.postgres.master;
    EXPECT_EQ(master.host, "localhost");
    EXPECT_EQ(master.port, 5432);  // from defaults
    EXPECT_EQ(master.user, "app");
    EXPECT_EQ(master.password.reveal(), "local-only-password");
    EXPECT_EQ(master.pool.max_open_conns, 25);
    EXPECT_EQ(master.pool.conn_max_idle_time, 30min);
    EXPECT_EQ(config.logging.level, "debug");  // the environment beats defaults
    ASSERT_TRUE(config.database.redis);
    EXPECT_EQ(config.database.redis->addr.to_string(), "localhost:6379");
    ASSERT_TRUE(config.database.minio);
    EXPECT_EQ(config.database.minio->bucket, "app");
    EXPECT_FALSE(config.database.minio->secure);
}

TEST(Config, SelectsTheEnvironmentByOptionThenStratumEnv)
{
    EXPECT_EQ(
        Config::load(options("environments.yaml", "", {{"STRATUM_ENV", "staging"}})).environment,
        "staging");
    Config chosen =
        Config::load(options("environments.yaml", "local", {{"STRATUM_ENV", "staging"}}));
    EXPECT_EQ(chosen.environment, "local");
    Config staging = Config::load(options("environments.yaml", "staging"));
    EXPECT_EQ(staging.database.postgres.master.pool.max_open_conns, 50);
    EXPECT_EQ(staging.database.postgres.master.pool.max_idle_conns, 10);  // from defaults
    EXPECT_FALSE(staging.database.redis);                                 // not configured there
}

TEST(Config, UnknownEnvironmentNamesTheDefinedOnes)
{
    auto problems = problems_of(options("environments.yaml", "qa"));
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_THAT(problems[0].message, HasSubstr("\"qa\" is not defined"));
    EXPECT_THAT(problems[0].message, HasSubstr("local, staging, production"));
    EXPECT_THAT(problems[0].source, HasSubstr("environments.yaml"));
}

TEST(Config, ProductionWithReplicasEachWithTheirOwnLimits)
{
    Config config = Config::load(
        options("environments.yaml", "production", {{"PGPASSWORD", "from-the-environment"}}));
    EXPECT_TRUE(config.production);
    const auto &pg = config.database.postgres;
    EXPECT_EQ(pg.master.host, "db.prod.internal");
    EXPECT_EQ(pg.master.sslmode, "verify-full");
    EXPECT_EQ(pg.master.password.reveal(), "from-the-environment");
    EXPECT_EQ(pg.master.pool.max_open_conns, 100);
    EXPECT_EQ(pg.master.pool.conn_max_lifetime, 30min);
    ASSERT_EQ(pg.replicas.size(), 2u);
    EXPECT_EQ(pg.replicas[0].host, "replica1.prod.internal");
    EXPECT_EQ(pg.replicas[0].port, 5433);  // inherited from the master
    EXPECT_EQ(pg.replicas[0].pool.max_open_conns, 200);
    EXPECT_EQ(pg.replicas[0].pool.max_idle_conns, 50);
    EXPECT_EQ(pg.replicas[0].user, "app");
    EXPECT_EQ(pg.replicas[0].sslmode, "verify-full");
    EXPECT_EQ(pg.replicas[0].password.reveal(), "from-the-environment");
    EXPECT_EQ(pg.replicas[1].port, 5434);
    EXPECT_EQ(pg.replicas[1].pool.max_open_conns, 100);  // the master's
    ASSERT_TRUE(config.database.redis);
    EXPECT_EQ(config.database.redis->mode(), stratum::RedisConfig::Mode::sentinel);
    EXPECT_EQ(config.database.redis->sentinel_addrs.size(), 2u);
    ASSERT_TRUE(config.database.minio);
    EXPECT_TRUE(config.database.minio->secure);
    EXPECT_EQ(config.database.minio->endpoint.to_string(), "minio.prod.internal:443");
    EXPECT_TRUE(config.logging.json);

    auto replicas = config.postgres_replica_conninfos();
    ASSERT_EQ(replicas.size(), 2u);
    auto parsed = stratum::conninfo::parse(replicas[1]);
    EXPECT_EQ(parsed["host"], "replica2.prod.internal");
    EXPECT_EQ(parsed["port"], "5434");
    EXPECT_EQ(parsed["sslmode"], "verify-full");
}

TEST(Config, CollectsEveryProblemWithFileLineAndKey)
{
    auto problems = problems_of(options("invalid.yaml"));
    std::string text = all_messages(problems);
    struct Expected {
        const char *key;
        const char *message;
        int line;
    };
    const Expected expected[] = {
        {"database.postgres.master.hots", "did you mean \"host\"", 6},
        {"database.postgres.master.port", "between 1 and 65535", 7},
        {"database.postgres.master.max_open_conns", "between 1 and 1000 (got 0)", 8},
        {"database.postgres.master.conn_max_idle_time", "must not exceed conn_max_lifetime", 11},
        {"database.postgres.master.connect_timeout", "invalid duration", 12},
        {"database.postgres.replicas.0", "a replica needs a host", 14},
        {"database.postgres.replicas.0.max_idle_conns", "must not exceed max_open_conns (30 > 20)",
         16},
        {"database.postgres.replicas.1.max_open_conns", "expected an integer", 18},
        {"database.redis.addr", "missing :port", 20},
        {"logging.level", "must be one of", 22},
        {"logging.json", "expected true or false", 23},
        {"migrations", "expected a mapping, got a list", 24},
    };
    for (const Expected &e : expected) {
        const auto *problem = find_problem(problems, e.key);
        ASSERT_NE(problem, nullptr) << "no problem reported for " << e.key << "\n" << text;
        EXPECT_THAT(problem->message, HasSubstr(e.message)) << text;
        EXPECT_THAT(problem->source, HasSubstr("invalid.yaml:" + std::to_string(e.line) + ":"))
            << e.key << "\n"
            << text;
    }
    EXPECT_EQ(problems.size(), std::size(expected)) << text;
    try {
        Config::load(options("invalid.yaml"));
    } catch (const ConfigError &e) {
        EXPECT_THAT(e.what(), HasSubstr("invalid configuration (12 problems)"));
        EXPECT_THAT(e.what(), HasSubstr("invalid.yaml:7:7: database.postgres.master.port"));
    }
}

TEST(Config, ProductionRefusesSecretsWrittenInTheFile)
{
    auto problems = problems_of(options("production_password.yaml", "production"));
    std::string text = all_messages(problems);
    for (const char *key : {"database.postgres.master.password", "database.redis.password",
                            "database.minio.secret_key"}) {
        const auto *problem = find_problem(problems, key);
        ASSERT_NE(problem, nullptr) << key << "\n" << text;
        EXPECT_THAT(problem->message, HasSubstr("must not be written in a production"));
    }
    for (const char *secret : {"Written-In-The-File-1", "Redis-Written-2", "Minio-Written-3"})
        EXPECT_THAT(text, Not(HasSubstr(secret)));
}

TEST(Config, ProductionRequiresVerifiedTls)
{
    std::string yaml = R"(
database:
  postgres:
    master: {host: db, sslmode: require}
    replicas: [{host: r1, sslmode: verify-ca}, {host: r2, sslmode: prefer}]
)";
    LoadOptions load;
    load.env = std::map<std::string, std::string>{};
    load.environment = "production";
    try {
        Config::parse(yaml, "inline.yaml", load);
        FAIL() << "accepted sslmode require in production";
    } catch (const ConfigError &e) {
        ASSERT_EQ(e.problems().size(), 2u) << e.what();
        EXPECT_EQ(e.problems()[0].key, "database.postgres.master.sslmode");
        EXPECT_THAT(e.problems()[0].message, HasSubstr("verify-full"));
        EXPECT_EQ(e.problems()[1].key, "database.postgres.replicas.1.sslmode");
    }
    load.environment = "staging";
    EXPECT_NO_THROW(Config::parse(yaml, "inline.yaml", load));
    // `production: true` marks an environment of another name.
    load.environment = "eu";
    EXPECT_THROW(Config::parse(std::string(yaml) + "production: true\n", "inline.yaml", load),
                 ConfigError);
}

TEST(Config, FlatPostgresFormIsTheMaster)
{
    Config config = Config::load(options("flat.yaml"));
    const auto &master = config.database.postgres.master;
    EXPECT_EQ(master.host, "flat.internal");
    EXPECT_EQ(master.port, 6432);
    EXPECT_EQ(master.pool.max_open_conns, 30);
    EXPECT_EQ(config.environment, "");

    LoadOptions load;
    load.env = std::map<std::string, std::string>{};
    EXPECT_THROW(Config::parse("database: {postgres: {host: a, master: {host: b}}}", "x", load),
                 ConfigError);
}

TEST(Config, DatabaseUrlReplacesTheMasterConnection)
{
    Config config = Config::load(
        options("environments.yaml", "production",
                {{"DATABASE_URL", "postgresql://svc:url%20pass@url.host:6000/"
                                  "urldb?sslmode=verify-ca&target_session_attrs=read-write"},
                 {"PGPASSWORD", "ignored-because-the-url-has-one"}}));
    const auto &master = config.database.postgres.master;
    EXPECT_EQ(master.host, "url.host");
    EXPECT_EQ(master.port, 6000);
    EXPECT_EQ(master.user, "svc");
    EXPECT_EQ(master.dbname, "urldb");
    EXPECT_EQ(master.password.reveal(), "url pass");
    EXPECT_EQ(master.sslmode, "verify-ca");
    EXPECT_EQ(master.params.at("target_session_attrs"), "read-write");
    EXPECT_EQ(master.pool.max_open_conns, 100);  // pool limits stay

    // --database beats $DATABASE_URL.
    LoadOptions load = options("environments.yaml", "local", {{"DATABASE_URL", "host=from-env"}});
    load.database_url = "host=from-flag port=7000";
    Config flag = Config::load(load);
    EXPECT_EQ(flag.database.postgres.master.host, "from-flag");
    EXPECT_EQ(flag.database.postgres.master.port, 7000);
    EXPECT_TRUE(flag.database.postgres.master.password.empty());  // the file's is replaced
}

TEST(Config, BrokenDatabaseUrlDoesNotEchoIt)
{
    auto problems = problems_of(
        options("", "", {{"DATABASE_URL", "host=db password=Leaky-Secret-9 bogus_option=1"}}));
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_EQ(problems[0].source, "environment variable DATABASE_URL");
    EXPECT_THAT(problems[0].to_string(), Not(HasSubstr("Leaky-Secret-9")));
    auto unterminated =
        problems_of(options("", "", {{"DATABASE_URL", "password='Leaky-Secret-9"}}));
    ASSERT_EQ(unterminated.size(), 1u);
    EXPECT_THAT(all_messages(unterminated), Not(HasSubstr("Leaky-Secret-9")));
}

TEST(Config, DatabaseUrlValuesAreValidatedLikeTheFile)
{
    // libpq parses a URI's port lazily; the configuration checks it now.
    auto problems = problems_of(options("", "", {{"DATABASE_URL", "postgres://h:notaport/db"}}));
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_EQ(problems[0].source, "environment variable DATABASE_URL");
    EXPECT_EQ(problems[0].key, "database.postgres.master.port");
}

TEST(Config, StratumVariablesOverrideSingleKeys)
{
    Config config = Config::load(
        options("environments.yaml", "production",
                {{"PGPASSWORD", "pw"},
                 {"STRATUM_DATABASE_POSTGRES_MASTER_MAX_OPEN_CONNS", "60"},
                 {"STRATUM_DATABASE_POSTGRES_REPLICAS_1_HOST", "10.1.2.3"},
                 {"STRATUM_DATABASE_POSTGRES_MASTER_PARAMS_KEEPALIVES_IDLE", "30"},
                 {"STRATUM_DATABASE_REDIS_SENTINEL_ADDRS", "s1:26379, s2:26379,s3:26379"},
                 {"STRATUM_LOGGING_LEVEL", "warn"},
                 {"STRATUM_HEALTH_TIMEOUT", "750ms"},
                 {"STRATUM_RUN_DIR", "/tmp/not-configuration"},
                 {"STRATUM_TEST_PGPORT", "1"}}));
    EXPECT_EQ(config.database.postgres.master.pool.max_open_conns, 60);
    EXPECT_EQ(config.database.postgres.replicas.at(1).host, "10.1.2.3");
    EXPECT_EQ(config.database.postgres.master.params.at("keepalives_idle"), "30");
    EXPECT_EQ(config.database.redis->sentinel_addrs.size(), 3u);
    EXPECT_EQ(config.logging.level, "warn");
    EXPECT_EQ(config.health.timeout, 750ms);

    // The flat name maps onto the master too.
    Config flat =
        Config::load(options("flat.yaml", "", {{"STRATUM_DATABASE_POSTGRES_PORT", "7777"}}));
    EXPECT_EQ(flat.database.postgres.master.port, 7777);
}

TEST(Config, StratumVariablesAreValidatedLikeTheFile)
{
    auto problems =
        problems_of(options("environments.yaml", "local",
                            {{"STRATUM_DATABASE_POSTGRES_MASTER_HOTS", "x"},
                             {"STRATUM_DATABASE_POSTGRES_REPLICAS_3_HOST", "r"},
                             {"STRATUM_DATABASE_POSTGRES_MASTER_MAX_OPEN_CONNS", "5000"}}));
    std::string text = all_messages(problems);
    ASSERT_EQ(problems.size(), 3u) << text;
    EXPECT_THAT(text, HasSubstr("environment variable STRATUM_DATABASE_POSTGRES_MASTER_HOTS: "
                                "no configuration key matches"));
    EXPECT_THAT(text, HasSubstr("no list entry 3 to override"));
    EXPECT_THAT(text,
                HasSubstr("environment variable STRATUM_DATABASE_POSTGRES_MASTER_MAX_OPEN_CONNS: "
                          "database.postgres.master.max_open_conns: must be between 1 and "
                          "1000 (got 5000)"));
}

// PG* variables given in LoadOptions::env are honoured (libpq alone would
// read only the process environment): they fill what the file and
// DATABASE_URL leave unset, and are validated like the file's values.
TEST(Config, LibpqVariablesFromTheGivenEnvironmentFillWhatIsUnset)
{
    LoadOptions load;
    load.env = std::map<std::string, std::string>{{"PGHOST", "db.from.env"},
                                                  {"PGPORT", "6543"},
                                                  {"PGUSER", "env_user"},
                                                  {"PGDATABASE", "env_db"},
                                                  {"PGSSLMODE", "require"},
                                                  {"PGAPPNAME", "from-env"},
                                                  {"PGCONNECT_TIMEOUT", "7"},
                                                  {"PGTARGETSESSIONATTRS", "read-write"}};
    Config config = Config::parse("database: {postgres: {master: {host: db.from.file}}}", "inline", load);
    const auto &master = config.database.postgres.master;
    EXPECT_EQ(master.host, "db.from.file");  // the file wins
    EXPECT_EQ(master.port, 6543);
    EXPECT_EQ(master.user, "env_user");
    EXPECT_EQ(master.dbname, "env_db");
    EXPECT_EQ(master.sslmode, "require");
    EXPECT_EQ(master.application_name, "from-env");
    EXPECT_EQ(master.connect_timeout, 7s);
    EXPECT_EQ(master.params.at("target_session_attrs"), "read-write");
    auto parsed = stratum::conninfo::parse(master.conninfo());
    EXPECT_EQ(parsed["port"], "6543");
    EXPECT_EQ(parsed["dbname"], "env_db");

    // DATABASE_URL replaces the connection keys; PG* fill what it leaves out.
    load.env->emplace("DATABASE_URL", "postgresql://url_user@url.host/url_db");
    Config from_url = Config::parse("{}", "inline", load);
    EXPECT_EQ(from_url.database.postgres.master.host, "url.host");
    EXPECT_EQ(from_url.database.postgres.master.user, "url_user");
    EXPECT_EQ(from_url.database.postgres.master.port, 6543);

    // Validated, and the error names the variable.
    LoadOptions bad;
    bad.env = std::map<std::string, std::string>{{"PGPORT", "not-a-port"}, {"PGSSLMODE", "sometimes"}};
    try {
        Config::parse("{}", "inline", bad);
        ADD_FAILURE() << "accepted PGPORT=not-a-port";
    } catch (const ConfigError &e) {
        EXPECT_THAT(e.what(), HasSubstr("environment variable PGPORT: database.postgres.master.port"));
        EXPECT_THAT(e.what(), HasSubstr("environment variable PGSSLMODE: database.postgres.master.sslmode"));
    }
}

// max_idle_conns means what database/sql means by it: a cap on idle
// connections, not a number kept open.
TEST(Config, MaxIdleConnsIsACapOnIdleConnections)
{
    LoadOptions load;
    load.env = std::map<std::string, std::string>{};
    Config defaults = Config::parse("database: {postgres: {master: {host: db}}}", "inline", load);
    stratum::PoolOptions pool = stratum::to_pool_options(defaults);
    EXPECT_EQ(pool.max_size, 25u);
    ASSERT_TRUE(pool.max_idle.has_value());
    EXPECT_EQ(*pool.max_idle, 10u);
    EXPECT_EQ(pool.min_size, 2u);  // the pool's default: nothing opened to reach the cap

    // A small pool: the default cap is lowered to max_open_conns.
    Config small = Config::parse("database: {postgres: {master: {host: db, max_open_conns: 1}}}",
                                 "inline", load);
    EXPECT_EQ(small.database.postgres.master.pool.max_idle_conns, 1);
    pool = stratum::to_pool_options(small);
    EXPECT_EQ(pool.max_size, 1u);
    EXPECT_EQ(*pool.max_idle, 1u);
    EXPECT_EQ(pool.min_size, 1u);
    EXPECT_NO_THROW(pool.validate());

    // No idle connection kept at all.
    Config none = Config::parse(
        "database: {postgres: {master: {host: db, max_idle_conns: 0},"
        " replicas: [{host: r1, max_idle_conns: 3}]}}",
        "inline", load);
    pool = stratum::to_pool_options(none);
    EXPECT_EQ(*pool.max_idle, 0u);
    EXPECT_EQ(pool.min_size, 0u);
    ASSERT_EQ(pool.replicas.size(), 1u);
    EXPECT_EQ(pool.replicas[0].max_idle, 3u);
    EXPECT_EQ(pool.replicas[0].min_size, 0u);
    EXPECT_NO_THROW(pool.validate());

    // Given explicitly above max_open_conns, it is a mistake.
    EXPECT_THROW(Config::parse("database: {postgres: {master: {host: db, max_open_conns: 2,"
                               " max_idle_conns: 5}}}",
                               "inline", load),
                 ConfigError);
}

TEST(Config, RedisFromUrlAndPassword)
{
    Config config = Config::load(
        options("", "", {{"REDIS_URL", "redis://cache:p%40ss%3Aword@cache.internal:6380/2"}}));
    ASSERT_TRUE(config.database.redis);
    EXPECT_EQ(config.database.redis->addr.to_string(), "cache.internal:6380");
    EXPECT_EQ(config.database.redis->username, "cache");
    EXPECT_EQ(config.database.redis->password.reveal(), "p@ss:word");
    EXPECT_EQ(config.database.redis->db, 2);

    Config password =
        Config::load(options("environments.yaml", "local", {{"REDIS_PASSWORD", "rp"}}));
    EXPECT_EQ(password.database.redis->password.reveal(), "rp");

    auto tls = problems_of(options("", "", {{"REDIS_URL", "rediss://h:6379"}}));
    ASSERT_EQ(tls.size(), 1u);
    EXPECT_THAT(tls[0].message, HasSubstr("TLS"));
}

TEST(Config, MinioKeysFromTheEnvironment)
{
    Config config = Config::load(
        options("environments.yaml", "local",
                {{"MINIO_ACCESS_KEY", "minio-user"}, {"AWS_SECRET_ACCESS_KEY", "aws-secret"}}));
    EXPECT_EQ(config.database.minio->access_key, "minio-user");
    EXPECT_EQ(config.database.minio->secret_key.reveal(), "aws-secret");

    auto half = problems_of(options("environments.yaml", "local", {{"MINIO_ACCESS_KEY", "only"}}));
    ASSERT_EQ(half.size(), 1u);
    EXPECT_THAT(half[0].message, HasSubstr("without a secret key"));
}

TEST(Config, PasswordEnvNamesTheVariable)
{
    std::string yaml = "database: {postgres: {master: {host: h, password_env: APP_DB_PASSWORD}}}";
    LoadOptions load;
    load.env =
        std::map<std::string, std::string>{{"APP_DB_PASSWORD", "named"}, {"PGPASSWORD", "generic"}};
    EXPECT_EQ(Config::parse(yaml, "inline", load).database.postgres.master.password.reveal(),
              "named");
    load.env = std::map<std::string, std::string>{};
    try {
        Config::parse(yaml, "inline", load);
        FAIL();
    } catch (const ConfigError &e) {
        EXPECT_THAT(e.what(), HasSubstr("names APP_DB_PASSWORD, which is not set"));
    }
}

TEST(Config, ParamsAreCheckedAgainstLibpq)
{
    LoadOptions load;
    load.env = std::map<std::string, std::string>{};
    Config config = Config::parse(
        "database: {postgres: {master: {host: h, params: {keepalives: '1', target_session_attrs: "
        "read-write}}}}",
        "inline", load);
    auto parsed = stratum::conninfo::parse(config.postgres_master_conninfo());
    EXPECT_EQ(parsed["keepalives"], "1");
    EXPECT_EQ(parsed["target_session_attrs"], "read-write");
    try {
        Config::parse("database: {postgres: {master: {params: {no_such: 1, password: x}}}}",
                      "inline", load);
        FAIL();
    } catch (const ConfigError &e) {
        ASSERT_EQ(e.problems().size(), 2u) << e.what();
        EXPECT_THAT(e.problems()[0].message, HasSubstr("not a libpq connection parameter"));
        EXPECT_THAT(e.problems()[1].message, HasSubstr("as its own key"));
    }
}

TEST(Config, FileAndSyntaxErrorsNameTheFile)
{
    try {
        Config::load(options("no-such-file.yaml"));
        FAIL();
    } catch (const ConfigError &e) {
        EXPECT_THAT(e.what(), HasSubstr("no-such-file.yaml"));
        EXPECT_THAT(e.what(), HasSubstr("cannot read the file"));
    }
    LoadOptions load;
    load.env = std::map<std::string, std::string>{};
    try {
        Config::parse("database:\n  postgres: [unclosed\n", "broken.yaml", load);
        FAIL();
    } catch (const ConfigError &e) {
        EXPECT_THAT(e.what(), HasSubstr("broken.yaml:"));
        EXPECT_THAT(e.what(), HasSubstr("YAML syntax"));
    }
    try {
        Config::parse("logging: {level: info}\nlogging: {json: true}\n", "dup.yaml", load);
        FAIL();
    } catch (const ConfigError &e) {
        EXPECT_THAT(e.what(), HasSubstr("dup.yaml:2:1: logging: duplicate key"));
    }
}

TEST(Config, NoFileMeansEnvironmentOnly)
{
    Config config = Config::load(options("", "", {{"DATABASE_URL", "postgres://u@h:5555/d"}}));
    EXPECT_EQ(config.source, "");
    EXPECT_EQ(config.database.postgres.master.host, "h");
    EXPECT_EQ(config.database.postgres.master.port, 5555);
    EXPECT_FALSE(config.database.redis);
    // With nothing at all, libpq's defaults (PG* variables) apply: no host, no port.
    auto parsed = stratum::conninfo::parse(Config::load(options("")).postgres_master_conninfo());
    EXPECT_EQ(parsed.count("host"), 0u);
    EXPECT_EQ(parsed.count("port"), 0u);
}

TEST(Config, TheExampleConfigurationLoadsInEveryEnvironment)
{
    std::string example = (std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() / "config" /
                           "stratum.example.yaml")
                              .string();
    for (const char *environment : {"local", "staging", "production"}) {
        LoadOptions load;
        load.path = example;
        load.environment = environment;
        load.env = std::map<std::string, std::string>{{"PGPASSWORD", "x"}};
        Config config = Config::load(load);
        EXPECT_EQ(config.environment, environment);
        EXPECT_EQ(config.production, std::string(environment) == "production");
    }
}

// ---- secrets never leak ----------------------------------------------------

namespace {

const std::string nasty_password = "p@ss w'o\\rd=\"x\" 'y'";

}  // namespace

TEST(Secrets, NeverAppearInAnyRendering)
{
    Config config = Config::load(options("environments.yaml", "local",
                                         {{"PGPASSWORD", nasty_password},
                                          {"REDIS_PASSWORD", "redis-" + nasty_password},
                                          {"MINIO_ACCESS_KEY", "ak"},
                                          {"MINIO_SECRET_KEY", "minio-" + nasty_password},
                                          {"STRATUM_ADMIN_TOKEN", "token-" + nasty_password}}));
    ASSERT_EQ(config.database.postgres.master.password.reveal(), nasty_password);
    ASSERT_EQ(config.server.admin_token.reveal(), "token-" + nasty_password);

    std::ostringstream streamed;
    streamed << config.database.postgres.master.password;
    std::vector<std::string> renderings = {
        config.to_json(),
        config.to_string(),
        config.redacted().to_json(),
        config.database.postgres.master.redacted_conninfo(),
        streamed.str(),
    };
    for (const std::string &text : renderings) {
        EXPECT_THAT(text, Not(HasSubstr("p@ss w"))) << text;
        EXPECT_THAT(text, Not(HasSubstr("o\\rd"))) << text;
    }
    EXPECT_EQ(streamed.str(), "[redacted]");
    auto json = nlohmann::json::parse(config.to_json());
    EXPECT_EQ(json["database"]["postgres"]["master"]["password"], "[redacted]");
    EXPECT_EQ(json["database"]["redis"]["password"], "[redacted]");
    EXPECT_EQ(json["database"]["minio"]["secret_key"], "[redacted]");
    EXPECT_EQ(json["server"]["admin_token"], "[redacted]");
    EXPECT_EQ(json["database"]["postgres"]["master"]["max_open_conns"], 25);

    Config redacted = config.redacted();
    EXPECT_EQ(redacted.database.postgres.master.password.reveal(), "[redacted]");
    EXPECT_EQ(redacted.database.redis->password.reveal(), "[redacted]");
    EXPECT_EQ(redacted.database.minio->secret_key.reveal(), "[redacted]");
    EXPECT_EQ(redacted.server.admin_token.reveal(), "[redacted]");
    EXPECT_THAT(config.database.postgres.master.redacted_conninfo(),
                HasSubstr("password='[redacted]'"));
}

TEST(Secrets, ErrorsNeverCarryThem)
{
    // A production file with a bad port, given a password through the
    // environment: the error talks about the port, never the password.
    LoadOptions load;
    load.environment = "production";
    load.env = std::map<std::string, std::string>{{"PGPASSWORD", nasty_password}};
    try {
        Config::parse("database: {postgres: {master: {host: h, port: x, sslmode: verify-full}}}",
                      "p.yaml", load);
        FAIL();
    } catch (const ConfigError &e) {
        EXPECT_THAT(e.what(), Not(HasSubstr("p@ss")));
        EXPECT_THAT(e.what(), HasSubstr("port"));
    }
}
