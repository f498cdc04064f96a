// Helpers of the migrator tests: a scratch migrations directory the test
// writes, the migration role's connection string, schema dumps and table
// checksums to compare before and after.
#pragma once

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include <stratum/migrator.hpp>

#include "test_env.hpp"

namespace stratum::test {

// A migrations directory under /tmp, removed with the object.
class MigrationDir {
public:
    MigrationDir()
    {
        std::string pattern = (std::filesystem::temp_directory_path() / "stratum-migrations-XXXXXX").string();
        if (mkdtemp(pattern.data()) == nullptr)
            throw std::runtime_error("mkdtemp failed");
        path_ = pattern;
    }
    ~MigrationDir()
    {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    MigrationDir(const MigrationDir &) = delete;
    MigrationDir &operator=(const MigrationDir &) = delete;

    const std::filesystem::path &path() const noexcept { return path_; }

    void write(const std::string &relative, std::string_view content) const
    {
        std::filesystem::path file = path_ / relative;
        std::filesystem::create_directories(file.parent_path());
        std::ofstream out(file, std::ios::binary | std::ios::trunc);
        out.write(content.data(), static_cast<std::streamsize>(content.size()));
    }
    void remove(const std::string &relative) const { std::filesystem::remove(path_ / relative); }

    // <dir>/NNN_name.up.sql and .down.sql (no down file when `down` is empty).
    void migration(int version, const std::string &name, std::string_view up, std::string_view down,
                   const std::string &dir = "master") const
    {
        char number[16];
        std::snprintf(number, sizeof number, "%03d", version);
        std::string stem = dir + "/" + number + "_" + name;
        write(stem + ".up.sql", up);
        if (!down.empty())
            write(stem + ".down.sql", down);
    }

    // Copies a directory tree (the project's own migrations) into this one.
    void copy_from(const std::filesystem::path &source) const
    {
        std::filesystem::copy(source, path_, std::filesystem::copy_options::recursive |
                                                 std::filesystem::copy_options::overwrite_existing);
    }

private:
    std::filesystem::path path_;
};

// The migration role (owns the tables, subject to FORCE row level security).
inline std::string owner_conninfo(const std::string &dbname)
{
    return conninfo_at(required_env("STRATUM_TEST_PGPORT"), "stratum_owner", dbname);
}

// The output of a shell command (stdout), and its exit status.
struct CommandOutput {
    int status = -1;
    std::string out;
};

inline CommandOutput run_command(const std::string &command)
{
    CommandOutput result;
    FILE *pipe = popen(command.c_str(), "r");
    if (pipe == nullptr)
        return result;
    char buffer[4096];
    std::size_t n;
    while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0)
        result.out.append(buffer, n);
    int status = pclose(pipe);
    result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
}

// pg_dump --schema-only of everything but schema stratum (the ledger's rows
// and the extension's own objects), without the lines that change from one
// dump to the next.
inline std::string schema_dump(const std::string &dbname)
{
    CommandOutput dump = run_command(
        "pg_dump --schema-only --exclude-schema=stratum -h " + required_env("STRATUM_TEST_PGHOST") +
        " -p " + required_env("STRATUM_TEST_PGPORT") + " -U postgres -d " + dbname + " 2>&1");
    EXPECT_EQ(dump.status, 0) << dump.out;
    std::string kept;
    std::size_t start = 0;
    while (start < dump.out.size()) {
        std::size_t end = dump.out.find('\n', start);
        if (end == std::string::npos)
            end = dump.out.size();
        std::string_view line(dump.out.data() + start, end - start);
        if (!line.starts_with("\\restrict") && !line.starts_with("\\unrestrict") &&
            !line.starts_with("-- Dumped"))
            kept.append(line).push_back('\n');
        start = end + 1;
    }
    return kept;
}

// md5 of a table's rows in key order, as superuser (no row level security).
inline std::string table_checksum(const std::string &table, const std::string &order_by,
                                  const std::string &dbname)
{
    return admin_sql("SELECT md5(coalesce(string_agg(t::text, E'\\n' ORDER BY " + order_by +
                         "), '')) || ':' || count(*) FROM " + table + " t",
                     dbname);
}

// The source tree (for the project's own migrations and fixtures).
inline std::filesystem::path source_dir()
{
    return required_env("STRATUM_TEST_SOURCE_DIR");
}

// The fixture of the migrator tests: database `db` made afresh from the
// template for each test, and a scratch migrations directory.
class MigratorFixture : public ::testing::Test {
protected:
    explicit MigratorFixture(std::string db) : db_(std::move(db)) {}
    void SetUp() override { recreate_database(db_); }

    Migrator migrator(MigratorOptions options = {}) const
    {
        options.dir = dir.path();
        return Migrator(owner_conninfo(db_), std::move(options));
    }
    std::string sql(const std::string &statement) const { return admin_sql(statement, db_); }

    MigrationDir dir;

private:
    std::string db_;
};

}  // namespace stratum::test
