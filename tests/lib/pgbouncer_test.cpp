// Through PgBouncer in transaction pooling mode: unnamed statements, and the
// tenant context never leaking while many clients interleave on few server
// connections.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <set>
#include <thread>

#include <stratum/stratum.hpp>

#include "client_support.hpp"
#include "test_env.hpp"

using namespace stratum;

namespace {

const std::string db = "stratum_pgbouncer_test";

class PgBouncerTest : public ::testing::Test {
protected:
    static void SetUpTestSuite()
    {
        test::recreate_database(db);
        test::create_tenant_table("notes", "id serial PRIMARY KEY, body text NOT NULL", db);
        test::admin_sql("GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO stratum_app", db);
    }
    void SetUp() override { test::admin_sql("TRUNCATE notes", db); }
    static PoolOptions bouncer_options()
    {
        PoolOptions o = test::app_pool_options(db);
        o.primary = test::pgbouncer_conninfo("stratum_app", db);
        o.connection.prepared_statements = false;  // PgBouncer 1.18 cannot route named ones
        o.max_size = 30;
        return o;
    }
};

TEST_F(PgBouncerTest, QueriesAndTransactionsWork)
{
    Pool pool(bouncer_options());
    EXPECT_EQ(pool.query(test::acme, "SELECT stratum.current_tenant()::text").value<std::string>(),
              test::acme.view());
    const auto before = pool.metrics().round_trips;
    pool.with_tenant(test::acme, [](Tx &tx) {
        // One server connection for the whole transaction.
        int pid = tx.exec("SELECT pg_backend_pid()").value<int>();
        tx.exec("INSERT INTO notes (body) VALUES ('through the bouncer')");
        EXPECT_EQ(tx.exec("SELECT pg_backend_pid()").value<int>(), pid);
    });
    EXPECT_EQ(pool.metrics().round_trips - before, 4u);
    EXPECT_EQ(pool.query(test::acme, "SELECT count(*)::int FROM notes WHERE body = $1",
                         "through the bouncer")
                  .value<int>(),
              1);
    EXPECT_EQ(pool.query(test::globex, "SELECT count(*)::int FROM notes").value<int>(), 0);
    // Errors map the same way behind the bouncer.
    EXPECT_THROW(pool.query(test::acme, "SELECT * FROM missing"), UndefinedTable);
    EXPECT_EQ(pool.query(test::acme, "SELECT 1").value<int>(), 1);
}

TEST_F(PgBouncerTest, TenantContextNeverLeaksAcrossInterleavedClients)
{
    // Two application instances (two pools) of 30 connections each share
    // PgBouncer's 20 server connections: every transaction may land on a
    // server connection another tenant just used.
    Pool first(bouncer_options());
    Pool second(bouncer_options());
    first.with_tenant(test::acme, [](Tx &tx) { tx.exec("INSERT INTO notes (body) VALUES ('acme')"); });
    second.with_tenant(test::globex, [](Tx &tx) { tx.exec("INSERT INTO notes (body) VALUES ('globex')"); });

    std::atomic<int> leaks{0}, runs{0};
    std::mutex pids_mutex;
    std::set<int> server_pids;
    std::vector<std::thread> threads;
    for (int t = 0; t < 24; t++) {
        threads.emplace_back([&, t] {
            Pool &pool = t % 2 ? first : second;
            std::mt19937 random(t);
            for (int i = 0; i < 40; i++) {
                const TenantId &tenant = random() % 2 ? test::acme : test::globex;
                int pid = 0;
                leaks += test::tenant_leak_probe(pool, tenant, static_cast<int>(random() % 3), pid);
                if (pid != 0) {
                    std::lock_guard lock(pids_mutex);
                    server_pids.insert(pid);
                }
                runs++;
            }
        });
    }
    for (auto &t : threads)
        t.join();
    EXPECT_EQ(runs.load(), 24 * 40);
    EXPECT_EQ(leaks.load(), 0);
    // The work really was spread over PgBouncer's server connections.
    EXPECT_GT(server_pids.size(), 1u);
    EXPECT_LE(server_pids.size(), 20u);
}

}  // namespace
