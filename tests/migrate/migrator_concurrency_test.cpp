// Migrators at the same time, and migrators behind the application's locks:
// ten of them apply each migration exactly once and none fails; a lock
// timeout is retried until the blocker goes, or given up after the limit;
// status names who blocks a waiting migrator.
#include <atomic>
#include <barrier>
#include <map>
#include <thread>

#include <gtest/gtest.h>

#include <stratum/migrator.hpp>
#include <stratum/stratum.hpp>

#include "migration_fixture.hpp"

using namespace stratum;
using namespace stratum::test;

namespace {

const std::string db = "stratum_migrator_concurrency_test";

class ConcurrencyTest : public MigratorFixture {
protected:
    ConcurrencyTest() : MigratorFixture(db) {}
};

std::unique_ptr<Connection> connect(const std::string &conninfo)
{
    return Connection::open(conninfo, {}, std::chrono::steady_clock::now() + std::chrono::seconds(10));
}

TEST_F(ConcurrencyTest, TenMigratorsApplyEachMigrationExactlyOnce)
{
    constexpr int versions = 30;
    for (int v = 1; v <= versions; v++) {
        std::string t = "t" + std::to_string(v);
        if (v == 12)  // a non-transactional one among them
            dir.migration(v, "index_t1",
                          "-- stratum: no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS t1_id ON t1 (id);",
                          "DROP INDEX CONCURRENTLY IF EXISTS t1_id;");
        else
            dir.migration(v, t, "CREATE TABLE " + t + " (id int);\nINSERT INTO " + t + " VALUES (" +
                                    std::to_string(v) + ");",
                          "DROP TABLE " + t + ";");
    }
    constexpr int migrators = 10;
    std::barrier start(migrators);
    std::vector<RunResult> results(migrators);
    std::vector<std::string> errors(migrators);
    std::vector<std::thread> threads;
    for (int i = 0; i < migrators; i++) {
        threads.emplace_back([&, i] {
            try {
                MigratorOptions options;
                options.batch_size = 1 + i % 7;  // different batch boundaries
                Migrator m = migrator(options);
                start.arrive_and_wait();
                results[i] = m.up();
            } catch (const std::exception &error) {
                errors[i] = error.what();
            }
        });
    }
    for (auto &thread : threads)
        thread.join();
    std::map<std::int64_t, int> applied;
    for (int i = 0; i < migrators; i++) {
        EXPECT_EQ(errors[i], "") << "migrator " << i;
        for (const auto &outcome : results[i].migrations) {
            EXPECT_TRUE(outcome.action == "applied" || outcome.action == "skipped") << outcome.action;
            applied[outcome.version] += outcome.action == "applied";
        }
    }
    for (int v = 1; v <= versions; v++)
        EXPECT_LE(applied[v], 1) << "version " << v << " applied twice";
    EXPECT_EQ(sql("SELECT count(*) FROM stratum.schema_migrations WHERE status = 'applied'"),
              std::to_string(versions));
    EXPECT_EQ(sql("SELECT count(*) FROM stratum.schema_migration_log WHERE action = 'applied'"),
              std::to_string(versions));
    EXPECT_EQ(sql("SELECT count(*) FROM t5"), "1");  // its INSERT ran once
    EXPECT_EQ(sql("SELECT indisvalid FROM pg_index WHERE indexrelid = 't1_id'::regclass"), "t");
    EXPECT_EQ(sql("SELECT count(*) FROM stratum.verify_ledger()"), "0");
}

TEST_F(ConcurrencyTest, LockTimeoutIsRetriedUntilTheBlockerGoes)
{
    sql("CREATE TABLE busy (id int); ALTER TABLE busy OWNER TO stratum_owner; GRANT SELECT ON busy TO stratum_app");
    dir.migration(1, "busy_note", "ALTER TABLE busy ADD COLUMN note text;", "ALTER TABLE busy DROP COLUMN note;");
    auto blocker = connect(app_conninfo(db));
    blocker->exec("BEGIN");
    blocker->exec("SELECT * FROM busy");
    std::thread release([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(1000));
        blocker->exec("COMMIT");
    });
    std::vector<MigrationEvent> retries;
    std::mutex mutex;
    MigratorOptions options;
    options.lock_timeout = std::chrono::milliseconds(100);
    options.retry_backoff_min = std::chrono::milliseconds(50);
    options.retry_backoff_max = std::chrono::milliseconds(200);
    options.on_event = [&](const MigrationEvent &event) {
        std::lock_guard lock(mutex);
        if (event.type == MigrationEvent::Type::retrying)
            retries.push_back(event);
    };
    RunResult run = migrator(options).up();
    release.join();
    ASSERT_EQ(run.count("applied"), 1u);
    EXPECT_GT(run.migrations[0].attempts, 1);
    ASSERT_FALSE(retries.empty());
    EXPECT_NE(retries[0].message.find("timed out waiting for AccessExclusiveLock on relation public.busy"),
              std::string::npos)
        << retries[0].message;
    EXPECT_NE(retries[0].message.find("pid " + std::to_string(blocker->backend_pid())), std::string::npos)
        << retries[0].message;
    EXPECT_GT(retries[0].delay.count(), 0);
    // Backoff grows (with jitter): the later waits are not shorter than the floor.
    EXPECT_GE(retries.back().delay.count(), 25);
}

