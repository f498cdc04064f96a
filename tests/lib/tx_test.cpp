// Tenant transactions: pool.query is one round trip, with_tenant one more
// than its statements; commit, rollback on any exception, retries on real
// serialization failures and deadlocks and on nothing else.
#include <gtest/gtest.h>

#include <atomic>
#include <latch>
#include <mutex>
#include <thread>
#include <vector>

#include <stratum/stratum.hpp>

#include "client_support.hpp"
#include "test_env.hpp"

using namespace stratum;

namespace {

const std::string db = "stratum_tx_test";

class TxTest : public ::testing::Test {
protected:
    static void SetUpTestSuite()
    {
        test::recreate_database(db);
        test::admin_sql("ALTER DATABASE " + db + " SET deadlock_timeout = '50ms'", "postgres");
        test::create_tenant_table("items", "id serial PRIMARY KEY, name text NOT NULL UNIQUE, qty int NOT NULL DEFAULT 0",
                                  db);
        test::create_tenant_table("ledger", "k text NOT NULL, v int NOT NULL", db);
        test::admin_sql("GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO stratum_app", db);
    }
    void SetUp() override
    {
        test::admin_sql("TRUNCATE items, ledger", db);
        PoolOptions options = test::app_pool_options(db);
        options.retry.base_delay = std::chrono::milliseconds(1);
        pool = std::make_unique<Pool>(options);
    }
    std::uint64_t round_trips() const { return pool->metrics().round_trips; }
    int count_items(const TenantId &tenant)
    {
        return pool->query(tenant, "SELECT count(*)::int FROM items").value<int>();
    }

