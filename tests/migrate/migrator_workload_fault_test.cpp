// Fault: ten `stratum migrate up` processes started at once while tenants
// write through the pool and a slow report keeps the written table locked
// part of the time. The migrations ALTER the tables the workload writes (so
// lock timeouts happen and are retried) and build an index CONCURRENTLY (the
// session-lock protocol). Each migration is applied exactly once, by one
// process, every process succeeds, and the workload loses nothing and sees
// no error at all: a migrator waiting for a lock only delays it.
#include <array>
#include <atomic>
#include <barrier>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <stratum/stratum.hpp>

#include "client_support.hpp"
#include "migration_fixture.hpp"
#include "reliability/write_oracle.hpp"
#include "test_env.hpp"

using namespace stratum;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

const std::string db = "stratum_migrator_workload_fault_test";
constexpr int processes = 10;
constexpr int versions = 5;

// The migrations: DDL on both tables the workload writes, a non-transactional
// index build between them, and a table of its own.
void write_migrations(const test::MigrationDir &dir)
{
    dir.migration(1, "ledger_note", "ALTER TABLE fault_ledger ADD COLUMN note text;\n",
                  "ALTER TABLE fault_ledger DROP COLUMN note;\n");
    dir.migration(2, "items_check",
                  "ALTER TABLE fault_items ADD CONSTRAINT fault_items_k_positive CHECK (k > 0);\n",
                  "ALTER TABLE fault_items DROP CONSTRAINT fault_items_k_positive;\n");
    // Waits for the workload's older transactions: its own, longer lock
    // timeout; idempotent (an interrupted build leaves an INVALID index).
    dir.migration(3, "ledger_worker_index",
                  "-- stratum: no-transaction\n-- stratum: lock-timeout 10s\n"
                  "DROP INDEX CONCURRENTLY IF EXISTS fault_ledger_worker;\n"
                  "CREATE INDEX CONCURRENTLY fault_ledger_worker ON fault_ledger (worker);\n",
                  "DROP INDEX CONCURRENTLY IF EXISTS fault_ledger_worker;\n");
    dir.migration(4, "ledger_note_default",
                  "ALTER TABLE fault_ledger ALTER COLUMN note SET DEFAULT 'migrated';\n",
                  "ALTER TABLE fault_ledger ALTER COLUMN note DROP DEFAULT;\n");
    dir.migration(5, "fault_notes",
                  "CREATE TABLE fault_notes (tx_id uuid PRIMARY KEY, body text NOT NULL);\n",
                  "DROP TABLE fault_notes;\n");
}

struct Process {
    int status = -1;
    std::string out;  // --json: the run's result
    std::string err;
    std::chrono::milliseconds elapsed{0};
};

// `stratum migrate up` as the migration role. A short lock timeout per
// attempt (the application waits at most that long behind a queued ALTER),
// retried for up to 20 s; `timeout` turns a hang into a failure.
Process migrate_up(const test::MigrationDir &dir, int index)
{
    const std::string err_file =
        (dir.path() / ("stderr-" + std::to_string(index) + ".txt")).string();
    const std::string command =
        "DATABASE_URL='" + test::owner_conninfo(db) + "' STRATUM_CONFIG= STRATUM_ENV= timeout 40 " +
        test::required_env("STRATUM_TEST_BIN_DIR") + "/stratum migrate up --json --dir " +
        dir.path().string() + " --lock-timeout 150ms --lock-wait 20s --batch-size " +
        std::to_string(1 + index % 3) + " 2>" + err_file;
    const auto started = std::chrono::steady_clock::now();
    test::CommandOutput run = test::run_command(command);
    Process p{run.status,
              run.out,
              {},
              std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - started)};
    std::ifstream in(err_file);
    p.err.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return p;
}

