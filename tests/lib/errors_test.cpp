// Error mapping: real server errors become the right stratum exception with
// the server's fields; plus the client-side pieces (Uuid, conversions, Params).
#include <gtest/gtest.h>

#include <stratum/stratum.hpp>

#include "../../client/lib/commit_resolution.hpp"  // detail::reads_only
#include "client_support.hpp"
#include "test_env.hpp"

using namespace stratum;

namespace {

const std::string db = "stratum_errors_test";

class ErrorsTest : public ::testing::Test {
protected:
    static void SetUpTestSuite()
    {
        test::recreate_database(db);
        test::create_tenant_table(
            "parents", "id int PRIMARY KEY, email text UNIQUE, qty int CHECK (qty >= 0), "
                       "name text NOT NULL DEFAULT 'x'",
            db);
        test::create_tenant_table("children", "id int PRIMARY KEY, parent_id int REFERENCES parents(id)",
                                  db);
        test::owner_sql("CREATE TABLE secret_stuff (id int)", db);  // not granted to the app
        test::admin_sql("INSERT INTO stratum.tenants (id, slug, name, status) VALUES "
                        "('cccccccc-0000-4000-8000-000000000003', 'dormant', 'Dormant', 'suspended')",
                        db);
        pool = new Pool(test::app_pool_options(db));
    }
    static void TearDownTestSuite()
    {
        delete pool;
        pool = nullptr;
    }

    // Runs sql as acme and returns the exception it raised.
    template <class E>
    static E expect_error(const std::string &sql, const Params &params = Params())
    {
        try {
            pool->query(test::acme, sql, params);
        } catch (const E &error) {
            return error;
        } catch (const std::exception &other) {
            ADD_FAILURE() << sql << " threw another exception: " << other.what();
            throw;
        }
        ADD_FAILURE() << sql << " did not throw";
        throw std::logic_error("no error");
    }