TEST_F(ConcurrencyTest, LockTimeoutGivesUpAfterTheLimitAndLeavesNothing)
{
    sql("CREATE TABLE busy (id int); ALTER TABLE busy OWNER TO stratum_owner; GRANT SELECT ON busy TO stratum_app");
    dir.migration(1, "other", "CREATE TABLE other (id int);", "DROP TABLE other;");
    dir.migration(2, "busy_note", "ALTER TABLE busy ADD COLUMN note text;", "ALTER TABLE busy DROP COLUMN note;");
    auto blocker = connect(app_conninfo(db));
    blocker->exec("BEGIN");
    blocker->exec("SELECT * FROM busy");
    MigratorOptions options;
    options.lock_timeout = std::chrono::milliseconds(100);
    options.lock_wait_limit = std::chrono::milliseconds(800);
    options.retry_backoff_min = std::chrono::milliseconds(50);
    options.retry_backoff_max = std::chrono::milliseconds(100);
    auto started = std::chrono::steady_clock::now();
    try {
        migrator(options).up();
        FAIL() << "migrated through a held lock";
    } catch (const MigrationError &error) {
        EXPECT_EQ(error.reason(), MigrationErrorReason::lock_timeout);
        EXPECT_EQ(error.sqlstate(), "55P03");
        EXPECT_EQ(error.failure().version, 2);
        EXPECT_NE(std::string(error.what()).find("gave up after"), std::string::npos) << error.what();
        EXPECT_NE(error.detail().find("pid " + std::to_string(blocker->backend_pid())), std::string::npos);
        EXPECT_EQ(error.partial().count("applied"), 1u);
    }
    auto waited = std::chrono::steady_clock::now() - started;
    EXPECT_LT(waited, std::chrono::seconds(5));
    blocker->exec("ROLLBACK");
    EXPECT_EQ(sql("SELECT count(*) FROM pg_attribute WHERE attrelid = 'busy'::regclass AND attname = 'note'"), "0");
    EXPECT_EQ(sql("SELECT count(*) FROM stratum.schema_migrations WHERE version = 2"), "0");
}

TEST_F(ConcurrencyTest, StatusNamesWhatBlocksAWaitingMigrator)
{
    sql("CREATE TABLE busy (id int); ALTER TABLE busy OWNER TO stratum_owner; GRANT SELECT ON busy TO stratum_app");
    dir.migration(1, "busy_note", "ALTER TABLE busy ADD COLUMN note text;", "ALTER TABLE busy DROP COLUMN note;");
    auto blocker = connect(app_conninfo(db));
    blocker->exec("BEGIN");
    blocker->exec("SELECT * FROM busy");
    MigratorOptions options;
    options.lock_timeout = std::chrono::seconds(20);
    std::thread waiting([&] {
        try {
            migrator(options).up();
        } catch (const std::exception &error) {
            ADD_FAILURE() << error.what();
        }
    });
    StatusReport status;
    for (int i = 0; i < 100 && status.waits.empty(); i++) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        status = migrator().status();
    }
    blocker->exec("COMMIT");
    waiting.join();
    ASSERT_FALSE(status.waits.empty());
    EXPECT_EQ(status.waits[0].scope, "master");
    EXPECT_EQ(status.waits[0].blocked_by, blocker->backend_pid());
    EXPECT_NE(status.waits[0].waiting_for.find("AccessExclusiveLock on public.busy"), std::string::npos)
        << status.waits[0].waiting_for;
    EXPECT_EQ(status.waits[0].blocker_user, "stratum_app");
    EXPECT_NE(status.to_json().find("\"blocked_by\":" + std::to_string(blocker->backend_pid())), std::string::npos);
    EXPECT_EQ(sql("SELECT count(*) FROM pg_attribute WHERE attrelid = 'busy'::regclass AND attname = 'note'"), "1");
}

