// Fault: the connection breaks while COMMIT is in flight, made deterministic
// by holding the COMMIT on the server — after its commit record (waiting for
// a synchronous standby that never comes) or before it (a deferred trigger
// that sleeps) — and then terminating the backend, killing it with SIGKILL
// (crash and recovery), restarting or stopping the whole cluster. The library
// must report exactly what happened: success when it committed, a
// definitely_not_committed() error when it did not, CommitOutcomeUnknown only
// while the server stays unreachable; with_tenant never runs a committed
// transaction twice. Also: callers waiting through a restart get their
// connection within 1 s of the server being back. The cluster is this test's
// own (scripts/test.sh starts it), so it may crash it.
#include <gtest/gtest.h>

#include <signal.h>

#include <atomic>
#include <future>
#include <memory>
#include <mutex>
#include <thread>

#include <libpq-fe.h>

#include <stratum/stratum.hpp>

#include "client_support.hpp"
#include "test_env.hpp"

using namespace stratum;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

namespace {

const char *const pgctl = "STRATUM_TEST_PGCTL_COMMIT_FAULT";

std::string port()
{
    return test::required_env("STRATUM_TEST_COMMIT_FAULT_PORT");
}

bool server_up()
{
    return PQping(test::conninfo_at(port(), "postgres", "postgres").c_str()) == PQPING_OK;
}

// Waits (up to 60 s) until the cluster accepts connections again.
void wait_until_up()
{
    for (int i = 0; i < 6000 && !server_up(); i++)
        std::this_thread::sleep_for(10ms);
    ASSERT_TRUE(server_up()) << "the commit_fault cluster did not come back";
}

// Superuser SQL on the test database of the cluster. synchronous_commit
// local: durable before the crashes the tests cause (the cluster's default,
// off, may lose it), without waiting for the missing standby. The first
// column of the first row, "" if none; a failure fails the test.
std::string sql(const std::string &text)
{
    std::unique_ptr<PGconn, decltype(&PQfinish)> conn(
        PQconnectdb((test::conninfo_at(port(), "postgres") +
                     " options='-c synchronous_commit=local'").c_str()),
        &PQfinish);
    if (PQstatus(conn.get()) != CONNECTION_OK) {
        ADD_FAILURE() << "cannot connect: " << PQerrorMessage(conn.get());
        return "";
    }
    std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(conn.get(), text.c_str()), &PQclear);
    const ExecStatusType status = PQresultStatus(result.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        ADD_FAILURE() << PQerrorMessage(conn.get()) << "\n" << text;
        return "";
    }
    return status == PGRES_TUPLES_OK && PQntuples(result.get()) > 0 ? PQgetvalue(result.get(), 0, 0) : "";
}

int rows_with_id(const std::string &id)
{
    return std::stoi(sql("SELECT count(*) FROM commit_probe WHERE id = '" + id + "'"));
}

// The pid of the application backend waiting on `wait_event` (SyncRep: its
// commit record is written, it waits for the standby; PgSleep: the deferred
// trigger runs, before the commit record). Waits up to 10 s.
int backend_waiting_on(const std::string &wait_event)
{
    for (int i = 0; i < 1000; i++) {
        const std::string pid = sql("SELECT pid FROM pg_stat_activity WHERE usename = 'stratum_app' "
                                    "AND wait_event = '" + wait_event + "' LIMIT 1");
        if (!pid.empty())
            return std::stoi(pid);
        std::this_thread::sleep_for(10ms);
    }
    ADD_FAILURE() << "no application backend waits on " << wait_event;
    return 0;
}

// The call must fail with a lost connection that was not resolved as
// unknown (CommitOutcomeUnknown): definitely not committed, or, for a read
// that learnt no transaction id, of unknown outcome.
enum class Expected { not_committed, unknown_read };

void expect_lost(std::future<void> &done, Expected expected)
{
    try {
        done.get();
        ADD_FAILURE() << "reported a success";
    } catch (const CommitOutcomeUnknown &e) {
        ADD_FAILURE() << "resolution gave up although the server was back: " << e.what();
    } catch (const ConnectionLost &e) {
        if (expected == Expected::not_committed)
            EXPECT_TRUE(e.definitely_not_committed()) << e.what();
        else
            EXPECT_TRUE(e.committed_unknown()) << e.what();
    }
}

enum class Fault { terminate, kill9, restart_immediate };

const char *name(Fault fault)
{
    switch (fault) {
    case Fault::terminate:
        return "pg_terminate_backend";
    case Fault::kill9:
        return "kill -9 of the backend";
    case Fault::restart_immediate:
        return "pg_ctl restart -m immediate";
    }
    return "?";
}

