// Concurrent index builds in non-transactional migrations: a build that meets
// an open snapshot waits for it instead of timing out half-built; an INVALID
// index of the same name (an earlier failed build) is dropped before the
// build, so IF NOT EXISTS cannot skip it; a failed build leaves no INVALID
// index behind and nothing in the ledger; verify reports INVALID indexes.
#include <chrono>
#include <future>
#include <thread>

#include <gtest/gtest.h>

#include <stratum/migrator.hpp>
#include <stratum/stratum.hpp>

#include "migration_fixture.hpp"

using namespace stratum;
using namespace stratum::test;
using namespace std::chrono_literals;

namespace {

const std::string db = "stratum_migrator_index_build_test";

class IndexBuildTest : public MigratorFixture {
protected:
    IndexBuildTest() : MigratorFixture(db) {}

    // Short lock timeouts and quick retries: what made the old runner give up
    // on a build waiting for a snapshot and retry into IF NOT EXISTS.
    static MigratorOptions impatient()
    {
        MigratorOptions options;
        options.lock_timeout = 200ms;
        options.lock_wait_limit = 5s;
        options.retry_backoff_min = 20ms;
        options.retry_backoff_max = 100ms;
        return options;
    }
    std::string index_state(const std::string &index) const
    {
        return sql("SELECT coalesce((SELECT CASE WHEN indisvalid THEN 'valid' ELSE 'INVALID' END "
                   "FROM pg_index WHERE indexrelid = to_regclass('" + index + "')), 'absent')");
    }
    std::string ledger_status(int version) const
    {
        return sql("SELECT coalesce((SELECT status FROM stratum.schema_migrations WHERE scope = 'master' "
                   "AND version = " + std::to_string(version) + "), 'absent')");
    }
    // A failed unique concurrent build on duplicates: leaves `index` INVALID.
    void leave_invalid_index(const std::string &index) const
    {
        auto conn = Connection::open(superuser_conninfo(db), {}, std::chrono::steady_clock::now() + 10s);
        EXPECT_THROW(conn->exec("CREATE UNIQUE INDEX CONCURRENTLY " + index + " ON t (id)"), Error);
        ASSERT_EQ(index_state(index), "INVALID");
    }
    void table_with_duplicates() const
    {
        sql("CREATE TABLE t (id int); INSERT INTO t VALUES (1), (1); ALTER TABLE t OWNER TO stratum_owner");
    }
};

const char *const build_t_id = "-- stratum: no-transaction\n"
                               "CREATE INDEX CONCURRENTLY IF NOT EXISTS t_id ON t (id);\n";
const char *const drop_t_id = "DROP INDEX CONCURRENTLY IF EXISTS t_id;";

TEST_F(IndexBuildTest, BuildWaitsForAnOpenSnapshotAndRecordsAValidIndex)
{
    dir.migration(1, "t", "CREATE TABLE t (id int);", "DROP TABLE t;");
    dir.migration(2, "t_id", build_t_id, drop_t_id);
    migrator(impatient()).up(1);

    auto reader = Connection::open(owner_conninfo(db), {}, std::chrono::steady_clock::now() + 10s);
    reader->exec("BEGIN ISOLATION LEVEL REPEATABLE READ");
    reader->exec("SELECT 1");  // a snapshot the build must wait for
    auto run = std::async(std::launch::async, [&] { return migrator(impatient()).up(); });

    // The build waits on the reader's virtual transaction: see it wait, then
    // keep the reader open for several lock timeouts.
    bool waited = false;
    for (int i = 0; i < 200 && !waited; i++) {
        waited = sql("SELECT count(*) FROM pg_locks WHERE locktype = 'virtualxid' AND NOT granted") != "0";
        if (!waited)
            std::this_thread::sleep_for(10ms);
    }
    std::this_thread::sleep_for(1s);
    reader->exec("COMMIT");
    ASSERT_EQ(run.wait_for(30s), std::future_status::ready);
    RunResult result;
    EXPECT_NO_THROW(result = run.get());
    EXPECT_TRUE(waited) << "the build never waited for the open snapshot";
    EXPECT_EQ(result.count("applied"), 1u) << result.to_json(2);
    EXPECT_EQ(index_state("t_id"), "valid");
    EXPECT_EQ(ledger_status(2), "applied");
    EXPECT_TRUE(migrator().verify().ok()) << migrator().verify().to_json(2);
    // The step's own lock_timeout is back once the build is done.
    EXPECT_EQ(sql("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                  "AND state = 'idle in transaction'"),
              "0");
}

TEST_F(IndexBuildTest, InvalidIndexOfTheSameNameIsDroppedAndBuiltAgain)
{
    table_with_duplicates();
    leave_invalid_index("t_id");
    dir.migration(1, "t_id", build_t_id, drop_t_id);
    RunResult run = migrator().up();
    EXPECT_EQ(run.count("applied"), 1u);
    EXPECT_EQ(index_state("t_id"), "valid");
    EXPECT_EQ(ledger_status(1), "applied");
}

TEST_F(IndexBuildTest, FailedBuildLeavesNoInvalidIndexAndIsNotRecorded)
{
    table_with_duplicates();
    dir.migration(1, "t_uq",
                  "-- stratum: no-transaction\nCREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS t_uq ON t (id);\n",
                  "DROP INDEX CONCURRENTLY IF EXISTS t_uq;");
    for (int attempt = 0; attempt < 2; attempt++) {
        EXPECT_THROW(migrator().up(), MigrationError);
        EXPECT_EQ(index_state("t_uq"), "absent");
        EXPECT_EQ(ledger_status(1), "absent");
    }
    // Unnamed: whatever name PostgreSQL chose goes too.
    dir.migration(1, "t_uq", "-- stratum: no-transaction\nCREATE UNIQUE INDEX CONCURRENTLY ON t (id);\n",
                  "SELECT 1;");
    EXPECT_THROW(migrator().up(), MigrationError);
    EXPECT_EQ(sql("SELECT count(*) FROM pg_index WHERE indrelid = 't'::regclass"), "0");
}

TEST_F(IndexBuildTest, VerifyReportsInvalidIndexes)
{
    table_with_duplicates();
    EXPECT_TRUE(migrator().verify().ok());
    leave_invalid_index("t_broken");
    VerifyReport report = migrator().verify();
    EXPECT_FALSE(report.ok());
    ASSERT_EQ(report.invalid_indexes.size(), 1u) << report.to_json(2);
    EXPECT_EQ(report.invalid_indexes[0].schema, "public");
    EXPECT_EQ(report.invalid_indexes[0].name, "t_broken");
    EXPECT_EQ(report.invalid_indexes[0].table, "t");
    EXPECT_NE(report.to_json().find("\"invalid_indexes\":[{"), std::string::npos) << report.to_json();
}

TEST_F(IndexBuildTest, SingleStatementConcurrentBuildRunsOutsideATransactionWithoutAHeader)
{
    // golang-migrate sends a file as one query, so a file holding only a
    // CREATE INDEX CONCURRENTLY runs outside a transaction block there.
    dir.migration(1, "t", "CREATE TABLE t (id int);", "DROP TABLE t;");
    dir.migration(2, "t_id", "CREATE INDEX CONCURRENTLY IF NOT EXISTS t_id ON t (id);\n",
                  "DROP INDEX CONCURRENTLY IF EXISTS t_id;");
    dir.migration(3, "t_id2", "-- morph:nontransactional\nCREATE INDEX CONCURRENTLY t_id2 ON t (id);\n",
                  "DROP INDEX CONCURRENTLY t_id2;");
    RunResult run = migrator().up();
    EXPECT_EQ(run.count("applied"), 3u);
    EXPECT_EQ(index_state("t_id"), "valid");
    EXPECT_EQ(index_state("t_id2"), "valid");
    EXPECT_EQ(sql("SELECT string_agg(metadata #>> '{header,no_transaction_by}', ',' ORDER BY version) "
                  "FROM stratum.schema_migrations WHERE NOT transactional"),
              "single statement,morph");
    EXPECT_EQ(migrator().down_to(0).count("rolled_back"), 3u);
}

}  // namespace

TEST_F(IndexBuildTest, ASingleBuildStepIsPreparedWithItsCheck)
{
    // The lock, the check, the split and the build's settings in one round
    // trip; then the build; its INVALID check; the record and release.
    dir.migration(1, "t", "CREATE TABLE t (id int);", "DROP TABLE t;");
    migrator().up();
    RunResult planned_only = migrator().up();  // nothing pending: the plan's round trips
    dir.migration(2, "t_id", "CREATE INDEX CONCURRENTLY IF NOT EXISTS t_id ON t (id);\n",
                  "DROP INDEX CONCURRENTLY IF EXISTS t_id;");
    RunResult run = migrator().up();
    EXPECT_EQ(run.count("applied"), 1u);
    EXPECT_EQ(index_state("t_id"), "valid");
    EXPECT_EQ(run.round_trips - planned_only.round_trips, 4u) << run.to_json(2);
    // A file of two statements is split by the server first, and its build
    // prepared on its own.
    dir.migration(3, "two", "-- stratum: no-transaction\nCREATE INDEX CONCURRENTLY t_id3 ON t (id);\n"
                            "CREATE INDEX CONCURRENTLY t_id4 ON t (id);\n",
                  "DROP INDEX CONCURRENTLY t_id3;\nDROP INDEX CONCURRENTLY t_id4;");
    run = migrator().up();
    EXPECT_EQ(run.count("applied"), 1u);
    EXPECT_EQ(index_state("t_id3"), "valid");
    EXPECT_EQ(index_state("t_id4"), "valid");
}

TEST_F(IndexBuildTest, ACheckThatFailsWithTheLockLeavesNoLockOnAPooledSession)
{
    // The check rides with the lock attempt: when it fails the lock was
    // taken all the same, and must not stay with the connection the pool
    // hands out next.
    dir.migration(1, "t", "CREATE TABLE t (id int);", "DROP TABLE t;");
    migrator().up();
    dir.migration(2, "t_id", "CREATE INDEX CONCURRENTLY t_id ON t (id;\n", "SELECT 1;");
    PoolOptions options;
    options.primary = owner_conninfo(db);
    options.min_size = 1;
    options.max_size = 1;
    Pool pool(options);
    MigratorOptions migrator_options;
    migrator_options.dir = dir.path();
    Migrator on_pool(pool, migrator_options);
    try {
        on_pool.up();
        ADD_FAILURE() << "a syntax error was applied";
    } catch (const MigrationError &error) {
        EXPECT_NE(std::string(error.what()).find("syntax error"), std::string::npos) << error.what();
        EXPECT_EQ(error.failure().phase, "check");  // met with the lock, not by the plan
    }
    Lease lease = pool.acquire();
    EXPECT_EQ(lease->exec("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                          "AND pid = pg_backend_pid()")
                  .value<std::string>(),
              "0");
    EXPECT_EQ(lease->exec("SELECT current_setting('lock_timeout')").value<std::string>(),
              sql("SELECT current_setting('lock_timeout')"));
    EXPECT_EQ(ledger_status(2), "absent");
}

TEST_F(IndexBuildTest, ARepairedBuildFileIsRecordedWithoutBuilding)
{
    // The preparation rides with the check; a repair then runs nothing and
    // records the edited file.
    dir.migration(1, "t", "CREATE TABLE t (id int);", "DROP TABLE t;");
    dir.migration(2, "t_id", "CREATE INDEX CONCURRENTLY IF NOT EXISTS t_id ON t (id);\n",
                  "DROP INDEX CONCURRENTLY IF EXISTS t_id;");
    migrator().up();
    const std::string oid = sql("SELECT 't_id'::regclass::oid");
    // Without IF NOT EXISTS: running it again would fail on the index.
    dir.migration(2, "t_id", "CREATE INDEX CONCURRENTLY t_id ON t (id);\n",
                  "DROP INDEX CONCURRENTLY IF EXISTS t_id;");
    EXPECT_THROW(migrator().up(), MigrationError);  // drift, without --repair
    MigratorOptions repair;
    repair.repair = true;
    RunResult run = migrator(repair).up();
    EXPECT_EQ(run.count("repaired"), 1u) << run.to_json(2);
    EXPECT_EQ(sql("SELECT 't_id'::regclass::oid"), oid);  // not built again
    EXPECT_TRUE(migrator().verify().ok()) << migrator().verify().to_json(2);
}
