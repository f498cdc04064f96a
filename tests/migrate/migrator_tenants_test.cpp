// Schema-per-tenant: creating tenants with schemas, who is behind, migrating
// every tenant schema with several workers, a failing tenant, and resuming.
#include <map>
#include <set>

#include <gtest/gtest.h>

#include <stratum/migrator.hpp>
#include <stratum/stratum.hpp>

#include "migration_fixture.hpp"

using namespace stratum;
using namespace stratum::test;

namespace {

const std::string db = "stratum_migrator_tenants_test";

class TenantsTest : public MigratorFixture {
protected:
    TenantsTest() : MigratorFixture(db) {}
    void SetUp() override
    {
        MigratorFixture::SetUp();
        dir.migration(1, "projects", "CREATE TABLE projects (id int PRIMARY KEY, name text NOT NULL);",
                      "DROP TABLE projects;", "tenants");
        dir.migration(2, "tasks",
                      "-- stratum: depends 1\n"
                      "CREATE TABLE tasks (id int PRIMARY KEY, project_id int REFERENCES projects (id));",
                      "DROP TABLE tasks;", "tenants");
    }

    // n tenants t01..tNN with schemas, made by the migration role (which
    // then owns the schemas).
    void make_tenants(int n) const
    {
        auto conn = Connection::open(owner_conninfo(db), {},
                                     std::chrono::steady_clock::now() + std::chrono::seconds(10));
        conn->exec("SELECT stratum.create_tenant_schema(stratum.create_tenant("
                   "format('t%s', lpad(g::text, 2, '0')), format('Tenant %s', g))) "
                   "FROM generate_series(1, $1::int) g",
                   n);
    }
};

TEST_F(TenantsTest, CreateWithSchemaAppliesTheTenantMigrations)
{
    TenantInfo info = migrator().create_tenant("initech", "Initech", true);
    EXPECT_EQ(info.slug, "initech");
    EXPECT_EQ(info.schema_name, "tenant_initech");
    EXPECT_EQ(info.latest_version, 2);
    EXPECT_TRUE(info.missing_versions.empty());
    EXPECT_EQ(sql("SELECT to_regclass('tenant_initech.tasks') IS NOT NULL"), "t");
    EXPECT_EQ(sql("SELECT count(*) FROM stratum.schema_migrations WHERE scope = 'tenant_initech'"), "2");

    TenantInfo plain = migrator().create_tenant("hooli", "Hooli", false);
    EXPECT_EQ(plain.schema_name, "");
    EXPECT_FALSE(plain.latest_version.has_value());
    EXPECT_THROW(migrator().create_tenant("initech", "Again", false), UniqueViolation);
    EXPECT_THROW(migrator().create_tenant("Bad Slug", "x", false), Error);

    std::vector<TenantInfo> all = migrator().list_tenants();
    std::set<std::string> slugs;
    for (const auto &t : all)
        slugs.insert(t.slug);
    EXPECT_EQ(slugs, (std::set<std::string>{"acme", "globex", "hooli", "initech"}));
}

TEST_F(TenantsTest, WorkersMigrateEveryTenantExactlyOnce)
{
    make_tenants(24);
    std::vector<TenantInfo> behind = migrator().tenants_behind();
    ASSERT_EQ(behind.size(), 24u);
    EXPECT_EQ(behind[0].missing_versions, (std::vector<std::int64_t>{1, 2}));

    MigratorOptions options;
    options.jobs = 4;
    TenantRunResult run = migrator(options).migrate_tenants();
    EXPECT_TRUE(run.ok()) << run.to_json(2);
    EXPECT_EQ(run.queued, 24u);
    EXPECT_EQ(run.tenants_total, 24u);
    EXPECT_EQ(run.count("migrated"), 24u);
    std::set<int> workers;
    std::set<std::string> scopes;
    for (const auto &t : run.tenants) {
        workers.insert(t.worker);
        scopes.insert(t.scope);
        ASSERT_EQ(t.migrations.size(), 2u);
        EXPECT_EQ(t.migrations[0].action, "applied");
    }
    EXPECT_EQ(scopes.size(), 24u);
    EXPECT_GT(workers.size(), 1u);  // the work was shared
    EXPECT_EQ(sql("SELECT count(*) FROM stratum.schema_migration_log WHERE scope LIKE 'tenant_t%'"), "48");
    EXPECT_EQ(sql("SELECT count(*) FROM pg_tables WHERE tablename = 'tasks' AND schemaname LIKE 'tenant_t%'"), "24");
    EXPECT_TRUE(migrator().tenants_behind().empty());

    TenantRunResult again = migrator(options).migrate_tenants();
    EXPECT_TRUE(again.nothing_to_do());
    EXPECT_TRUE(again.tenants.empty());
}

TEST_F(TenantsTest, AFailingTenantDoesNotStopTheOthersAndTheNextRunResumes)
{
    make_tenants(12);
    // Tenant t07's schema already has a table the migration creates.
    sql("CREATE TABLE tenant_t07.projects (id int)");
    MigratorOptions options;
    options.jobs = 3;
    TenantRunResult run = migrator(options).migrate_tenants();
    EXPECT_FALSE(run.ok());
    EXPECT_EQ(run.count("migrated"), 11u);
    ASSERT_EQ(run.count("failed"), 1u) << run.to_json(2);
    const TenantOutcome *failed = nullptr;
    for (const auto &t : run.tenants)
        if (t.state == "failed")
            failed = &t;
    ASSERT_NE(failed, nullptr);
    EXPECT_EQ(failed->scope, "tenant_t07");
    EXPECT_EQ(failed->sqlstate, "42P07");
    EXPECT_NE(failed->error.find("migration tenant_t07/1 (projects)"), std::string::npos) << failed->error;
    EXPECT_NE(run.to_json().find("\"failed\":1"), std::string::npos);
    // Nothing half-done in the failed schema; the queue remembers.
    EXPECT_EQ(sql("SELECT count(*) FROM stratum.schema_migrations WHERE scope = 'tenant_t07'"), "0");
    EXPECT_EQ(sql("SELECT state || ':' || attempts FROM stratum.tenant_migration_queue WHERE scope = 'tenant_t07'"),
              "failed:1");
    std::vector<TenantInfo> behind = migrator().tenants_behind();
    ASSERT_EQ(behind.size(), 1u);
    EXPECT_EQ(behind[0].slug, "t07");

    // Fixed, the next run takes only what is left.
    sql("DROP TABLE tenant_t07.projects");
    TenantRunResult resumed = migrator(options).migrate_tenants();
    EXPECT_TRUE(resumed.ok());
    EXPECT_EQ(resumed.queued, 1u);
    ASSERT_EQ(resumed.tenants.size(), 1u);
    EXPECT_EQ(resumed.tenants[0].scope, "tenant_t07");
    EXPECT_TRUE(migrator().tenants_behind().empty());
    EXPECT_EQ(sql("SELECT count(*) FROM stratum.tenant_migration_queue WHERE state <> 'done'"), "0");
}

TEST_F(TenantsTest, NewTenantMigrationGoesToEverySchema)
{
    make_tenants(5);
    migrator().migrate_tenants();
    dir.migration(3, "labels", "ALTER TABLE tasks ADD COLUMN label text;", "ALTER TABLE tasks DROP COLUMN label;",
                  "tenants");
    std::vector<TenantInfo> behind = migrator().tenants_behind();
    ASSERT_EQ(behind.size(), 5u);
    EXPECT_EQ(behind[0].missing_versions, (std::vector<std::int64_t>{3}));
    EXPECT_EQ(behind[0].latest_version, 2);
    TenantRunResult run = migrator().migrate_tenants();
    EXPECT_EQ(run.count("migrated"), 5u);
    for (const auto &t : run.tenants) {
        ASSERT_EQ(t.migrations.size(), 3u);  // the applied ones skip
        EXPECT_EQ(t.migrations[0].action, "skipped");
        EXPECT_EQ(t.migrations[2].action, "applied");
    }
    EXPECT_EQ(sql("SELECT count(*) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
                  "WHERE c.relname = 'tasks' AND a.attname = 'label'"),
              "5");
}

TEST_F(TenantsTest, OneTenantSchemaCanBeMigratedAndRolledBackAlone)
{
    make_tenants(2);
    MigratorOptions options;
    options.scope = "tenant_t01";
    EXPECT_EQ(migrator(options).up().count("applied"), 2u);
    EXPECT_EQ(migrator(options).status().count("applied"), 2u);
    EXPECT_EQ(migrator(options).down().count("rolled_back"), 1u);
    EXPECT_EQ(sql("SELECT to_regclass('tenant_t01.tasks') IS NULL AND to_regclass('tenant_t01.projects') IS NOT NULL"),
              "t");
    EXPECT_EQ(sql("SELECT to_regclass('tenant_t02.projects') IS NULL"), "t");

    options.scope = "tenant_nosuch";
    try {
        migrator(options).up();
        FAIL() << "migrated a schema that is no tenant's";
    } catch (const MigrationError &error) {
        EXPECT_EQ(error.sqlstate(), "3F000");
    }
}

TEST_F(TenantsTest, NonTransactionalTenantMigrationsAreRefused)
{
    make_tenants(1);
    dir.migration(3, "index", "-- stratum: no-transaction\nCREATE INDEX CONCURRENTLY i ON tasks (id);",
                  "DROP INDEX CONCURRENTLY i;", "tenants");
    try {
        migrator().migrate_tenants();
        FAIL() << "non-transactional tenant migration accepted";
    } catch (const MigrationError &error) {
        EXPECT_EQ(error.reason(), MigrationErrorReason::invalid);
        EXPECT_NE(std::string(error.what()).find("tenants/003_index.up.sql"), std::string::npos);
    }
    EXPECT_EQ(sql("SELECT count(*) FROM stratum.schema_migrations"), "0");
}

}  // namespace
