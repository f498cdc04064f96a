// Rollbacks where data gets in the way: constraints the data violates, a
// table dropped and recreated, transformations failing midway over many rows,
// other sessions working on the table, and 100,000 rows that must come back
// exactly as they were.
#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include <stratum/migrator.hpp>
#include <stratum/stratum.hpp>

#include "migration_fixture.hpp"

using namespace stratum;
using namespace stratum::test;

namespace {

const std::string db = "stratum_migrator_rollback_test";

class RollbackTest : public MigratorFixture {
protected:
    RollbackTest() : MigratorFixture(db) {}
    // What must not change when a rollback fails: the schema, the ledger and its log.
    std::string state() const
    {
        return schema_dump(db) +
               sql("SELECT string_agg(version || ':' || status || ':' || checksum, ',' ORDER BY version) "
                   "FROM stratum.schema_migrations") +
               sql("SELECT count(*) FROM stratum.schema_migration_log");
    }
};

TEST_F(RollbackTest, DownThatViolatesUniqueOrForeignKeyLeavesEverythingAsBefore)
{
    dir.migration(1, "accounts",
                  "CREATE TABLE accounts (id int PRIMARY KEY, email text CONSTRAINT accounts_email_key UNIQUE);\n"
                  "CREATE TABLE invoices (id int PRIMARY KEY, account_id int CONSTRAINT invoices_account_fkey "
                  "REFERENCES accounts (id));\n",
                  "DROP TABLE invoices;\nDROP TABLE accounts;");
    dir.migration(2, "relax",
                  "ALTER TABLE accounts DROP CONSTRAINT accounts_email_key;\n"
                  "ALTER TABLE invoices DROP CONSTRAINT invoices_account_fkey;\n",
                  "ALTER TABLE invoices ADD CONSTRAINT invoices_account_fkey FOREIGN KEY (account_id) "
                  "REFERENCES accounts (id);\n"
                  "ALTER TABLE accounts ADD CONSTRAINT accounts_email_key UNIQUE (email);\n");
    migrator().up();
    // Data the down SQL's constraints reject: a duplicate email, then an orphan invoice.
    sql("INSERT INTO accounts VALUES (1, 'a@x'), (2, 'a@x'); INSERT INTO invoices VALUES (10, 1)");
    std::string before = state();
    std::string data = table_checksum("accounts", "id", db) + table_checksum("invoices", "id", db);
    try {
        migrator().down();
        FAIL() << "down SQL ran over a duplicate";
    } catch (const MigrationError &error) {
        EXPECT_EQ(error.sqlstate(), "23505");
        EXPECT_EQ(error.failure().version, 2);
        EXPECT_EQ(error.failure().statement, 2);
        EXPECT_NE(std::string(error.what()).find("master/2 (relax)"), std::string::npos) << error.what();
    }
    EXPECT_EQ(state(), before);  // the foreign key added by statement 1 is gone again
    EXPECT_EQ(table_checksum("accounts", "id", db) + table_checksum("invoices", "id", db), data);

    sql("UPDATE accounts SET email = 'b@x' WHERE id = 2; INSERT INTO invoices VALUES (11, 99)");
    before = state();
    try {
        migrator().down();
        FAIL() << "down SQL ran over an orphan";
    } catch (const MigrationError &error) {
        EXPECT_EQ(error.sqlstate(), "23503");
        EXPECT_EQ(error.failure().statement, 1);
    }
    EXPECT_EQ(state(), before);

    sql("DELETE FROM invoices WHERE id = 11");
    EXPECT_EQ(migrator().down().count("rolled_back"), 1u);
    EXPECT_EQ(sql("SELECT count(*) FROM pg_constraint WHERE conname IN ('accounts_email_key', 'invoices_account_fkey')"),
              "2");
    // Rolling back the tables now: the foreign key's order is in the down SQL.
    EXPECT_EQ(migrator().down().count("rolled_back"), 1u);
    EXPECT_EQ(sql("SELECT to_regclass('accounts') IS NULL AND to_regclass('invoices') IS NULL"), "t");
}

TEST_F(RollbackTest, TableDroppedAndRecreated)
{
    dir.migration(1, "items", "CREATE TABLE items (id int PRIMARY KEY, label text NOT NULL);\n"
                              "CREATE INDEX items_label ON items (label);",
                  "DROP TABLE items;");
    dir.migration(2, "items_v2",
                  "DROP TABLE items;\n"
                  "CREATE TABLE items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, sku text UNIQUE, "
                  "price numeric(10,2));\n",
                  "DROP TABLE items;\n"
                  "CREATE TABLE items (id int PRIMARY KEY, label text NOT NULL);\n"
                  "CREATE INDEX items_label ON items (label);\n");
    migrator().up(1);
    const std::string v1 = schema_dump(db);
    migrator().up();
    EXPECT_NE(schema_dump(db), v1);
    EXPECT_EQ(migrator().down().count("rolled_back"), 1u);
    EXPECT_EQ(schema_dump(db), v1);
    // And forward again (re-apply after a rollback).
    EXPECT_EQ(migrator().up().count("applied"), 1u);
    EXPECT_EQ(sql("SELECT count(*) FROM pg_attribute WHERE attrelid = 'items'::regclass AND attname = 'sku'"), "1");
}

TEST_F(RollbackTest, TransformationFailingMidwayOverManyRowsLeavesNothing)
{
    dir.migration(1, "prices",
                  "CREATE TABLE prices (id int PRIMARY KEY, amount text NOT NULL);\n"
                  "INSERT INTO prices SELECT g, (g * 1.5)::text FROM generate_series(1, 20000) g;\n",
                  "DROP TABLE prices;");
    migrator().up();
    sql("UPDATE prices SET amount = 'twelve' WHERE id = 15000");  // a row the cast rejects
    dir.migration(2, "prices_numeric",
                  "ALTER TABLE prices ADD COLUMN amount_cents bigint;\n"
                  "UPDATE prices SET amount_cents = (amount::numeric * 100)::bigint;\n"
                  "ALTER TABLE prices DROP COLUMN amount;\n",
                  "ALTER TABLE prices ADD COLUMN amount text;\n"
                  "UPDATE prices SET amount = (amount_cents / 100.0)::text;\n"
                  "ALTER TABLE prices DROP COLUMN amount_cents;\n");
    const std::string before = state();
    const std::string data = table_checksum("prices", "id", db);
    try {
        migrator().up();
        FAIL() << "a cast of 'twelve' succeeded";
    } catch (const MigrationError &error) {
        EXPECT_EQ(error.sqlstate(), "22P02");
        EXPECT_EQ(error.failure().version, 2);
        EXPECT_EQ(error.failure().statement, 2);
    }
    EXPECT_EQ(state(), before);
    EXPECT_EQ(table_checksum("prices", "id", db), data);
    EXPECT_EQ(sql("SELECT count(*) FROM prices"), "20000");

    // Applied once the data is fixed; then a down that fails midway (a value
    // written since does not survive the way back) keeps the new shape intact.
    sql("UPDATE prices SET amount = '12' WHERE id = 15000");
    migrator().up();
    sql("UPDATE prices SET amount_cents = 9999999 WHERE id = 19999");
    sql("CREATE FUNCTION refuse_big() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF NEW.amount IS NOT NULL AND NEW.amount::numeric > 99999 THEN "
        "RAISE EXCEPTION 'amount % too big', NEW.amount; END IF; RETURN NEW; END $$; "
        "CREATE TRIGGER refuse_big BEFORE UPDATE ON prices FOR EACH ROW EXECUTE FUNCTION refuse_big()");
    const std::string applied = state();
    const std::string applied_data = table_checksum("prices", "id", db);
    try {
        migrator().down();
        FAIL() << "the trigger let a big amount through";
    } catch (const MigrationError &error) {
        EXPECT_EQ(error.failure().statement, 2);
        EXPECT_NE(std::string(error.what()).find("too big"), std::string::npos);
    }
    EXPECT_EQ(state(), applied);
    EXPECT_EQ(table_checksum("prices", "id", db), applied_data);
}

TEST_F(RollbackTest, RollbackWhileOtherSessionsWork)
{
    dir.migration(1, "events", "CREATE TABLE events (id bigserial PRIMARY KEY, kind text NOT NULL);\n"
                               "GRANT ALL ON events, events_id_seq TO stratum_app;",
                  "DROP TABLE events;");
    dir.migration(2, "events_payload", "ALTER TABLE events ADD COLUMN payload jsonb;",
                  "ALTER TABLE events DROP COLUMN payload;");
    migrator().up();

    // Writers in short transactions all along; one reader holds a long one.
    std::atomic<bool> stop{false};
    std::atomic<int> written{0}, failed{0};
    std::vector<std::thread> writers;
    for (int w = 0; w < 3; w++) {
        writers.emplace_back([&] {
            auto conn = Connection::open(app_conninfo(db), {}, std::chrono::steady_clock::now() + std::chrono::seconds(10));
            while (!stop) {
                try {
                    conn->exec("INSERT INTO events (kind) VALUES ('click')");
                    written++;
                } catch (const Error &) {
                    failed++;
                }
            }
        });
    }
    auto reader = Connection::open(app_conninfo(db), {}, std::chrono::steady_clock::now() + std::chrono::seconds(10));
    reader->exec("BEGIN");
    reader->exec("SELECT count(*) FROM events");  // AccessShareLock until the transaction ends
    std::thread release([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(1200));
        reader->exec("COMMIT");
    });

