// Without shared_preload_libraries a backend loads stratum at its first
// stratum call. A tenant SET before that is kept by PostgreSQL as a
// placeholder and re-applied when the library defines the GUC, without
// saying in which transaction it was set: it must not become the tenant of
// the transaction that happens to load the library.
#include <gtest/gtest.h>

#include <stratum/stratum.hpp>

#include "test_env.hpp"

using namespace stratum;

namespace {

std::unique_ptr<Connection> connect_without_preload(const std::string &user)
{
    const std::string conninfo = "host=127.0.0.1 port=" +
                                 test::required_env("STRATUM_TEST_NOPRELOAD_PORT") + " user=" +
                                 user + " dbname=stratum_test";
    return Connection::open(conninfo, {}, std::chrono::steady_clock::now() + std::chrono::seconds(10));
}

TEST(LazyLoad, ATenantSetBeforeTheLibraryLoadedIsNotTheNextTransactionsTenant)
{
    auto conn = connect_without_preload("stratum_app");
    // Not loaded yet: the server takes any value for a placeholder.
    EXPECT_EQ(conn->exec("SELECT count(*)::int FROM pg_settings WHERE name = 'stratum.tenant_id'")
                  .value<int>(),
              0);
    conn->exec("SET stratum.tenant_id = 'aaaaaaaa-0000-4000-8000-000000000001'");
    conn->exec("SET stratum.actor = 'user:earlier'");

    // The next transaction loads the library: neither value is its own.
    Result context = conn->exec("SELECT stratum.current_tenant_or_null()::text, stratum.current_actor()");
    EXPECT_TRUE(context[0][0].is_null()) << context[0][0].as<std::string>();
    EXPECT_TRUE(context[0][1].is_null()) << context[0][1].as<std::string>();
    EXPECT_THROW(conn->exec("SELECT stratum.current_tenant()"), NoTenantContext);

    // Once loaded, the tenant of a transaction is what it sets.
    conn->exec("BEGIN");
    conn->exec("SELECT stratum.set_tenant('bbbbbbbb-0000-4000-8000-000000000002')");
    EXPECT_EQ(conn->exec("SELECT stratum.current_tenant()::text").value<std::string>(),
              "bbbbbbbb-0000-4000-8000-000000000002");
    conn->exec("COMMIT");
    EXPECT_TRUE(conn->exec("SELECT stratum.current_tenant_or_null()")[0][0].is_null());
}

TEST(LazyLoad, AnInvalidPlaceholderValueIsNotTakenEither)
{
    auto conn = connect_without_preload("stratum_app");
    conn->exec("SET stratum.tenant_id = 'not a uuid'");
    // Re-applying it fails validation: PostgreSQL warns and keeps the default.
    EXPECT_TRUE(conn->exec("SELECT stratum.current_tenant_or_null()")[0][0].is_null());
    EXPECT_THROW(conn->exec("SET stratum.tenant_id = 'still not a uuid'"), Error);
}

}  // namespace
