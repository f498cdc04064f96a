// The oracle of the fault tests. Every transaction of the write workload
// carries an id the client made; the client records what the library told it
// (committed; failed: the error is definitely_not_committed(); unknown: the
// error is committed_unknown(), i.e. CommitOutcomeUnknown), and after the
// fault the tables must agree: every committed id is there exactly once with
// all its rows, no failed id is there, an unknown one at most once.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <stratum/stratum.hpp>

#include "client_support.hpp"
#include "test_env.hpp"

namespace stratum::reliability {

enum class Outcome { committed, failed, unknown };

// A transaction id: a random UUID (version 4), made on the client.
inline std::string random_id()
{
    thread_local std::mt19937_64 random(std::random_device{}());
    const std::uint64_t hi = random(), lo = random();
    char text[37];
    std::snprintf(text, sizeof text, "%08x-%04x-4%03x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                  static_cast<unsigned>((hi >> 16) & 0xffff), static_cast<unsigned>(hi & 0xfff),
                  static_cast<unsigned>(0x8000 | (lo >> 48 & 0x3fff)),
                  static_cast<unsigned long long>(lo & 0xffffffffffffULL));
    return text;
}

// Superuser SQL through a connection string (row level security does not
// apply: the oracle reads every tenant's rows). First column of every row.
inline std::vector<std::string> column_of(const std::string &conninfo, const std::string &sql)
{
    auto conn = Connection::open(conninfo, ConnectionOptions{},
                                 std::chrono::steady_clock::now() + std::chrono::seconds(30));
    return conn->exec(sql).column_values<std::string>();
}

class WriteOracle {
public:
    // The tables the workload writes, on `dbname` of the test cluster (or
    // through a superuser connection string on another cluster).
    static void create_tables(const std::string &dbname)
    {
        test::create_tenant_table("fault_ledger", "tx_id uuid PRIMARY KEY, worker int NOT NULL", dbname);
        test::create_tenant_table("fault_items",
                                  "tx_id uuid NOT NULL, k int NOT NULL, PRIMARY KEY (tx_id, k)", dbname);
    }
    static void create_tables_at(const std::string &superuser_conninfo)
    {
        for (const char *sql :
             {"CREATE TABLE fault_ledger (tx_id uuid PRIMARY KEY, worker int NOT NULL)",
              "CREATE TABLE fault_items (tx_id uuid NOT NULL, k int NOT NULL, PRIMARY KEY (tx_id, k))",
              "SELECT stratum.enable_tenancy('fault_ledger'), stratum.enable_tenancy('fault_items')",
              "SELECT stratum.grant_app_role('stratum_app')"})
            column_of(superuser_conninfo, sql);
    }

    // One transaction as `tenant`: a ledger row and two item rows. Odd calls
    // use a Tx (statements, then COMMIT); even ones pool.query (one round
    // trip, statement and commit together). The outcome is what the error
    // says (committed_unknown() or not), never a guess. Never throws.
    Outcome run_one(Pool &pool, const TenantId &tenant, int worker)
    {
        const std::string id = random_id();
        const bool single_round_trip = (calls_.fetch_add(1, std::memory_order_relaxed) & 1) == 0;
        Outcome outcome;
        try {
            if (single_round_trip) {
                pool.query(tenant,
                           "WITH l AS (INSERT INTO fault_ledger (tx_id, worker) VALUES ($1::uuid, $2) "
                           "RETURNING tx_id) INSERT INTO fault_items (tx_id, k) "
                           "SELECT l.tx_id, v.k FROM l, (VALUES (1), (2)) v(k)",
                           id, worker);
            } else {
                Lease lease = pool.acquire(tenant);
                Tx tx(*lease, tenant);
                tx.exec("INSERT INTO fault_ledger (tx_id, worker) VALUES ($1::uuid, $2)", id, worker);
                tx.exec("INSERT INTO fault_items (tx_id, k) VALUES ($1::uuid, 1), ($1::uuid, 2)", id);
                tx.commit();
            }
            outcome = Outcome::committed;
        } catch (const Error &error) {
            outcome = error.committed_unknown() ? Outcome::unknown : Outcome::failed;
            if (dynamic_cast<const ConnectionLost *>(&error) == nullptr &&
                dynamic_cast<const AcquireTimeout *>(&error) == nullptr) {
                // The server answered with an error (the transaction rolled back).
                std::lock_guard lock(mutex_);
                if (other_errors_.size() < 20)
                    other_errors_.push_back(error.what());
            }
        }
        std::lock_guard lock(mutex_);
        (outcome == Outcome::committed ? committed_ : outcome == Outcome::failed ? failed_ : unknown_)
            .insert(id);
        return outcome;
    }

