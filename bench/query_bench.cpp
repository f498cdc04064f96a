// Queries as a tenant, end to end. Run by bench/query.sh, which prepares the
// tables and runs pgbench as the peer.
//
//   query_bench pk CLIENTS SECONDS VARIANT   primary-key SELECT throughput (tps) of one variant:
//       stratum          pool.query(tenant, ...) direct: SELECT with the tenant bound, 1 round trip
//       stratum-bouncer  the same through PgBouncer (unnamed statements)
//       libpq-tenant     raw libpq, one statement per round trip: BEGIN, set_tenant, SELECT, COMMIT
//       libpq-plain      raw libpq prepared SELECT on the plain table, no tenancy (what pgbench -S does)
//       libpq-pipeline   raw libpq doing what stratum does: the SELECT with the tenant bound
//                        as a stratum.tenant_param parameter, one Sync
//       stratum-plain    the pool with one plain statement, no tenant (the library's own cost)
//       stratum-own-pool stratum with a pool of one connection per thread (nothing shared)
//   query_bench latency ITERATIONS           p50/p95 and round trips of typical operations,
//                                            stratum vs raw libpq one statement per round trip
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <libpq-fe.h>

#include <stratum/stratum.hpp>

#include "hand_pipeline.hpp"

using namespace stratum;
using Steady = std::chrono::steady_clock;