    std::vector<MigrationEvent> events;
    std::mutex events_mutex;
    MigratorOptions options;
    options.lock_timeout = std::chrono::milliseconds(150);
    options.retry_backoff_min = std::chrono::milliseconds(50);
    options.retry_backoff_max = std::chrono::milliseconds(200);
    options.on_event = [&](const MigrationEvent &event) {
        std::lock_guard lock(events_mutex);
        events.push_back(event);
    };
    RunResult down = migrator(options).down();
    release.join();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    stop = true;
    for (auto &thread : writers)
        thread.join();

    ASSERT_EQ(down.count("rolled_back"), 1u);
    EXPECT_GT(down.migrations[0].attempts, 1);
    bool named_blocker = false;
    for (const auto &event : events)
        named_blocker |= event.type == MigrationEvent::Type::retrying &&
                         event.message.find("Blocked by pid") != std::string::npos &&
                         event.message.find("pid " + std::to_string(reader->backend_pid()) + " ") !=
                             std::string::npos;
    EXPECT_TRUE(named_blocker) << [&] { std::string all; for (const auto &e : events) all += e.message + "\n"; return all; }();
    EXPECT_GT(written.load(), 0);
    EXPECT_EQ(failed.load(), 0);  // the writers never waited long enough to fail
    EXPECT_EQ(sql("SELECT count(*) FROM pg_attribute WHERE attrelid = 'events'::regclass AND attname = 'payload'"), "0");
    EXPECT_EQ(sql("SELECT count(*) FROM events"), std::to_string(written.load()));
}