TEST_F(ConcurrencyTest, TransactionalMigratorWaitsOutANonTransactionalOne)
{
    // One migrator builds an index concurrently (slowed by a long reader it
    // must wait for); another, with transactional migrations of the same
    // scope, retries instead of waiting inside its transaction.
    sql("CREATE TABLE big (id int); ALTER TABLE big OWNER TO stratum_owner; GRANT SELECT ON big TO stratum_app");
    dir.migration(1, "big_index", "-- stratum: no-transaction\n-- stratum: lock-timeout 0\n"
                                  "CREATE INDEX CONCURRENTLY IF NOT EXISTS big_id ON big (id);",
                  "DROP INDEX CONCURRENTLY IF EXISTS big_id;");
    dir.migration(2, "small", "CREATE TABLE small (id int);", "DROP TABLE small;");
    auto reader = connect(app_conninfo(db));
    reader->exec("BEGIN ISOLATION LEVEL REPEATABLE READ");
    reader->exec("SELECT count(*) FROM big");  // CREATE INDEX CONCURRENTLY waits for this snapshot

    std::atomic<int> waits{0};
    MigratorOptions options;
    options.retry_backoff_min = std::chrono::milliseconds(20);
    options.retry_backoff_max = std::chrono::milliseconds(100);
    options.on_event = [&](const MigrationEvent &event) {
        if (event.type == MigrationEvent::Type::waiting)
            waits++;
    };
    RunResult first, second;
    std::thread index_builder([&] { first = migrator(options).up(1); });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    std::thread other([&] { second = migrator(options).up(); });
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    reader->exec("COMMIT");
    index_builder.join();
    other.join();
    EXPECT_EQ(first.count("applied"), 1u);
    EXPECT_EQ(second.count("skipped"), 1u) << second.to_json(2);  // version 1, once it could look
    EXPECT_EQ(second.count("applied"), 1u) << second.to_json(2);  // version 2
    EXPECT_GT(waits.load(), 0);
    EXPECT_EQ(sql("SELECT count(*) FROM stratum.schema_migrations WHERE status = 'applied'"), "2");
}

// A batch that fails (a lock timeout in its before_each hook) after another
// migrator applied every migration of it: each is reported once. The runner
// blamed the last one for the error and reported it as done, then retried it
// and reported it again (found by migrator_workload_fault_test).
TEST_F(ConcurrencyTest, BatchFinishedByAnotherMigratorIsReportedOnce)
{
    sql("CREATE TABLE gate (id int); ALTER TABLE gate OWNER TO stratum_owner");
    dir.migration(1, "one", "CREATE TABLE one (id int);", "DROP TABLE one;");
    dir.migration(2, "two", "CREATE TABLE two (id int);", "DROP TABLE two;");
    dir.write("hooks/before_each.sql", "SET LOCAL lock_timeout = '2s';\nLOCK TABLE gate IN SHARE MODE;\n");
    auto blocker = connect(superuser_conninfo(db));
    blocker->exec("BEGIN");
    blocker->exec("LOCK TABLE gate IN ACCESS EXCLUSIVE MODE");

    std::atomic<bool> retried{false};
    MigratorOptions options;
    options.batch_size = 2;
    options.retry_backoff_min = std::chrono::milliseconds(50);
    options.retry_backoff_max = std::chrono::milliseconds(100);
    options.on_event = [&](const MigrationEvent &event) {
        if (event.type == MigrationEvent::Type::retrying)
            retried = true;
    };
    RunResult run;
    std::string error;
    std::thread waiting([&] {
        try {
            run = migrator(options).up();
        } catch (const std::exception &e) {
            error = e.what();
        }
    });
    // Its hook waits at the gate (both migrations in one batch); meanwhile a
    // migrator without the hook applies both.
    for (int i = 0; i < 200 && sql("SELECT count(*) FROM pg_locks WHERE relation = 'gate'::regclass "
                                   "AND NOT granted") != "1";
         i++)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    MigratorOptions other;
    other.hooks_dir = dir.path() / "no_hooks";
    EXPECT_EQ(migrator(other).up().count("applied"), 2u);
    for (int i = 0; i < 500 && !retried; i++)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    blocker->exec("COMMIT");
    waiting.join();

    ASSERT_EQ(error, "");
    EXPECT_TRUE(retried) << "the hook never timed out";
    std::vector<std::int64_t> versions;
    for (const auto &outcome : run.migrations) {
        versions.push_back(outcome.version);
        EXPECT_EQ(outcome.action, "skipped");
    }
    EXPECT_EQ(versions, (std::vector<std::int64_t>{1, 2}));
    EXPECT_EQ(run.count("skipped"), 2u);
}

}  // namespace
