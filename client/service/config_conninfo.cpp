// The libpq connection string of a configured PostgreSQL endpoint.
#include "stratum/config.hpp"

#include <algorithm>

namespace stratum {

namespace {

std::string build_conninfo(const PostgresEndpoint &endpoint, bool reveal_password)
{
    std::string out;
    auto add = [&](std::string_view keyword, std::string_view value) {
        if (value.empty())
            return;
        if (!out.empty())
            out += ' ';
        out += keyword;
        out += '=';
        out += conninfo::quote(value);
    };
    add("host", endpoint.host);
    if (endpoint.port != 0)
        add("port", std::to_string(endpoint.port));
    add("user", endpoint.user);
    add("dbname", endpoint.dbname);
    if (!endpoint.password.empty())
        add("password", reveal_password ? endpoint.password.reveal() : "[redacted]");
    add("passfile", endpoint.passfile);
    add("sslmode", endpoint.sslmode);
    add("sslrootcert", endpoint.sslrootcert);
    add("sslcert", endpoint.sslcert);
    add("sslkey", endpoint.sslkey);
    if (endpoint.application_name.empty())
        add("fallback_application_name", "stratum");
    else
        add("application_name", endpoint.application_name);
    if (endpoint.connect_timeout > Duration::zero()) {
        // libpq counts whole seconds and treats 1 as 2; round up, at least 2.
        long long seconds = (endpoint.connect_timeout.count() + 999) / 1000;
        add("connect_timeout", std::to_string(std::max(2LL, seconds)));
    }
    for (const auto &[keyword, value] : endpoint.params)
        add(keyword, value);
    return out;
}

}  // namespace

std::string PostgresEndpoint::conninfo() const
{
    return build_conninfo(*this, true);
}

std::string PostgresEndpoint::redacted_conninfo() const
{
    return build_conninfo(*this, false);
}

std::string Config::postgres_master_conninfo() const
{
    return database.postgres.master.conninfo();
}

std::vector<std::string> Config::postgres_replica_conninfos() const
{
    std::vector<std::string> out;
    for (const PostgresEndpoint &replica : database.postgres.replicas)
        out.push_back(replica.conninfo());
    return out;
}

}  // namespace stratum
