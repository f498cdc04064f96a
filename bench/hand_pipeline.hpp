// stratum's pool.query exchange written by hand on libpq, the peer both
// query benches measure the library against: the prepared set_tenant and
// the prepared lookup in one pipeline, one Sync, one round trip.
#pragma once

#include <stdexcept>
#include <string>

#include <libpq-fe.h>

namespace bench {

// On a connection in pipeline mode with "tenant" and "select" prepared.
inline void hand_pipeline_lookup(PGconn *c, const char *tenant, const char *aid)
{
    const char *tenant_value[] = {tenant};
    const char *aid_value[] = {aid};
    PQsendQueryPrepared(c, "tenant", 1, tenant_value, nullptr, nullptr, 0);
    PQsendQueryPrepared(c, "select", 1, aid_value, nullptr, nullptr, 0);
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
}

}  // namespace bench
