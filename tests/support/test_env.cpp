// Test environment accessors and a few superuser helpers over raw libpq.
#include "test_env.hpp"

#include <cstdlib>
#include <chrono>
#include <memory>
#include <thread>

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

std::string conninfo_at(const std::string &port, const std::string &user, const std::string &dbname)
{
    return conninfo("127.0.0.1", port, user, dbname);
}

std::vector<std::string> replica_ports()
{
    std::vector<std::string> ports;
    std::string list = required_env("STRATUM_TEST_REPLICA_PORTS");
    for (std::size_t start = 0; start < list.size();) {
        std::size_t comma = list.find(',', start);
        ports.push_back(list.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
        start = comma == std::string::npos ? list.size() : comma + 1;
    }
    return ports;
}

int pg_ctl_of(const std::string &variable, const std::string &arguments)
{
    std::string command = required_env(variable.c_str()) + " " + arguments;
    return std::system(command.c_str());
}

// The insert position, not pg_current_wal_lsn(): with synchronous_commit off
// a commit record may not be written yet, and the replica must wait for it.
void wait_for_replica(const std::string &replica_port, const std::string &primary_port)
{
    std::string target;
    if (primary_port.empty()) {
        target = admin_sql("SELECT pg_current_wal_insert_lsn()::text", "postgres");
    } else {
        std::unique_ptr<PGconn, decltype(&PQfinish)> primary(
            PQconnectdb(conninfo_at(primary_port, "postgres", "postgres").c_str()), &PQfinish);
        std::unique_ptr<PGresult, decltype(&PQclear)> lsn(
            PQexec(primary.get(), "SELECT pg_current_wal_insert_lsn()::text"), &PQclear);
        if (PQresultStatus(lsn.get()) != PGRES_TUPLES_OK) {
            ADD_FAILURE() << "cannot read the primary's WAL position: " << PQerrorMessage(primary.get());
            return;
        }
        target = PQgetvalue(lsn.get(), 0, 0);
    }
    std::unique_ptr<PGconn, decltype(&PQfinish)> conn(
        PQconnectdb(conninfo_at(replica_port, "postgres", "postgres").c_str()), &PQfinish);
    if (PQstatus(conn.get()) != CONNECTION_OK) {
        ADD_FAILURE() << "cannot connect to the replica: " << PQerrorMessage(conn.get());
        return;
    }
    const std::string sql = "SELECT pg_last_wal_replay_lsn() >= '" + target + "'::pg_lsn";
    for (int i = 0; i < 3000; i++) {
        std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(conn.get(), sql.c_str()), &PQclear);
        if (PQresultStatus(result.get()) == PGRES_TUPLES_OK && std::string(PQgetvalue(result.get(), 0, 0)) == "t")
            return;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "the replica on port " << replica_port << " did not catch up with " << target;
}

}  // namespace stratum::test