void inject(Fault fault, int pid)
{
    switch (fault) {
    case Fault::terminate:
        EXPECT_EQ(sql("SELECT pg_terminate_backend(" + std::to_string(pid) + ")"), "t");
        break;
    case Fault::kill9:
        // The postmaster then crashes every backend and recovers from the WAL;
        // it may still answer for a moment: wait until it does not.
        EXPECT_EQ(::kill(pid, SIGKILL), 0);
        for (int i = 0; i < 200 && server_up(); i++)
            std::this_thread::sleep_for(10ms);
        break;
    case Fault::restart_immediate:
        EXPECT_EQ(test::pg_ctl_of(pgctl, "restart -m immediate"), 0);
        break;
    }
    wait_until_up();
}

class CommitOutcomeFault : public ::testing::Test {
protected:
    static void SetUpTestSuite()
    {
        wait_until_up();
        sql("DROP TABLE IF EXISTS commit_probe");
        sql("CREATE TABLE commit_probe (id text PRIMARY KEY, slow boolean NOT NULL DEFAULT false, "
            "attempt int NOT NULL DEFAULT 1)");
        // Holds a COMMIT before its commit record, for a row marked slow.
        sql("CREATE OR REPLACE FUNCTION commit_probe_slow() RETURNS trigger LANGUAGE plpgsql AS "
            "$$BEGIN IF NEW.slow THEN PERFORM pg_sleep(60); END IF; RETURN NULL; END$$");
        sql("CREATE CONSTRAINT TRIGGER commit_probe_slow AFTER INSERT ON commit_probe "
            "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION commit_probe_slow()");
        sql("GRANT SELECT, INSERT ON commit_probe TO stratum_app");
        // A write that looks like a read: no id probe rides with it.
        sql("CREATE OR REPLACE FUNCTION commit_probe_insert(p_id text, p_slow boolean) RETURNS void "
            "LANGUAGE sql AS $$INSERT INTO commit_probe (id, slow) VALUES (p_id, p_slow)$$");
        // Holds a COMMIT after its commit record, in sessions with
        // synchronous_commit on: a standby that never connects.
        sql("ALTER SYSTEM SET synchronous_standby_names = 'stratum_nobody'");
        sql("SELECT pg_reload_conf()");
    }
    static void TearDownTestSuite()
    {
        if (!server_up())
            test::pg_ctl_of(pgctl, "start");
        wait_until_up();
        sql("ALTER SYSTEM RESET synchronous_standby_names");
        sql("SELECT pg_reload_conf()");
    }
    void TearDown() override
    {
        if (!server_up())
            test::pg_ctl_of(pgctl, "start");
        wait_until_up();
    }
    // hold_after_commit_record: sessions wait for the standby at COMMIT.
    static PoolOptions options(bool hold_after_commit_record)
    {
        PoolOptions o;
        o.primary = test::conninfo_at(port(), "stratum_app");
        if (hold_after_commit_record)
            o.primary += " options='-c synchronous_commit=on'";
        o.min_size = 0;
        o.max_size = 4;
        o.acquire_timeout = 20s;
        o.reconnect_backoff_min = 20ms;
        o.reconnect_backoff_max = 500ms;
        o.connection.commit_resolution_timeout = 30s;
        return o;
    }
    static std::string next_id()
    {
        static std::atomic<int> n{0};
        return "probe-" + std::to_string(::getpid()) + "-" + std::to_string(++n);
    }
};

// The reply to a COMMIT that committed is lost: Tx::commit returns normally.
TEST_F(CommitOutcomeFault, ACommittedTransactionWhoseReplyIsLostIsASuccess)
{
    for (Fault fault : {Fault::terminate, Fault::kill9, Fault::restart_immediate}) {
        SCOPED_TRACE(name(fault));
        Pool pool(options(true));
        const std::string id = next_id();
        auto done = std::async(std::launch::async, [&] {
            Lease lease = pool.acquire();
            Tx tx(*lease, test::acme);
            tx.exec("INSERT INTO commit_probe (id) VALUES ($1)", id);
            EXPECT_FALSE(tx.xid().empty()) << "the transaction's id was not learnt before COMMIT";
            tx.commit();
        });
        inject(fault, backend_waiting_on("SyncRep"));
        EXPECT_NO_THROW(done.get()) << "it committed";
        EXPECT_EQ(rows_with_id(id), 1);
    }
}

