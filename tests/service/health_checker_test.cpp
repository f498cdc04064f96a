// The health checker against the real servers of the harness: every
// component up, each one taken down (closed port, stopped replica, silent
// server), reconnection, replication lag and paused replay measured on a
// real replica, the pool's exhaustion, the migration ledger's states, and
// the rules that make the overall state.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <stratum/service.hpp>

#include "client_support.hpp"
#include "http_test_support.hpp"

using namespace stratum;
using namespace std::chrono_literals;
using testing::HasSubstr;

namespace {

const std::string db = "stratum_health_test";

const ComponentHealth &component(const HealthReport &report, const std::string &name)
{
    const ComponentHealth *found = report.find(name);
    if (found == nullptr)
        throw std::runtime_error("no component " + name + " in " + report.to_json());
    return *found;
}

class HealthCheckerTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() { test::recreate_database(db); }
    void SetUp() override
    {
        ports = test::replica_ports();
        ASSERT_EQ(ports.size(), 2u);
        for (const auto &port : ports)
            test::wait_for_replica(port);
    }
    // Leave the replicas running and replaying, whatever a test did.
    void TearDown() override
    {
        if (PQping(test::conninfo_at(ports[1], "postgres", "postgres").c_str()) != PQPING_OK)
            test::pg_ctl_of("STRATUM_TEST_PGCTL_REPLICA2", "start");
        test::sql_at(ports[0], "ALTER SYSTEM RESET recovery_min_apply_delay");
        test::sql_at(ports[0], "SELECT pg_reload_conf()");
        if (test::sql_at(ports[0], "SELECT pg_is_wal_replay_paused()") == "t")
            test::sql_at(ports[0], "SELECT pg_wal_replay_resume()");
    }
    static test::Topology topology()
    {
        test::Topology t;
        t.dbname = db;
        return t;
    }

    std::vector<std::string> ports;
};

TEST_F(HealthCheckerTest, EveryComponentUp)
{
    HealthChecker checker(test::topology_config(topology()));
    const HealthReport report = checker.check();
    ASSERT_EQ(report.state, HealthState::up) << report.to_json(2);
    EXPECT_TRUE(report.checked());
    EXPECT_FALSE(report.any_down());
    std::vector<std::string> names;
    for (const ComponentHealth &c : report.components)
        names.push_back(c.result.component);
    EXPECT_THAT(names, testing::ElementsAre("postgres.master", "postgres.replica.0",
                                            "postgres.replica.1", "redis", "minio", "migrations"));

    const ComponentHealth &master = component(report, "postgres.master");
    EXPECT_TRUE(master.required);
    ASSERT_TRUE(master.postgres);
    EXPECT_EQ(master.postgres->role, "primary");
    EXPECT_THAT(master.postgres->server_version, testing::StartsWith("15."));
    EXPECT_FALSE(master.postgres->in_recovery);
    EXPECT_EQ(master.postgres->endpoint, "127.0.0.1:" + test::required_env("STRATUM_TEST_PGPORT"));
    EXPECT_GT(master.result.latency.count(), 0);
    EXPECT_TRUE(master.result.error.empty());

    for (const char *name : {"postgres.replica.0", "postgres.replica.1"}) {
        const ComponentHealth &replica = component(report, name);
        EXPECT_FALSE(replica.required);
        ASSERT_TRUE(replica.postgres);
        EXPECT_TRUE(replica.postgres->in_recovery);
        ASSERT_TRUE(replica.postgres->lag_seconds) << name;
        EXPECT_LT(*replica.postgres->lag_seconds, 30.0);
        EXPECT_FALSE(replica.postgres->replay_paused);
    }
    EXPECT_FALSE(component(report, "redis").required);
    EXPECT_EQ(component(report, "minio").result.state, HealthState::up);

    const ComponentHealth &migrations = component(report, "migrations");
    ASSERT_TRUE(migrations.migrations);
    EXPECT_EQ(migrations.migrations->source, "ledger");
    EXPECT_FALSE(migrations.migrations->version);
    EXPECT_EQ(migrations.migrations->applied, 0);
    EXPECT_FALSE(migrations.migrations->pending);
}