TEST_F(RollbackTest, HundredThousandRowsComeBackExactly)
{
    dir.migration(1, "payments",
                  "CREATE TABLE payments (id int PRIMARY KEY, amount_cents bigint NOT NULL, currency text NOT NULL, "
                  "note text);\n"
                  "INSERT INTO payments SELECT g, (g * 7919) % 1000003, (ARRAY['EUR','USD','JPY'])[g % 3 + 1], "
                  "CASE WHEN g % 10 = 0 THEN NULL ELSE md5(g::text) END FROM generate_series(1, 100000) g;\n",
                  "DROP TABLE payments;");
    dir.migration(2, "payments_decimal",
                  "ALTER TABLE payments ADD COLUMN amount numeric(12,2);\n"
                  "UPDATE payments SET amount = amount_cents / 100.0;\n"
                  "ALTER TABLE payments ALTER COLUMN amount SET NOT NULL, DROP COLUMN amount_cents;\n"
                  "UPDATE payments SET note = upper(note);\n",
                  "ALTER TABLE payments ADD COLUMN amount_cents bigint;\n"
                  "UPDATE payments SET amount_cents = (amount * 100)::bigint, note = lower(note);\n"
                  "ALTER TABLE payments ALTER COLUMN amount_cents SET NOT NULL, DROP COLUMN amount;\n");
    migrator().up(1);
    auto checksum = [&] {
        return sql("SELECT md5(string_agg(row(id, amount_cents, currency, note)::text, E'\\n' ORDER BY id)) "
                   "|| ':' || count(*) FROM payments");
    };
    const std::string before = checksum();
    migrator().up();
    EXPECT_EQ(sql("SELECT count(*) FROM payments WHERE amount IS NOT NULL"), "100000");
    RunResult down = migrator().down();
    EXPECT_EQ(down.count("rolled_back"), 1u);
    EXPECT_EQ(checksum(), before);
    EXPECT_EQ(sql("SELECT count(*) FROM payments"), "100000");
}

}  // namespace
