// The SQL that sets tenant and actor context: the one place the client spells
// it (pool.query, Tx, the migrator, the command). Each statement's parameters
// are the tenant's UUID text, then the actor. Both settings are
// transaction-local on the server (stratum.set_tenant / stratum.set_actor).
#pragma once

#include <string>
#include <string_view>

namespace stratum::context_sql {

inline constexpr std::string_view set_tenant = "SELECT stratum.set_tenant($1)";
inline constexpr std::string_view set_actor = "SELECT stratum.set_actor($1)";
inline constexpr std::string_view set_tenant_and_actor =
    "SELECT stratum.set_tenant($1), stratum.set_actor($2)";
// set_tenant, and the OID of stratum.tenant_param (NULL before the extension
// had it): once a connection knows it, pool.query binds the tenant as a
// parameter of the statement itself (Connection::query).
inline constexpr std::string_view set_tenant_and_probe =
    "SELECT stratum.set_tenant($1), to_regtype('stratum.tenant_param')::oid";

// The statement for a context with a tenant, an actor or both ("" for neither).
constexpr std::string_view statement(bool tenant, bool actor) noexcept
{
    if (tenant)
        return actor ? set_tenant_and_actor : set_tenant;
    return actor ? set_actor : std::string_view();
}

// The actor call alone, reading parameter $n, for a statement that sets more
// than the context in one go (the migrator's per-migration settings).
inline std::string set_actor_call(int n)
{
    return "stratum.set_actor($" + std::to_string(n) + ")";
}

}  // namespace stratum::context_sql
