// Fault: hostile clients behind PgBouncer in transaction pooling mode. Raw
// libpq clients set the tenant every way there is (session-level SET,
// set_config(..., false), SET LOCAL, set_tenant) and then commit, roll back,
// fail or hang up mid-transaction, while libstratum clients on the same
// server connections check that no tenant (and no actor) ever reaches a
// transaction that did not set it itself.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <libpq-fe.h>

#include <stratum/stratum.hpp>

#include "client_support.hpp"
#include "test_env.hpp"

using namespace stratum;
using namespace std::chrono_literals;

namespace {

const std::string db = "stratum_pgbouncer_fault_test";

using PgConn = std::unique_ptr<PGconn, decltype(&PQfinish)>;

PgConn bouncer_connection()
{
    return PgConn(PQconnectdb(test::pgbouncer_conninfo("stratum_app", db).c_str()), &PQfinish);
}

// Runs one simple-protocol string; returns its last result's status.
ExecStatusType run(PGconn *conn, const std::string &sql, int *pid = nullptr)
{
    std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(conn, sql.c_str()), &PQclear);
    if (pid != nullptr && PQresultStatus(result.get()) == PGRES_TUPLES_OK && PQntuples(result.get()) > 0)
        *pid = std::atoi(PQgetvalue(result.get(), 0, 0));
    return PQresultStatus(result.get());
}

TEST(PgBouncerFault, NoTenantContextCrossesTransactionsUnderHostileClients)
{
    test::recreate_database(db);
    test::create_tenant_table("notes", "body text NOT NULL", db);
    const std::string a(test::acme.view()), b(test::globex.view());
    test::admin_sql("INSERT INTO notes (tenant_id, body) VALUES ('" + a + "', 'acme'), ('" + b + "', 'globex')", db);

    std::atomic<bool> stop{false};
    std::atomic<int> leaks{0}, victim_runs{0}, polluter_runs{0}, hangups{0};
    std::mutex pids_mutex;
    std::set<int> polluter_pids, victim_pids;

    std::vector<std::thread> threads;
    for (int t = 0; t < 4; t++) {
        threads.emplace_back([&, t] {
            std::mt19937 random(t);
            PgConn conn = bouncer_connection();
            while (!stop) {
                if (PQstatus(conn.get()) != CONNECTION_OK) {
                    conn = bouncer_connection();
                    continue;
                }
                const std::string tenant = random() % 2 ? a : b;
                int pid = 0;
                switch (random() % 7) {
                case 0:
                    run(conn.get(), "SET stratum.tenant_id = '" + tenant + "'");
                    break;
                case 1:
                    run(conn.get(), "SELECT set_config('stratum.tenant_id', '" + tenant +
                                        "', false), set_config('stratum.actor', 'polluter', false)");
                    break;
                case 2:
                    run(conn.get(), "BEGIN; SELECT stratum.set_tenant('" + tenant +
                                        "'); SELECT stratum.set_actor('polluter'); SELECT count(*) FROM notes; COMMIT");
                    break;
                case 3:
                    run(conn.get(), "BEGIN; SET LOCAL stratum.tenant_id = '" + tenant + "'; SELECT 1/0");
                    run(conn.get(), "ROLLBACK");
                    break;
                case 4:
                    // Inside a transaction, then gone: PgBouncer must not hand
                    // that server connection on with the transaction open.
                    run(conn.get(), "BEGIN; SELECT stratum.set_tenant('" + tenant +
                                        "'); SELECT pg_backend_pid()", &pid);
                    conn = bouncer_connection();
                    hangups++;
                    break;
                case 5:
                    run(conn.get(), "SELECT stratum.set_tenant('" + tenant + "'), pg_backend_pid()", &pid);
                    break;
                default:
                    run(conn.get(), "BEGIN; SAVEPOINT s; SET SESSION stratum.tenant_id = '" + tenant +
                                        "'; RELEASE s; COMMIT; SELECT pg_backend_pid()", &pid);
                }
                polluter_runs++;
                if (pid != 0) {
                    std::lock_guard lock(pids_mutex);
                    polluter_pids.insert(pid);
                }
            }
        });
    }

    PoolOptions o = test::app_pool_options(db);
    o.primary = test::pgbouncer_conninfo("stratum_app", db);
    o.connection.prepared_statements = false;
    o.max_size = 12;
    Pool pool(o);
    for (int t = 0; t < 6; t++) {
        threads.emplace_back([&, t] {
            std::mt19937 random(100 + t);
            while (!stop) {
                int pid = 0;
                try {
                    switch (random() % 3) {
                    case 0: {
                        // No tenant set: nothing inherited, tenant tables refuse.
                        Lease lease = pool.acquire();
                        Result r = lease->exec("SELECT stratum.current_tenant_or_null()::text, "
                                               "stratum.current_actor(), pg_backend_pid()");
                        leaks += !r[0][0].is_null() || !r[0][1].is_null();
                        pid = r[0][2].as<int>();
                        try {
                            lease->exec("SELECT count(*) FROM notes");
                            leaks++;
                        } catch (const NoTenantContext &) {
                        }
                        break;
                    }
                    default: {
                        const TenantId &tenant = random() % 2 ? test::acme : test::globex;
                        const std::string expected = tenant == test::acme ? "acme" : "globex";
                        pool.with_tenant(tenant, [&](Tx &tx) {
                            Result r = tx.exec("SELECT string_agg(body, ','), stratum.current_tenant()::text, "
                                               "stratum.current_actor(), pg_backend_pid() FROM notes");
                            leaks += r[0][0].as<std::string>() != expected;
                            leaks += r[0][1].as<std::string>() != tenant.view();
                            leaks += !r[0][2].is_null();
                            pid = r[0][3].as<int>();
                        });
                    }
                    }
                } catch (const std::exception &e) {
                    ADD_FAILURE() << "victim: " << e.what();
                }
                victim_runs++;
                std::lock_guard lock(pids_mutex);
                victim_pids.insert(pid);
            }
        });
    }
    std::this_thread::sleep_for(4s);
    stop = true;
    for (auto &t : threads)
        t.join();

    std::set<int> shared;
    for (int pid : victim_pids)
        shared.insert(polluter_pids.count(pid) ? pid : 0);
    shared.erase(0);
    std::printf("pgbouncer: %d hostile and %d checked transactions, %d hang-ups mid-transaction, "
                "%zu server connections shared by both\n",
                polluter_runs.load(), victim_runs.load(), hangups.load(), shared.size());
    EXPECT_EQ(leaks.load(), 0);
    EXPECT_GE(victim_runs.load(), 200);
    EXPECT_GE(hangups.load(), 10);
    EXPECT_FALSE(shared.empty()) << "the two kinds of clients never met on a server connection";
    EXPECT_EQ(pool.metrics().in_use, 0u);
}

}  // namespace