    static Pool *pool;
};

Pool *ErrorsTest::pool = nullptr;

TEST_F(ErrorsTest, UniqueViolationKeepsConstraintTableAndDetail)
{
    pool->query(test::acme, "INSERT INTO parents (id, email, qty) VALUES (1, 'a@example.com', 1)");
    auto e = expect_error<UniqueViolation>(
        "INSERT INTO parents (id, email, qty) VALUES (2, 'a@example.com', 1)");
    EXPECT_EQ(e.sqlstate(), "23505");
    EXPECT_EQ(e.constraint(), "parents_email_key");
    EXPECT_EQ(e.table(), "parents");
    EXPECT_EQ(e.schema(), "public");
    // The server leaves the key out of the detail on a table with row level
    // security (docs/client.md says so): the detail is empty.
    EXPECT_EQ(e.detail(), "");
    // what() carries the message and code, never the detail (it quotes values).
    EXPECT_EQ(std::string(e.what()),
              "duplicate key value violates unique constraint \"parents_email_key\" [SQLSTATE 23505]");
    EXPECT_EQ(std::string(e.what()).find("a@example.com"), std::string::npos);
    EXPECT_NE(e.statement().find("INSERT INTO parents"), std::string::npos);
    // Caught as its base classes too.
    EXPECT_TRUE(dynamic_cast<const IntegrityViolation *>(&e) != nullptr);
    EXPECT_FALSE(e.is_transient());
}

TEST_F(ErrorsTest, ForeignKeyCheckAndNotNullViolations)
{
    pool->query(test::acme, "INSERT INTO parents (id, email, qty) VALUES (10, 'p10@example.com', 0)");
    auto fk = expect_error<ForeignKeyViolation>("INSERT INTO children (id, parent_id) VALUES (1, 999)");
    EXPECT_EQ(fk.sqlstate(), "23503");
    EXPECT_EQ(fk.constraint(), "children_parent_id_fkey");

    auto check = expect_error<CheckViolation>("UPDATE parents SET qty = -1 WHERE id = 10");
    EXPECT_EQ(check.constraint(), "parents_qty_check");

    auto not_null = expect_error<NotNullViolation>("UPDATE parents SET name = NULL WHERE id = 10");
    EXPECT_EQ(not_null.column(), "name");
    EXPECT_EQ(not_null.table(), "parents");
}

TEST_F(ErrorsTest, StatementErrors)
{
    auto syntax = expect_error<SyntaxError>("SELEC 1");
    EXPECT_EQ(syntax.sqlstate(), "42601");
    auto table = expect_error<UndefinedTable>("SELECT * FROM no_such_table");
    EXPECT_EQ(table.sqlstate(), "42P01");
    auto column = expect_error<UndefinedColumn>("SELECT no_such_column FROM parents");
    EXPECT_EQ(column.sqlstate(), "42703");
    auto function = expect_error<UndefinedFunction>("SELECT no_such_function()");
    EXPECT_EQ(function.sqlstate(), "42883");
    auto data = expect_error<DataError>("SELECT 1 / 0");
    EXPECT_EQ(data.sqlstate(), "22012");
    auto cast = expect_error<DataError>("SELECT $1::int", Params("not a number"));
    EXPECT_EQ(cast.sqlstate(), "22P02");
}

TEST_F(ErrorsTest, NoTenantContext)
{
    Lease lease = pool->acquire();
    try {
        lease->exec("SELECT count(*) FROM parents");
        FAIL() << "reading a tenant table without a tenant must fail";
    } catch (const NoTenantContext &e) {
        EXPECT_EQ(e.sqlstate(), "42501");
        EXPECT_TRUE(e.message().starts_with("no tenant context"));
        EXPECT_NE(e.hint().find("set_tenant"), std::string::npos);
    }
    // A tenant context set in an earlier transaction is gone.
    lease->query(test::acme, "SELECT 1");
    EXPECT_THROW(lease->exec("SELECT stratum.current_tenant()"), NoTenantContext);
}

TEST_F(ErrorsTest, TenantViolationsArePermissionDenied)
{
    // RLS WITH CHECK: a row for another tenant.
    auto rls = expect_error<TenantViolation>(
        "INSERT INTO parents (id, email, qty, tenant_id) VALUES (20, 'x@example.com', 1, $1)",
        Params(test::globex));
    EXPECT_EQ(rls.sqlstate(), "42501");
    EXPECT_TRUE(rls.message().starts_with("new row violates row-level security policy"));

    // The guard: tenant_id cannot change (even to the current tenant's own rows' value... of another).
    pool->query(test::acme, "INSERT INTO parents (id, email, qty) VALUES (21, 'y@example.com', 1)");
    try {
        pool->query(test::acme, "UPDATE parents SET tenant_id = $1 WHERE id = 21", test::globex);
        FAIL() << "moving a row to another tenant must fail";
    } catch (const PermissionDenied &e) {
        // Either the policy's WITH CHECK or the guard catches it; both are tenant violations.
        EXPECT_TRUE(dynamic_cast<const TenantViolation *>(&e) != nullptr) << e.what();
    }

    // A privilege error is a PermissionDenied, not a tenant violation.
    try {
        pool->query(test::acme, "SELECT * FROM secret_stuff");
        FAIL() << "the application role has no privilege on secret_stuff";
    } catch (const PermissionDenied &denied) {
        EXPECT_EQ(dynamic_cast<const TenantViolation *>(&denied), nullptr);
        EXPECT_EQ(dynamic_cast<const NoTenantContext *>(&denied), nullptr);
        EXPECT_NE(denied.message().find("permission denied"), std::string::npos);
    }
}

TEST_F(ErrorsTest, UnknownAndInactiveTenants)
{
    try {
        pool->query(TenantId("dddddddd-0000-4000-8000-000000000004"), "SELECT 1");
        FAIL();
    } catch (const UnknownTenant &e) {
        EXPECT_EQ(e.sqlstate(), "42704");
        EXPECT_NE(e.message().find("not registered"), std::string::npos);
    }
    try {
        pool->query(TenantId("cccccccc-0000-4000-8000-000000000003"), "SELECT 1");
        FAIL();
    } catch (const InactiveTenant &e) {
        EXPECT_EQ(e.sqlstate(), "55000");
    }
}

TEST_F(ErrorsTest, ConnectionKeepsWorkingAfterErrors)
{
    Lease lease = pool->acquire();
    for (int i = 0; i < 3; i++) {
        EXPECT_THROW(lease->exec("SELECT * FROM no_such_table"), UndefinedTable);
        EXPECT_EQ(lease->exec("SELECT 41 + $1::int", Params(1)).value<int>(), 42);
        EXPECT_TRUE(lease->is_clean());
    }
}

TEST(ErrorMapping, ClassFallbacksAndTransience)
{
    auto raise = [](std::string code, std::string message = "m") {
        try {
            throw_error(ErrorFields{.sqlstate = std::move(code), .message = std::move(message)});
        } catch (const Error &) {
            return std::current_exception();
        }
        return std::exception_ptr();
    };
    auto is = [&]<class E>(std::string code, std::string message = "m") {
        try {
            std::rethrow_exception(raise(std::move(code), std::move(message)));
        } catch (const E &) {
            return true;
        } catch (...) {
            return false;
        }
    };
    EXPECT_TRUE(is.operator()<ConnectionLost>("08006"));
    EXPECT_TRUE(is.operator()<ServerShutdown>("57P01"));
    EXPECT_TRUE(is.operator()<ConnectionLost>("57P01"));
    EXPECT_TRUE(is.operator()<SerializationFailure>("40001"));
    EXPECT_TRUE(is.operator()<DeadlockDetected>("40P01"));
    EXPECT_TRUE(is.operator()<TransactionRollback>("40002"));
    EXPECT_TRUE(is.operator()<IntegrityViolation>("23000"));
    EXPECT_TRUE(is.operator()<DataError>("22001"));
    EXPECT_TRUE(is.operator()<QueryCanceled>("57014"));
    EXPECT_TRUE(is.operator()<Timeout>("57014"));
    EXPECT_TRUE(is.operator()<ReadOnlyTransaction>("25006"));
    EXPECT_TRUE(is.operator()<NoTenantContext>("42501", "no tenant context is set"));
    EXPECT_TRUE(is.operator()<TenantViolation>("42501", "tenant_id of a row in t cannot be changed"));
    EXPECT_FALSE(is.operator()<TenantViolation>("42501", "permission denied for table t"));
    EXPECT_FALSE(is.operator()<UnknownTenant>("42704", "type \"x\" does not exist"));
    EXPECT_TRUE(is.operator()<Error>("XX000"));
    EXPECT_TRUE(Error("40001", "x").is_transient());
    EXPECT_TRUE(Error("40P01", "x").is_transient());
    EXPECT_FALSE(Error("23505", "x").is_transient());
}

// Each error says whether its work may have committed.
TEST(ErrorMapping, CommitOutcomeOfEachClass)
{
    EXPECT_TRUE(ConnectionLost("08006", "x").committed_unknown());  // until libstratum knows better
    EXPECT_TRUE(ServerShutdown("57P01", "x").committed_unknown());
    EXPECT_TRUE(CannotConnect("08001", "x").definitely_not_committed());  // nothing sent
    EXPECT_TRUE(PoolExhausted(1, 0, {}, {}).definitely_not_committed());
    EXPECT_TRUE(AcquireTimeout(ErrorFields{.message = "x"}).definitely_not_committed());
    EXPECT_TRUE(UniqueViolation("23505", "x").definitely_not_committed());
    CommitOutcomeUnknown unknown("123456", "the server is down");
    EXPECT_TRUE(unknown.committed_unknown());
    EXPECT_EQ(unknown.sqlstate(), "08007");
    EXPECT_EQ(unknown.xid(), "123456");
    EXPECT_NE(std::string(unknown.what()).find("123456"), std::string::npos);
    EXPECT_TRUE((std::is_base_of_v<ConnectionLost, CommitOutcomeUnknown>));
    EXPECT_TRUE((std::is_base_of_v<AcquireTimeout, PoolExhausted>));
    EXPECT_FALSE((std::is_base_of_v<AcquireTimeout, QueryCanceled>));
    // Copies keep it (exceptions are copied).
    ConnectionLost lost("08006", "x");
    lost.set_committed_unknown(false);
    ConnectionLost copy = lost;
    EXPECT_TRUE(copy.definitely_not_committed());
}

TEST(ErrorMapping, PoolExhaustedNamesSizeWaitersAndHolder)
{
    PoolExhausted e(25, 7, std::chrono::milliseconds(1234), std::chrono::milliseconds(500));
    std::string text = e.what();
    EXPECT_NE(text.find("25 connections"), std::string::npos) << text;
    EXPECT_NE(text.find("7 waiters"), std::string::npos) << text;
    EXPECT_NE(text.find("1234 ms"), std::string::npos) << text;
    EXPECT_EQ(e.pool_size(), 25u);
    EXPECT_EQ(e.waiters(), 7u);
}

TEST(Uuid, ParsesCanonicalAndRejectsGarbage)
{
    Uuid id("AAAAAAAA-0000-4000-8000-00000000000F");
    EXPECT_EQ(id.view(), "aaaaaaaa-0000-4000-8000-00000000000f");
    EXPECT_EQ(Uuid("{aaaaaaaa-0000-4000-8000-00000000000f}"), id);
    EXPECT_TRUE(Uuid().is_nil());
    EXPECT_FALSE(Uuid::parse("aaaaaaaa-0000-4000-8000-00000000000"));
    EXPECT_FALSE(Uuid::parse("aaaaaaaa00000-4000-8000-00000000000f"));
    EXPECT_FALSE(Uuid::parse("gaaaaaaa-0000-4000-8000-00000000000f"));
    try {
        TenantId bad("'; DROP TABLE x; --");
        FAIL();
    } catch (const ValidationError &e) {
        EXPECT_EQ(e.field(), "uuid");
    }
}

TEST(Conversions, RoundTripAndErrors)
{
    EXPECT_EQ(from_text<int>("42"), 42);
    EXPECT_EQ(from_text<long long>("-9000000000"), -9000000000LL);
    EXPECT_THROW(from_text<int>("42x"), UnexpectedResult);
    EXPECT_THROW(from_text<short>("70000"), UnexpectedResult);
    EXPECT_DOUBLE_EQ(from_text<double>("2.5"), 2.5);
    EXPECT_TRUE(from_text<bool>("t"));
    EXPECT_THROW(from_text<bool>("yes"), UnexpectedResult);
    std::vector<std::string> words{"a", "b c", "d\"e", "f\\g", ""};
    EXPECT_EQ(Conversion<std::vector<std::string>>::to_text(words),
              R"({"a","b c","d\"e","f\\g",""})");
    EXPECT_EQ(from_text<std::vector<std::string>>(R"({a,"b c","d\"e","f\\g",""})"), words);
    auto with_null = from_text<std::vector<std::optional<int>>>("{1,NULL,3}");
    ASSERT_EQ(with_null.size(), 3u);
    EXPECT_FALSE(with_null[1].has_value());
    EXPECT_EQ(*with_null[2], 3);
}

