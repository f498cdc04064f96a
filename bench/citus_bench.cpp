// A tenant's primary-key lookup through a Citus coordinator, each lookup one
// transaction in one round trip (BEGIN, ..., COMMIT pipelined, one Sync), as
// libstratum sends it on Citus. Run by bench/citus.sh, which starts the
// cluster, makes the tables and reads the nodes' CPU.
//
//   citus_bench CLIENTS SECONDS VARIANT   prints "tps lookups"
//       plain      the distributed table without row level security, the
//                  tenant named in the WHERE clause
//       bound      the tenant table with stratum's policy, the tenant bound to
//                  the lookup as a stratum.tenant_param parameter (libstratum)
//       statement  the same with a set_tenant statement before the lookup
//                  (libstratum before tenant_param)
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <libpq-fe.h>

#include "hand_pipeline.hpp"

namespace {

constexpr int tenants = 100;
constexpr int keys_per_tenant = 1000;

std::string tenant_id(int t)
{
    char text[40];
    std::snprintf(text, sizeof(text), "00000000-0000-4000-8000-%012d", t);
    return text;
}

struct Client {
    PGconn *conn;
    std::string variant;

    Client(const std::string &conninfo, std::string v) : conn(PQconnectdb(conninfo.c_str())), variant(std::move(v))
    {
        if (PQstatus(conn) != CONNECTION_OK)
            throw std::runtime_error(PQerrorMessage(conn));
        bench::check(PQprepare(conn, "begin", "BEGIN", 0, nullptr));
        bench::check(PQprepare(conn, "commit", "COMMIT", 0, nullptr));
        if (variant == "plain") {
            bench::check(PQprepare(conn, "lookup", "SELECT payload FROM items_plain WHERE tenant_id = $1 AND id = $2", 0, nullptr));
        } else if (variant == "statement") {
            bench::check(PQprepare(conn, "context", "SELECT stratum.set_tenant($1)", 0, nullptr));
            bench::check(PQprepare(conn, "lookup", "SELECT payload FROM items WHERE tenant_id = $1 AND id = $2", 0, nullptr));
        } else if (variant == "bound") {
            const Oid types[] = {0, 0, bench::tenant_param_oid(conn)};
            bench::check(PQprepare(conn, "lookup", "SELECT payload FROM items WHERE tenant_id = $1 AND id = $2", 3, types));
        } else {
            throw std::runtime_error("unknown variant " + variant);
        }
        PQenterPipelineMode(conn);
    }
    ~Client() { PQfinish(conn); }

    void lookup(int t, int k)
    {
        const std::string tenant = tenant_id(t), key = std::to_string(k * tenants + t - 1);
        const char *lookup_values[] = {tenant.c_str(), key.c_str(), tenant.c_str()};
        int statements = 3;
        PQsendQueryPrepared(conn, "begin", 0, nullptr, nullptr, nullptr, 0);
        if (variant == "statement") {
            PQsendQueryPrepared(conn, "context", 1, lookup_values, nullptr, nullptr, 0);
            statements++;
        }
        PQsendQueryPrepared(conn, "lookup", variant == "bound" ? 3 : 2, lookup_values, nullptr, nullptr, 0);
        PQsendQueryPrepared(conn, "commit", 0, nullptr, nullptr, nullptr, 0);
        PQpipelineSync(conn);
        bench::read_pipeline(conn, statements);
    }
};

}  // namespace

int main(int argc, char **argv)
{
    if (argc != 4) {
        std::fprintf(stderr, "usage: citus_bench CLIENTS SECONDS plain|bound|statement\n");
        return 2;
    }
    const int clients = std::atoi(argv[1]);
    const double seconds = std::atof(argv[2]);
    const std::string variant = argv[3];
    const char *conninfo = std::getenv("STRATUM_BENCH_CONNINFO");
    try {
        std::vector<std::unique_ptr<Client>> connections;
        for (int i = 0; i < clients; i++)
            connections.push_back(std::make_unique<Client>(conninfo != nullptr ? conninfo : "", variant));
        std::atomic<long> done{0};
        std::atomic<bool> stop{false}, failed{false};
        std::vector<std::thread> threads;
        const auto started = std::chrono::steady_clock::now();
        for (int i = 0; i < clients; i++) {
            threads.emplace_back([&, i] {
                std::mt19937 random(static_cast<unsigned>(i) * 7919 + 1);
                try {
                    while (!stop.load(std::memory_order_relaxed)) {
                        connections[static_cast<std::size_t>(i)]->lookup(
                            static_cast<int>(random() % tenants) + 1, static_cast<int>(random() % keys_per_tenant));
                        done.fetch_add(1, std::memory_order_relaxed);
                    }
                } catch (const std::exception &e) {
                    std::fprintf(stderr, "citus_bench: %s\n", e.what());
                    failed = true;
                    stop = true;
                }
            });
        }
        std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
        stop = true;
        for (auto &t : threads)
            t.join();
        const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        if (failed)
            return 1;
        std::printf("%.1f %ld\n", static_cast<double>(done.load()) / elapsed, done.load());
        return 0;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "citus_bench: %s\n", e.what());
        return 1;
    }
}
