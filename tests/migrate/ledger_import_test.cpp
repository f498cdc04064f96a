// Adopting stratum where golang-migrate, Flyway or sqitch applied the
// migrations (tests/fixtures/import/<tool>/): the tool's migrations are run
// as the tool would have, its ledger is written as the tool leaves it, then
// import records the applied ones without running them (running them again
// would fail: their tables exist), up applies only the rest, and down rolls
// back with the stored down SQL. A dirty ledger is refused, leaving nothing.
#include <gtest/gtest.h>

#include <stratum/migrator.hpp>
#include <stratum/stratum.hpp>

#include "migration_fixture.hpp"

using namespace stratum;
using namespace stratum::test;

namespace {

const std::string db = "stratum_ledger_import_test";

class LedgerImportTest : public MigratorFixture {
protected:
    LedgerImportTest() : MigratorFixture(db) {}

    std::filesystem::path fixture(const std::string &tool) const
    {
        return source_dir() / "tests" / "fixtures" / "import" / tool;
    }
    // psql -f as `user`: what the tool ran (a file as one script, as psql does).
    void run_file(const std::filesystem::path &file, const std::string &user = "stratum_owner") const
    {
        CommandOutput out = run_command("psql -X -q -v ON_ERROR_STOP=1 -h " +
                                        required_env("STRATUM_TEST_PGHOST") + " -p " +
                                        required_env("STRATUM_TEST_PGPORT") + " -U " + user + " -d " +
                                        db + " -f " + file.string() + " 2>&1");
        ASSERT_EQ(out.status, 0) << file << ": " << out.out;
    }
    // The tool applied these files, then wrote its ledger.
    void tool_applied(const std::string &tool, const std::vector<std::string> &files) const
    {
        dir.copy_from(fixture(tool));
        for (const auto &file : files)
            run_file(dir.path() / "master" / file);
        run_file(dir.path() / "ledger.sql", tool == "sqitch" ? "postgres" : "stratum_owner");
        if (tool == "sqitch")
            sql("GRANT USAGE ON SCHEMA sqitch TO stratum_owner; GRANT SELECT ON sqitch.changes TO stratum_owner");
    }
    RunResult import_from(LedgerSource from) const
    {
        ImportOptions options;
        options.from = from;
        return migrator().import_ledger(options);
    }
    std::string recorded() const
    {
        return sql("SELECT coalesce(string_agg(version || ':' || status, ',' ORDER BY version), '') "
                   "FROM stratum.schema_migrations WHERE scope = 'master'");
    }
};

TEST_F(LedgerImportTest, GolangMigrateLedgerIsImportedAndUpAppliesOnlyTheRest)
{
    tool_applied("golang-migrate", {"000001_create_accounts.up.sql", "000002_accounts_v1.1.up.sql",
                                    "000003_accounts_email_index.up.sql"});
    RunResult imported = import_from(LedgerSource::golang_migrate);
    EXPECT_EQ(imported.count("imported"), 3u) << imported.to_json(2);
    EXPECT_EQ(recorded(), "1:applied,2:applied,3:applied");
    EXPECT_EQ(sql("SELECT name FROM stratum.schema_migrations WHERE version = 2"), "accounts_v1.1");
    EXPECT_EQ(sql("SELECT metadata #>> '{imported_from,tool}' FROM stratum.schema_migrations WHERE version = 1"),
              "golang-migrate");
    // Again: nothing to do, nothing changes.
    EXPECT_TRUE(import_from(LedgerSource::golang_migrate).nothing_to_do());

    RunResult up = migrator().up();
    EXPECT_EQ(up.count("applied"), 2u) << up.to_json(2);  // 4 (comments only) and 5
    ASSERT_EQ(up.warnings.size(), 1u) << up.to_json(2);
    EXPECT_NE(up.warnings[0].find("has no SQL statement"), std::string::npos) << up.warnings[0];
    EXPECT_EQ(recorded(), "1:applied,2:applied,3:applied,4:applied,5:applied");
    EXPECT_TRUE(migrator().verify().ok()) << migrator().verify().to_json(2);

    // The stored down SQL rolls everything back; imported rows in a transaction,
    // the concurrent index (a single-statement file) outside one.
    RunResult down = migrator().down_to(0);
    EXPECT_EQ(down.count("rolled_back"), 5u) << down.to_json(2);
    EXPECT_EQ(sql("SELECT to_regclass('accounts') IS NULL"), "t");
    EXPECT_EQ(migrator().up().count("applied"), 5u);
}

TEST_F(LedgerImportTest, DirtyGolangMigrateLedgerIsRefused)
{
    tool_applied("golang-migrate", {"000001_create_accounts.up.sql"});
    sql("UPDATE schema_migrations SET version = 2, dirty = true");
    try {
        import_from(LedgerSource::golang_migrate);
        FAIL() << "a dirty ledger was imported";
    } catch (const MigrationError &error) {
        EXPECT_NE(std::string(error.what()).find("is dirty at version 2"), std::string::npos) << error.what();
        EXPECT_NE(error.hint().find("migrate force 2"), std::string::npos) << error.hint();
    }
    EXPECT_EQ(recorded(), "");
}

TEST_F(LedgerImportTest, FlywayHistoryIsImportedWithItsScriptConfiguration)
{
    tool_applied("flyway", {"1_create_orders.up.sql", "2_orders_note.up.sql"});
    // Flyway ran V3 outside a transaction (its .conf): so does psql with two statements.
    run_file(dir.path() / "master" / "3_orders_indexes.up.sql");
    RunResult imported = import_from(LedgerSource::flyway);
    EXPECT_EQ(imported.count("imported"), 3u) << imported.to_json(2);
    ASSERT_EQ(imported.warnings.size(), 1u) << imported.to_json(2);
    EXPECT_NE(imported.warnings[0].find("R__order_views.sql"), std::string::npos);
    EXPECT_EQ(sql("SELECT metadata #>> '{header,no_transaction_by}' FROM stratum.schema_migrations WHERE version = 3"),
              "flyway");
    EXPECT_EQ(migrator().up().count("applied"), 1u);
    EXPECT_EQ(recorded(), "1:applied,2:applied,3:applied,4:applied");
    // Version 3 rolls back outside a transaction (DROP INDEX CONCURRENTLY).
    EXPECT_EQ(migrator().down_to(2).count("rolled_back"), 2u);
    EXPECT_EQ(sql("SELECT to_regclass('orders_customer') IS NULL"), "t");
}

TEST_F(LedgerImportTest, FailedFlywayMigrationIsRefused)
{
    tool_applied("flyway", {"1_create_orders.up.sql"});
    sql("UPDATE flyway_schema_history SET success = false WHERE version = '2'");
    try {
        import_from(LedgerSource::flyway);
        FAIL() << "a failed Flyway migration was imported";
    } catch (const MigrationError &error) {
        EXPECT_NE(std::string(error.what()).find("records a failed migration (version 2, V2__orders_note.sql)"),
                  std::string::npos)
            << error.what();
    }
    EXPECT_EQ(recorded(), "");
}

TEST_F(LedgerImportTest, SqitchChangesAreMatchedByName)
{
    tool_applied("sqitch", {"1_customers.up.sql", "2_customer_notes.up.sql"});
    RunResult imported = import_from(LedgerSource::sqitch);
    EXPECT_EQ(imported.count("imported"), 2u) << imported.to_json(2);
    EXPECT_EQ(sql("SELECT depends_on::text FROM stratum.schema_migrations WHERE version = 2"), "{1}");
    EXPECT_EQ(migrator().up().count("applied"), 1u);
    EXPECT_EQ(sql("SELECT count(*) FROM pg_attribute WHERE attrelid = 'customers'::regclass "
                  "AND attname IN ('notes', 'tags')"),
              "2");
}

TEST_F(LedgerImportTest, AppliedEntryWithoutAFileIsRefused)
{
    tool_applied("sqitch", {"1_customers.up.sql"});
    sql("UPDATE sqitch.changes SET change = 'customer_addresses' WHERE change = 'customer_notes'");
    try {
        import_from(LedgerSource::sqitch);
        FAIL() << "an applied change without a file was imported";
    } catch (const MigrationError &error) {
        EXPECT_NE(std::string(error.what()).find("sqitch change customer_addresses"), std::string::npos)
            << error.what();
    }
    EXPECT_EQ(recorded(), "");
}

TEST_F(LedgerImportTest, MissingSourceLedgerIsNamed)
{
    dir.copy_from(fixture("golang-migrate"));
    try {
        import_from(LedgerSource::golang_migrate);
        FAIL() << "imported from a ledger that does not exist";
    } catch (const MigrationError &error) {
        EXPECT_EQ(error.sqlstate(), "42P01");
        EXPECT_NE(std::string(error.what()).find("public.schema_migrations does not exist"), std::string::npos)
            << error.what();
    }
}

}  // namespace
