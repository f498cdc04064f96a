// libstratum against a Citus coordinator, run by scripts/citus_test.sh after
// the regress/citus suites (their tables, roles and tenants) with
// STRATUM_TEST_CITUS_CONNINFO naming the coordinator as the application role.
// pool.query must reach the workers with its tenant: on Citus the context
// travels to them inside a transaction block only.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <string>

#include <libpq-fe.h>

#include <stratum/stratum.hpp>

using namespace stratum;

namespace {

const TenantId tenant_a{"aaaaaaaa-0000-4000-8000-000000000001"};
const TenantId tenant_b{"bbbbbbbb-0000-4000-8000-000000000002"};

std::string conninfo()
{
    const char *value = std::getenv("STRATUM_TEST_CITUS_CONNINFO");
    return value != nullptr ? value : "";
}

class CitusClientTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        if (conninfo().empty())
            GTEST_SKIP() << "STRATUM_TEST_CITUS_CONNINFO is not set (scripts/citus_test.sh sets it)";
        PoolOptions options;
        options.primary = conninfo();
        options.min_size = 1;
        options.max_size = 1;  // every call reuses the one connection
        options.background_maintenance = false;
        pool = std::make_unique<Pool>(options);
    }
    long count_with_tenant(const TenantId &tenant, const std::string &where)
    {
        return pool->with_tenant(tenant, [&](Tx &tx) {
            return tx.exec("SELECT count(*) FROM projects WHERE " + where).value<long>();
        });
    }
    std::unique_ptr<Pool> pool;
};

TEST_F(CitusClientTest, ServerAsksForTransactionBlocks)
{
    Lease lease = pool->acquire();
    EXPECT_TRUE(lease->context_needs_transaction_block());
    lease->query(tenant_a, "SELECT count(*) FROM projects");
    // From the second query on, the tenant is bound to the statement.
    EXPECT_TRUE(lease->binds_tenant());
}

// A tenant bound to the statement sets the same SET LOCAL (at Bind), which
// Citus forwards to the workers when the statement opens its transactions
// there: every path sees exactly what the context statement showed.
TEST_F(CitusClientTest, TheTenantBoundToTheStatementReachesTheWorkers)
{
    QueryOptions with_actor;  // an actor keeps the context statement
    with_actor.actor = "citus-test";
    const std::string count_all = "SELECT count(*) FROM projects";
    const std::string count_of = "SELECT count(*) FROM projects WHERE tenant_id = $1::uuid";
    const long a = pool->query(tenant_a, with_actor, count_all).value<long>();
    const long b = pool->query(tenant_b, with_actor, count_all).value<long>();
    ASSERT_GT(a, 0);
    ASSERT_GT(b, 0);
    pool->query(tenant_a, "SELECT 1");  // learns the type
    Lease lease = pool->acquire();
    ASSERT_TRUE(lease->binds_tenant());
    for (int i = 0; i < 2; i++) {
        EXPECT_EQ(lease->query(tenant_a, count_all).value<long>(), a);                  // every shard
        EXPECT_EQ(lease->query(tenant_b, count_all).value<long>(), b);
        EXPECT_EQ(lease->query(tenant_a, count_of, tenant_a.str()).value<long>(), a);   // one shard
        EXPECT_EQ(lease->query(tenant_a, count_of, tenant_b.str()).value<long>(), 0);   // B's shard, as A
        EXPECT_EQ(lease->query(tenant_b, count_of, tenant_a.str()).value<long>(), 0);
    }
    EXPECT_FALSE(lease->in_transaction());
}

// The peer that shows why: the same pipeline without a block reaches the
// workers without a tenant, and they refuse it (never rows).
TEST_F(CitusClientTest, WithoutABlockTheWorkersRefuse)
{
    PGconn *c = PQconnectdb(conninfo().c_str());
    ASSERT_EQ(PQstatus(c), CONNECTION_OK);
    ASSERT_EQ(PQenterPipelineMode(c), 1);
    const std::string id = tenant_a.str();
    const char *values[] = {id.c_str()};
    PQsendQueryParams(c, "SELECT stratum.set_tenant($1)", 1, nullptr, values, nullptr, nullptr, 0);
    PQsendQueryParams(c, "SELECT count(*) FROM projects", 0, nullptr, nullptr, nullptr, nullptr, 0);
    PQpipelineSync(c);
    std::string sqlstate;
    for (int ended = 0; ended < 2;) {
        PGresult *r = PQgetResult(c);
        if (r == nullptr) {
            ended++;
            continue;
        }
        if (PQresultStatus(r) == PGRES_FATAL_ERROR)
            sqlstate = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        PQclear(r);
    }
    PQfinish(c);
    EXPECT_EQ(sqlstate, "42501");
}

TEST_F(CitusClientTest, QueryReadsItsTenantsRowsOnTheWorkers)
{
    const long a = count_with_tenant(tenant_a, "true");
    const long b = count_with_tenant(tenant_b, "true");
    ASSERT_GT(a, 0);
    const auto before = pool->metrics().round_trips;
    EXPECT_EQ(pool->query(tenant_a, "SELECT count(*) FROM projects").value<long>(), a);
    EXPECT_EQ(pool->query(tenant_b, "SELECT count(*) FROM projects").value<long>(), b);
    EXPECT_EQ(pool->metrics().round_trips - before, 2u);  // still one round trip per query
}

TEST_F(CitusClientTest, QueryWritesAsItsTenantAndCommits)
{
    const std::string name = "pool.query on citus " + std::to_string(::getpid());
    const TenantId written{pool->query(tenant_a,
                                       "INSERT INTO projects (name) VALUES ($1) RETURNING tenant_id",
                                       name)
                               .value<std::string>()};
    EXPECT_EQ(written, tenant_a);
    EXPECT_EQ(count_with_tenant(tenant_a, "name = '" + name + "'"), 1);
    EXPECT_EQ(count_with_tenant(tenant_b, "name = '" + name + "'"), 0);
}

TEST_F(CitusClientTest, AFailedQueryLeavesTheConnectionUsable)
{
    try {
        pool->query(tenant_a, "SELECT 1 / (count(*) - count(*)) FROM projects");
        FAIL() << "division by zero expected";
    } catch (const Error &e) {
        EXPECT_EQ(e.sqlstate(), "22012");
    }
    EXPECT_FALSE(pool->acquire()->in_transaction());
    EXPECT_GT(pool->query(tenant_a, "SELECT count(*) FROM projects").value<long>(), 0);
    EXPECT_EQ(pool->metrics().endpoints.at(0).closed, 0u);  // rolled back, not discarded
}

}  // namespace