TEST_F(HealthCheckerTest, ReportAsJson)
{
    HealthChecker checker(test::topology_config(topology()));
    const auto json = nlohmann::json::parse(checker.check().to_json());
    EXPECT_EQ(json["state"], "up");
    EXPECT_THAT(
        json["checked_at"].get<std::string>(),
        testing::MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[.][0-9]{3}Z"));
    const auto &master = json["components"]["postgres.master"];
    for (const char *field :
         {"kind", "state", "required", "latency_ms", "error", "last_error", "last_error_at",
          "reconnecting", "checked_at", "detail", "endpoint", "role", "server_version"})
        EXPECT_TRUE(master.contains(field)) << field;
    EXPECT_EQ(master["kind"], "postgres");
    EXPECT_TRUE(master["error"].is_null());
    EXPECT_TRUE(json["components"]["postgres.replica.0"]["lag_seconds"].is_number());
    EXPECT_TRUE(json["components"]["migrations"]["pending"].is_null());
    EXPECT_EQ(json["components"]["migrations"]["applied"], 0);
}

TEST_F(HealthCheckerTest, PrimaryOnAClosedPortIsDown)
{
    test::Topology t = topology();
    t.master_port = test::closed_port();
    t.replicas = false;
    HealthChecker checker(test::topology_config(t));
    const HealthReport report = checker.check();
    EXPECT_EQ(report.state, HealthState::down);
    EXPECT_TRUE(report.any_down());
    const ComponentHealth &master = component(report, "postgres.master");
    EXPECT_EQ(master.result.state, HealthState::down);
    EXPECT_THAT(master.result.error, HasSubstr("refused"));
    EXPECT_EQ(master.result.last_error, master.result.error);
    EXPECT_FALSE(master.result.reconnecting);  // it never worked: nothing to reconnect
    EXPECT_EQ(component(report, "migrations").result.state, HealthState::down);
    EXPECT_EQ(component(report, "redis").result.state, HealthState::up);
}

TEST_F(HealthCheckerTest, SilentServerTimesOut)
{
    test::SilentPort silent;
    test::Topology t = topology();
    t.master_port = silent.port();
    t.replicas = false;
    t.redis = false;
    t.minio = false;
    t.health = "{timeout: 300ms}";
    HealthChecker checker(test::topology_config(t));
    const auto started = std::chrono::steady_clock::now();
    const HealthReport report = checker.check();
    const auto took = std::chrono::steady_clock::now() - started;
    EXPECT_EQ(component(report, "postgres.master").result.state, HealthState::down);
    EXPECT_FALSE(component(report, "postgres.master").result.error.empty());
    EXPECT_LT(took, 2s) << "a probe must not outlive its timeout by much";
}

TEST_F(HealthCheckerTest, ReconnectsAfterTheConnectionIsKilled)
{
    test::Topology t = topology();
    t.replicas = false;
    HealthChecker checker(test::topology_config(t));
    ASSERT_EQ(component(checker.check(), "postgres.master").result.state, HealthState::up);

    test::admin_sql("SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                    "WHERE application_name = 'stratum-health' AND datname = '" +
                    db + "'");
    const HealthReport lost = checker.check();
    const ComponentHealth &down = component(lost, "postgres.master");
    EXPECT_EQ(down.result.state, HealthState::down);
    EXPECT_TRUE(down.result.reconnecting);
    EXPECT_FALSE(down.result.last_error.empty());
    EXPECT_NE(down.result.last_error_at.time_since_epoch().count(), 0);
    EXPECT_EQ(lost.state, HealthState::down);

    const HealthReport back = checker.check();
    const ComponentHealth &up = component(back, "postgres.master");
    EXPECT_EQ(up.result.state, HealthState::up);
    EXPECT_FALSE(up.result.reconnecting);
    EXPECT_TRUE(up.result.error.empty());
    EXPECT_EQ(up.result.last_error, down.result.last_error);  // kept after recovery
    EXPECT_EQ(up.postgres->reconnects, 1u);
}

TEST_F(HealthCheckerTest, StoppedReplicaIsDownAndTheWholeDegraded)
{
    HealthChecker checker(test::topology_config(topology()));
    ASSERT_EQ(checker.check().state, HealthState::up);
    ASSERT_EQ(test::pg_ctl_of("STRATUM_TEST_PGCTL_REPLICA2", "stop -m fast"), 0);
    const HealthReport report = checker.check();
    EXPECT_EQ(component(report, "postgres.replica.1").result.state, HealthState::down);
    EXPECT_TRUE(component(report, "postgres.replica.1").result.reconnecting);
    EXPECT_EQ(component(report, "postgres.replica.0").result.state, HealthState::up);
    EXPECT_EQ(report.state, HealthState::degraded);  // a replica is optional
    EXPECT_TRUE(report.any_down());

    ASSERT_EQ(test::pg_ctl_of("STRATUM_TEST_PGCTL_REPLICA2", "start"), 0);
    test::wait_for_replica(ports[1]);
    const HealthReport back = checker.check();
    EXPECT_EQ(component(back, "postgres.replica.1").result.state, HealthState::up)
        << back.to_json(2);
    EXPECT_EQ(component(back, "postgres.replica.1").postgres->reconnects, 1u);
}

TEST_F(HealthCheckerTest, ReplicationLagAboveTheLimitDegrades)
{
    test::Topology t = topology();
    t.health = "{timeout: 2s, max_replication_lag: 1s}";
    HealthChecker checker(test::topology_config(t));
    ASSERT_EQ(component(checker.check(), "postgres.replica.0").result.state, HealthState::up);

    // The first replica applies WAL 10 s late: a commit on the primary now
    // leaves it behind by the time it has aged past the limit.
    test::sql_at(ports[0], "ALTER SYSTEM SET recovery_min_apply_delay = '10s'");
    test::sql_at(ports[0], "SELECT pg_reload_conf()");
    test::admin_sql("CREATE TABLE lag_probe (id int); INSERT INTO lag_probe VALUES (1)", db);
    // The second replica streams it (after the test before restarted it,
    // its WAL receiver may still be reconnecting): it is the one in sync.
    test::wait_for_replica(ports[1]);
    std::this_thread::sleep_for(1500ms);

    const HealthReport report = checker.check();
    const ComponentHealth &lagging = component(report, "postgres.replica.0");
    EXPECT_EQ(lagging.result.state, HealthState::degraded) << report.to_json(2);
    ASSERT_TRUE(lagging.postgres->lag_seconds);
    EXPECT_GE(*lagging.postgres->lag_seconds, 1.0);
    ASSERT_TRUE(lagging.postgres->lag_bytes);
    EXPECT_GT(*lagging.postgres->lag_bytes, 0);
    EXPECT_THAT(lagging.result.error, HasSubstr("replication lag"));
    EXPECT_EQ(component(report, "postgres.replica.1").result.state, HealthState::up)
        << report.to_json(2);
    EXPECT_EQ(report.state, HealthState::degraded);

    test::sql_at(ports[0], "ALTER SYSTEM RESET recovery_min_apply_delay");
    test::sql_at(ports[0], "SELECT pg_reload_conf()");
    test::wait_for_replica(ports[0]);
    // Caught up means lag 0 (a WAL record written by the server itself
    // between the two probes may delay that by a round).
    std::optional<ComponentHealth> caught_up;
    for (int attempt = 0; attempt < 5; attempt++) {
        caught_up = component(checker.check(), "postgres.replica.0");
        if (caught_up->postgres->lag_seconds.value_or(-1) == 0.0 &&
            caught_up->postgres->lag_bytes.value_or(-1) == 0)
            break;
        std::this_thread::sleep_for(200ms);
    }
    EXPECT_EQ(caught_up->result.state, HealthState::up);
    EXPECT_EQ(caught_up->postgres->lag_seconds.value_or(-1), 0.0);
    EXPECT_EQ(caught_up->postgres->lag_bytes.value_or(-1), 0);
    test::admin_sql("DROP TABLE lag_probe", db);
}

TEST_F(HealthCheckerTest, PausedReplayDegrades)
{
    HealthChecker checker(test::topology_config(topology()));
    test::sql_at(ports[0], "SELECT pg_wal_replay_pause()");
    test::admin_sql("CREATE TABLE paused_probe (id int)", db);
    const HealthReport report = checker.check();
    const ComponentHealth &paused = component(report, "postgres.replica.0");
    EXPECT_EQ(paused.result.state, HealthState::degraded);
    EXPECT_TRUE(paused.postgres->replay_paused);
    EXPECT_THAT(paused.result.error, HasSubstr("paused"));
    test::sql_at(ports[0], "SELECT pg_wal_replay_resume()");
    test::admin_sql("DROP TABLE paused_probe", db);
}

TEST_F(HealthCheckerTest, AReplicaThatIsAPrimaryIsDegraded)
{
    // The configuration names the primary as a replica: it answers, but
    // it is not a standby.
    test::Topology t = topology();
    t.replicas = false;
    t.extra = "";
    Config config = test::topology_config(t);
    PostgresEndpoint wrong = config.database.postgres.master;
    config.database.postgres.replicas.push_back(wrong);
    HealthChecker checker(config);
    const ComponentHealth replica = component(checker.check(), "postgres.replica.0");
    EXPECT_EQ(replica.result.state, HealthState::degraded);
    EXPECT_THAT(replica.result.error, HasSubstr("not a standby"));
    EXPECT_FALSE(replica.postgres->lag_seconds);
}

TEST_F(HealthCheckerTest, RedisDownOnlyDegrades)
{
    test::Topology t = topology();
    t.redis_port = test::closed_port();
    HealthChecker checker(test::topology_config(t));
    const HealthReport report = checker.check();
    EXPECT_EQ(component(report, "redis").result.state, HealthState::down);
    EXPECT_FALSE(component(report, "redis").result.error.empty());
    EXPECT_EQ(report.state, HealthState::degraded);
    EXPECT_TRUE(report.any_down());
}

TEST_F(HealthCheckerTest, MissingBucketIsDown)
{
    test::Topology t = topology();
    t.bucket = "no-such-bucket-here";
    HealthChecker checker(test::topology_config(t));
    const HealthReport report = checker.check();
    EXPECT_EQ(component(report, "minio").result.state, HealthState::down);
    EXPECT_EQ(report.state, HealthState::degraded);
}

TEST_F(HealthCheckerTest, MigrationLedgerVersionAndProblems)
{
    test::Topology t = topology();
    t.replicas = t.redis = t.minio = false;
    HealthChecker checker(test::topology_config(t));
    test::admin_sql(
        "SELECT stratum.apply_migration('master', 1, 'one', 'CREATE TABLE ledger_one (id int)', "
        "'DROP TABLE ledger_one'); "
        "SELECT stratum.apply_migration('master', 7, 'seven', 'CREATE TABLE ledger_seven (id "
        "int)', "
        "'DROP TABLE ledger_seven')",
        db);
    const ComponentHealth applied = component(checker.check(), "migrations");
    EXPECT_EQ(applied.result.state, HealthState::up);
    ASSERT_TRUE(applied.migrations);
    EXPECT_EQ(applied.migrations->version.value_or(-1), 7);
    EXPECT_EQ(applied.migrations->applied, 2);
    EXPECT_TRUE(applied.migrations->problems.empty());

    // Someone edits the stored SQL by hand: the ledger no longer vouches for it.
    test::admin_sql("UPDATE stratum.schema_migrations SET down_sql = 'SELECT 1' WHERE version = 7",
                    db);
    const ComponentHealth tampered = component(checker.check(), "migrations");
    EXPECT_EQ(tampered.result.state, HealthState::down);
    ASSERT_FALSE(tampered.migrations->problems.empty());
    EXPECT_THAT(tampered.migrations->problems.front(), HasSubstr("master/7"));
    EXPECT_THAT(tampered.result.error, HasSubstr("ledger check"));
    test::admin_sql("UPDATE stratum.schema_migrations SET down_sql = 'DROP TABLE ledger_seven' "
                    "WHERE version = 7",
                    db);
    EXPECT_EQ(component(checker.check(), "migrations").result.state, HealthState::up);
}

TEST_F(HealthCheckerTest, InvalidIndexDegradesTheMigrations)
{
    test::Topology t = topology();
    t.replicas = t.redis = t.minio = false;
    HealthChecker checker(test::topology_config(t));
    test::admin_sql("CREATE TABLE health_dupes (id int); INSERT INTO health_dupes VALUES (1), (1)", db);
    auto conn = Connection::open(test::superuser_conninfo(db), {}, std::chrono::steady_clock::now() + 10s);
    // A unique concurrent build that fails leaves its index INVALID.
    EXPECT_THROW(conn->exec("CREATE UNIQUE INDEX CONCURRENTLY health_dupes_id ON health_dupes (id)"), Error);
    const ComponentHealth broken = component(checker.check(), "migrations");
    EXPECT_NE(broken.result.state, HealthState::up);
    ASSERT_TRUE(broken.migrations);
    ASSERT_EQ(broken.migrations->invalid_indexes.size(), 1u);
    EXPECT_EQ(broken.migrations->invalid_indexes[0], "health_dupes_id on health_dupes");
    EXPECT_THAT(broken.result.error, HasSubstr("1 INVALID index"));
    test::admin_sql("DROP TABLE health_dupes", db);
    EXPECT_TRUE(component(checker.check(), "migrations").migrations->invalid_indexes.empty());
}

TEST_F(HealthCheckerTest, MigrationPlanAgainstFiles)
{
    test::recreate_database("stratum_health_plan_test");
    test::Topology t = topology();
    t.dbname = "stratum_health_plan_test";
    t.replicas = t.redis = t.minio = false;
    const std::string one = "CREATE TABLE plan_one (id int)";
    test::admin_sql("SELECT stratum.apply_migration('master', 1, 'one', '" + one + "')", t.dbname);
    const std::string sum_one =
        test::admin_sql("SELECT stratum.migration_checksum('" + one + "')", t.dbname);
    const std::string sum_two =
        test::admin_sql("SELECT stratum.migration_checksum('SELECT 2')", t.dbname);

    std::vector<std::string> checksums = {sum_one, sum_two};
    HealthSources sources;
    sources.migrations = [&](Connection &connection) {
        return probe_migration_plan(connection, {1, 2}, checksums);
    };
    HealthChecker checker(test::topology_config(t), sources);
    const ComponentHealth pending = component(checker.check(), "migrations");
    EXPECT_EQ(pending.result.state, HealthState::degraded);
    ASSERT_TRUE(pending.migrations);
    EXPECT_EQ(pending.migrations->source, "files");
    EXPECT_EQ(pending.migrations->pending.value_or(-1), 1);
    EXPECT_EQ(pending.migrations->version.value_or(-1), 1);
    EXPECT_EQ(pending.migrations->applied, 1);
    EXPECT_THAT(pending.result.error, HasSubstr("1 migration pending"));

    checksums[0] = sum_two;  // the file of version 1 changed after it was applied
    const ComponentHealth drifted = component(checker.check(), "migrations");
    EXPECT_EQ(drifted.result.state, HealthState::down);
    EXPECT_EQ(drifted.migrations->drifted, 1);
    EXPECT_THAT(drifted.result.error, HasSubstr("drift"));
}

TEST_F(HealthCheckerTest, PlannedAgainstTheFilesOfTheConfiguration)
{
    test::recreate_database("stratum_health_files_test");
    test::TempDir migrations;
    migrations.write("master/001_one.up.sql", "CREATE TABLE files_one (id int);\n");
    migrations.write("master/001_one.down.sql", "DROP TABLE files_one;\n");
    migrations.write("master/002_two.up.sql", "CREATE TABLE files_two (id int);\n");
    migrations.write("master/002_two.down.sql", "DROP TABLE files_two;\n");
    test::Topology t = topology();
    t.dbname = "stratum_health_files_test";
    t.replicas = t.redis = t.minio = false;
    t.extra = "migrations: {dir: \"" + migrations.path() + "\"}\n";
    HealthChecker checker(test::topology_config(t));

    const ComponentHealth pending = component(checker.check(), "migrations");
    ASSERT_TRUE(pending.migrations) << pending.result.error;
    EXPECT_EQ(pending.migrations->source, "files");
    EXPECT_EQ(pending.migrations->pending.value_or(-1), 2);
    EXPECT_EQ(pending.result.state, HealthState::degraded);
    EXPECT_THAT(pending.result.error, HasSubstr("2 migrations pending"));

    test::admin_sql("SELECT stratum.apply_migration('master', 1, 'one', "
                    "'CREATE TABLE files_one (id int);' || chr(10), 'DROP TABLE files_one;' || chr(10))",
                    t.dbname);
    const ComponentHealth one = component(checker.check(), "migrations");
    EXPECT_EQ(one.migrations->pending.value_or(-1), 1);
    EXPECT_EQ(one.migrations->version.value_or(-1), 1);

    // The files are read again each round: an edit of an applied one is drift.
    migrations.write("master/001_one.up.sql", "CREATE TABLE files_one (id bigint);\n");
    const ComponentHealth drift = component(checker.check(), "migrations");
    EXPECT_EQ(drift.result.state, HealthState::down);
    EXPECT_EQ(drift.migrations->drifted, 1);

    migrations.write("master/003_bad.up.sql", "SELECT 'unterminated;\n");
    migrations.write("master/003_bad.down.sql", "SELECT 1;\n");
    const ComponentHealth unusable = component(checker.check(), "migrations");
    EXPECT_EQ(unusable.result.state, HealthState::down);
    EXPECT_THAT(unusable.result.error, HasSubstr("unusable migration files"));
    EXPECT_THAT(unusable.result.error, HasSubstr("003_bad.up.sql"));
    EXPECT_FALSE(unusable.migrations);
}

TEST_F(HealthCheckerTest, LedgerUnreadableByTheApplicationRole)
{
    test::Topology t = topology();
    t.user = "stratum_app";
    t.replicas = t.redis = t.minio = false;
    HealthChecker checker(test::topology_config(t));
    const HealthReport report = checker.check();
    EXPECT_EQ(component(report, "postgres.master").result.state, HealthState::up);
    const ComponentHealth &migrations = component(report, "migrations");
    EXPECT_EQ(migrations.result.state, HealthState::degraded);
    EXPECT_THAT(migrations.result.error, HasSubstr("cannot read the migration ledger"));
    EXPECT_THAT(migrations.result.error, HasSubstr("permission denied"));
}

TEST_F(HealthCheckerTest, PoolExhaustionDegradesAndAnUnreachablePrimaryIsDown)
{
    test::Topology t = topology();
    t.replicas = t.redis = t.minio = false;
    PoolOptions options = test::app_pool_options(db);
    options.min_size = 0;
    options.max_size = 10;
    options.acquire_timeout = 5s;
    Pool pool(options);
    HealthSources sources;
    sources.pool = &pool;
    HealthChecker checker(test::topology_config(t), sources);
    const ComponentHealth idle = component(checker.check(), "pool");
    EXPECT_TRUE(idle.required);
    EXPECT_EQ(idle.result.state, HealthState::up);
    ASSERT_TRUE(idle.pool);
    EXPECT_EQ(idle.pool->max_size, 10u);

    std::vector<Lease> leases;
    for (int i = 0; i < 10; i++)
        leases.push_back(pool.acquire());
    const ComponentHealth full = component(checker.check(), "pool");
    EXPECT_EQ(full.result.state, HealthState::degraded);
    EXPECT_EQ(full.pool->in_use, 10u);
    EXPECT_THAT(full.result.error, HasSubstr("all 10 connections"));

    std::thread waiter([&] { Lease lease = pool.acquire(); });
    while (pool.metrics().waiters == 0)
        std::this_thread::sleep_for(5ms);
    const ComponentHealth waiting = component(checker.check(), "pool");
    EXPECT_EQ(waiting.result.state, HealthState::degraded);
    EXPECT_EQ(waiting.pool->waiters, 1u);
    EXPECT_THAT(waiting.result.error, HasSubstr("1 caller waiting"));
    leases.clear();
    waiter.join();
    EXPECT_EQ(component(checker.check(), "pool").result.state, HealthState::up);

    PoolOptions nowhere = test::app_pool_options(db);
    nowhere.primary = test::conninfo_at(std::to_string(test::closed_port()), "stratum_app", db);
    nowhere.min_size = 1;
    Pool dead(nowhere);
    dead.run_maintenance();
    HealthSources dead_sources;
    dead_sources.pool = &dead;
    dead_sources.check_migrations = false;
    HealthChecker dead_checker(test::topology_config(t), dead_sources);
    const ComponentHealth unreachable = component(dead_checker.check(), "pool");
    EXPECT_EQ(unreachable.result.state, HealthState::down);
    EXPECT_THAT(unreachable.result.error, HasSubstr("cannot connect"));
}

TEST_F(HealthCheckerTest, BackgroundRoundsUntilStopped)
{
    test::Topology t = topology();
    t.replicas = t.redis = t.minio = false;
    t.health = "{timeout: 1s, interval: 50ms}";
    HealthChecker checker(test::topology_config(t));
    EXPECT_FALSE(checker.latest().checked());
    checker.start();
    EXPECT_TRUE(checker.running());
    EXPECT_TRUE(checker.latest().checked());  // start() ran the first round itself
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (checker.rounds() < 4 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(10ms);
    EXPECT_GE(checker.rounds(), 4u);
    checker.stop();
    EXPECT_FALSE(checker.running());
    const auto rounds = checker.rounds();
    std::this_thread::sleep_for(200ms);
    EXPECT_EQ(checker.rounds(), rounds);
}

TEST_F(HealthCheckerTest, NoSecretInTheReport)
{
    test::Topology t = topology();
    t.master_port = test::closed_port();  // errors mention the server, never the password
    Config config = test::topology_config(t, {{"PGPASSWORD", "pw-Zq8 'quoted' @=secret"}});
    ASSERT_EQ(config.database.postgres.master.password.reveal(), "pw-Zq8 'quoted' @=secret");
    HealthChecker checker(config);
    const std::string json = checker.check().to_json();
    EXPECT_THAT(json, testing::Not(HasSubstr("pw-Zq8")));
    EXPECT_THAT(json, testing::Not(HasSubstr("S3RVER\",")));
}

// --- the rules of the overall state -------------------------------------------

ComponentHealth made(const std::string &name, bool required, HealthState state,
                     ComponentKind kind = ComponentKind::postgres)
{
    ComponentHealth c;
    c.result.component = name;
    c.result.state = state;
    c.required = required;
    c.kind = kind;
    return c;
}

TEST(OverallState, WorstOfRequiredAndOptionalOnlyDegrade)
{
    using S = HealthState;
    EXPECT_EQ(overall_state({}), S::down);
    EXPECT_EQ(overall_state({made("a", true, S::up), made("b", false, S::up)}), S::up);
    EXPECT_EQ(overall_state({made("a", true, S::up), made("b", false, S::down)}), S::degraded);
    EXPECT_EQ(overall_state({made("a", true, S::degraded), made("b", false, S::up)}), S::degraded);
    EXPECT_EQ(overall_state({made("a", true, S::down), made("b", false, S::up)}), S::down);
    EXPECT_EQ(overall_state({made("a", true, S::up), made("b", true, S::down)}), S::down);
}

TEST(OverallState, SubsetsRecomputeTheirState)
{
    HealthReport report;
    report.components = {made("postgres.master", true, HealthState::up),
                         made("postgres.replica.0", false, HealthState::down),
                         made("migrations", false, HealthState::down, ComponentKind::migrations)};
    report.state = overall_state(report.components);
    EXPECT_EQ(report.state, HealthState::degraded);
    const HealthReport database = report.only({ComponentKind::postgres});
    EXPECT_EQ(database.components.size(), 2u);
    EXPECT_EQ(database.state, HealthState::degraded);
    // Optional components alone answer for themselves.
    EXPECT_EQ(report.only({ComponentKind::migrations}).state, HealthState::down);
    EXPECT_EQ(report.only({ComponentKind::redis}).state, HealthState::down);  // none: down
    EXPECT_TRUE(report.only({ComponentKind::redis}).components.empty());
}

TEST(OverallState, MigrationStates)
{
    MigrationFacts facts;
    EXPECT_EQ(migration_state(facts), HealthState::up);
    facts.pending = 0;
    EXPECT_EQ(migration_state(facts), HealthState::up);
    facts.pending = 2;
    EXPECT_EQ(migration_state(facts), HealthState::degraded);
    facts.pending = 0;
    facts.unknown = 1;
    EXPECT_EQ(migration_state(facts), HealthState::degraded);
    facts.drifted = 1;
    EXPECT_EQ(migration_state(facts), HealthState::down);
    facts = {};
    facts.problems = {"master/3: up_sql_changed"};
    EXPECT_EQ(migration_state(facts), HealthState::down);
    facts = {};
    facts.invalid_indexes = {"public.t_id on t"};
    EXPECT_EQ(migration_state(facts), HealthState::degraded);
}

}  // namespace
