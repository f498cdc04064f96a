// Test environment accessors and a few superuser helpers over raw libpq.
#include "test_env.hpp"

#include <cstdlib>
#include <memory>

#include <gtest/gtest.h>
#include <libpq-fe.h>

namespace stratum::test {

std::string required_env(const char *name)
{
    const char *value = std::getenv(name);
    if (value == nullptr || *value == '\0') {
        ADD_FAILURE() << name << " is not set: run the tests through `make test`";
        return "";
    }
    return value;
}

namespace {

std::string conninfo(const std::string &host, const std::string &port, const std::string &user,
                     const std::string &dbname)
{
    return "host=" + host + " port=" + port + " user=" + user + " dbname=" + dbname +
           " connect_timeout=10";
}

}  // namespace

std::string superuser_conninfo(const std::string &dbname)
{
    return conninfo(required_env("STRATUM_TEST_PGHOST"), required_env("STRATUM_TEST_PGPORT"),
                    "postgres", dbname);
}

std::string app_conninfo(const std::string &dbname)
{
    return conninfo(required_env("STRATUM_TEST_PGHOST"), required_env("STRATUM_TEST_PGPORT"),
                    "stratum_app", dbname);
}

std::string pgbouncer_conninfo(const std::string &user, const std::string &dbname)
{
    return conninfo("127.0.0.1", required_env("STRATUM_TEST_PGBOUNCER_PORT"), user, dbname);
}

std::string redis_address()
{
    return required_env("STRATUM_TEST_REDIS_ADDR");
}

std::string admin_sql(const std::string &sql, const std::string &dbname)
{
    std::unique_ptr<PGconn, decltype(&PQfinish)> conn(
        PQconnectdb(superuser_conninfo(dbname).c_str()), &PQfinish);
    if (PQstatus(conn.get()) != CONNECTION_OK) {
        ADD_FAILURE() << "cannot connect as superuser: " << PQerrorMessage(conn.get());
        return "";
    }
    std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(conn.get(), sql.c_str()),
                                                          &PQclear);
    ExecStatusType status = PQresultStatus(result.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        ADD_FAILURE() << "admin SQL failed: " << PQerrorMessage(conn.get()) << "\n" << sql;
        return "";
    }
    if (status == PGRES_TUPLES_OK && PQntuples(result.get()) > 0 && PQnfields(result.get()) > 0)
        return PQgetvalue(result.get(), 0, 0);
    return "";
}

void recreate_database(const std::string &dbname)
{
    admin_sql("DROP DATABASE IF EXISTS \"" + dbname + "\" WITH (FORCE)", "postgres");
    admin_sql("CREATE DATABASE \"" + dbname + "\" TEMPLATE stratum_template", "postgres");
}

int pg_ctl(const std::string &arguments)
{
    std::string command = required_env("STRATUM_TEST_PGCTL") + " " + arguments;
    return std::system(command.c_str());
}

}  // namespace stratum::test