    std::unique_ptr<Pool> pool;
};

// Without Citus the server asks for no transaction block around pool.query
// (tests/citus has the other side).
TEST_F(TxTest, OneNodeNeedsNoTransactionBlockAroundQuery)
{
    EXPECT_FALSE(pool->acquire()->context_needs_transaction_block());
    pool->query(test::acme, "INSERT INTO items (name) VALUES ($1)", "no block");
    EXPECT_FALSE(pool->acquire()->in_transaction());
    EXPECT_EQ(count_items(test::acme), 1);
}

TEST_F(TxTest, QueryIsOneRoundTripAsTheTenant)
{
    pool->query(test::acme, "SELECT 1");  // open the connection, prepare the context statement
    for (int i = 0; i < 3; i++) {
        const auto before = round_trips();
        Result r = pool->query(test::acme, "SELECT stratum.current_tenant()::text, $1::int + 1", i);
        EXPECT_EQ(round_trips() - before, 1u);
        EXPECT_EQ(r.one_row()[0].as<std::string>(), test::acme.view());
        EXPECT_EQ(r.one_row()[1].as<int>(), i + 1);
    }
    // A statement never seen before (prepared on the way) is still one round trip.
    const auto before = round_trips();
    pool->query(test::acme, "INSERT INTO items (name) VALUES ($1)", "first");
    EXPECT_EQ(round_trips() - before, 1u);
    // ...and it committed.
    EXPECT_EQ(count_items(test::acme), 1);
    EXPECT_EQ(count_items(test::globex), 0);
}

// pool.query with an actor: the actor travels with the tenant in the same
// statement, so it is still one round trip, and the audit trail records it.
TEST_F(TxTest, QueryWithAnActorIsOneRoundTripAndAudited)
{
    test::create_tenant_table("audited_notes", "id serial PRIMARY KEY, body text NOT NULL", db);
    test::admin_sql("GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO stratum_app", db);
    test::admin_sql("SELECT stratum.enable_audit('audited_notes')", db);
    pool->query(test::acme, {.actor = "user:1"}, "SELECT 1");  // open, prepare
    for (int i = 0; i < 3; i++) {
        const std::string actor = "user:" + std::to_string(40 + i);
        const auto before = round_trips();
        Result r = pool->query(test::acme, {.actor = actor},
                               "SELECT stratum.current_tenant()::text, stratum.current_actor()");
        EXPECT_EQ(round_trips() - before, 1u);
        auto [tenant, seen] = r.one_row_as<std::string, std::string>();
        EXPECT_EQ(tenant, test::acme.view());
        EXPECT_EQ(seen, actor);
    }
    const auto before = round_trips();
    pool->query(test::acme, {.actor = "user:42"}, "INSERT INTO audited_notes (body) VALUES ($1)", "hi");
    EXPECT_EQ(round_trips() - before, 1u);
    EXPECT_EQ(pool->query(test::acme, "SELECT actor FROM stratum.audit_log WHERE table_name LIKE "
                                      "'%audited_notes' AND operation = 'INSERT'")
                  .value<std::string>(),
              "user:42");
    // The actor is transaction-local: the next query on the connection has none.
    EXPECT_FALSE(pool->query(test::acme, "SELECT stratum.current_actor()")
                     .value<std::optional<std::string>>()
                     .has_value());
    // On a replica-or-primary read, the same.
    EXPECT_EQ(pool->replica_query(test::acme, {.actor = "reader"}, "SELECT stratum.current_actor()")
                  .value<std::string>(),
              "reader");
}

TEST_F(TxTest, QueryFailureRollsBackAndLeavesTheConnectionClean)
{
    pool->query(test::acme, "INSERT INTO items (name) VALUES ('dup')");
    EXPECT_THROW(pool->query(test::acme, "INSERT INTO items (name) VALUES ('dup')"), UniqueViolation);
    Lease lease = pool->acquire();
    EXPECT_TRUE(lease->is_clean());
    // The implicit transaction ended: no tenant context lingers.
    EXPECT_FALSE(lease->exec("SELECT stratum.current_tenant_or_null()")[0][0]
                     .as<std::optional<std::string>>()
                     .has_value());
}

TEST_F(TxTest, WithTenantCostsOneRoundTripMoreThanItsStatements)
{
    std::uint64_t inside = 0;
    const auto before = round_trips();
    int total = pool->with_tenant(test::acme, [&](Tx &tx) {
        tx.exec("INSERT INTO items (name, qty) VALUES ($1, $2)", "a", 1);
        tx.exec("INSERT INTO items (name, qty) VALUES ($1, $2)", "b", 2);
        int sum = tx.exec("SELECT sum(qty)::int FROM items").value<int>();
        inside = tx.round_trips();
        return sum;
    });
    EXPECT_EQ(total, 3);
    EXPECT_EQ(inside, 3u);                     // BEGIN and the context rode with the first
    EXPECT_EQ(round_trips() - before, 4u);     // + COMMIT
    EXPECT_EQ(count_items(test::acme), 2);

    // Nothing run: nothing sent.
    const auto idle_before = round_trips();
    pool->with_tenant(test::acme, [](Tx &) {});
    EXPECT_EQ(round_trips() - idle_before, 0u);
}

// The id a lost COMMIT is resolved by is learnt with the statements: no
// round trip of its own, and only once the transaction wrote.
TEST_F(TxTest, TheTransactionIdIsLearntWithoutARoundTrip)
{
    Lease lease = pool->acquire(test::acme);
    const std::uint64_t before = round_trips();
    {
        Tx tx(*lease, test::acme);
        tx.exec("SELECT count(*) FROM items");
        EXPECT_EQ(tx.xid(), "") << "a transaction that only read has no id";
        tx.exec("INSERT INTO items (name) VALUES ($1)", "xid");
        ASSERT_NE(tx.xid(), "");
        const std::string xid = tx.xid();
        tx.exec_batch(std::vector<Statement>{{"SELECT 1"}, {"SELECT 2"}});
        EXPECT_EQ(tx.xid(), xid);
        EXPECT_EQ(tx.round_trips(), 3u);
        tx.commit();
        EXPECT_EQ(tx.round_trips(), 4u);
        EXPECT_EQ(test::admin_sql("SELECT pg_xact_status('" + xid + "'::xid8)", db), "committed");
    }
    EXPECT_EQ(round_trips() - before, 4u);
    Tx read_only(*lease, test::acme, TxOptions{.read_only = true});
    read_only.exec("SELECT count(*) FROM items");
    EXPECT_EQ(read_only.xid(), "");
    read_only.commit();
}

TEST_F(TxTest, BatchIsOneRoundTrip)
{
    const auto before = round_trips();
    pool->with_tenant(test::acme, [&](Tx &tx) {
        std::vector<Statement> batch;
        for (int i = 0; i < 100; i++)
            batch.push_back({"INSERT INTO items (name, qty) VALUES ($1, $2)",
                             Params("item-" + std::to_string(i), i)});
        auto results = tx.exec_batch(batch);
        ASSERT_EQ(results.size(), 100u);
        EXPECT_EQ(results[99].affected_rows(), 1u);
    });
    EXPECT_EQ(round_trips() - before, 2u);
    EXPECT_EQ(count_items(test::acme), 100);
}

TEST_F(TxTest, AnExceptionRollsBackAndPropagatesUnchanged)
{
    int attempts = 0;
    EXPECT_THROW(pool->with_tenant(test::acme,
                                   [&](Tx &tx) {
                                       attempts++;
                                       tx.exec("INSERT INTO items (name) VALUES ('gone')");
                                       throw std::out_of_range("application error");
                                   }),
                 std::out_of_range);
    EXPECT_EQ(attempts, 1);
    EXPECT_EQ(count_items(test::acme), 0);

    // A failed statement: rolled back, not retried.
    pool->query(test::acme, "INSERT INTO items (name) VALUES ('taken')");
    attempts = 0;
    EXPECT_THROW(pool->with_tenant(test::acme,
                                   [&](Tx &tx) {
                                       attempts++;
                                       tx.exec("INSERT INTO items (name) VALUES ('new')");
                                       tx.exec("INSERT INTO items (name) VALUES ('taken')");
                                   }),
                 UniqueViolation);
    EXPECT_EQ(attempts, 1);
    EXPECT_EQ(count_items(test::acme), 1);
    EXPECT_EQ(pool->metrics().retries, 0u);
}

TEST_F(TxTest, DestructorRollsBackAndCommitAfterFailureRefuses)
{
    {
        Lease lease = pool->acquire();
        Tx tx(*lease, test::acme);
        tx.exec("INSERT INTO items (name) VALUES ('never')");
        EXPECT_TRUE(lease->in_transaction());
    }  // ~Tx rolls back
    EXPECT_EQ(count_items(test::acme), 0);

    Lease lease = pool->acquire();
    Tx tx(*lease, test::acme);
    tx.exec("INSERT INTO items (name) VALUES ('x')");
    EXPECT_THROW(tx.exec("SELECT 1/0"), DataError);
    EXPECT_THROW(tx.exec("SELECT 1"), UsageError);  // aborted transaction
    EXPECT_THROW(tx.commit(), UsageError);
    EXPECT_FALSE(tx.is_open());
    EXPECT_FALSE(lease->in_transaction());
    lease.release();
    EXPECT_EQ(count_items(test::acme), 0);
}

TEST_F(TxTest, TenantsSeeOnlyTheirRows)
{
    pool->with_tenant(test::acme, [](Tx &tx) { tx.exec("INSERT INTO items (name) VALUES ('acme-1')"); });
    pool->with_tenant(test::globex, [](Tx &tx) {
        tx.exec("INSERT INTO items (name) VALUES ('globex-1')");
        tx.exec("INSERT INTO items (name) VALUES ('globex-2')");
    });
    EXPECT_EQ(count_items(test::acme), 1);
    EXPECT_EQ(count_items(test::globex), 2);
    auto names = pool->with_tenant(test::globex, [](Tx &tx) {
        return tx.exec("SELECT name FROM items ORDER BY name").column_values<std::string>();
    });
    EXPECT_EQ(names, (std::vector<std::string>{"globex-1", "globex-2"}));
}

// A pooled connection serves the next transaction of any tenant: a
// temporary table or a WITH HOLD cursor that kept Acme's rows would hand
// them to Globex, so the server refuses both to the application role (see
// docs/security.md); a temporary table that lasts the transaction works.
TEST_F(TxTest, ATransactionCannotLeaveRowsOnItsConnectionForTheNextTenant)
{
    PoolOptions options = test::app_pool_options(db);
    options.min_size = 1;
    options.max_size = 1;  // Globex gets the connection Acme used
    Pool one(options);
    one.query(test::acme, "INSERT INTO items (name) VALUES ('acme-secret')");
    EXPECT_THROW(one.with_tenant(test::acme,
                                 [](Tx &tx) { tx.exec("CREATE TEMP TABLE kept AS SELECT name FROM items"); }),
                 PermissionDenied);
    EXPECT_THROW(one.with_tenant(test::acme,
                                 [](Tx &tx) {
                                     tx.exec("DECLARE kept CURSOR WITH HOLD FOR SELECT name FROM items");
                                 }),
                 PermissionDenied);
    const int counted = one.with_tenant(test::acme, [](Tx &tx) {
        tx.exec("CREATE TEMP TABLE scratch ON COMMIT DROP AS SELECT name FROM items");
        return tx.exec("SELECT count(*)::int FROM scratch").value<int>();
    });
    EXPECT_EQ(counted, 1);
    const char *left_behind =
        "SELECT (SELECT count(*)::int FROM pg_class WHERE relnamespace = pg_my_temp_schema()) +"
        " (SELECT count(*)::int FROM pg_cursors WHERE is_holdable)";
    EXPECT_EQ(one.query(test::globex, left_behind).value<int>(), 0);
    EXPECT_EQ(one.metrics().created, 1u);
}

TEST_F(TxTest, OptionsIsolationReadOnlyAndActor)
{
    TxOptions options{.isolation = Isolation::serializable, .read_only = true, .actor = "user:42"};
    auto [isolation, actor, tenant] = pool->with_tenant(
        test::acme,
        [](Tx &tx) {
            return tx.exec("SELECT current_setting('transaction_isolation'), stratum.current_actor(), "
                           "stratum.current_tenant()::text")
                .one_row_as<std::string, std::string, std::string>();
        },
        options);
    EXPECT_EQ(isolation, "serializable");
    EXPECT_EQ(actor, "user:42");
    EXPECT_EQ(tenant, test::acme.view());

    // A write in a READ ONLY transaction is the caller's 25006, not a failover.
    EXPECT_THROW(pool->with_tenant(
                     test::acme, [](Tx &tx) { tx.exec("INSERT INTO items (name) VALUES ('ro')"); },
                     options),
                 ReadOnlyTransaction);
    EXPECT_EQ(pool->metrics().evictions, 0u);
}

TEST_F(TxTest, RetriesARealSerializationFailure)
{
    // Write skew under SERIALIZABLE: each transaction reads what the other
    // writes. The first attempts meet at a latch, so one must fail (40001);
    // with_tenant runs it again and both commit.
    std::latch both_read(2);
    std::atomic<int> attempts{0};
    auto worker = [&](const char *read_key, const char *write_key) {
        bool first = true;
        pool->with_tenant(
            test::acme,
            [&](Tx &tx) {
                attempts++;
                tx.exec("SELECT coalesce(sum(v), 0) FROM ledger WHERE k = $1", read_key);
                if (first) {
                    first = false;
                    both_read.arrive_and_wait();
                }
                tx.exec("INSERT INTO ledger (k, v) VALUES ($1, 1)", write_key);
            },
            TxOptions{.isolation = Isolation::serializable});
    };
    std::thread a(worker, "a", "b");
    std::thread b(worker, "b", "a");
    a.join();
    b.join();
    EXPECT_GE(attempts.load(), 3);
    EXPECT_GE(pool->metrics().retries, 1u);
    EXPECT_EQ(pool->query(test::acme, "SELECT count(*)::int FROM ledger").value<int>(), 2);
}

TEST_F(TxTest, RetriesARealDeadlock)
{
    pool->query(test::acme, "INSERT INTO items (name, qty) VALUES ('x', 0)");
    pool->query(test::acme, "INSERT INTO items (name, qty) VALUES ('y', 0)");
    std::latch both_locked(2);
    std::atomic<int> attempts{0};
    std::mutex failures_mutex;
    std::vector<std::string> failures;  // the SQLSTATE of every failed attempt
    auto worker = [&](const char *first_row, const char *second_row) {
        bool first = true;
        pool->with_tenant(test::acme, [&](Tx &tx) {
            attempts++;
            try {
                tx.exec("UPDATE items SET qty = qty + 1 WHERE name = $1", first_row);
                if (first) {
                    first = false;
                    both_locked.arrive_and_wait();
                }
                tx.exec("UPDATE items SET qty = qty + 1 WHERE name = $1", second_row);
            } catch (const Error &error) {
                std::lock_guard guard(failures_mutex);
                failures.push_back(error.sqlstate());
                throw;
            }
        });
    };
    std::thread a(worker, "x", "y");
    std::thread b(worker, "y", "x");
    a.join();
    b.join();
    // The victim ran again. Usually once; but the survivor waits for the
    // victim's transaction to end, and under load the victim's retry can
    // update that row before the survivor wakes to take it: another
    // deadlock, retried like the first. Every extra attempt is one, and
    // both transactions end committed once.
    EXPECT_GE(attempts.load(), 3);
    EXPECT_EQ(failures.size(), static_cast<std::size_t>(attempts.load() - 2));
    for (const std::string &sqlstate : failures)
        EXPECT_EQ(sqlstate, "40P01");
    EXPECT_EQ(pool->metrics().retries, failures.size());
    EXPECT_EQ(pool->query(test::acme, "SELECT sum(qty)::int FROM items").value<int>(), 4);
}

TEST_F(TxTest, RetriesAreBounded)
{
    PoolOptions options = test::app_pool_options(db);
    options.retry = RetryOptions{.max_attempts = 3, .base_delay = std::chrono::milliseconds(1),
                                 .max_delay = std::chrono::milliseconds(2)};
    Pool bounded(options);
    int attempts = 0;
    EXPECT_THROW(bounded.with_tenant(test::acme,
                                     [&](Tx &tx) {
                                         attempts++;
                                         tx.exec("SELECT 1");
                                         throw SerializationFailure("40001", "could not serialize");
                                     }),
                 SerializationFailure);
    EXPECT_EQ(attempts, 3);
    EXPECT_EQ(bounded.metrics().retries, 2u);
}

TEST_F(TxTest, PreparedStatementsAreCachedPerConnection)
{
    Lease lease = pool->acquire();
    lease->query(test::acme, "SELECT count(*) FROM items WHERE qty > $1", 1);
    lease->query(test::acme, "SELECT count(*) FROM items WHERE qty > $1", 2);
    const std::size_t prepared = lease->prepared_count();
    // The first context statement, this one after it, and this one with the tenant bound.
    EXPECT_GE(prepared, 3u);
    for (int i = 0; i < 5; i++)
        lease->query(test::acme, "SELECT count(*) FROM items WHERE qty > $1", i);
    EXPECT_EQ(lease->prepared_count(), prepared);
    EXPECT_EQ(test::admin_sql("SELECT count(*) FROM pg_stat_activity WHERE pid = " +
                              std::to_string(lease->backend_pid())),
              "1");
    // The server knows them by name.
    const int on_server = lease->exec("SELECT count(*)::int FROM pg_prepared_statements").value<int>();
    EXPECT_EQ(on_server, static_cast<int>(lease->prepared_count()));  // this one included
}

TEST_F(TxTest, PreparedCacheIsBoundedAndCanBeOff)
{
    PoolOptions capped = test::app_pool_options(db);
    capped.connection.prepared_cache_size = 2;
    Pool small(capped);
    Lease lease = small.acquire();
    for (int i = 0; i < 6; i++)
        EXPECT_EQ(lease->exec("SELECT $1::int + " + std::to_string(i), Params(1)).value<int>(), 1 + i);
    EXPECT_EQ(lease->prepared_count(), 2u);

    PoolOptions unnamed = test::app_pool_options(db);
    unnamed.connection.prepared_statements = false;
    Pool plain(unnamed);
    Lease other = plain.acquire();
    EXPECT_EQ(other->query(test::acme, "SELECT $1::text", "x").value<std::string>(), "x");
    EXPECT_EQ(other->prepared_count(), 0u);
    EXPECT_EQ(other->exec("SELECT count(*)::int FROM pg_prepared_statements").value<int>(), 0);
}

TEST_F(TxTest, AConnectionLeftInATransactionIsNotReused)
{
    int pid = 0;
    {
        Lease lease = pool->acquire();
        lease->exec("BEGIN");
        pid = lease->backend_pid();
    }
    Lease next = pool->acquire();
    EXPECT_NE(next->backend_pid(), pid);
    EXPECT_FALSE(next->in_transaction());
    EXPECT_EQ(pool->metrics().closed, 1u);
}

TEST_F(TxTest, RoundTripTimeoutCancelsTheStatement)
{
    PoolOptions options = test::app_pool_options(db);
    options.connection.round_trip_timeout = std::chrono::milliseconds(200);
    Pool impatient(options);
    const auto started = std::chrono::steady_clock::now();
    EXPECT_THROW(impatient.query(test::acme, "SELECT pg_sleep(10)"), QueryCanceled);
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
    // The server cancelled it cleanly: the connection is reused, not replaced.
    EXPECT_EQ(impatient.query(test::acme, "SELECT 3").value<int>(), 3);
    EXPECT_EQ(impatient.metrics().created, 1u);
}

TEST_F(TxTest, TransactionWithoutTenant)
{
    EXPECT_THROW(pool->transaction([](Tx &tx) { tx.exec("SELECT count(*) FROM items"); }),
                 NoTenantContext);
    EXPECT_EQ(pool->transaction([](Tx &tx) { return tx.exec("SELECT 7").value<int>(); }), 7);
}

}  // namespace