// Which statements pass for reads (no transaction id asked for with them):
// the first word after spaces and comments, in any case, ASCII only.
TEST(ReadsOnly, TheFirstKeywordDecides)
{
    for (const char *sql : {"SELECT 1", "select 1", "  \t\n SeLeCt 1", "VALUES (1)", "table t",
                            "SHOW work_mem", "-- note\nSELECT 1", "/* note */ select 1",
                            "/* a */ -- b\n  TABLE t", "SELECT\u00e9"})
        EXPECT_TRUE(detail::reads_only(sql)) << sql;
    for (const char *sql : {"", "   ", "INSERT INTO t VALUES (1)", "update t set x = 1",
                            "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", "selects",
                            "-- only a comment", "/* unterminated SELECT", "(SELECT 1)",
                            "\u00a0SELECT 1", "CALL p()"})
        EXPECT_FALSE(detail::reads_only(sql)) << sql;
}

TEST(ParamsTest, RedactsSecretsAndNulls)
{
    std::optional<int> none;
    Params params(1, "text", secret(std::string("hunter2")), none, nullptr, test::acme);
    ASSERT_EQ(params.size(), 6u);
    EXPECT_TRUE(params.is_secret(2));
    EXPECT_TRUE(params.is_null(3));
    EXPECT_TRUE(params.is_null(4));
    std::string shown = params.redacted();
    EXPECT_EQ(shown.find("hunter2"), std::string::npos) << shown;
    EXPECT_NE(shown.find("$3=<secret>"), std::string::npos) << shown;
    EXPECT_NE(shown.find("$4=NULL"), std::string::npos) << shown;
    EXPECT_NE(shown.find("$6='aaaaaaaa-0000-4000-8000-000000000001'"), std::string::npos) << shown;
}

