// Migration files without a server: names, pairs, headers, text checks and
// the checksum (compared with the server's in migrator_test).
#include <gtest/gtest.h>

#include <stratum/migration_files.hpp>

#include "migration_fixture.hpp"

using namespace stratum;
using stratum::test::MigrationDir;

namespace {

MigrationSet load(const MigrationDir &dir, MigrationKind kind = MigrationKind::migration,
                  const std::string &sub = "master")
{
    return load_migration_set(dir.path() / sub, kind, dir.path());
}

// Every problem message of loading `dir`, joined.
std::string problems_of(const MigrationDir &dir, MigrationKind kind = MigrationKind::migration,
                        const std::string &sub = "master")
{
    try {
        load(dir, kind, sub);
    } catch (const MigrationFileError &error) {
        return error.what();
    }
    return "";
}

TEST(MigrationChecksum, IsSha256OfTheBytes)
{
    // sha256("") and sha256("abc"), well known.
    EXPECT_EQ(migration_checksum(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(migration_checksum("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(MigrationChecksum, CrLfCountsAsLfAndNothingElseIsNormalised)
{
    EXPECT_EQ(migration_checksum("a;\r\nb;\r\n"), migration_checksum("a;\nb;\n"));
    EXPECT_NE(migration_checksum("a;\rb;"), migration_checksum("a;\nb;"));       // lone CR
    EXPECT_NE(migration_checksum("a;\n"), migration_checksum("a;"));              // final newline
    EXPECT_NE(migration_checksum("a; "), migration_checksum("a;"));               // a blank
}

TEST(MigrationFiles, SortsVersionsNumerically)
{
    MigrationDir dir;
    dir.migration(100, "c", "SELECT 3;", "SELECT 3;");
    dir.migration(20, "b", "SELECT 2;", "SELECT 2;");
    dir.write("master/3_a.up.sql", "SELECT 1;");
    dir.write("master/3_a.down.sql", "SELECT 1;");
    dir.write("master/README.md", "not SQL: ignored");
    MigrationSet set = load(dir);
    ASSERT_EQ(set.files.size(), 3u);
    EXPECT_EQ(set.versions(), (std::vector<std::int64_t>{3, 20, 100}));
    EXPECT_EQ(set.files[0].name, "a");
    EXPECT_EQ(set.files[0].file, "master/3_a.up.sql");
    EXPECT_EQ(set.files[0].down_file, "master/3_a.down.sql");
    EXPECT_EQ(set.files[0].checksum, migration_checksum("SELECT 1;"));
    ASSERT_NE(set.find(20), nullptr);
    EXPECT_EQ(set.find(20)->name, "b");
    EXPECT_EQ(set.find(21), nullptr);
}

TEST(MigrationFiles, MissingDirectoryIsEmpty)
{
    MigrationDir dir;
    MigrationSet set = load(dir);
    EXPECT_TRUE(set.files.empty());
    EXPECT_TRUE(set.directory.empty());
}

TEST(MigrationFiles, MissingDownFileNamesTheExpectedFile)
{
    MigrationDir dir;
    dir.migration(1, "create_things", "CREATE TABLE things (id int);", "");
    std::string problems = problems_of(dir);
    EXPECT_NE(problems.find("master/001_create_things.up.sql: has no down file (expected "), std::string::npos)
        << problems;
    EXPECT_NE(problems.find("master/001_create_things.down.sql"), std::string::npos) << problems;
    EXPECT_NE(problems.find("irreversible"), std::string::npos) << problems;
}

TEST(MigrationFiles, IrreversibleNeedsNoDownFileAndRefusesOne)
{
    MigrationDir dir;
    dir.migration(1, "drop_old", "-- stratum: irreversible\nDROP TABLE IF EXISTS old_things;", "");
    MigrationSet set = load(dir);
    ASSERT_EQ(set.files.size(), 1u);
    EXPECT_TRUE(set.files[0].header.irreversible);
    EXPECT_FALSE(set.files[0].down_sql.has_value());

    dir.write("master/001_drop_old.down.sql", "SELECT 1;");
    EXPECT_NE(problems_of(dir).find("declares irreversible but has a down file"), std::string::npos);
}

TEST(MigrationFiles, BadNamesDuplicatesAndOrphans)
{
    MigrationDir dir;
    dir.write("master/001_a.sql", "SELECT 1;");                       // no .up
    dir.migration(2, "b", "SELECT 1;", "SELECT 1;");
    dir.migration(2, "c", "SELECT 1;", "SELECT 1;");                  // same version
    dir.write("master/003_d.down.sql", "SELECT 1;");                  // no up file
    dir.write("master/99999999999999999999_e.up.sql", "SELECT 1;");   // too large
    std::string problems = problems_of(dir);
    EXPECT_NE(problems.find("001_a.sql: is not named like a migration"), std::string::npos) << problems;
    EXPECT_NE(problems.find("version 2 is also used by"), std::string::npos) << problems;
    EXPECT_NE(problems.find("003_d.down.sql: is a down file without an up file"), std::string::npos)
        << problems;
    EXPECT_NE(problems.find("is too large"), std::string::npos) << problems;
}

TEST(MigrationFiles, HeaderDirectives)
{
    MigrationDir dir;
    dir.migration(1, "a", "SELECT 1;", "SELECT 1;");
    dir.migration(2, "b", "SELECT 1;", "SELECT 1;");
    dir.migration(5, "index",
                  "-- Builds an index.\n"
                  "-- stratum: depends 1, 2\n"
                  "--   stratum: no-transaction\n"
                  "-- stratum: lock-timeout 10s\n"
                  "-- stratum: statement-timeout 5m\n"
                  "\n"
                  "CREATE INDEX CONCURRENTLY i ON t (x);\n",
                  "DROP INDEX CONCURRENTLY i;");
    MigrationSet set = load(dir);
    const MigrationHeader &header = set.find(5)->header;
    EXPECT_EQ(header.depends_on, (std::vector<std::int64_t>{1, 2}));
    EXPECT_FALSE(header.transactional);
    EXPECT_EQ(header.lock_timeout, std::chrono::seconds(10));
    EXPECT_EQ(header.statement_timeout, std::chrono::minutes(5));
    EXPECT_TRUE(set.find(1)->header.transactional);
    EXPECT_FALSE(set.find(1)->header.lock_timeout.has_value());
}

TEST(MigrationFiles, UnknownOrMalformedDirectivesAreErrors)
{
    MigrationDir dir;
    dir.migration(1, "a", "-- stratum: no-transactions\nSELECT 1;", "SELECT 1;");
    dir.migration(2, "b", "-- stratum: lock-timeout soon\nSELECT 1;", "SELECT 1;");
    dir.migration(3, "c", "-- stratum: depends two\nSELECT 1;", "SELECT 1;");
    dir.migration(4, "d", "-- stratum: depends 4\nSELECT 1;", "SELECT 1;");
    dir.migration(5, "e", "-- stratum: depends 9\nSELECT 1;", "SELECT 1;");
    dir.migration(6, "f", "SELECT 1;\n-- stratum: no-transaction\nSELECT 2;", "SELECT 1;");
    dir.migration(7, "g", "SELECT 1;", "-- stratum: no-transaction\nSELECT 1;");
    dir.migration(8, "h", "-- stratum: irreversible\n-- stratum: irreversible\nSELECT 1;", "");
    std::string problems = problems_of(dir);
    EXPECT_NE(problems.find("001_a.up.sql:1: unknown directive \"no-transactions\" (known: depends"),
              std::string::npos) << problems;
    EXPECT_NE(problems.find("002_b.up.sql:1: lock-timeout: \"soon\" is not a duration"), std::string::npos)
        << problems;
    EXPECT_NE(problems.find("003_c.up.sql:1: depends: \"two\" is not a version number"), std::string::npos)
        << problems;
    EXPECT_NE(problems.find("004_d.up.sql: depends on itself"), std::string::npos) << problems;
    EXPECT_NE(problems.find("005_e.up.sql: depends on 9, a later version"), std::string::npos) << problems;
    EXPECT_NE(problems.find("006_f.up.sql:2: stratum: directive below the first statement"),
              std::string::npos) << problems;
    EXPECT_NE(problems.find("007_g.down.sql:1: stratum: directives belong in the up file"),
              std::string::npos) << problems;
    EXPECT_NE(problems.find("008_h.up.sql:2: irreversible is declared twice"), std::string::npos)
        << problems;
}

TEST(MigrationFiles, DirectiveLookalikesInsideStringsAreNotDirectives)
{
    MigrationDir dir;
    dir.migration(1, "a",
                  "SELECT 1;\nSELECT $$\n-- stratum: no-transaction\n$$;\nSELECT '-- stratum: x';",
                  "SELECT 1;");
    MigrationSet set = load(dir);
    EXPECT_TRUE(set.files[0].header.transactional);
}

TEST(MigrationText, InvalidUtf8NamesFileLineAndByte)
{
    MigrationDir dir;
    dir.migration(1, "latin1", "SELECT 1;\nINSERT INTO t VALUES ('caf\xe9');\n", "SELECT 1;");
    try {
        load(dir);
        FAIL() << "invalid UTF-8 accepted";
    } catch (const MigrationFileError &error) {
        EXPECT_EQ(error.sqlstate(), "22021");
        ASSERT_EQ(error.problems().size(), 1u);
        EXPECT_EQ(error.problems()[0].line, 2);
        EXPECT_NE(error.problems()[0].file.find("master/001_latin1.up.sql"), std::string::npos);
        EXPECT_NE(error.problems()[0].message.find("byte 0xe9"), std::string::npos);
    }
}

TEST(MigrationText, Utf8EdgeCases)
{
    EXPECT_TRUE(check_sql_text("SELECT 'żółć €𝄞';", "f").empty());
    EXPECT_FALSE(check_sql_text("SELECT '\xc0\xaf';", "f").empty());          // overlong
    EXPECT_FALSE(check_sql_text("SELECT '\xed\xa0\x80';", "f").empty());      // surrogate
    EXPECT_FALSE(check_sql_text("SELECT '\xf4\x90\x80\x80';", "f").empty());  // > U+10FFFF
    EXPECT_FALSE(check_sql_text("SELECT '\xe2\x82';", "f").empty());          // truncated
    EXPECT_FALSE(check_sql_text(std::string("SELECT 1;\0", 10), "f").empty());  // NUL
    auto bom = check_sql_text("\xef\xbb\xbfSELECT 1;", "f");
    ASSERT_EQ(bom.size(), 1u);
    EXPECT_NE(bom[0].message.find("byte-order mark"), std::string::npos);
}

TEST(MigrationText, UnterminatedConstructsNameTheirStartLine)
{
    auto first = [](std::string_view sql) {
        auto problems = check_sql_text(sql, "f.sql");
        return problems.empty() ? std::string() : problems[0].to_string();
    };
    EXPECT_EQ(first("SELECT 1;\nSELECT 'abc;\nSELECT 2;"),
              "f.sql:2: unterminated quoted string starting at line 2");
    EXPECT_EQ(first("CREATE FUNCTION f() RETURNS int AS $body$\nSELECT 1\n$$ LANGUAGE sql;"),
              "f.sql:1: unterminated dollar-quoted string ($body$) starting at line 1");
    EXPECT_EQ(first("SELECT 1; /* outer /* inner */ still open"),
              "f.sql:1: unterminated /* comment starting at line 1");
    EXPECT_EQ(first("SELECT \"col;"), "f.sql:1: unterminated quoted identifier starting at line 1");
    EXPECT_EQ(first("SELECT E'it\\'s';\nSELECT 'x"), "f.sql:2: unterminated quoted string starting at line 2");
    // What is well formed stays quiet.
    EXPECT_EQ(first("SELECT 'it''s', E'a\\'b', \"a\"\"b\", $1, $$x$$, $t$ $$ $t$; -- 'open\n/* a /* b */ c */"),
              "");
    EXPECT_EQ(first("SELECT a$b FROM t$1;"), "");  // $ inside identifiers
}

TEST(MigrationFiles, UnterminatedStatementIsRefusedNamingTheFile)
{
    MigrationDir dir;
    dir.migration(1, "broken", "CREATE TABLE t (id int);\nINSERT INTO t VALUES (1);\nSELECT 'oops;\n",
                  "DROP TABLE t;");
    try {
        load(dir);
        FAIL() << "unterminated string accepted";
    } catch (const MigrationFileError &error) {
        EXPECT_EQ(error.sqlstate(), "42601");
        EXPECT_NE(std::string(error.what()).find("master/001_broken.up.sql:3: unterminated quoted string"),
                  std::string::npos)
            << error.what();
    }
}

TEST(MigrationFiles, UpFilesWithoutStatementsAreNoOps)
{
    // golang-migrate, morph and psql run them as no-ops: not a problem here either.
    MigrationDir dir;
    dir.migration(1, "comment", "-- only a comment\n", "SELECT 1;");
    dir.write("master/002_nothing.up.sql", "");
    dir.write("master/002_nothing.down.sql", "");
    dir.migration(3, "real", "SELECT 1;", "SELECT 1;");
    MigrationSet set = load(dir);
    ASSERT_EQ(set.files.size(), 3u) << problems_of(dir);
    EXPECT_TRUE(set.files[0].empty);
    EXPECT_TRUE(set.files[1].empty);
    EXPECT_FALSE(set.files[2].empty);
}

TEST(MigrationFiles, NamesMayHoldDots)
{
    MigrationDir dir;
    dir.write("master/000056_upgrade_channels_v6.0.up.sql", "SELECT 1;");
    dir.write("master/000056_upgrade_channels_v6.0.down.sql", "SELECT 1;");
    MigrationSet set = load(dir);
    ASSERT_EQ(set.files.size(), 1u) << problems_of(dir);
    EXPECT_EQ(set.files[0].version, 56);
    EXPECT_EQ(set.files[0].name, "upgrade_channels_v6.0");
}

TEST(MigrationFiles, OtherToolsNonTransactionalMarkers)
{
    MigrationDir dir;
    dir.migration(1, "morph", "-- morph:nontransactional\nCREATE INDEX CONCURRENTLY a ON t (x);\n"
                              "CREATE INDEX CONCURRENTLY b ON t (y);", "SELECT 1;");
    dir.migration(2, "flyway", "CREATE INDEX CONCURRENTLY c ON t (x);\nCREATE INDEX CONCURRENTLY d ON t (y);",
                  "SELECT 1;");
    dir.write("master/002_flyway.up.sql.conf", "# script config\nexecuteInTransaction=false\n");
    // golang-migrate sends a file as one query: one statement that needs no
    // transaction block runs outside one, whatever comments surround it.
    dir.migration(3, "single", "/* the index */ CREATE UNIQUE INDEX\n  CONCURRENTLY IF NOT EXISTS e ON t (x);\n-- done\n",
                  "SELECT 1;");
    dir.migration(4, "drop", "DROP INDEX CONCURRENTLY IF EXISTS e", "SELECT 1;");
    dir.migration(5, "two", "CREATE TABLE t2 (x int);\nCREATE INDEX CONCURRENTLY f ON t2 (x);", "SELECT 1;");
    dir.migration(6, "plain", "CREATE INDEX g ON t (x);", "SELECT 1;");
    dir.migration(7, "quoted", "SELECT 'CREATE INDEX CONCURRENTLY';", "SELECT 1;");
    MigrationSet set = load(dir);
    ASSERT_EQ(set.files.size(), 7u) << problems_of(dir);
    std::vector<std::string> by;
    for (const auto &file : set.files)
        by.push_back(file.header.transactional ? "tx" : file.header.no_transaction_by);
    EXPECT_EQ(by, (std::vector<std::string>{"morph", "flyway", "single statement", "single statement", "tx", "tx", "tx"}));

    dir.write("master/002_flyway.up.sql.conf", "executeInTransaction=false\nmixed=true\n");
    EXPECT_NE(problems_of(dir).find("002_flyway.up.sql.conf:2: is not understood"), std::string::npos)
        << problems_of(dir);
}

TEST(MigrationFiles, SeedsAreNamedWithoutUpAndMayHaveADownFile)
{
    MigrationDir dir;
    dir.write("seeds/test/001_tenants.sql", "SELECT 1;");
    dir.write("seeds/test/002_users.sql", "-- stratum: depends 7\nSELECT 2;");
    dir.write("seeds/test/002_users.down.sql", "SELECT 3;");
    MigrationSet set = load(dir, MigrationKind::seed, "seeds/test");
    ASSERT_EQ(set.files.size(), 2u);
    EXPECT_FALSE(set.files[0].down_sql.has_value());
    EXPECT_EQ(set.files[1].down_sql, "SELECT 3;");
    // A seed depends on migrations: any version is fine here.
    EXPECT_EQ(set.files[1].header.depends_on, (std::vector<std::int64_t>{7}));
}

TEST(MigrationHooks, KnownNamesOnlyAndCheckedText)
{
    MigrationDir dir;
    dir.write("hooks/before_each.sql", "SELECT 1;");
    dir.write("hooks/after_all.sql", "SELECT 2;");
    MigrationHooks hooks = load_hooks(dir.path() / "hooks", dir.path());
    ASSERT_TRUE(hooks.before_each.has_value());
    EXPECT_EQ(hooks.before_each->file, "hooks/before_each.sql");
    EXPECT_FALSE(hooks.before_all.has_value());
    EXPECT_TRUE(hooks.after_all.has_value());

    dir.write("hooks/before-each.sql", "SELECT 1;");
    try {
        load_hooks(dir.path() / "hooks", dir.path());
        FAIL() << "misspelt hook accepted";
    } catch (const MigrationFileError &error) {
        EXPECT_NE(std::string(error.what()).find("before-each.sql: is not a hook"), std::string::npos);
    }
}

TEST(ProjectMigrations, LoadCleanly)
{
    auto root = stratum::test::source_dir() / "migrations";
    MigrationSet master = load_migration_set(root / "master", MigrationKind::migration, root);
    MigrationSet tenants = load_migration_set(root / "tenants", MigrationKind::migration, root);
    MigrationSet seeds = load_migration_set(root / "seeds" / "development", MigrationKind::seed, root);
    EXPECT_GE(master.files.size(), 4u);
    EXPECT_GE(tenants.files.size(), 1u);
    EXPECT_GE(seeds.files.size(), 2u);
    bool has_non_transactional = false;
    for (const auto &file : master.files) {
        EXPECT_TRUE(file.down_sql.has_value()) << file.file;
        has_non_transactional |= !file.header.transactional;
    }
    EXPECT_TRUE(has_non_transactional);
}

}  // namespace