    // Runs `workers` threads of run_one for `duration`, calling `fault` on this
    // thread meanwhile (it returns when its faults are done; the workload then
    // runs on for `settle`). Each worker waits `pause` between transactions.
    void run(Pool &pool, int workers, std::chrono::milliseconds duration,
             const std::function<void()> &fault = {},
             std::chrono::milliseconds settle = std::chrono::milliseconds(0),
             std::chrono::microseconds pause = std::chrono::microseconds(0))
    {
        std::atomic<bool> stop{false};
        std::vector<std::thread> threads;
        for (int w = 0; w < workers; w++)
            threads.emplace_back([&, w] {
                const TenantId &tenant = w % 2 ? test::acme : test::globex;
                while (!stop.load(std::memory_order_relaxed)) {
                    if (run_one(pool, tenant, w) != Outcome::committed)
                        std::this_thread::sleep_for(std::chrono::milliseconds(5));
                    else if (pause.count() > 0)
                        std::this_thread::sleep_for(pause);
                }
            });
        const auto until = std::chrono::steady_clock::now() + duration;
        if (fault)
            fault();
        std::this_thread::sleep_until(std::max(until, std::chrono::steady_clock::now() + settle));
        stop = true;
        for (auto &t : threads)
            t.join();
    }

    // Reads the tables through `superuser_conninfo` and checks them against
    // what the client saw. Returns the number of committed rows found.
    std::size_t verify(const std::string &superuser_conninfo) const
    {
        std::lock_guard lock(mutex_);
        const auto ids = column_of(superuser_conninfo, "SELECT tx_id::text FROM fault_ledger");
        const auto incomplete = column_of(
            superuser_conninfo,
            "SELECT l.tx_id::text FROM fault_ledger l LEFT JOIN fault_items i USING (tx_id) "
            "GROUP BY l.tx_id HAVING count(i.k) <> 2 "
            "UNION ALL SELECT i.tx_id::text FROM fault_items i "
            "WHERE NOT EXISTS (SELECT 1 FROM fault_ledger l WHERE l.tx_id = i.tx_id)");
        const std::set<std::string> found(ids.begin(), ids.end());
        EXPECT_EQ(found.size(), ids.size()) << "a transaction id is in the ledger twice";
        EXPECT_TRUE(incomplete.empty()) << incomplete.size() << " transactions are partly there, e.g. "
                                        << incomplete.front();
        std::size_t lost = 0, phantom = 0, unknown_in = 0;
        for (const auto &id : committed_)
            lost += found.count(id) == 0;
        for (const auto &id : found) {
            if (failed_.count(id) != 0 || (committed_.count(id) == 0 && unknown_.count(id) == 0))
                phantom++;
            unknown_in += unknown_.count(id);
        }
        EXPECT_EQ(lost, 0u) << "transactions the client saw commit are missing";
        EXPECT_EQ(phantom, 0u) << "rows of transactions the client saw fail (or never ran)";
        std::printf("oracle: %zu committed, %zu failed, %zu unknown (%zu of them committed); "
                    "%zu rows in the ledger\n",
                    committed_.size(), failed_.size(), unknown_.size(), unknown_in, found.size());
        for (const auto &e : other_errors_)
            std::printf("  error seen (the transaction did not commit): %s\n", e.c_str());
        return found.size();
    }

    std::size_t committed() const
    {
        std::lock_guard lock(mutex_);
        return committed_.size();
    }
    std::size_t failed() const
    {
        std::lock_guard lock(mutex_);
        return failed_.size() + unknown_.size();
    }
    // Transactions reported CommitOutcomeUnknown.
    std::size_t unknown() const
    {
        std::lock_guard lock(mutex_);
        return unknown_.size();
    }
    // The errors the server (or the client) gave transactions that did not
    // commit, the first 20.
    std::vector<std::string> errors() const
    {
        std::lock_guard lock(mutex_);
        return other_errors_;
    }

private:
    mutable std::mutex mutex_;
    std::set<std::string> committed_, failed_, unknown_;
    std::vector<std::string> other_errors_;
    std::atomic<std::uint64_t> calls_{0};
};

// The pool is back to normal: nothing leased, no more connections than its
// limit (also as the server counts them), and it serves transactions again.
inline void expect_pool_recovered(Pool &pool, const std::string &server_conninfo, const std::string &dbname)
{
    PoolMetrics m = pool.metrics();
    EXPECT_EQ(m.in_use, 0u) << "leases leaked";
    EXPECT_LE(m.total, m.max_size);
    for (int i = 0; i < 20; i++)
        EXPECT_EQ(pool.query(i % 2 ? test::acme : test::globex, "SELECT $1::int", i).value<int>(), i);
    const auto backends = column_of(server_conninfo,
                                    "SELECT count(*)::text FROM pg_stat_activity WHERE usename = 'stratum_app' "
                                    "AND datname = '" + dbname + "'");
    EXPECT_LE(std::stoul(backends.at(0)), pool.metrics().max_size) << "server-side connections leaked";
    EXPECT_EQ(pool.metrics().in_use, 0u);
}

}  // namespace stratum::reliability
