// The migrator against a real server: the project's migrations round trip,
// failures that leave nothing, drift, a tampered ledger, missing and deleted
// files, bad files, dependencies, order, dry runs, hooks, seeds.
#include <gtest/gtest.h>

#include <stratum/stratum.hpp>
#include <stratum/migrator.hpp>

#include "migration_fixture.hpp"

using namespace stratum;
using namespace stratum::test;

namespace {

const std::string db = "stratum_migrator_test";

class MigratorTest : public MigratorFixture {
protected:
    MigratorTest() : MigratorFixture(db) {}
    std::string ledger_status(int version, const std::string &scope = "master") const
    {
        return sql("SELECT coalesce((SELECT status FROM stratum.schema_migrations WHERE scope = '" +
                   scope + "' AND kind = 'migration' AND version = " + std::to_string(version) +
                   "), 'absent')");
    }
    bool table_exists(const std::string &name) const
    {
        return sql("SELECT to_regclass('" + name + "') IS NOT NULL") == "t";
    }
};

TEST_F(MigratorTest, ChecksumMatchesTheServers)
{
    auto conn = Connection::open(owner_conninfo(db), {}, std::chrono::steady_clock::now() + std::chrono::seconds(10));
    for (std::string text : {std::string("CREATE TABLE t (id int);\n"), std::string("a\r\nb\rc\r\n\r\n"),
                             std::string("SELECT 'żółć';\r\n"), std::string("\r"), std::string("")}) {
        EXPECT_EQ(migration_checksum(text),
                  conn->exec("SELECT stratum.migration_checksum($1)", text).value<std::string>())
            << text;
    }
}

TEST_F(MigratorTest, ProjectMigrationsRoundTripLeavesTheCatalogIdentical)
{
    dir.copy_from(source_dir() / "migrations");
    const std::string before = schema_dump(db);

    RunResult up = migrator().up();
    ASSERT_EQ(up.count("applied"), 4u) << up.to_json(2);
    EXPECT_FALSE(up.migrations[3].transactional);  // CREATE INDEX CONCURRENTLY
    EXPECT_TRUE(table_exists("users") && table_exists("user_sessions") && table_exists("activity_logs"));
    EXPECT_EQ(sql("SELECT indisvalid FROM pg_index WHERE indexrelid = 'user_sessions_expires_at'::regclass"), "t");
    // users: tenancy, audit without the password hash.
    EXPECT_EQ(sql("SELECT verdict FROM stratum.isolation_report() WHERE relation = 'users'::regclass"), "ok");
    EXPECT_NE(sql("SELECT encode(tgargs, 'escape') FROM pg_trigger WHERE tgrelid = 'users'::regclass AND tgname = 'stratum_audit'")
                  .find("password_hash"),
              std::string::npos);
    const std::string applied = schema_dump(db);
    EXPECT_NE(applied, before);

    RunResult down = migrator().down_to(0);
    EXPECT_EQ(down.count("rolled_back"), 4u) << down.to_json(2);
    EXPECT_EQ(down.migrations.front().version, 4);  // newest first
    EXPECT_EQ(schema_dump(db), before);

    EXPECT_EQ(migrator().up().count("applied"), 4u);
    EXPECT_EQ(schema_dump(db), applied);
    RunResult redo = migrator().redo();
    EXPECT_EQ(redo.count("rolled_back"), 1u);
    EXPECT_EQ(redo.count("applied"), 1u);
    EXPECT_EQ(schema_dump(db), applied);

    // Each step down and up again, one at a time.
    for (int i = 0; i < 4; i++)
        EXPECT_EQ(migrator().down(1).count("rolled_back"), 1u);
    EXPECT_EQ(schema_dump(db), before);
    EXPECT_EQ(migrator().up(2).count("applied"), 2u);
    EXPECT_EQ(migrator().up().count("applied"), 2u);
    EXPECT_EQ(schema_dump(db), applied);
    EXPECT_EQ(sql("SELECT count(*) FROM stratum.verify_ledger()"), "0");
}

TEST_F(MigratorTest, NothingToDoTheSecondTime)
{
    dir.migration(1, "a", "CREATE TABLE a (id int);", "DROP TABLE a;");
    EXPECT_FALSE(migrator().up().nothing_to_do());
    RunResult again = migrator().up();
    EXPECT_TRUE(again.nothing_to_do());
    EXPECT_TRUE(again.migrations.empty());
    EXPECT_EQ(again.round_trips, 1u);  // the plan
    EXPECT_TRUE(migrator().status().up_to_date());
}

TEST_F(MigratorTest, FailingMigrationLeavesNothingAndNamesVersionFileStatementAndMessage)
{
    dir.migration(1, "orders", "CREATE TABLE orders (id int PRIMARY KEY);", "DROP TABLE orders;");
    dir.migration(2, "order_lines",
                  "CREATE TABLE order_lines (id int);\n"
                  "ALTER TABLE order_lines ADD COLUMN order_id int REFERENCES nosuch (id);\n",
                  "DROP TABLE order_lines;");
    dir.migration(3, "later", "CREATE TABLE later (id int);", "DROP TABLE later;");
    try {
        migrator().up();
        FAIL() << "a failing migration succeeded";
    } catch (const MigrationError &error) {
        std::string message = error.what();
        EXPECT_EQ(error.reason(), MigrationErrorReason::failed);
        EXPECT_EQ(error.sqlstate(), "42P01");
        EXPECT_NE(message.find("master/002_order_lines.up.sql"), std::string::npos) << message;
        EXPECT_NE(message.find("master/2 (order_lines)"), std::string::npos) << message;
        EXPECT_NE(message.find("statement 2 (line 2"), std::string::npos) << message;
        EXPECT_NE(message.find("relation \"nosuch\" does not exist"), std::string::npos) << message;
        EXPECT_EQ(error.failure().version, 2);
        EXPECT_EQ(error.failure().statement, 2);
        EXPECT_EQ(error.failure().line, 2);
        ASSERT_EQ(error.partial().migrations.size(), 1u);
        EXPECT_EQ(error.partial().migrations[0].version, 1);
        EXPECT_EQ(error.partial().migrations[0].action, "applied");
        EXPECT_NE(error.to_json().find("\"reason\":\"failed\""), std::string::npos);
    }
    EXPECT_EQ(ledger_status(1), "applied");
    EXPECT_EQ(ledger_status(2), "absent");
    EXPECT_EQ(ledger_status(3), "absent");
    EXPECT_FALSE(table_exists("order_lines"));  // its first statement did not stay
    EXPECT_FALSE(table_exists("later"));
    EXPECT_EQ(sql("SELECT count(*) FROM stratum.schema_migration_log"), "1");

    // Fixed, it goes on from there.
    dir.migration(2, "order_lines",
                  "CREATE TABLE order_lines (id int);\n"
                  "ALTER TABLE order_lines ADD COLUMN order_id int REFERENCES orders (id);\n",
                  "DROP TABLE order_lines;");
    RunResult fixed = migrator().up();
    EXPECT_EQ(fixed.count("applied"), 2u);
}

TEST_F(MigratorTest, FailureInTheMiddleOfABatchKeepsWhatCommittedBeforeIt)
{
    for (int v = 1; v <= 40; v++) {
        std::string t = std::to_string(v);
        t.insert(0, 1, 't');
        std::string create = "CREATE TABLE " + (v == 25 ? std::string("t1") : t) + " (id int);";
        dir.migration(v, t, create, "DROP TABLE " + t + ";");
    }
    MigratorOptions options;
    options.batch_size = 16;
    try {
        migrator(options).up();
        FAIL() << "duplicate table accepted";
    } catch (const MigrationError &error) {
        EXPECT_EQ(error.sqlstate(), "42P07");
        EXPECT_EQ(error.failure().version, 25);
        EXPECT_EQ(error.partial().count("applied"), 24u);
        EXPECT_NE(std::string(error.what()).find("master/025_t25.up.sql"), std::string::npos);
    }
    EXPECT_EQ(sql("SELECT count(*) FROM stratum.schema_migrations WHERE status = 'applied'"), "24");
    EXPECT_FALSE(table_exists("t26"));
}

TEST_F(MigratorTest, DriftIsRefusedUntilRepaired)
{
    dir.migration(1, "a", "CREATE TABLE a (id int);", "DROP TABLE a;");
    migrator().up();
    dir.migration(1, "a", "CREATE TABLE a (id int, note text);", "DROP TABLE a;");
    dir.migration(2, "b", "CREATE TABLE b (id int);", "DROP TABLE b;");
    try {
        migrator().up();
        FAIL() << "drift accepted";
    } catch (const MigrationError &error) {
        EXPECT_EQ(error.reason(), MigrationErrorReason::drift);
        EXPECT_TRUE(error.is_drift());
        EXPECT_EQ(error.sqlstate(), "SM001");
        EXPECT_NE(std::string(error.what()).find("master/1 (a)"), std::string::npos);
        EXPECT_NE(error.hint().find("--repair"), std::string::npos);
    }
    EXPECT_EQ(ledger_status(2), "absent");  // nothing ran
    StatusReport status = migrator().status();
    EXPECT_TRUE(status.has_drift());
    EXPECT_EQ(status.entries[0].state, "drifted");
    EXPECT_NE(status.entries[0].file_checksum, status.entries[0].ledger_checksum);
    VerifyReport verify = migrator().verify();
    EXPECT_FALSE(verify.ok());
    ASSERT_EQ(verify.files.size(), 1u);
    EXPECT_EQ(verify.files[0].entry.state, "drifted");

    // Line endings are not drift.
    dir.migration(1, "a", "CREATE TABLE a (id int, note text);", "DROP TABLE a;");
    MigratorOptions repair;
    repair.repair = true;
    RunResult repaired = migrator(repair).up();
    EXPECT_EQ(repaired.count("repaired"), 1u);
    EXPECT_EQ(repaired.count("applied"), 1u);
    EXPECT_EQ(sql("SELECT count(*) FROM pg_attribute WHERE attrelid = 'a'::regclass AND attname = 'note'"),
              "0");  // repair records, it does not run
    EXPECT_TRUE(migrator().verify().ok());
}

TEST_F(MigratorTest, CrLfCheckoutIsNotDrift)
{
    dir.migration(1, "a", "CREATE TABLE a (id int);\nCOMMENT ON TABLE a IS 'x';\n", "DROP TABLE a;\n");
    migrator().up();
    dir.migration(1, "a", "CREATE TABLE a (id int);\r\nCOMMENT ON TABLE a IS 'x';\r\n", "DROP TABLE a;\r\n");
    EXPECT_TRUE(migrator().up().nothing_to_do());
    EXPECT_TRUE(migrator().verify().ok());
}

TEST_F(MigratorTest, TamperedLedgerIsFoundByVerifyAndRefusedByDown)
{
    dir.migration(1, "a", "CREATE TABLE a (id int);", "DROP TABLE a;");
    dir.migration(2, "b", "CREATE TABLE b (id int);", "DROP TABLE b;");
    migrator().up();
    EXPECT_TRUE(migrator().verify().ok());
    sql("UPDATE stratum.schema_migrations SET down_sql = 'DROP TABLE a;' WHERE version = 2");
    VerifyReport verify = migrator().verify();
    EXPECT_FALSE(verify.ok());
    ASSERT_FALSE(verify.ledger.empty());
    EXPECT_EQ(verify.ledger[0].version, 2);
    EXPECT_EQ(verify.ledger[0].problem, "down_sql_changed");
    EXPECT_NE(verify.to_json().find("down_sql_changed"), std::string::npos);
    try {
        migrator().down();
        FAIL() << "tampered down SQL ran";
    } catch (const MigrationError &error) {
        EXPECT_EQ(error.reason(), MigrationErrorReason::tampered) << error.sqlstate();
        EXPECT_TRUE(error.is_drift());
    }
    EXPECT_TRUE(table_exists("a"));
    EXPECT_TRUE(table_exists("b"));

    // A ledger row deleted behind stratum's back: the log still knows.
    sql("DELETE FROM stratum.schema_migrations WHERE version = 1");
    bool deleted_found = false;
    for (const auto &problem : migrator().verify().ledger)
        deleted_found |= problem.version == 1 && problem.problem == "row_deleted";
    EXPECT_TRUE(deleted_found);
}

TEST_F(MigratorTest, MissingDownFileIsRefusedBeforeAnythingRuns)
{
    dir.migration(1, "a", "CREATE TABLE a (id int);", "DROP TABLE a;");
    dir.migration(2, "b", "CREATE TABLE b (id int);", "");
    try {
        migrator().up();
        FAIL() << "missing down file accepted";
    } catch (const MigrationFileError &error) {
        EXPECT_NE(std::string(error.what()).find("master/002_b.up.sql: has no down file"), std::string::npos)
            << error.what();
    }
    EXPECT_EQ(ledger_status(1), "absent");

    // Declared irreversible, it applies; rolling it back is refused up front.
    dir.migration(2, "b", "-- stratum: irreversible\nCREATE TABLE b (id int);", "");
    EXPECT_EQ(migrator().up().count("applied"), 2u);
    try {
        migrator().down_to(0);
        FAIL() << "irreversible migration rolled back";
    } catch (const MigrationError &error) {
        EXPECT_EQ(error.reason(), MigrationErrorReason::irreversible);
        EXPECT_NE(std::string(error.what()).find("master/2 (b)"), std::string::npos);
    }
    EXPECT_EQ(ledger_status(1), "applied");  // nothing rolled back
    EXPECT_TRUE(table_exists("b"));
}

TEST_F(MigratorTest, RollbackWorksWithTheFilesDeleted)
{
    dir.migration(1, "a", "CREATE TABLE a (id int);", "DROP TABLE a;");
    dir.migration(2, "b", "CREATE TABLE b (id int);", "DROP TABLE b;");
    migrator().up();
    std::filesystem::remove_all(dir.path() / "master");
    StatusReport status = migrator().status();
    ASSERT_EQ(status.entries.size(), 2u);
    EXPECT_EQ(status.count("missing") + status.count("unknown"), 2u);
    RunResult down = migrator().down_to(0);
    EXPECT_EQ(down.count("rolled_back"), 2u);
    EXPECT_FALSE(table_exists("a"));
    EXPECT_FALSE(table_exists("b"));
    EXPECT_EQ(ledger_status(1), "rolled_back");
}

TEST_F(MigratorTest, RollbackWorksWithBrokenFiles)
{
    dir.migration(1, "a", "CREATE TABLE a (id int);", "DROP TABLE a;");
    migrator().up();
    dir.write("master/002_broken.up.sql", "SELECT 'open");
    RunResult down = migrator().down();
    EXPECT_EQ(down.count("rolled_back"), 1u);
    ASSERT_FALSE(down.warnings.empty());
    EXPECT_NE(down.warnings[0].find("002_broken.up.sql"), std::string::npos);
}

TEST_F(MigratorTest, InvalidUtf8AndUnterminatedStatementsAreRefusedNamingTheFile)
{
    dir.migration(1, "fine", "CREATE TABLE fine (id int);", "DROP TABLE fine;");
    dir.migration(2, "latin1", "INSERT INTO fine VALUES (1);\n-- caf\xe9\n", "DELETE FROM fine;");
    dir.migration(3, "unterminated", "CREATE FUNCTION f() RETURNS int AS $$\nSELECT 1;\n", "DROP FUNCTION f();");
    try {
        migrator().up();
        FAIL() << "bad files accepted";
    } catch (const MigrationFileError &error) {
        std::string message = error.what();
        EXPECT_EQ(error.problems().size(), 2u) << message;
        EXPECT_NE(message.find("master/002_latin1.up.sql:2: is not valid UTF-8 (byte 0xe9)"), std::string::npos)
            << message;
        EXPECT_NE(message.find("master/003_unterminated.up.sql:1: unterminated dollar-quoted string"),
                  std::string::npos)
            << message;
    }
    EXPECT_EQ(ledger_status(1), "absent");  // nothing sent
    EXPECT_FALSE(table_exists("fine"));
}

TEST_F(MigratorTest, ServerParseErrorsNameTheFileAndLine)
{
    dir.migration(1, "typo", "CREATE TABLE t (id int);\nCREAT TABLE u (id int);\n", "DROP TABLE t;");
    try {
        migrator().up();
        FAIL() << "syntax error accepted";
    } catch (const MigrationError &error) {
        EXPECT_EQ(error.sqlstate(), "42601");
        EXPECT_NE(std::string(error.what()).find("master/001_typo.up.sql"), std::string::npos) << error.what();
        EXPECT_NE(std::string(error.what()).find("line 2"), std::string::npos) << error.what();
    }
    EXPECT_FALSE(table_exists("t"));
}

TEST_F(MigratorTest, UnmetDependenciesAreRefusedBeforeAnythingRuns)
{
    dir.migration(1, "a", "CREATE TABLE a (id int);", "DROP TABLE a;");
    dir.migration(3, "c", "-- stratum: depends 2\nCREATE TABLE c (id int);", "DROP TABLE c;");
    try {
        migrator().up();
        FAIL() << "unmet dependency accepted";
    } catch (const MigrationError &error) {
        EXPECT_EQ(error.reason(), MigrationErrorReason::dependency);
        EXPECT_EQ(error.sqlstate(), "SM002");
        EXPECT_NE(std::string(error.what()).find("master/3 (c) depends on 2"), std::string::npos);
    }
    EXPECT_EQ(ledger_status(1), "absent");

    // A dependency applied in the same run is fine, and recorded.
    dir.migration(2, "b", "CREATE TABLE b (id int);", "DROP TABLE b;");
    EXPECT_EQ(migrator().up().count("applied"), 3u);
    EXPECT_EQ(sql("SELECT depends_on::text FROM stratum.schema_migrations WHERE version = 3"), "{2}");
    // ... and rolling back what others depend on alone is refused up front.
    try {
        migrator().down_to(1);
        SUCCEED();  // 3 then 2: allowed, newest first
    } catch (const MigrationError &error) {
        FAIL() << error.what();
    }
}

TEST_F(MigratorTest, OutOfOrderFilesAreRefusedUnlessAllowed)
{
    dir.migration(1, "a", "CREATE TABLE a (id int);", "DROP TABLE a;");
    dir.migration(3, "c", "CREATE TABLE c (id int);", "DROP TABLE c;");
    migrator().up();
    dir.migration(2, "b", "CREATE TABLE b (id int);", "DROP TABLE b;");
    EXPECT_EQ(migrator().status().count("out_of_order"), 1u);
    try {
        migrator().up();
        FAIL() << "out-of-order file applied";
    } catch (const MigrationError &error) {
        EXPECT_EQ(error.reason(), MigrationErrorReason::out_of_order);
        EXPECT_NE(std::string(error.what()).find("master/2 (b)"), std::string::npos);
    }
    MigratorOptions allow;
    allow.allow_out_of_order = true;
    RunResult run = migrator(allow).up();
    EXPECT_EQ(run.count("applied"), 1u);
    EXPECT_FALSE(run.warnings.empty());
}

TEST_F(MigratorTest, MissingAndUnknownMigrationsAreReported)
{
    dir.migration(1, "a", "CREATE TABLE a (id int);", "DROP TABLE a;");
    dir.migration(2, "b", "CREATE TABLE b (id int);", "DROP TABLE b;");
    dir.migration(3, "c", "CREATE TABLE c (id int);", "DROP TABLE c;");
    migrator().up();
    dir.remove("master/001_a.up.sql");
    dir.remove("master/001_a.down.sql");
    dir.remove("master/003_c.up.sql");
    dir.remove("master/003_c.down.sql");
    StatusReport status = migrator().status();
    EXPECT_EQ(status.entries[0].state, "missing");
    EXPECT_EQ(status.entries[2].state, "unknown");
    RunResult up = migrator().up();
    EXPECT_TRUE(up.nothing_to_do());
    ASSERT_EQ(up.warnings.size(), 2u);
    EXPECT_NE(up.warnings[0].find("master/1 (a) is applied but its file is gone"), std::string::npos);
    EXPECT_NE(up.warnings[1].find("newer than every file"), std::string::npos);
    EXPECT_FALSE(migrator().verify().ok());
}

TEST_F(MigratorTest, DryRunChangesNothing)
{
    dir.migration(1, "a", "CREATE TABLE a (id int);", "DROP TABLE a;");
    dir.migration(2, "b", "CREATE TABLE b (id int);", "DROP TABLE b;");
    MigratorOptions dry;
    dry.dry_run = true;
    RunResult plan = migrator(dry).up();
    EXPECT_TRUE(plan.dry_run);
    EXPECT_EQ(plan.count("pending"), 2u);
    EXPECT_FALSE(plan.nothing_to_do());
    EXPECT_FALSE(table_exists("a"));
    migrator().up();
    RunResult down = migrator(dry).down_to(0);
    EXPECT_EQ(down.count("rollback"), 2u);
    EXPECT_TRUE(table_exists("a"));

    // The server's checks run: a statement that cannot run in a transaction is
    // caught (alone in its file it would run outside one, as golang-migrate runs it).
    dir.migration(3, "index", "CREATE INDEX CONCURRENTLY a_id ON a (id);\nANALYZE a;", "DROP INDEX a_id;");
    try {
        migrator(dry).up();
        FAIL() << "CREATE INDEX CONCURRENTLY in a transactional migration passed the dry run";
    } catch (const MigrationError &error) {
        EXPECT_EQ(error.sqlstate(), "25001");
        EXPECT_EQ(error.failure().version, 3);
    }
}

TEST_F(MigratorTest, HooksRunAroundEachMigrationAndRun)
{
    sql("CREATE TABLE hook_log (id serial, what text, version text, action text); "
        "GRANT ALL ON hook_log, hook_log_id_seq TO stratum_owner");
    dir.write("hooks/before_all.sql", "INSERT INTO hook_log (what) VALUES ('before_all');");
    dir.write("hooks/before_each.sql",
              "INSERT INTO hook_log (what, version, action) VALUES ('before_each', "
              "current_setting('stratum_migration.version'), current_setting('stratum_migration.action'));");
    dir.write("hooks/after_each.sql",
              "INSERT INTO hook_log (what, version) VALUES ('after_each', "
              "current_setting('stratum_migration.version'));\n"
              "SELECT count(*) FROM a;");
    dir.write("hooks/after_all.sql", "INSERT INTO hook_log (what) VALUES ('after_all');");
    dir.migration(1, "a", "CREATE TABLE a (id int);", "DROP TABLE a;");
    dir.migration(2, "b", "CREATE TABLE b (id int);", "DROP TABLE b;");
    RunResult run = migrator().up();
    EXPECT_EQ(run.hooks, (std::vector<std::string>{"hooks/before_all.sql", "hooks/after_all.sql"}));
    EXPECT_EQ(sql("SELECT string_agg(what || coalesce(':' || version, '') || coalesce(':' || action, ''), ' ' ORDER BY id) FROM hook_log"),
              "before_all before_each:1:up after_each:1 before_each:2:up after_each:2 after_all");
    EXPECT_EQ(sql("SELECT metadata #>> '{hooks,before_each}' FROM stratum.schema_migrations WHERE version = 1"),
              "hooks/before_each.sql");

    // A failing after_each hook takes its migration with it.
    sql("INSERT INTO hook_log (what) VALUES ('--')");
    dir.write("hooks/after_each.sql", "SELECT 1/0;");
    dir.migration(3, "c", "CREATE TABLE c (id int);", "DROP TABLE c;");
    try {
        migrator().up();
        FAIL() << "failing hook ignored";
    } catch (const MigrationError &error) {
        EXPECT_EQ(error.failure().phase, "hook:after_each");
        EXPECT_NE(std::string(error.what()).find("hooks/after_each.sql after master/3 (c)"), std::string::npos)
            << error.what();
    }
    EXPECT_FALSE(table_exists("c"));
    EXPECT_EQ(ledger_status(3), "absent");
}

TEST_F(MigratorTest, NonTransactionalFailureNamesTheStatementAndReleasesTheLock)
{
    dir.migration(1, "a", "CREATE TABLE a (id int);", "DROP TABLE a;");
    dir.migration(2, "indexes",
                  "-- stratum: no-transaction\n"
                  "CREATE INDEX CONCURRENTLY IF NOT EXISTS a_id ON a (id);\n"
                  "CREATE INDEX CONCURRENTLY a_nosuch ON a (nosuch);\n",
                  "DROP INDEX CONCURRENTLY IF EXISTS a_id;");
    try {
        migrator().up();
        FAIL() << "failing statement accepted";
    } catch (const MigrationError &error) {
        EXPECT_EQ(error.sqlstate(), "42703");
        EXPECT_EQ(error.failure().statement, 2);
        EXPECT_EQ(error.failure().line, 3);
        EXPECT_NE(std::string(error.what()).find("master/2 (indexes) failed at statement 2 (line 3, CREATE INDEX"),
                  std::string::npos)
            << error.what();
        EXPECT_NE(error.hint().find("statements 1 to 1 stay done"), std::string::npos) << error.hint();
    }
    EXPECT_EQ(ledger_status(2), "absent");
    EXPECT_EQ(sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid IN (1398033713, 1398033714)"),
              "0");
    dir.migration(2, "indexes",
                  "-- stratum: no-transaction\n"
                  "CREATE INDEX CONCURRENTLY IF NOT EXISTS a_id ON a (id);\n",
                  "DROP INDEX CONCURRENTLY IF EXISTS a_id;");
    RunResult run = migrator().up();
    EXPECT_EQ(run.count("applied"), 1u);
    EXPECT_EQ(sql("SELECT transactional FROM stratum.schema_migrations WHERE version = 2"), "f");
    EXPECT_EQ(migrator().down().count("rolled_back"), 1u);
    EXPECT_EQ(sql("SELECT to_regclass('a_id') IS NULL"), "t");
}

TEST_F(MigratorTest, DownSqlThatCannotRunInATransactionIsRolledBackOutsideOne)
{
    dir.migration(1, "a", "CREATE TABLE a (id int); CREATE INDEX a_id ON a (id);",
                  "DROP INDEX CONCURRENTLY a_id;\nDROP TABLE a;");
    migrator().up();
    RunResult down = migrator().down();
    EXPECT_EQ(down.count("rolled_back"), 1u);
    EXPECT_FALSE(table_exists("a"));
}

TEST_F(MigratorTest, ProjectSeedsWriteAsEachTenantUnderForcedRowSecurity)
{
    dir.copy_from(source_dir() / "migrations");
    migrator().up();
    RunResult seeded = migrator().seed("development");
    EXPECT_EQ(seeded.count("applied"), 2u) << seeded.to_json(2);
    EXPECT_EQ(seeded.kind, "seed");
    EXPECT_EQ(sql("SELECT count(DISTINCT tenant_id) FROM users"), "2");
    EXPECT_EQ(sql("SELECT count(*) FROM users u JOIN stratum.tenants t ON t.id = u.tenant_id WHERE t.slug = 'acme'"),
              "2");
    EXPECT_EQ(sql("SELECT count(*) FROM activity_logs"), "4");
    EXPECT_EQ(sql("SELECT count(*) FROM stratum.tenants WHERE schema_name IS NOT NULL"), "2");
    EXPECT_TRUE(migrator().seed("development").nothing_to_do());
    // Seeds depend on migrations: rolling those back is refused up front.
    try {
        migrator().down_to(0);
        FAIL() << "rolled back what a seed depends on";
    } catch (const MigrationError &error) {
        EXPECT_EQ(error.reason(), MigrationErrorReason::dependency);
        EXPECT_NE(std::string(error.what()).find("seed master/development/2 (users) depends on 3"),
                  std::string::npos)
            << error.what();
    }
    EXPECT_EQ(ledger_status(4), "applied");
    try {
        migrator().seed("nosuch");
        FAIL() << "seeds of a missing environment";
    } catch (const MigrationError &error) {
        EXPECT_NE(std::string(error.what()).find("no seeds for environment nosuch"), std::string::npos);
    }
}

TEST_F(MigratorTest, ActorIsRecorded)
{
    dir.migration(1, "a", "CREATE TABLE a (id int);", "DROP TABLE a;");
    MigratorOptions options;
    options.actor = "deploy-42";
    migrator(options).up();
    EXPECT_EQ(sql("SELECT actor || '/' || applied_by FROM stratum.schema_migrations WHERE version = 1"),
              "deploy-42/stratum_owner");
}

TEST_F(MigratorTest, RedoAppliesTheEditedNewestFile)
{
    dir.migration(1, "a", "CREATE TABLE a (id int);", "DROP TABLE a;");
    migrator().up();
    dir.migration(1, "a", "CREATE TABLE a (id int, note text);", "DROP TABLE a;");
    RunResult redo = migrator().redo();
    EXPECT_EQ(redo.migrations.size(), 2u);
    EXPECT_EQ(sql("SELECT count(*) FROM pg_attribute WHERE attrelid = 'a'::regclass AND attname = 'note'"), "1");
    EXPECT_TRUE(migrator().verify().ok());
    // A redo whose apply fails leaves the old version applied: one transaction.
    dir.migration(1, "a", "CREATE TABLE a (id int, note nosuchtype);", "DROP TABLE a;");
    EXPECT_THROW(migrator().redo(), MigrationError);
    EXPECT_EQ(ledger_status(1), "applied");
    EXPECT_EQ(sql("SELECT count(*) FROM pg_attribute WHERE attrelid = 'a'::regclass AND attname = 'note'"), "1");
}

TEST_F(MigratorTest, WorksOnConnectionsFromAPool)
{
    dir.migration(1, "a", "CREATE TABLE a (id int);", "DROP TABLE a;");
    dir.migration(2, "a_index", "-- stratum: no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS a_id ON a (id);",
                  "DROP INDEX CONCURRENTLY IF EXISTS a_id;");
    PoolOptions pool_options;
    pool_options.primary = owner_conninfo(db);
    pool_options.min_size = 0;
    pool_options.max_size = 10;
    pool_options.background_maintenance = false;
    Pool pool(pool_options);
    MigratorOptions options;
    options.dir = dir.path();
    Migrator migrator(pool, options);
    EXPECT_EQ(migrator.up().count("applied"), 2u);
    EXPECT_TRUE(migrator.status().up_to_date());
    EXPECT_EQ(migrator.down_to(0).count("rolled_back"), 2u);
    // The pooled connections are left clean: no session lock, no changed settings.
    Lease lease = pool.acquire();
    EXPECT_EQ(lease->exec("SHOW lock_timeout").value<std::string>(), "0");
    EXPECT_EQ(lease->exec("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'").value<int>(), 0);
    EXPECT_EQ(lease->exec("SELECT 1").value<int>(), 1);  // back in pipeline mode
}

}  // namespace
