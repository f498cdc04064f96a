// The servers `make test` started (scripts/test.sh), as the tests see them.
// Every accessor fails the running test when its variable is missing: an
// integration test that cannot reach its server fails, it never skips.
#pragma once

#include <string>
#include <vector>

namespace stratum::test {

// Value of an environment variable; ADD_FAILURE and "" when it is unset.
std::string required_env(const char *name);

// libpq connection string of the primary as superuser, database `dbname`.
std::string superuser_conninfo(const std::string &dbname = "stratum_test");

// libpq connection string for the application role stratum_app (not owner,
// not superuser) on database `dbname`.
std::string app_conninfo(const std::string &dbname = "stratum_test");

// The same, through PgBouncer in transaction pooling mode.
std::string pgbouncer_conninfo(const std::string &user, const std::string &dbname = "stratum_test");

// host:port of the test Redis.
std::string redis_address();

// Creates (or re-creates) database `dbname` from the template that has the
// extension, the tenants acme/globex and the roles installed.
void recreate_database(const std::string &dbname);

// Runs SQL as superuser on `dbname`; fails the test on error and returns the
// first column of the first row ("" if none).
std::string admin_sql(const std::string &sql, const std::string &dbname = "stratum_test");

// Runs pg_ctl against the test cluster, e.g. pg_ctl("restart -m fast").
// Returns the exit status.
int pg_ctl(const std::string &arguments);

// libpq connection string for `user` on `dbname` of the cluster listening on
// 127.0.0.1:`port` (the replicas and the failover pair).
std::string conninfo_at(const std::string &port, const std::string &user,
                        const std::string &dbname = "stratum_test");

// Ports of the two streaming replicas of the test cluster.
std::vector<std::string> replica_ports();

// pg_ctl of another cluster of the harness, named by its environment
// variable: "STRATUM_TEST_PGCTL_REPLICA1", "..._FAILOVER_PRIMARY", ...
int pg_ctl_of(const std::string &variable, const std::string &arguments);

// Waits (up to 30 s) until the replica at `replica_port` has replayed all the
// WAL its primary (the test cluster, or the one at `primary_port`) has
// written so far; fails the test otherwise.
void wait_for_replica(const std::string &replica_port, const std::string &primary_port = "");

}  // namespace stratum::test