namespace {

const TenantId tenant{"aaaaaaaa-0000-4000-8000-000000000001"};

std::string env(const char *name, const char *fallback)
{
    const char *value = std::getenv(name);
    return value != nullptr && *value != '\0' ? value : fallback;
}

std::string direct_conninfo()
{
    return env("STRATUM_BENCH_CONNINFO", "user=stratum_app");
}

std::string bouncer_conninfo()
{
    return env("STRATUM_BENCH_BOUNCER_CONNINFO", "");
}

int accounts()
{
    return std::stoi(env("STRATUM_BENCH_ACCOUNTS", "1000000"));
}

double percentile(std::vector<double> values, double q)
{
    if (values.empty())
        return 0;
    std::size_t k = static_cast<std::size_t>(q * static_cast<double>(values.size() - 1));
    std::nth_element(values.begin(), values.begin() + static_cast<long>(k), values.end());
    return values[k];
}

// A raw libpq connection, one blocking round trip per call.
class Raw {
public:
    explicit Raw(const std::string &conninfo) : conn_(PQconnectdb(conninfo.c_str()))
    {
        if (PQstatus(conn_) != CONNECTION_OK)
            throw std::runtime_error(PQerrorMessage(conn_));
    }
    ~Raw() { PQfinish(conn_); }
    void prepare(const char *name, const char *sql)
    {
        check(PQprepare(conn_, name, sql, 0, nullptr));
    }
    void exec(const char *sql) { check(PQexec(conn_, sql)); }
    void run(const char *name, std::initializer_list<const char *> params)
    {
        std::vector<const char *> values(params);
        check(PQexecPrepared(conn_, name, static_cast<int>(values.size()), values.data(), nullptr,
                             nullptr, 0));
    }

private:
    void check(PGresult *result)
    {
        ExecStatusType status = PQresultStatus(result);
        std::string error = PQresultErrorMessage(result);
        PQclear(result);
        if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
            throw std::runtime_error(error);
    }
    PGconn *conn_;
};

PoolOptions pool_options(const std::string &conninfo, std::size_t size, bool prepared)
{
    PoolOptions o;
    o.primary = conninfo;
    o.min_size = size;
    o.max_size = std::max<std::size_t>(size, 10);
    o.connection.prepared_statements = prepared;
    o.background_maintenance = false;
    o.acquire_timeout = std::chrono::seconds(30);
    return o;
}

// Runs body(thread, random) on `clients` threads for `seconds`; returns transactions per
// second (and how many ran, in *operations). Each thread counts its own: a counter shared
// by the threads would cost the variant that bumps it a cache miss per operation.
double throughput(int clients, double seconds, const std::function<void(int)> &setup,
                  const std::function<void(int, std::mt19937 &)> &body, long *operations = nullptr)
{
    std::atomic<bool> stop{false}, go{false};
    std::atomic<long> done{0};
    std::atomic<int> ready{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < clients; t++) {
        threads.emplace_back([&, t] {
            setup(t);
            std::mt19937 random(static_cast<unsigned>(t * 7919 + 1));
            ready++;
            while (!go)
                std::this_thread::yield();
            long n = 0;
            while (!stop.load(std::memory_order_relaxed)) {
                body(t, random);
                n++;
            }
            done += n;
        });
    }
    while (ready < clients)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    auto started = Steady::now();
    go = true;
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop = true;
    for (auto &t : threads)
        t.join();
    if (operations != nullptr)
        *operations = done.load();
    return static_cast<double>(done.load()) /
           std::chrono::duration<double>(Steady::now() - started).count();
}

int pk(int clients, double seconds, const std::string &variant)
{
    const int n = accounts();
    double tps = 0;
    double round_trips_per_op = 0;
    if (variant == "stratum" || variant == "stratum-bouncer") {
        const bool bouncer = variant == "stratum-bouncer";
        Pool pool(pool_options(bouncer ? bouncer_conninfo() : direct_conninfo(),
                               static_cast<std::size_t>(clients), !bouncer));
        pool.run_maintenance();
        const auto rt_before = pool.metrics().round_trips;
        long ops = 0;
        tps = throughput(
            clients, seconds, [&](int) { pool.query(tenant, "SELECT 1"); },
            [&](int, std::mt19937 &random) {
                int aid = static_cast<int>(random() % static_cast<unsigned>(n)) + 1;
                pool.query(tenant, "SELECT abalance FROM tenant_accounts WHERE aid = $1", aid);
            },
            &ops);
        round_trips_per_op = static_cast<double>(pool.metrics().round_trips - rt_before -
                                                 static_cast<std::uint64_t>(clients)) /
                             static_cast<double>(ops);
    } else if (variant == "stratum-own-pool") {
        // The same queries with nothing shared between the threads: what
        // sharing one pool costs.
        std::vector<std::unique_ptr<Pool>> pools(static_cast<std::size_t>(clients));
        tps = throughput(
            clients, seconds,
            [&](int t) {
                auto &pool = pools[static_cast<std::size_t>(t)];
                pool = std::make_unique<Pool>(pool_options(direct_conninfo(), 1, true));
                pool->query(tenant, "SELECT 1");
            },
            [&](int t, std::mt19937 &random) {
                int aid = static_cast<int>(random() % static_cast<unsigned>(n)) + 1;
                pools[static_cast<std::size_t>(t)]->query(
                    tenant, "SELECT abalance FROM tenant_accounts WHERE aid = $1", aid);
            });
        round_trips_per_op = 1;
    } else if (variant == "stratum-plain") {
        // The library's own cost: one statement, no tenant, on the plain table.
        Pool pool(pool_options(direct_conninfo(), static_cast<std::size_t>(clients), true));
        pool.run_maintenance();
        tps = throughput(
            clients, seconds, [&](int) { pool.acquire()->exec("SELECT 1"); },
            [&](int, std::mt19937 &random) {
                int aid = static_cast<int>(random() % static_cast<unsigned>(n)) + 1;
                pool.acquire()->exec("SELECT abalance FROM pgbench_accounts WHERE aid = $1", aid);
            });
        round_trips_per_op = 1;
    } else if (variant == "libpq-pipeline") {
        // stratum's protocol written by hand: the SELECT with the tenant bound, one Sync.
        std::vector<PGconn *> conns(static_cast<std::size_t>(clients), nullptr);
        tps = throughput(
            clients, seconds,
            [&](int t) {
                PGconn *c = PQconnectdb(direct_conninfo().c_str());
                bench::prepare_hand_pipeline(c);
                PQenterPipelineMode(c);
                conns[static_cast<std::size_t>(t)] = c;
            },
            [&](int t, std::mt19937 &random) {
                PGconn *c = conns[static_cast<std::size_t>(t)];
                std::string aid = std::to_string(random() % static_cast<unsigned>(n) + 1);
                bench::hand_pipeline_lookup(c, tenant.str().c_str(), aid.c_str());
            });
        for (PGconn *c : conns)
            PQfinish(c);
        round_trips_per_op = 1;
    } else if (variant == "libpq-tenant" || variant == "libpq-plain") {
        const bool plain = variant == "libpq-plain";
        std::vector<std::unique_ptr<Raw>> conns(static_cast<std::size_t>(clients));
        tps = throughput(
            clients, seconds,
            [&](int t) {
                auto &c = conns[static_cast<std::size_t>(t)];
                c = std::make_unique<Raw>(direct_conninfo());
                c->prepare("tenant", "SELECT stratum.set_tenant($1)");
                c->prepare("select", plain ? "SELECT abalance FROM pgbench_accounts WHERE aid = $1"
                                           : "SELECT abalance FROM tenant_accounts WHERE aid = $1");
            },
            [&](int t, std::mt19937 &random) {
                auto &c = *conns[static_cast<std::size_t>(t)];
                std::string aid = std::to_string(random() % static_cast<unsigned>(n) + 1);
                if (plain) {
                    c.run("select", {aid.c_str()});
                    return;
                }
                c.exec("BEGIN");
                c.run("tenant", {tenant.str().c_str()});
                c.run("select", {aid.c_str()});
                c.exec("COMMIT");
            });
        round_trips_per_op = plain ? 1 : 4;
    } else {
        std::fprintf(stderr, "unknown variant %s\n", variant.c_str());
        return 2;
    }
    // One line, parsed by bench/query.sh.
    std::printf("%s %.1f %.2f\n", variant.c_str(), tps, round_trips_per_op);
    return 0;
}

struct Op {
    const char *name;
    int expected_round_trips;  // stratum's, by design
    std::function<void(Pool &, int)> stratum;
    int raw_round_trips;
    std::function<void(Raw &, int)> raw;
};

int latency(int iterations)
{
    Pool pool(pool_options(direct_conninfo(), 1, true));
    Raw raw(direct_conninfo());
    raw.prepare("tenant", "SELECT stratum.set_tenant($1)");
    raw.prepare("insert", "INSERT INTO tenant_history (aid, delta) VALUES ($1, $2)");
    raw.prepare("update", "UPDATE tenant_accounts SET abalance = abalance + $2 WHERE aid = $1");
    raw.prepare("select", "SELECT abalance FROM tenant_accounts WHERE aid = $1");
    const std::string t = tenant.str();
    const int n = accounts();
    auto aid = [n](int i) { return (i * 7919) % n + 1; };

    std::vector<Op> ops;
    ops.push_back({"single INSERT", 1,
                   [&](Pool &p, int i) {
                       p.query(tenant, "INSERT INTO tenant_history (aid, delta) VALUES ($1, $2)", aid(i), 1);
                   },
                   4,
                   [&](Raw &r, int i) {
                       std::string a = std::to_string(aid(i));
                       r.exec("BEGIN");
                       r.run("tenant", {t.c_str()});
                       r.run("insert", {a.c_str(), "1"});
                       r.exec("COMMIT");
                   }});
    ops.push_back({"batch INSERT of 100", 2,
                   [&](Pool &p, int i) {
                       p.with_tenant(tenant, [&](Tx &tx) {
                           std::vector<Statement> batch;
                           batch.reserve(100);
                           for (int k = 0; k < 100; k++)
                               batch.push_back({"INSERT INTO tenant_history (aid, delta) VALUES ($1, $2)",
                                                Params(aid(i * 100 + k), k)});
                           tx.exec_batch(batch);
                       });
                   },
                   103,
                   [&](Raw &r, int i) {
                       r.exec("BEGIN");
                       r.run("tenant", {t.c_str()});
                       for (int k = 0; k < 100; k++) {
                           std::string a = std::to_string(aid(i * 100 + k)), d = std::to_string(k);
                           r.run("insert", {a.c_str(), d.c_str()});
                       }
                       r.exec("COMMIT");
                   }});
    ops.push_back({"UPDATE by indexed field", 1,
                   [&](Pool &p, int i) {
                       p.query(tenant, "UPDATE tenant_accounts SET abalance = abalance + $2 WHERE aid = $1",
                               aid(i), 1);
                   },
                   4,
                   [&](Raw &r, int i) {
                       std::string a = std::to_string(aid(i));
                       r.exec("BEGIN");
                       r.run("tenant", {t.c_str()});
                       r.run("update", {a.c_str(), "1"});
                       r.exec("COMMIT");
                   }});
    ops.push_back({"5-statement transaction", 6,
                   [&](Pool &p, int i) {
                       p.with_tenant(tenant, [&](Tx &tx) {
                           tx.exec("UPDATE tenant_accounts SET abalance = abalance + $2 WHERE aid = $1", aid(i), -5);
                           tx.exec("SELECT abalance FROM tenant_accounts WHERE aid = $1", aid(i));
                           tx.exec("UPDATE tenant_accounts SET abalance = abalance + $2 WHERE aid = $1", aid(i + 1), 5);
                           tx.exec("SELECT abalance FROM tenant_accounts WHERE aid = $1", aid(i + 1));
                           tx.exec("INSERT INTO tenant_history (aid, delta) VALUES ($1, $2)", aid(i), 5);
                       });
                   },
                   7,
                   [&](Raw &r, int i) {
                       std::string a = std::to_string(aid(i)), b = std::to_string(aid(i + 1));
                       r.exec("BEGIN");
                       r.run("tenant", {t.c_str()});
                       r.run("update", {a.c_str(), "-5"});
                       r.run("select", {a.c_str()});
                       r.run("update", {b.c_str(), "5"});
                       r.run("select", {b.c_str()});
                       r.run("insert", {a.c_str(), "5"});
                       r.exec("COMMIT");
                   }});

    std::printf("latency per operation, one client, %d iterations each (us); raw libpq sends one\n"
                "statement per round trip (BEGIN, set_tenant, statements, COMMIT):\n",
                iterations);
    std::printf("  %-26s %9s %9s %6s | %9s %9s %6s | %8s\n", "", "stratum", "p95", "RTs", "libpq",
                "p95", "RTs", "p50 ratio");
    bool counted_ok = true;
    for (Op &op : ops) {
        std::vector<double> ours, theirs;
        std::uint64_t rt_total = 0;
        for (int i = 0; i < iterations / 10 + 1; i++) {  // warm up
            op.stratum(pool, i);
            op.raw(raw, i);
        }
        for (int i = 0; i < iterations; i++) {
            // Alternate so both see the same machine.
            auto rt = pool.metrics().round_trips;
            auto t0 = Steady::now();
            op.stratum(pool, i);
            auto t1 = Steady::now();
            rt_total += pool.metrics().round_trips - rt;
            op.raw(raw, i);
            auto t2 = Steady::now();
            ours.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
            theirs.push_back(std::chrono::duration<double, std::micro>(t2 - t1).count());
        }
        const double rts = static_cast<double>(rt_total) / iterations;
        counted_ok = counted_ok && rts == op.expected_round_trips;
        std::printf("  %-26s %9.0f %9.0f %6.2f | %9.0f %9.0f %6d | %8.2f\n", op.name, percentile(ours, 0.5),
                    percentile(ours, 0.95), rts, percentile(theirs, 0.5), percentile(theirs, 0.95),
                    op.raw_round_trips, percentile(ours, 0.5) / percentile(theirs, 0.5));
    }
    std::printf("  round trips counted by the pool match the design (query 1, with_tenant statements + 1,\n"
                "  batch of 100 in one): %s\n",
                counted_ok ? "yes" : "NO");
    return counted_ok ? 0 : 1;
}

}  // namespace

int main(int argc, char **argv)
{
    try {
        std::string mode = argc > 1 ? argv[1] : "";
        if (mode == "pk" && argc > 4)
            return pk(std::stoi(argv[2]), std::stod(argv[3]), argv[4]);
        if (mode == "latency")
            return latency(argc > 2 ? std::stoi(argv[2]) : 1000);
        std::fprintf(stderr, "usage: query_bench pk CLIENTS SECONDS VARIANT | latency ITERATIONS\n");
        return 2;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "query_bench: %s\n", e.what());
        return 1;
    }
}
