// pool.query's tenant bound as a parameter of the statement itself
// (stratum.tenant_param): learnt with the first context a connection sends,
// then isolating, refusing and failing exactly as the set_tenant statement
// did, with the tenant gone when the transaction ends.
#include <gtest/gtest.h>

#include <stratum/stratum.hpp>

#include "client_support.hpp"
#include "test_env.hpp"

using namespace stratum;

namespace {

const std::string db = "stratum_tenant_param_test";
const TenantId dormant{"cccccccc-0000-4000-8000-000000000003"};
const TenantId unknown{"dddddddd-0000-4000-8000-000000000004"};

class TenantParamTest : public ::testing::Test {
protected:
    static void SetUpTestSuite()
    {
        test::recreate_database(db);
        test::create_tenant_table("notes", "id int PRIMARY KEY, body text NOT NULL", db);
        test::admin_sql("INSERT INTO stratum.tenants (id, slug, name, status) VALUES "
                        "('cccccccc-0000-4000-8000-000000000003', 'dormant', 'Dormant', 'suspended')",
                        db);
    }
    void SetUp() override { test::admin_sql("TRUNCATE notes", db); }

    // The parameter types of the statement this connection prepared for sql.
    static std::string prepared_types(Connection &connection, const std::string &sql)
    {
        return connection
            .exec("SELECT coalesce(string_agg(parameter_types::text, ';' ORDER BY parameter_types::text), "
                  "'none') "
                  "FROM pg_prepared_statements WHERE statement = $1",
                  sql)
            .value<std::string>();
    }
};

TEST_F(TenantParamTest, TheFirstContextStatementTeachesTheConnectionToBindTheTenant)
{
    Pool pool(test::app_pool_options(db));
    Lease lease = pool.acquire();
    EXPECT_FALSE(lease->binds_tenant());
    const std::string insert = "INSERT INTO notes (id, body) VALUES ($1, $2)";
    lease->query(test::acme, insert, 1, "first");
    ASSERT_TRUE(lease->binds_tenant());
    const auto trips = lease->round_trips();
    lease->query(test::acme, insert, 2, "bound");
    EXPECT_EQ(lease->round_trips() - trips, 1u);
    // The server holds the statement with one more parameter, of the tenant type.
    EXPECT_EQ(prepared_types(*lease, insert), "{integer,text,stratum.tenant_param};{integer,text}");
    // Both rows are acme's, stamped by the column default from the context.
    EXPECT_EQ(test::admin_sql("SELECT string_agg(tenant_id || ':' || body, ',' ORDER BY id) FROM notes", db),
              test::acme.str() + ":first," + test::acme.str() + ":bound");
}

TEST_F(TenantParamTest, EachStatementSeesOnlyItsBoundTenantAndNothingOutlivesIt)
{
    Pool pool(test::app_pool_options(db));
    Lease lease = pool.acquire();
    lease->query(test::acme, "INSERT INTO notes (id, body) VALUES (1, 'acme')");
    lease->query(test::globex, "INSERT INTO notes (id, body) VALUES (2, 'globex')");
    ASSERT_TRUE(lease->binds_tenant());
    for (int i = 0; i < 3; i++) {
        EXPECT_EQ(lease->query(test::acme, "SELECT string_agg(body, ',') FROM notes").value<std::string>(), "acme");
        EXPECT_EQ(lease->query(test::globex, "SELECT string_agg(body, ',') FROM notes").value<std::string>(),
                  "globex");
        EXPECT_EQ(lease->query(test::globex, "SELECT count(*) FROM notes WHERE id = $1", 1).value<int>(), 0);
    }
    // The next transaction on the same session has no tenant: refused, not empty.
    EXPECT_THROW(lease->exec("SELECT count(*) FROM notes"), NoTenantContext);
    EXPECT_EQ(lease->exec("SELECT stratum.current_tenant_or_null() IS NULL").value<bool>(), true);
    EXPECT_TRUE(lease->is_clean());
}

TEST_F(TenantParamTest, ABoundTenantCannotWriteAnotherTenantsRows)
{
    Pool pool(test::app_pool_options(db));
    Lease lease = pool.acquire();
    lease->query(test::globex, "INSERT INTO notes (id, body) VALUES (7, 'globex')");
    ASSERT_TRUE(lease->binds_tenant());
    EXPECT_THROW(lease->query(test::acme, "INSERT INTO notes (tenant_id, id, body) VALUES ($1, 8, 'forged')",
                              test::globex.str()),
                 TenantViolation);
    EXPECT_EQ(lease->query(test::acme, "UPDATE notes SET body = 'taken' WHERE id = 7").affected_rows(), 0u);
    EXPECT_EQ(lease->query(test::acme, "DELETE FROM notes").affected_rows(), 0u);
    EXPECT_EQ(test::admin_sql("SELECT body FROM notes WHERE id = 7", db), "globex");
    EXPECT_EQ(test::admin_sql("SELECT count(*) FROM notes", db), "1");
}

TEST_F(TenantParamTest, UnknownAndSuspendedTenantsAreRefusedAtBind)
{
    Pool pool(test::app_pool_options(db));
    Lease lease = pool.acquire();
    lease->query(test::acme, "SELECT 1");
    ASSERT_TRUE(lease->binds_tenant());
    for (int i = 0; i < 2; i++) {
        EXPECT_THROW(lease->query(unknown, "SELECT count(*) FROM notes"), UnknownTenant);
        EXPECT_THROW(lease->query(dormant, "INSERT INTO notes (id, body) VALUES (9, 'x')"), InactiveTenant);
        EXPECT_TRUE(lease->is_clean());
    }
    EXPECT_EQ(test::admin_sql("SELECT count(*) FROM notes", db), "0");
    EXPECT_TRUE(lease->binds_tenant());
    EXPECT_EQ(lease->query(test::acme, "SELECT count(*) FROM notes").value<int>(), 0);
}

TEST_F(TenantParamTest, AFailedStatementLeavesTheConnectionBinding)
{
    Pool pool(test::app_pool_options(db));
    Lease lease = pool.acquire();
    lease->query(test::acme, "SELECT 1");
    EXPECT_THROW(lease->query(test::acme, "SELEC 1"), SyntaxError);
    EXPECT_THROW(lease->query(test::acme, "SELECT $1::int", "not a number"), DataError);
    EXPECT_TRUE(lease->is_clean());
    EXPECT_TRUE(lease->binds_tenant());
    EXPECT_EQ(lease->query(test::acme, "SELECT 40 + $1::int", 2).value<int>(), 42);
}

TEST_F(TenantParamTest, UnnamedStatementsBindTheTenantToo)
{
    PoolOptions o = test::app_pool_options(db);
    o.connection.prepared_statements = false;
    Pool pool(o);
    Lease lease = pool.acquire();
    lease->query(test::acme, "INSERT INTO notes (id, body) VALUES ($1, 'one')", 1);
    ASSERT_TRUE(lease->binds_tenant());
    lease->query(test::acme, "INSERT INTO notes (id, body) VALUES ($1, 'two')", 2);
    EXPECT_EQ(lease->prepared_count(), 0u);
    EXPECT_EQ(lease->query(test::globex, "SELECT count(*) FROM notes").value<int>(), 0);
    EXPECT_EQ(lease->query(test::acme, "SELECT count(*) FROM notes").value<int>(), 2);
}

TEST_F(TenantParamTest, AnActorKeepsTheContextStatement)
{
    test::admin_sql("SELECT stratum.enable_audit('notes')", db);
    Pool pool(test::app_pool_options(db));
    Lease lease = pool.acquire();
    lease->query(test::acme, "SELECT 1");
    ASSERT_TRUE(lease->binds_tenant());
    QueryOptions as_alice;
    as_alice.actor = "alice";
    lease->query(test::acme, as_alice, "INSERT INTO notes (id, body) VALUES (3, 'by alice')");
    lease->query(test::acme, "INSERT INTO notes (id, body) VALUES (4, 'by nobody')");
    EXPECT_EQ(test::admin_sql("SELECT string_agg(coalesce(actor, '-') || ':' || tenant_id, ',' ORDER BY id) "
                              "FROM stratum.audit_log WHERE table_name = 'notes'",
                              db),
              "alice:" + test::acme.str() + ",-:" + test::acme.str());
    test::admin_sql("SELECT stratum.disable_audit('notes')", db);
}

TEST_F(TenantParamTest, ATransactionBindsItsTenantToItsFirstStatement)
{
    Pool pool(test::app_pool_options(db));
    Lease lease = pool.acquire();
    lease->query(test::globex, "INSERT INTO notes (id, body) VALUES (1, 'globex')");
    ASSERT_TRUE(lease->binds_tenant());
    const std::string first = "INSERT INTO notes (id, body) VALUES ($1, 'in tx')";
    {
        Tx tx(*lease, test::acme);
        tx.exec(first, 2);
        // Later statements of the block run under the tenant the first one bound.
        EXPECT_EQ(tx.exec("SELECT string_agg(body, ',') FROM notes").value<std::string>(), "in tx");
        EXPECT_EQ(tx.exec("SELECT stratum.current_tenant()::text").value<std::string>(), test::acme.str());
        tx.commit();
    }
    EXPECT_EQ(prepared_types(*lease, first), "{integer,stratum.tenant_param}");
    EXPECT_THROW(lease->exec("SELECT count(*) FROM notes"), NoTenantContext);
    EXPECT_EQ(pool.with_tenant(test::acme, [](Tx &tx) {
                  return tx.exec("SELECT count(*) FROM notes").value<int>();
              }),
              1);
    EXPECT_EQ(test::admin_sql("SELECT tenant_id FROM notes WHERE id = 2", db), test::acme.str());
}

TEST_F(TenantParamTest, ATransactionAloneTeachesTheConnectionToo)
{
    PoolOptions o = test::app_pool_options(db);
    o.max_size = 1;
    Pool pool(o);
    const std::string insert = "INSERT INTO notes (id, body) VALUES ($1, 'tx')";
    pool.with_tenant(test::acme, [&](Tx &tx) { tx.exec(insert, 1); });
    pool.with_tenant(test::acme, [&](Tx &tx) { tx.exec(insert, 2); });
    Lease lease = pool.acquire();
    EXPECT_TRUE(lease->binds_tenant());
    EXPECT_EQ(prepared_types(*lease, insert), "{integer,stratum.tenant_param};{integer}");
    EXPECT_EQ(test::admin_sql("SELECT string_agg(tenant_id::text, ',') FROM notes", db),
              test::acme.str() + "," + test::acme.str());
}

TEST_F(TenantParamTest, NothingIsBoundBeforeTheConnectionLearntTheType)
{
    Pool pool(test::app_pool_options(db));
    Lease lease = pool.acquire();
    const std::string tenant = test::acme.str();
    EXPECT_THROW(lease->send_binding_tenant("SELECT 1", Params(), tenant.c_str()), UsageError);
    EXPECT_EQ(lease->queued(), 0u);
    EXPECT_TRUE(lease->is_clean());
}

TEST_F(TenantParamTest, AnExtensionWithoutTheTypeKeepsTheContextStatement)
{
    const std::string older = "stratum_tenant_param_older_test";
    test::recreate_database(older);
    // What an extension built before stratum.tenant_param holds.
    test::admin_sql("ALTER EXTENSION stratum DROP FUNCTION stratum.tenant_param_out(stratum.tenant_param); "
                    "ALTER EXTENSION stratum DROP FUNCTION stratum.tenant_param_in(cstring); "
                    "ALTER EXTENSION stratum DROP TYPE stratum.tenant_param; "
                    "DROP TYPE stratum.tenant_param CASCADE",
                    older);
    Pool pool(test::app_pool_options(older));
    Lease lease = pool.acquire();
    for (int i = 0; i < 3; i++) {
        EXPECT_EQ(lease->query(test::acme, "SELECT stratum.current_tenant()::text").value<std::string>(),
                  test::acme.str());
        EXPECT_FALSE(lease->binds_tenant());
    }
    EXPECT_EQ(pool.with_tenant(test::globex, [](Tx &tx) {
                  return tx.exec("SELECT stratum.current_tenant()::text").value<std::string>();
              }),
              test::globex.str());
}

TEST_F(TenantParamTest, AStaleTypeOidRetiresTheConnection)
{
    const std::string other = "stratum_tenant_param_drop_test";
    test::recreate_database(other);
    Pool pool(test::app_pool_options(other));
    Lease lease = pool.acquire();
    lease->query(test::acme, "SELECT 1");
    lease->query(test::acme, "SELECT 2");
    ASSERT_TRUE(lease->binds_tenant());
    // The extension dropped and created again: its type has a new OID.
    test::admin_sql("DROP EXTENSION stratum CASCADE; CREATE EXTENSION stratum; "
                    "SELECT stratum.grant_app_role('stratum_app'); "
                    "INSERT INTO stratum.tenants (id, slug, name) VALUES ('" + test::acme.str() +
                        "', 'acme', 'Acme Corp')",
                    other);
    try {
        lease->query(test::acme, "SELECT 2");
        FAIL() << "the stale type was accepted";
    } catch (const Error &error) {
        EXPECT_EQ(error.sqlstate(), "XX000") << error.what();
    }
    EXPECT_TRUE(lease->is_broken());
    lease.discard();
    Lease fresh = pool.acquire();
    EXPECT_EQ(fresh->query(test::acme, "SELECT 2").value<int>(), 2);
    EXPECT_EQ(fresh->query(test::acme, "SELECT stratum.current_tenant()::text").value<std::string>(),
              test::acme.str());
    EXPECT_TRUE(fresh->binds_tenant());
}

}  // namespace
