// stratum's pool.query exchange written by hand on libpq, the peer both
// query benches measure the library against: the lookup prepared with one
// more parameter, of type stratum.tenant_param, which sets the tenant when
// the server binds it; one statement, one Sync, one round trip.
#pragma once

#include <cstdlib>
#include <stdexcept>
#include <string>

#include <libpq-fe.h>

namespace bench {

// Prepares "select" on c (before pipeline mode), the way libstratum does.
inline void prepare_hand_pipeline(PGconn *c)
{
    PGresult *r = PQexec(c, "SELECT 'stratum.tenant_param'::regtype::oid");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        const std::string error = PQresultErrorMessage(r);
        PQclear(r);
        throw std::runtime_error(error);
    }
    const Oid types[] = {0, static_cast<Oid>(std::strtoul(PQgetvalue(r, 0, 0), nullptr, 10))};
    PQclear(r);
    r = PQprepare(c, "select", "SELECT abalance FROM tenant_accounts WHERE aid = $1", 2, types);
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
    for (int ended = 0; ended < 1;) {
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

}  // namespace bench
