// CPU per primary-key lookup, client and server apart. Run by bench/query.sh.
//
//   query_cpu_bench OPS VARIANT   one client, OPS lookups; prints
//                           "VARIANT client_us server_us" per lookup
//       stratum          pool.query(tenant, ...): the SELECT with the tenant bound, one round trip
//       libpq-pipeline   raw libpq doing the same exchange by hand (one Bind, one Sync)
//       libpq-set-tenant raw libpq, the tenant set by a set_tenant statement pipelined
//                        before the SELECT (libstratum's exchange before tenant_param)
//       libpq-plain      raw libpq prepared SELECT on the plain table, no tenancy
//
// Throughput on a shared two-core machine swings with whatever else runs;
// CPU time does not. The client's is the process's user + system time
// (getrusage), the server's the backend's run time from
// /proc/PID/schedstat: client and server share the machine.
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>

#include <libpq-fe.h>

#include <stratum/stratum.hpp>

#include "hand_pipeline.hpp"

using namespace stratum;

namespace {

const TenantId tenant{"aaaaaaaa-0000-4000-8000-000000000001"};

std::string env(const char *name, const char *fallback)
{
    const char *value = std::getenv(name);
    return value != nullptr && *value != '\0' ? value : fallback;
}

double client_cpu_us()
{
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
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

void check(PGresult *result)
{
    ExecStatusType status = PQresultStatus(result);
    std::string error = PQresultErrorMessage(result);
    PQclear(result);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
        throw std::runtime_error(error);
}

// Runs one() `ops` times after a warm-up; prints CPU per call.
void measure(const char *variant, int ops, int backend_pid, const std::function<void(int)> &one)
{
    const int accounts = std::stoi(env("STRATUM_BENCH_ACCOUNTS", "1000000"));
    std::mt19937 random(7919);
    auto next = [&] { return static_cast<int>(random() % static_cast<unsigned>(accounts)) + 1; };
    for (int i = 0; i < ops / 10 + 1; i++)
        one(next());
    const double client = client_cpu_us(), server = backend_cpu_us(backend_pid);
    for (int i = 0; i < ops; i++)
        one(next());
    std::printf("%s %.2f %.2f\n", variant, (client_cpu_us() - client) / ops,
                (backend_cpu_us(backend_pid) - server) / ops);
}

int run_stratum(int ops)
{
    PoolOptions o;
    o.primary = env("STRATUM_BENCH_CONNINFO", "user=stratum_app");
    o.min_size = 1;
    o.max_size = 1;
    o.background_maintenance = false;
    Pool pool(o);
    const int pid = pool.query(tenant, "SELECT pg_backend_pid()").value<int>();
    measure("stratum", ops, pid, [&](int aid) {
        pool.query(tenant, "SELECT abalance FROM tenant_accounts WHERE aid = $1", aid);
    });
    return 0;
}

enum class Exchange { plain, bound_tenant, set_tenant_statement };

int run_libpq(int ops, Exchange exchange)
{
    const bool plain = exchange == Exchange::plain;
    PGconn *c = PQconnectdb(env("STRATUM_BENCH_CONNINFO", "user=stratum_app").c_str());
    if (PQstatus(c) != CONNECTION_OK)
        throw std::runtime_error(PQerrorMessage(c));
    const int pid = PQbackendPID(c);
    if (plain) {
        check(PQprepare(c, "select", "SELECT abalance FROM pgbench_accounts WHERE aid = $1", 0, nullptr));
    } else if (exchange == Exchange::set_tenant_statement) {
        check(PQprepare(c, "tenant", "SELECT stratum.set_tenant($1)", 0, nullptr));
        check(PQprepare(c, "lookup", "SELECT abalance FROM tenant_accounts WHERE aid = $1", 0, nullptr));
    } else {
        bench::prepare_hand_pipeline(c);
    }
    const std::string id = tenant.str();
    if (plain) {
        measure("libpq-plain", ops, pid, [&](int aid) {
            const std::string text = std::to_string(aid);
            const char *values[] = {text.c_str()};
            check(PQexecPrepared(c, "select", 1, values, nullptr, nullptr, 0));
        });
    } else if (exchange == Exchange::set_tenant_statement) {
        PQenterPipelineMode(c);
        measure("libpq-set-tenant", ops, pid, [&](int aid) {
            const std::string text = std::to_string(aid);
            const char *tenant_value[] = {id.c_str()};
            const char *aid_value[] = {text.c_str()};
            PQsendQueryPrepared(c, "tenant", 1, tenant_value, nullptr, nullptr, 0);
            PQsendQueryPrepared(c, "lookup", 1, aid_value, nullptr, nullptr, 0);
            PQpipelineSync(c);
            for (int ended = 0; ended < 2;) {
                PGresult *r = PQgetResult(c);
                if (r == nullptr) {
                    ended++;
                    continue;
                }
                const bool failed = PQresultStatus(r) == PGRES_FATAL_ERROR;
                const std::string error = failed ? PQresultErrorMessage(r) : "";
                PQclear(r);
                if (failed)
                    throw std::runtime_error(error);
            }
            PQclear(PQgetResult(c));  // the Sync
        });
    } else {
        PQenterPipelineMode(c);
        measure("libpq-pipeline", ops, pid, [&](int aid) {
            bench::hand_pipeline_lookup(c, id.c_str(), std::to_string(aid).c_str());
        });
    }
    PQfinish(c);
    return 0;
}

}  // namespace

int main(int argc, char **argv)
{
    try {
        if (argc == 3) {
            const int ops = std::stoi(argv[1]);
            const std::string variant = argv[2];
            if (variant == "stratum")
                return run_stratum(ops);
            if (variant == "libpq-pipeline")
                return run_libpq(ops, Exchange::bound_tenant);
            if (variant == "libpq-set-tenant")
                return run_libpq(ops, Exchange::set_tenant_statement);
            if (variant == "libpq-plain")
                return run_libpq(ops, Exchange::plain);
        }
        std::fprintf(stderr, "usage: query_cpu_bench OPS stratum|libpq-pipeline|libpq-set-tenant|libpq-plain\n");
        return 2;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "query_cpu_bench: %s\n", e.what());
        return 1;
    }
}