// A transaction whose only write hides in a SELECT learns its id with the
// COMMIT: a lost reply is still resolved, both ways.
TEST_F(CommitOutcomeFault, AWriteInsideASelectIsResolvedAtCommit)
{
    for (const bool slow : {false, true}) {
        SCOPED_TRACE(slow ? "killed before the commit record" : "killed after the commit record");
        Pool pool(options(!slow));
        const std::string id = next_id();
        auto done = std::async(std::launch::async, [&] {
            Lease lease = pool.acquire();
            Tx tx(*lease, test::acme);
            tx.exec("SELECT commit_probe_insert($1, $2)", id, slow);
            EXPECT_TRUE(tx.xid().empty()) << "a SELECT carries no id probe";
            tx.commit();
        });
        inject(Fault::terminate, backend_waiting_on(slow ? "PgSleep" : "SyncRep"));
        if (!slow) {
            EXPECT_NO_THROW(done.get()) << "it committed";
            EXPECT_EQ(rows_with_id(id), 1);
            continue;
        }
        expect_lost(done, Expected::not_committed);
        EXPECT_EQ(rows_with_id(id), 0);
    }
}

// The COMMIT dies before its commit record: a definite failure, nothing there.
TEST_F(CommitOutcomeFault, AnAbortedCommitIsADefiniteFailure)
{
    for (Fault fault : {Fault::terminate, Fault::kill9, Fault::restart_immediate}) {
        SCOPED_TRACE(name(fault));
        Pool pool(options(false));
        const std::string id = next_id();
        auto done = std::async(std::launch::async, [&] {
            Lease lease = pool.acquire();
            Tx tx(*lease, test::acme);
            tx.exec("INSERT INTO commit_probe (id, slow) VALUES ($1, true)", id);
            tx.commit();
        });
        inject(fault, backend_waiting_on("PgSleep"));
        expect_lost(done, Expected::not_committed);  // killed before its commit record
        EXPECT_EQ(rows_with_id(id), 0);
    }
}

// pool.query: statement and commit in one round trip, both outcomes resolved.
TEST_F(CommitOutcomeFault, PoolQueryResolvesALostCommitBothWays)
{
    {
        Pool pool(options(true));
        const std::string id = next_id();
        auto done = std::async(std::launch::async, [&] {
            return pool.query(test::acme, "INSERT INTO commit_probe (id) VALUES ($1)", id).affected_rows();
        });
        inject(Fault::terminate, backend_waiting_on("SyncRep"));
        EXPECT_EQ(done.get(), 1u) << "it committed: the statement's result is returned";
        EXPECT_EQ(rows_with_id(id), 1);
    }
    {
        Pool pool(options(false));
        const std::string id = next_id();
        auto done = std::async(std::launch::async, [&] {
            pool.query(test::acme, "INSERT INTO commit_probe (id, slow) VALUES ($1, true)", id);
        });
        inject(Fault::terminate, backend_waiting_on("PgSleep"));
        expect_lost(done, Expected::not_committed);
        EXPECT_EQ(rows_with_id(id), 0);
    }
}

// A read sends no id probe (it would cost every SELECT a statement): its
// lost connection says "unknown" — a SELECT may call a writing function —
// and is never resolved.
TEST_F(CommitOutcomeFault, PoolQueryReadIsReportedUnknownNotResolved)
{
    Pool pool(options(false));
    auto done = std::async(std::launch::async, [&] {
        pool.query(test::acme, "  -- a read\n SELECT pg_sleep(30)");
    });
    inject(Fault::terminate, backend_waiting_on("PgSleep"));
    expect_lost(done, Expected::unknown_read);
}

// with_tenant: a committed transaction whose reply is lost runs once; one
// whose COMMIT aborted runs again and commits once.
TEST_F(CommitOutcomeFault, WithTenantNeverRunsACommittedTransactionTwice)
{
    for (Fault fault : {Fault::terminate, Fault::kill9}) {
        SCOPED_TRACE(name(fault));
        Pool pool(options(true));
        const std::string id = next_id();
        std::atomic<int> attempts{0};
        auto done = std::async(std::launch::async, [&] {
            pool.with_tenant(test::acme, [&](Tx &tx) {
                tx.exec("INSERT INTO commit_probe (id, attempt) VALUES ($1, $2)", id, ++attempts);
            });
        });
        inject(fault, backend_waiting_on("SyncRep"));
        EXPECT_NO_THROW(done.get());
        EXPECT_EQ(attempts.load(), 1) << "a committed transaction ran again";
        EXPECT_EQ(rows_with_id(id), 1);
    }
    {
        Pool pool(options(false));
        const std::string id = next_id();
        std::atomic<int> attempts{0};
        auto done = std::async(std::launch::async, [&] {
            pool.with_tenant(test::acme, [&](Tx &tx) {
                const int attempt = ++attempts;
                tx.exec("INSERT INTO commit_probe (id, slow, attempt) VALUES ($1, $2, $3)", id,
                        attempt == 1, attempt);
            });
        });
        inject(Fault::terminate, backend_waiting_on("PgSleep"));
        EXPECT_NO_THROW(done.get()) << "an aborted commit is retried";
        EXPECT_EQ(attempts.load(), 2);
        EXPECT_EQ(sql("SELECT string_agg(attempt::text, ',') FROM commit_probe WHERE id = '" + id + "'"),
                  "2");
    }
}