// Parameters reach the server in order, NULLs as NULL, whether the statement
// has few of them (kept in place) or more (a vector); the same Params again
// after it grew from one to the other.
TEST_F(ErrorsTest, FewAndManyParametersAndNullsReachTheServer)
{
    Lease lease = pool->acquire();
    Params params(1, 2, nullptr, 4, 5, 6);
    const std::string few = "SELECT concat_ws(',', $1::int, $2::int, coalesce($3::text, 'null'), "
                            "$4::int, $5::int, $6::int)";
    EXPECT_EQ(lease->exec(few, params).value<std::string>(), "1,2,null,4,5,6");
    params.add(7).add_null().add(std::string("nine"));
    EXPECT_EQ(lease->exec("SELECT concat_ws(',', $1::int, $2::int, coalesce($3::text, 'null'), "
                          "$4::int, $5::int, $6::int, $7::int, coalesce($8::text, 'null'), $9::text)",
                          params)
                  .value<std::string>(),
              "1,2,null,4,5,6,7,null,nine");
}

TEST_F(ErrorsTest, ResultShapeHelpers)
{
    Result rows = pool->query(test::acme, "SELECT g AS n, g::text AS t, NULL::int AS z "
                                          "FROM generate_series(1, 3) g");
    EXPECT_EQ(rows.size(), 3u);
    EXPECT_EQ(rows.columns(), 3);
    EXPECT_EQ(rows.column_index("t"), 1);
    EXPECT_THROW(rows.column_index("nope"), UnexpectedResult);
    EXPECT_THROW(rows.one_row(), UnexpectedResult);
    EXPECT_THROW(rows.value<int>(), UnexpectedResult);
    EXPECT_THROW(rows.no_rows(), UnexpectedResult);
    EXPECT_EQ(rows.column_values<int>(), (std::vector<int>{1, 2, 3}));
    auto [n, t] = rows[1].as<int, std::string>();
    EXPECT_EQ(n, 2);
    EXPECT_EQ(t, "2");
    EXPECT_FALSE(rows[0]["z"].as<std::optional<int>>().has_value());
    EXPECT_THROW(rows[0]["z"].as<int>(), UnexpectedResult);
    int sum = 0;
    for (Row row : rows)
        sum += row["n"].as<int>();
    EXPECT_EQ(sum, 6);
    Result none = pool->query(test::acme, "SELECT 1 WHERE false");
    EXPECT_FALSE(none.optional_row().has_value());
    none.no_rows();
    Result updated = pool->query(test::acme, "UPDATE parents SET qty = qty WHERE false");
    EXPECT_EQ(updated.affected_rows(), 0u);
    EXPECT_EQ(updated.command_tag(), "UPDATE 0");
}

}  // namespace
