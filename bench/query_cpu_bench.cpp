// CPU per primary-key lookup, client and server apart. Run by bench/query.sh.
//
//   query_cpu_bench OPS   one client; prints "VARIANT client_us server_us" per
//                         lookup for each variant:
//       stratum          pool.query(tenant, ...): the SELECT with the tenant bound, one round trip
//       libpq-pipeline   raw libpq doing the same exchange by hand (one Bind, one Sync)
//       libpq-set-tenant raw libpq, the tenant set by a set_tenant statement pipelined
//                        before the SELECT (libstratum's exchange before tenant_param)
//       libpq-plain      raw libpq prepared SELECT on the plain table, no tenancy
//
// Throughput on a shared two-core machine swings with whatever else runs,
// and so, less, does CPU time: a neighbour's load slows every instruction.
// So the variants run interleaved, each on its own connection, in blocks of
// 50 lookups in rotated order, and each block's CPU is charged to its
// variant: the noise falls on all of them alike. The client's CPU is the
// thread's user + system time (getrusage), the server's the backend's run
// time from /proc/PID/schedstat: client and server share the machine.
// STRATUM_BENCH_ONLY=VARIANT runs that variant alone (to profile it).
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <libpq-fe.h>

#include <stratum/stratum.hpp>

#include "hand_pipeline.hpp"

using namespace stratum;

namespace {

const TenantId tenant{"aaaaaaaa-0000-4000-8000-000000000001"};
constexpr int block = 50;

std::string env(const char *name, const char *fallback)
{
    const char *value = std::getenv(name);
    return value != nullptr && *value != '\0' ? value : fallback;
}

double client_cpu_us()
{
    rusage usage{};
    getrusage(RUSAGE_THREAD, &usage);
    auto us = [](const timeval &t) { return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_usec); };
    return us(usage.ru_utime) + us(usage.ru_stime);
}

double backend_cpu_us(int pid)
{
    std::ifstream in("/proc/" + std::to_string(pid) + "/schedstat");
    double ns = 0;
    if (!(in >> ns))
        throw std::runtime_error("cannot read the backend's schedstat (is the server on this machine?)");
    return ns / 1e3;
}

struct Variant {
    const char *name;
    int backend_pid;
    std::function<void(int)> lookup;
    double client_us = 0;
    double server_us = 0;
};

struct RawConnection {
    PGconn *conn;
    explicit RawConnection(const std::string &conninfo) : conn(PQconnectdb(conninfo.c_str()))
    {
        if (PQstatus(conn) != CONNECTION_OK)
            throw std::runtime_error(PQerrorMessage(conn));
    }
    ~RawConnection() { PQfinish(conn); }
    RawConnection(const RawConnection &) = delete;
    RawConnection &operator=(const RawConnection &) = delete;
};

}  // namespace

int main(int argc, char **argv)
{
    try {
        if (argc != 2) {
            std::fprintf(stderr, "usage: query_cpu_bench OPS\n");
            return 2;
        }
        const int ops = std::stoi(argv[1]);
        const std::string conninfo = env("STRATUM_BENCH_CONNINFO", "user=stratum_app");
        const std::string id = tenant.str();

        PoolOptions o;
        o.primary = conninfo;
        o.min_size = 1;
        o.max_size = 1;
        o.background_maintenance = false;
        Pool pool(o);

        RawConnection bound(conninfo), statement(conninfo), plain(conninfo);
        bench::prepare_hand_pipeline(bound.conn);
        bench::check(PQprepare(statement.conn, "tenant", "SELECT stratum.set_tenant($1)", 0, nullptr));
        bench::check(PQprepare(statement.conn, "lookup", "SELECT abalance FROM tenant_accounts WHERE aid = $1", 0, nullptr));
        bench::check(PQprepare(plain.conn, "select", "SELECT abalance FROM pgbench_accounts WHERE aid = $1", 0, nullptr));
        for (PGconn *c : {bound.conn, statement.conn, plain.conn})
            PQenterPipelineMode(c);

        std::vector<Variant> variants;
        variants.push_back({"stratum", pool.query(tenant, "SELECT pg_backend_pid()").value<int>(), [&](int aid) {
                                pool.query(tenant, "SELECT abalance FROM tenant_accounts WHERE aid = $1", aid);
                            }});
        variants.push_back({"libpq-pipeline", PQbackendPID(bound.conn), [&](int aid) {
                                bench::hand_pipeline_lookup(bound.conn, id.c_str(), std::to_string(aid).c_str());
                            }});
        variants.push_back({"libpq-set-tenant", PQbackendPID(statement.conn), [&](int aid) {
                                const std::string text = std::to_string(aid);
                                const char *tenant_value[] = {id.c_str()};
                                const char *aid_value[] = {text.c_str()};
                                PQsendQueryPrepared(statement.conn, "tenant", 1, tenant_value, nullptr, nullptr, 0);
                                PQsendQueryPrepared(statement.conn, "lookup", 1, aid_value, nullptr, nullptr, 0);
                                PQpipelineSync(statement.conn);
                                bench::read_pipeline(statement.conn, 2);
                            }});
        variants.push_back({"libpq-plain", PQbackendPID(plain.conn), [&](int aid) {
                                const std::string text = std::to_string(aid);
                                const char *values[] = {text.c_str()};
                                PQsendQueryPrepared(plain.conn, "select", 1, values, nullptr, nullptr, 0);
                                PQpipelineSync(plain.conn);
                                bench::read_pipeline(plain.conn, 1);
                            }});

        const std::string only = env("STRATUM_BENCH_ONLY", "");
        if (!only.empty())
            std::erase_if(variants, [&](const Variant &v) { return v.name != only; });
        const int accounts = std::stoi(env("STRATUM_BENCH_ACCOUNTS", "1000000"));
        std::mt19937 random(7919);
        auto next = [&] { return static_cast<int>(random() % static_cast<unsigned>(accounts)) + 1; };
        for (Variant &v : variants)
            for (int i = 0; i < ops / 10 + 1; i++)
                v.lookup(next());
        const int blocks = ops / block + 1;
        for (int b = 0; b < blocks; b++) {
            for (std::size_t j = 0; j < variants.size(); j++) {
                Variant &v = variants[(j + static_cast<std::size_t>(b)) % variants.size()];
                const double client = client_cpu_us(), server = backend_cpu_us(v.backend_pid);
                for (int i = 0; i < block; i++)
                    v.lookup(next());
                v.client_us += client_cpu_us() - client;
                v.server_us += backend_cpu_us(v.backend_pid) - server;
            }
        }
        for (const Variant &v : variants)
            std::printf("%s %.2f %.2f\n", v.name, v.client_us / (blocks * block), v.server_us / (blocks * block));
        return 0;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "query_cpu_bench: %s\n", e.what());
        return 1;
    }
}