// The server goes away during COMMIT and stays away longer than the
// resolution timeout: only then CommitOutcomeUnknown — and rightly, since
// the transaction did commit.
TEST_F(CommitOutcomeFault, UnknownOnlyWhileTheServerStaysAway)
{
    PoolOptions o = options(true);
    o.connection.commit_resolution_timeout = 1s;
    Pool pool(o);
    const std::string id = next_id();
    int retries = 0;
    auto done = std::async(std::launch::async, [&] {
        pool.with_tenant(test::acme, [&](Tx &tx) {
            retries++;
            tx.exec("INSERT INTO commit_probe (id) VALUES ($1)", id);
        });
    });
    backend_waiting_on("SyncRep");
    // Before the stop: the connection may break (and resolution start)
    // before pg_ctl returns.
    const auto stopping = SteadyClock::now();
    ASSERT_EQ(test::pg_ctl_of(pgctl, "stop -m immediate"), 0);
    try {
        done.get();
        ADD_FAILURE() << "reported a success while the server was down";
    } catch (const CommitOutcomeUnknown &e) {
        EXPECT_TRUE(e.committed_unknown());
        EXPECT_FALSE(e.definitely_not_committed());
        EXPECT_EQ(e.sqlstate(), "08007");
        EXPECT_FALSE(e.xid().empty());
        EXPECT_GE(SteadyClock::now() - stopping, 1000ms) << "gave up before the resolution timeout";
    }
    EXPECT_EQ(retries, 1) << "with_tenant retried a commit of unknown outcome";
    ASSERT_EQ(test::pg_ctl_of(pgctl, "start"), 0);
    wait_until_up();
    EXPECT_EQ(rows_with_id(id), 1) << "it had committed";
}

// Callers waiting through a restart, with the default backoff (which grows to
// seconds while the server is down): each gets its connection within 1 s of
// the server accepting connections again.
TEST_F(CommitOutcomeFault, WaitersRecoverWithinOneSecondOfTheServerBeingBack)
{
    PoolOptions o;
    o.primary = test::conninfo_at(port(), "stratum_app");
    o.min_size = 2;
    o.max_size = 4;
    o.acquire_timeout = 15s;
    o.maintenance_interval = 100ms;
    Pool pool(o);
    pool.query(test::acme, "SELECT 1");

    ASSERT_EQ(test::pg_ctl_of(pgctl, "stop -m fast"), 0);
    constexpr int callers = 12;
    std::mutex mutex;
    std::vector<SteadyClock::time_point> served;
    std::vector<std::string> errors;
    std::vector<std::thread> threads;
    for (int i = 0; i < callers; i++)
        threads.emplace_back([&, i] {
            std::this_thread::sleep_for(std::chrono::milliseconds(100 * i));  // arrive over 1.2 s
            try {
                pool.with_tenant(test::acme, [](Tx &tx) { tx.exec("SELECT 1"); });
                std::lock_guard lock(mutex);
                served.push_back(SteadyClock::now());
            } catch (const std::exception &e) {
                std::lock_guard lock(mutex);
                errors.push_back(e.what());
            }
        });
    std::this_thread::sleep_for(3s);  // long enough for the backoff to reach seconds
    const std::uint64_t failed_dials = pool.metrics().failed;

    // The moment the server accepts connections, as a client sees it.
    std::atomic<bool> starting{true};
    SteadyClock::time_point back{};
    std::thread pinger([&] {
        while (starting) {
            if (server_up()) {
                back = SteadyClock::now();
                return;
            }
            std::this_thread::sleep_for(5ms);
        }
    });
    const int started = test::pg_ctl_of(pgctl, "start");
    for (auto &t : threads)
        t.join();
    starting = false;
    pinger.join();
    ASSERT_EQ(started, 0);
    ASSERT_NE(back, SteadyClock::time_point{});

    EXPECT_TRUE(errors.empty()) << errors.size() << " callers failed, e.g. " << errors.front();
    ASSERT_EQ(served.size(), static_cast<std::size_t>(callers));
    auto last = *std::max_element(served.begin(), served.end());
    const auto lag = std::chrono::duration_cast<std::chrono::milliseconds>(last - back);
    const std::uint64_t dials_while_down = failed_dials;
    std::printf("restart: %d callers served, the last %lld ms after the server was back; "
                "%llu failed dials in the 3 s it was down\n",
                callers, static_cast<long long>(lag.count()),
                static_cast<unsigned long long>(dials_while_down));
    EXPECT_LT(lag, 1000ms);
    // Bounded dials: one probe at a time while the server is down, at most
    // every 200 ms for the waiting callers, plus the maintenance probes.
    EXPECT_LE(dials_while_down, 40u);
}

}  // namespace
