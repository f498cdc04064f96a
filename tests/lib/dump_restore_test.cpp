// pg_dump / pg_restore round trip of a database using stratum: the restore
// must succeed with --exit-on-error (no object created twice: the audit log's
// monthly partitions, their indexes and policies, the partition event
// trigger), keep every row of the registry, the audit log and the ledger,
// and leave tenant isolation intact.
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "test_env.hpp"

namespace {

using stratum::test::admin_sql;
using stratum::test::recreate_database;
using stratum::test::required_env;

std::string connection_flags()
{
    return "-h " + required_env("STRATUM_TEST_PGHOST") + " -p " +
           required_env("STRATUM_TEST_PGPORT") + " -U postgres";
}

int shell(const std::string &command)
{
    int status = std::system(command.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(DumpRestore, RoundTripKeepsRowsAndIsolation)
{
    const std::string source = "dump_source", target = "dump_target";
    recreate_database(source);
    admin_sql("DROP DATABASE IF EXISTS " + target + " WITH (FORCE)", "postgres");
    admin_sql("CREATE DATABASE " + target, "postgres");

    admin_sql(R"sql(
        SELECT stratum.create_base_table('projects', 'name text NOT NULL');
        CREATE TABLE events (id int, at date NOT NULL, tenant_id uuid NOT NULL)
            PARTITION BY RANGE (at);
        CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
        SELECT stratum.enable_tenancy('events');
        SELECT stratum.enable_audit('events');
        SELECT stratum.create_audit_partitions(2);
        SELECT stratum.apply_migration('master', 1, 'notes', 'CREATE TABLE notes (id int)',
                                       'DROP TABLE notes');
    )sql", source);
    for (const char *tenant : {"aaaaaaaa-0000-4000-8000-000000000001",
                               "bbbbbbbb-0000-4000-8000-000000000002"}) {
        admin_sql(std::string("BEGIN; SELECT stratum.set_tenant('") + tenant + "');"
                  "INSERT INTO projects (name) SELECT 'p' || g FROM generate_series(1, 50) g;"
                  "INSERT INTO events SELECT g, '2026-06-01', stratum.current_tenant() "
                  "  FROM generate_series(1, 20) g; COMMIT;",
                  source);
    }

    std::string dump_file = "/tmp/stratum_dump_restore_" + std::to_string(getpid()) + ".dump";
    ASSERT_EQ(shell("pg_dump -Fc " + connection_flags() + " -d " + source + " -f " + dump_file), 0);
    int restored = shell("pg_restore --exit-on-error " + connection_flags() + " -d " + target +
                         " " + dump_file + " 2>&1");
    std::remove(dump_file.c_str());
    ASSERT_EQ(restored, 0) << "pg_restore --exit-on-error failed";

    const char *counts =
        "SELECT (SELECT count(*) FROM stratum.tenants) || '/' || "
        "(SELECT count(*) FROM stratum.audit_log) || '/' || "
        "(SELECT count(*) FROM stratum.schema_migrations) || '/' || "
        "(SELECT count(*) FROM projects) || '/' || (SELECT count(*) FROM events)";
    EXPECT_EQ(admin_sql(counts, target), admin_sql(counts, source));
    EXPECT_EQ(admin_sql("SELECT count(*) FROM stratum.audit_log", target), "140");

    // Isolation holds after the restore: every relation ok or shared, and a
    // tenant sees only its own rows (as the application role).
    EXPECT_EQ(admin_sql("SELECT string_agg(relation::text || ' ' || verdict, ', ') "
                        "FROM stratum.isolation_report() WHERE verdict NOT IN ('ok', 'shared')",
                        target),
              "");
    EXPECT_EQ(admin_sql("SET ROLE stratum_app; BEGIN;"
                        "SELECT stratum.set_tenant('aaaaaaaa-0000-4000-8000-000000000001');"
                        "SELECT count(*) FROM projects;",
                        target),
              "50");
    // The ledger still rolls back from its stored down SQL.
    EXPECT_EQ(admin_sql("SELECT stratum.rollback_migration('master', 1)", target), "rolled_back");
}

}  // namespace
