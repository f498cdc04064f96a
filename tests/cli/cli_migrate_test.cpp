// The stratum command's migration subcommands, run as a subprocess: exit
// codes (0 done or nothing to do, 4 nothing to do with --detailed-exitcode,
// 3 drift or failed verification, 1 failure, 2 usage), --json output, and
// messages that name the file.
#include <cstdlib>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "migration_fixture.hpp"

using namespace stratum::test;
using nlohmann::json;

namespace {

const std::string db = "stratum_cli_migrate_test";

struct Output {
    int status = -1;
    std::string out;
    std::string err;
};

class CliMigrateTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        recreate_database(db);
        dir.copy_from(source_dir() / "migrations");
    }

    // Runs `stratum <args>` with DATABASE_URL set to the migration role.
    Output stratum(const std::string &args) const
    {
        std::string err_file = (dir.path() / "stderr.txt").string();
        std::string command = "DATABASE_URL='" + owner_conninfo(db) + "' STRATUM_CONFIG= STRATUM_ENV= " +
                              required_env("STRATUM_TEST_BIN_DIR") + "/stratum " + args + " 2>" + err_file;
        CommandOutput run = run_command(command);
        std::ifstream in(err_file);
        std::string err((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        return {run.status, run.out, err};
    }
    std::string migrate(const std::string &args) const { return "migrate " + args + " --dir " + dir.path().string(); }
    std::string sql(const std::string &statement) const { return admin_sql(statement, db); }

    MigrationDir dir;
};

TEST_F(CliMigrateTest, UpStatusAndNothingToDo)
{
    Output status = stratum(migrate("status"));
    EXPECT_EQ(status.status, 0) << status.err;
    EXPECT_NE(status.out.find("4 pending"), std::string::npos) << status.out;
    EXPECT_EQ(stratum(migrate("status --detailed-exitcode")).status, 0);  // there is something to do

    Output up = stratum(migrate("up --json"));
    ASSERT_EQ(up.status, 0) << up.err;
    json result = json::parse(up.out);
    EXPECT_EQ(result["operation"], "up");
    EXPECT_EQ(result["counts"]["applied"], 4);
    EXPECT_EQ(result["migrations"][3]["transactional"], false);
    EXPECT_EQ(result["migrations"][0]["file"], "master/001_create_users.up.sql");
    EXPECT_EQ(result["nothing_to_do"], false);

    Output again = stratum(migrate("up"));
    EXPECT_EQ(again.status, 0);
    EXPECT_NE(again.out.find("nothing to do"), std::string::npos) << again.out;
    EXPECT_EQ(stratum(migrate("up --detailed-exitcode")).status, 4);

    Output json_status = stratum(migrate("status --json --detailed-exitcode"));
    EXPECT_EQ(json_status.status, 4);
    json report = json::parse(json_status.out);
    EXPECT_EQ(report["up_to_date"], true);
    EXPECT_EQ(report["counts"]["applied"], 4);
    EXPECT_TRUE(report["waits"].is_array());

    Output verify = stratum(migrate("verify"));
    EXPECT_EQ(verify.status, 0) << verify.out << verify.err;
    EXPECT_NE(verify.out.find("ok:"), std::string::npos);
}

TEST_F(CliMigrateTest, DriftExitsThree)
{
    ASSERT_EQ(stratum(migrate("up -q")).status, 0);
    std::ofstream(dir.path() / "master/003_create_activity_logs.up.sql", std::ios::app) << "\n-- edited\n";
    Output up = stratum(migrate("up"));
    EXPECT_EQ(up.status, 3);
    EXPECT_NE(up.err.find("master/3 (create_activity_logs)"), std::string::npos) << up.err;
    EXPECT_NE(up.err.find("SQLSTATE SM001"), std::string::npos) << up.err;
    EXPECT_NE(up.err.find("--repair"), std::string::npos) << up.err;
    EXPECT_EQ(stratum(migrate("status")).status, 3);
    Output verify = stratum(migrate("verify --json"));
    EXPECT_EQ(verify.status, 3);
    json report = json::parse(verify.out);
    EXPECT_EQ(report["ok"], false);
    EXPECT_EQ(report["files"][0]["state"], "drifted");
    Output up_json = stratum(migrate("up --json"));
    EXPECT_EQ(up_json.status, 3);
    EXPECT_EQ(json::parse(up_json.out)["error"]["reason"], "drift");

    EXPECT_EQ(stratum(migrate("up --repair -q")).status, 0);
    EXPECT_EQ(stratum(migrate("verify")).status, 0);
}

TEST_F(CliMigrateTest, TamperedLedgerFailsVerify)
{
    ASSERT_EQ(stratum(migrate("up -q")).status, 0);
    sql("UPDATE stratum.schema_migrations SET up_sql = up_sql || ' ' WHERE version = 2 AND scope = 'master'");
    Output verify = stratum(migrate("verify"));
    EXPECT_EQ(verify.status, 3);
    EXPECT_NE(verify.out.find("up_sql_changed"), std::string::npos) << verify.out;
}

TEST_F(CliMigrateTest, FailureExitsOneNamingTheFile)
{
    dir.write("master/005_broken.up.sql", "CREATE TABLE broken (id int REFERENCES nosuch (id));\n");
    dir.write("master/005_broken.down.sql", "DROP TABLE broken;\n");
    Output up = stratum(migrate("up"));
    EXPECT_EQ(up.status, 1);
    EXPECT_NE(up.err.find("master/005_broken.up.sql"), std::string::npos) << up.err;
    EXPECT_NE(up.err.find("SQLSTATE 42P01"), std::string::npos) << up.err;
    EXPECT_NE(up.err.find("4 migrations done before the failure stay done"), std::string::npos) << up.err;
    Output json_up = stratum(migrate("up --json"));
    EXPECT_EQ(json_up.status, 1);
    json error = json::parse(json_up.out)["error"];
    EXPECT_EQ(error["reason"], "failed");
    EXPECT_EQ(error["failure"]["version"], 5);
    EXPECT_EQ(error["sqlstate"], "42P01");
}

TEST_F(CliMigrateTest, BadFilesExitOneWithEveryProblem)
{
    dir.write("master/005_latin1.up.sql", "SELECT 'caf\xe9';\n");
    dir.write("master/005_latin1.down.sql", "SELECT 1;\n");
    dir.write("master/006_open.up.sql", "SELECT 'open;\n");
    dir.write("master/006_open.down.sql", "SELECT 1;\n");
    Output up = stratum(migrate("up"));
    EXPECT_EQ(up.status, 1);
    EXPECT_NE(up.err.find("master/005_latin1.up.sql:1: is not valid UTF-8"), std::string::npos) << up.err;
    EXPECT_NE(up.err.find("master/006_open.up.sql:1: unterminated quoted string"), std::string::npos) << up.err;
    Output json_up = stratum(migrate("up --json"));
    EXPECT_EQ(json_up.status, 1);
    json error = json::parse(json_up.out)["error"];
    EXPECT_EQ(error["reason"], "file");
    EXPECT_EQ(error["problems"].size(), 2u);
    EXPECT_EQ(sql("SELECT count(*) FROM stratum.schema_migrations"), "0");
}

TEST_F(CliMigrateTest, ImportFromGolangMigrate)
{
    // The project's migrations, applied by golang-migrate up to version 2.
    ASSERT_EQ(stratum(migrate("up -q --to 2")).status, 0);
    sql("TRUNCATE stratum.schema_migrations, stratum.schema_migration_log; "
        "CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL); "
        "INSERT INTO schema_migrations VALUES (2, true); "
        "GRANT SELECT ON schema_migrations TO stratum_owner");
    Output dirty = stratum(migrate("import --from golang-migrate"));
    EXPECT_EQ(dirty.status, 1);
    EXPECT_NE(dirty.err.find("is dirty at version 2"), std::string::npos) << dirty.err;
    EXPECT_EQ(stratum(migrate("import --from nosuch")).status, 2);

    sql("UPDATE schema_migrations SET dirty = false");
    Output imported = stratum(migrate("import --from golang-migrate"));
    ASSERT_EQ(imported.status, 0) << imported.err;
    EXPECT_NE(imported.out.find("import master: 2 imported"), std::string::npos) << imported.out;
    Output again = stratum(migrate("import --from golang-migrate --detailed-exitcode"));
    EXPECT_EQ(again.status, 4) << again.out << again.err;
    Output up = stratum(migrate("up --json"));
    ASSERT_EQ(up.status, 0) << up.err;
    EXPECT_EQ(json::parse(up.out)["counts"]["applied"], 2);  // 3 and 4 only: 1 and 2 are not run again
}

TEST_F(CliMigrateTest, VerifyNamesInvalidIndexes)
{
    ASSERT_EQ(stratum(migrate("up -q")).status, 0);
    sql("CREATE TABLE dupes (id int); INSERT INTO dupes VALUES (1), (1)");
    CommandOutput failed = run_command("psql -X -q -h " + required_env("STRATUM_TEST_PGHOST") + " -p " +
                                       required_env("STRATUM_TEST_PGPORT") + " -U postgres -d " + db +
                                       " -c 'CREATE UNIQUE INDEX CONCURRENTLY dupes_id ON dupes (id)' 2>&1");
    EXPECT_NE(failed.status, 0) << failed.out;
    Output verify = stratum(migrate("verify"));
    EXPECT_EQ(verify.status, 3);
    EXPECT_NE(verify.out.find("index   public.dupes_id on dupes  INVALID"), std::string::npos) << verify.out;
    Output as_json = stratum(migrate("verify --json"));
    EXPECT_EQ(json::parse(as_json.out)["invalid_indexes"][0]["index"], "dupes_id");
}

TEST_F(CliMigrateTest, DownRedoAndUsageErrors)
{
    ASSERT_EQ(stratum(migrate("up -q")).status, 0);
    Output down = stratum(migrate("down --steps 2 --json"));
    ASSERT_EQ(down.status, 0) << down.err;
    json result = json::parse(down.out);
    EXPECT_EQ(result["counts"]["rolled_back"], 2);
    EXPECT_EQ(result["migrations"][0]["version"], 4);
    EXPECT_EQ(stratum(migrate("redo -q")).status, 0);
    Output down_all = stratum(migrate("down --to 0"));
    EXPECT_EQ(down_all.status, 0) << down_all.err;
    EXPECT_NE(down_all.out.find("down master: 2 rolled back in "), std::string::npos) << down_all.out;
    EXPECT_EQ(stratum(migrate("down --detailed-exitcode -q")).status, 4);  // nothing left

    EXPECT_EQ(stratum(migrate("down --steps 0")).status, 2);
    EXPECT_EQ(stratum(migrate("down --steps 1 --to 2")).status, 2);
    EXPECT_EQ(stratum(migrate("up --no-such-flag")).status, 2);
    EXPECT_EQ(stratum("migrate").status, 2);
    Output config = stratum("--config /nonexistent/stratum.yaml " + migrate("status"));
    EXPECT_EQ(config.status, 2);
    Output timeout = stratum(migrate("up --lock-timeout soon"));
    EXPECT_EQ(timeout.status, 2);
    EXPECT_NE(timeout.err.find("--lock-timeout"), std::string::npos) << timeout.err;
}

TEST_F(CliMigrateTest, SeedAndTenants)
{
    ASSERT_EQ(stratum(migrate("up -q")).status, 0);
    Output seed = stratum("seed --env development --dir " + dir.path().string());
    EXPECT_EQ(seed.status, 0) << seed.err;
    EXPECT_NE(seed.out.find("2 applied"), std::string::npos) << seed.out;
    EXPECT_EQ(stratum("seed --env development --detailed-exitcode --dir " + dir.path().string()).status, 4);
    EXPECT_EQ(stratum("seed --env nosuch --dir " + dir.path().string()).status, 1);

    std::string tenants_dir = " --dir " + dir.path().string();
    Output behind = stratum("tenant list --behind --json" + tenants_dir);
    ASSERT_EQ(behind.status, 0) << behind.err;
    EXPECT_EQ(json::parse(behind.out).size(), 2u);  // acme and globex have schemas, nothing applied
    Output migrate_tenants = stratum("tenant migrate --jobs 2 --json" + tenants_dir);
    ASSERT_EQ(migrate_tenants.status, 0) << migrate_tenants.err;
    json run = json::parse(migrate_tenants.out);
    EXPECT_EQ(run["migrated"], 2);
    EXPECT_EQ(run["failed"], 0);
    EXPECT_EQ(stratum("tenant migrate --detailed-exitcode" + tenants_dir).status, 4);

    Output created = stratum("tenant create initech 'Initech Corp' --schema --json" + tenants_dir);
    ASSERT_EQ(created.status, 0) << created.err;
    json tenant = json::parse(created.out);
    EXPECT_EQ(tenant["schema_name"], "tenant_initech");
    EXPECT_EQ(tenant["latest_version"], 2);
    Output duplicate = stratum("tenant create initech 'Again'" + tenants_dir);
    EXPECT_EQ(duplicate.status, 1);
    EXPECT_NE(duplicate.err.find("already exists"), std::string::npos) << duplicate.err;
    Output list = stratum("tenant list" + tenants_dir);
    EXPECT_EQ(list.status, 0);
    EXPECT_NE(list.out.find("tenant_initech"), std::string::npos);
    EXPECT_NE(list.out.find("3 tenants"), std::string::npos) << list.out;
}

}  // namespace
