// Connection strings built from the configuration: escaping checked by libpq's
// own parser and by logging in to the real server with a hostile password.
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include "stratum/config.hpp"
#include "test_env.hpp"

using testing::HasSubstr;

namespace {

const std::string hostile = "p@ss w'o\\rd=\"x\" 'y' \\'z";

bool can_connect(const std::string &conninfo, std::string *error = nullptr)
{
    std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(conninfo.c_str()), &PQfinish);
    bool ok = PQstatus(conn.get()) == CONNECTION_OK;
    if (!ok && error != nullptr)
        *error = PQerrorMessage(conn.get());
    return ok;
}

}  // namespace

TEST(Conninfo, QuotesAndEscapes)
{
    EXPECT_EQ(stratum::conninfo::quote("plain"), "'plain'");
    EXPECT_EQ(stratum::conninfo::quote("it's"), "'it\\'s'");
    EXPECT_EQ(stratum::conninfo::quote("back\\slash"), "'back\\\\slash'");
    EXPECT_EQ(stratum::conninfo::quote(""), "''");
}

TEST(Conninfo, LibpqParsesBackExactlyWhatWasConfigured)
{
    for (const std::string &value :
         {hostile, std::string("with spaces"), std::string("a=b"), std::string("@host"),
          std::string("\\"), std::string("'"), std::string("\\'"), std::string("trailing\\"),
          std::string("ünïcödé"), std::string("tab\there"), std::string("new\nline")}) {
        stratum::PostgresEndpoint endpoint;
        endpoint.host = "h";
        endpoint.user = value;
        endpoint.dbname = "db " + value;
        endpoint.password = stratum::Secret(value);
        endpoint.application_name = value;
        auto parsed = stratum::conninfo::parse(endpoint.conninfo());
        EXPECT_EQ(parsed["user"], value);
        EXPECT_EQ(parsed["dbname"], "db " + value);
        EXPECT_EQ(parsed["password"], value);
        EXPECT_EQ(parsed["application_name"], value);
        EXPECT_EQ(parsed["host"], "h");
        EXPECT_EQ(parsed["fallback_application_name"], "");  // an explicit name wins
    }
}

TEST(Conninfo, ParseRefusesGarbageWithLibpqsReason)
{
    EXPECT_THROW(stratum::conninfo::parse("host=h nonsense_keyword=1"), std::invalid_argument);
    EXPECT_THROW(stratum::conninfo::parse("postgres://h/db?bogus=1"), std::invalid_argument);
    EXPECT_THROW(stratum::conninfo::parse("host='unterminated"), std::invalid_argument);
    EXPECT_EQ(stratum::conninfo::parse("postgres://u@h:1/d")["dbname"], "d");
    const auto &keywords = stratum::conninfo::known_keywords();
    EXPECT_NE(std::find(keywords.begin(), keywords.end(), "target_session_attrs"), keywords.end());
}

// The harness's cluster trusts every local connection, which would accept any
// password. For one role, this fixture puts a scram-sha-256 rule in front of
// pg_hba.conf, so the server really checks the password we send.
class HostilePassword : public testing::Test {
protected:
    static constexpr const char *role = "stratum_hostile_pw";

    void SetUp() override
    {
        hba_file_ = stratum::test::admin_sql("SHOW hba_file", "postgres");
        ASSERT_FALSE(hba_file_.empty());
        std::ifstream in(hba_file_);
        ASSERT_TRUE(in) << "cannot read " << hba_file_ << " (the tests run as root)";
        std::ostringstream text;
        text << in.rdbuf();
        original_ = text.str();
        std::ofstream out(hba_file_, std::ios::trunc);
        ASSERT_TRUE(out) << "cannot write " << hba_file_;
        out << "host all " << role << " 127.0.0.1/32 scram-sha-256\n" << original_;
        out.close();
        stratum::test::admin_sql("SELECT pg_reload_conf()", "postgres");

        stratum::test::admin_sql(std::string("DROP ROLE IF EXISTS ") + role, "postgres");
        std::unique_ptr<PGconn, decltype(&PQfinish)> admin(
            PQconnectdb(stratum::test::superuser_conninfo("postgres").c_str()), &PQfinish);
        ASSERT_EQ(PQstatus(admin.get()), CONNECTION_OK);
        char *literal = PQescapeLiteral(admin.get(), hostile.c_str(), hostile.size());
        std::string sql = std::string("SET password_encryption = 'scram-sha-256'; CREATE ROLE ") +
                          role + " LOGIN PASSWORD " + literal;
        PQfreemem(literal);
        stratum::test::admin_sql(sql, "postgres");
    }

    void TearDown() override
    {
        if (!original_.empty()) {
            std::ofstream out(hba_file_, std::ios::trunc);
            out << original_;
            out.close();
            stratum::test::admin_sql("SELECT pg_reload_conf()", "postgres");
        }
        stratum::test::admin_sql(std::string("DROP ROLE IF EXISTS ") + role, "postgres");
    }

    stratum::Config config_with_password(const std::string &password)
    {
        stratum::LoadOptions load;
        load.env = std::map<std::string, std::string>{{"PGPASSWORD", password}};
        std::string yaml = "database: {postgres: {master: {host: '127.0.0.1', port: " +
                           stratum::test::required_env("STRATUM_TEST_PGPORT") + ", user: " + role +
                           ", dbname: postgres, sslmode: disable}}}";
        return stratum::Config::parse(yaml, "inline", load);
    }

    std::string hba_file_;
    std::string original_;
};

TEST_F(HostilePassword, LogsInWithTheExactPasswordAndOnlyWithIt)
{
    // The reload is asynchronous: wait (bounded) until the rule is in force,
    // that is until a wrong password is refused.
    std::string error;
    bool refused = false;
    for (int attempt = 0; attempt < 50 && !refused; ++attempt) {
        refused = !can_connect(config_with_password("wrong").postgres_master_conninfo(), &error);
        if (!refused)
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_TRUE(refused) << "the scram rule never took effect";
    EXPECT_THAT(error, HasSubstr("password authentication failed"));

    std::string conninfo = config_with_password(hostile).postgres_master_conninfo();
    EXPECT_TRUE(can_connect(conninfo, &error)) << error;

    // A near miss (the backslashes unescaped) is refused: the escaping matters.
    EXPECT_FALSE(can_connect(config_with_password("p@ss w'o"
                                                  "rd=\"x\" 'y' 'z")
                                 .postgres_master_conninfo()));
}
