// libpq connection strings: quoting, parsing (DATABASE_URL) and the
// conninfo of a configured PostgreSQL endpoint.
#include "stratum/config.hpp"

#include <algorithm>
#include <memory>
#include <stdexcept>

#include <libpq-fe.h>

namespace stratum {

namespace conninfo {

std::string quote(std::string_view value)
{
    std::string out;
    out.reserve(value.size() + 2);
    out += '\'';
    for (char c : value) {
        if (c == '\'' || c == '\\')
            out += '\\';
        out += c;
    }
    out += '\'';
    return out;
}

std::map<std::string, std::string> parse(const std::string &text)
{
    char *error = nullptr;
    std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> options(
        PQconninfoParse(text.c_str(), &error), &PQconninfoFree);
    if (!options) {
        std::string message = error ? error : "out of memory";
        PQfreemem(error);
        while (!message.empty() && (message.back() == '\n' || message.back() == ' '))
            message.pop_back();
        throw std::invalid_argument("invalid connection string: " + message);
    }
    std::map<std::string, std::string> values;
    for (PQconninfoOption *option = options.get(); option->keyword != nullptr; ++option)
        if (option->val != nullptr)
            values[option->keyword] = option->val;
    return values;
}

const std::vector<std::string> &known_keywords()
{
    static const std::vector<std::string> keywords = [] {
        std::vector<std::string> out;
        std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> defaults(PQconndefaults(),
                                                                              &PQconninfoFree);
        if (defaults)
            for (PQconninfoOption *option = defaults.get(); option->keyword != nullptr; ++option)
                out.emplace_back(option->keyword);
        return out;
    }();
    return keywords;
}

}  // namespace conninfo

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