TEST(MigratorWorkloadFault, TenMigratorProcessesWhileTenantsWrite)
{
    test::recreate_database(db);
    reliability::WriteOracle::create_tables(db);
    test::MigrationDir dir;
    write_migrations(dir);

    PoolOptions o = test::app_pool_options(db, /*background=*/true);
    o.max_size = 10;
    o.min_size = 8;
    o.acquire_timeout = 10s;
    Pool pool(o);

    // A tenant's slow report: holds a lock on fault_ledger for 400 ms of
    // every 500, so an ALTER of it often waits longer than its lock timeout.
    std::atomic<bool> stop_reports{false};
    std::atomic<int> reports{0};
    std::mutex report_mutex;
    std::vector<std::string> report_errors;
    std::thread long_report;
    std::thread report([&] {
        while (!stop_reports.load()) {
            try {
                pool.query(test::acme, "SELECT count(*) FROM fault_ledger, pg_sleep(0.4)");
                reports++;
            } catch (const Error &error) {
                std::lock_guard lock(report_mutex);
                report_errors.push_back(error.what());
            }
            std::this_thread::sleep_for(100ms);
        }
    });

    reliability::WriteOracle oracle;
    std::array<Process, processes> results;
    std::size_t committed_before = 0, committed_during = 0;
    std::chrono::milliseconds migration_time{0};
    oracle.run(
        pool, 6, 3s,
        [&] {
            std::this_thread::sleep_for(500ms);  // the workload is under way
            // A longer report holds fault_ledger when the migrators start, so
            // the first ALTER of it times out (and is retried) for certain.
            long_report = std::thread([&] {
                try {
                    pool.query(test::globex, "SELECT count(*) FROM fault_ledger, pg_sleep(1.2)");
                    reports++;
                } catch (const Error &error) {
                    std::lock_guard lock(report_mutex);
                    report_errors.push_back(error.what());
                }
            });
            std::this_thread::sleep_for(100ms);
            committed_before = oracle.committed();
            std::barrier start(processes);
            std::vector<std::thread> threads;
            const auto started = std::chrono::steady_clock::now();
            for (int i = 0; i < processes; i++)
                threads.emplace_back([&, i] {
                    start.arrive_and_wait();
                    results[i] = migrate_up(dir, i);
                });
            for (auto &t : threads)
                t.join();
            migration_time = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - started);
            committed_during = oracle.committed() - committed_before;
        },
        /*settle=*/1s);
    stop_reports = true;
    report.join();
    long_report.join();

    // Every process succeeded; each migration was applied by exactly one.
    std::map<std::int64_t, int> applied_by_processes;
    int retries = 0, waits = 0;
    for (int i = 0; i < processes; i++) {
        const Process &p = results[i];
        ASSERT_EQ(p.status, 0) << "process " << i << " exited " << p.status << "\n"
                               << p.out << p.err;
        const json result = json::parse(p.out);
        std::set<std::int64_t> seen;
        for (const auto &m : result["migrations"]) {
            const auto version = m["version"].get<std::int64_t>();
            const auto action = m["action"].get<std::string>();
            EXPECT_TRUE(action == "applied" || action == "skipped")
                << "process " << i << ": " << m.dump();
            applied_by_processes[version] += action == "applied";
            seen.insert(version);
        }
        EXPECT_EQ(seen.size(), result["migrations"].size())
            << "process " << i << " reports a migration twice: " << p.out;
        EXPECT_TRUE(result["nothing_to_do"].get<bool>() || seen.size() == versions)
            << "process " << i << " neither did nothing nor saw every migration: " << p.out;
        // With --json, retries and waits are logged on stderr, one line each.
        for (std::size_t at = 0; (at = p.err.find("migrate: retrying ", at)) != std::string::npos;
             at++)
            retries++;
        for (std::size_t at = 0; (at = p.err.find("migrate: waiting ", at)) != std::string::npos;
             at++)
            waits++;
        std::printf("migrator %d: %lld ms, %s\n", i, static_cast<long long>(p.elapsed.count()),
                    result["counts"].dump().c_str());
    }
    for (int v = 1; v <= versions; v++)
        EXPECT_EQ(applied_by_processes[v], 1)
            << "version " << v << " applied by that many processes";

    // The ledger agrees: one row each, applied, one 'applied' event each.
    EXPECT_EQ(test::admin_sql("SELECT string_agg(version || ':' || status, ',' ORDER BY version) "
                              "FROM stratum.schema_migrations WHERE scope = 'master'",
                              db),
              "1:applied,2:applied,3:applied,4:applied,5:applied");
    EXPECT_EQ(test::admin_sql("SELECT string_agg(version || 'x' || n, ',' ORDER BY version) FROM "
                              "(SELECT version, count(*) n FROM stratum.schema_migration_log "
                              "WHERE scope = 'master' GROUP BY version) l",
                              db),
              "1x1,2x1,3x1,4x1,5x1");
    test::CommandOutput verify = test::run_command(
        "DATABASE_URL='" + test::owner_conninfo(db) +
        "' STRATUM_CONFIG= STRATUM_ENV= " + test::required_env("STRATUM_TEST_BIN_DIR") +
        "/stratum migrate verify --dir " + dir.path().string() + " 2>&1");
    EXPECT_EQ(verify.status, 0) << verify.out;
    // And the schema: the index is valid, and there is no other (INVALID) one.
    EXPECT_EQ(
        test::admin_sql("SELECT string_agg(c.relname || ':' || i.indisvalid, ',') FROM pg_index i "
                        "JOIN pg_class c ON c.oid = i.indexrelid "
                        "WHERE c.relname = 'fault_ledger_worker' OR NOT i.indisvalid",
                        db),
        "fault_ledger_worker:true");
    EXPECT_NE(test::admin_sql("SELECT count(*) FROM fault_ledger WHERE note = 'migrated'", db), "0")
        << "no write after migration 4 took the new default";

    // The workload: nothing lost, nothing twice, no error, and it went on
    // while the migrators ran.
    std::printf("10 migrators in %lld ms, %d lock-timeout retries, %d waits for another migrator; "
                "workload: %zu committed before, %zu while migrating; %d slow reports\n",
                static_cast<long long>(migration_time.count()), retries, waits, committed_before,
                committed_during, reports.load());
    EXPECT_LT(migration_time, 25s);
    EXPECT_GE(retries, 1)
        << "no ALTER waited longer than its lock timeout: the report did not bite";
    oracle.verify(test::superuser_conninfo(db));
    EXPECT_EQ(oracle.failed(), 0u) << "a workload transaction failed";
    EXPECT_TRUE(oracle.errors().empty()) << oracle.errors().front();
    EXPECT_TRUE(report_errors.empty()) << report_errors.front();
    EXPECT_GE(committed_during, 50u) << "the workload stalled while the migrators ran";
    EXPECT_GE(reports.load(), 2);
    reliability::expect_pool_recovered(pool, test::superuser_conninfo("postgres"), db);
}

}  // namespace
