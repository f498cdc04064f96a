// stratum's pool.query exchange written by hand on libpq, the peer the query
// benches measure the library against: the lookup prepared with one more
// parameter, of type stratum.tenant_param, which sets the tenant when the
// server binds it; one statement, one Sync, one round trip. With the libpq
// helpers the benches that speak the protocol by hand share.
#pragma once

#include <cstdlib>
#include <stdexcept>
#include <string>

#include <libpq-fe.h>

namespace bench {

// Clears a result; throws its error unless it is one of success.
inline void check(PGresult *result)
{
    const ExecStatusType status = PQresultStatus(result);
    const std::string error = PQresultErrorMessage(result);
    PQclear(result);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
        throw std::runtime_error(error);
}

// The OID of stratum.tenant_param in c's database (declared in a Parse).
inline Oid tenant_param_oid(PGconn *c)
{
    PGresult *r = PQexec(c, "SELECT 'stratum.tenant_param'::regtype::oid");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        const std::string error = PQresultErrorMessage(r);
        PQclear(r);
        throw std::runtime_error(error);
    }
    const auto oid = static_cast<Oid>(std::strtoul(PQgetvalue(r, 0, 0), nullptr, 10));
    PQclear(r);
    return oid;
}

// Reads a pipeline's results up to and including its Sync; throws on an error.
inline void read_pipeline(PGconn *c, int statements)
{
    for (int ended = 0; ended < statements;) {
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
}

// Prepares "select" on c (before pipeline mode), the way libstratum does.
inline void prepare_hand_pipeline(PGconn *c)
{
    const Oid types[] = {0, tenant_param_oid(c)};
    PGresult *r = PQprepare(c, "select", "SELECT abalance FROM tenant_accounts WHERE aid = $1", 2, types);
    const bool failed = PQresultStatus(r) != PGRES_COMMAND_OK;
    const std::string error = failed ? PQresultErrorMessage(r) : "";
    PQclear(r);
    if (failed)
        throw std::runtime_error(error);
}

// On a connection in pipeline mode, prepared by prepare_hand_pipeline.
inline void hand_pipeline_lookup(PGconn *c, const char *tenant, const char *aid)
{
    const char *values[] = {aid, tenant};
    PQsendQueryPrepared(c, "select", 2, values, nullptr, nullptr, 0);
    PQpipelineSync(c);
    read_pipeline(c, 1);
}

}  // namespace bench
