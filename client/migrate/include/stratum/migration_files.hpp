// Migration files on disk: their names, header directives, hooks, and the
// checks made before anything is sent to the server (UTF-8, unterminated
// quotes and comments). docs/migrations.md describes the layout and syntax.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stratum/errors.hpp"

namespace stratum {

// What a set of files holds: schema migrations (master/, tenants/) or seeds
// (seeds/<environment>/).
enum class MigrationKind : std::uint8_t { migration, seed };

// "migration" or "seed", as the ledger spells them.
std::string_view to_string(MigrationKind kind) noexcept;

// What the up file's header declares (`-- stratum: <directive>` lines).
struct MigrationHeader {
    std::vector<std::int64_t> depends_on;                     // depends 3, 5
    bool transactional = true;                                // no-transaction
    // What made it non-transactional: "stratum" (the directive), "morph"
    // (-- morph:nontransactional), "flyway" (executeInTransaction=false in
    // <file>.conf) or "single statement" (the file's one statement cannot
    // run in a transaction block, as golang-migrate runs it).
    std::string no_transaction_by;
    bool irreversible = false;                                // irreversible (no down file)
    std::optional<std::chrono::milliseconds> lock_timeout;    // lock-timeout 10s
    std::optional<std::chrono::milliseconds> statement_timeout;  // statement-timeout 5min
};

// One migration or seed: its up file, its down file, and what they say.
struct MigrationFile {
    std::int64_t version = 0;
    std::string name;                    // from the file name: 001_create_users -> create_users
    std::string file;                    // up file, relative to the migrations dir ("master/001_create_users.up.sql")
    std::optional<std::string> down_file;  // down file, relative; none when irreversible
    std::string up_sql;                  // the bytes of the file, unchanged (as sent and hashed)
    std::optional<std::string> down_sql;
    std::string checksum;                // SHA-256 of up_sql as the ledger computes it
    MigrationHeader header;
    bool empty = false;                  // no SQL statement (comments only, or no bytes): a no-op
};

// A directory of migrations, ordered by version (numerically).
struct MigrationSet {
    MigrationKind kind = MigrationKind::migration;
    std::string environment;        // seeds: the environment; "" for migrations
    std::filesystem::path directory;  // where the files were read ("" when it does not exist)
    std::vector<MigrationFile> files;

    const MigrationFile *find(std::int64_t version) const noexcept;
    std::vector<std::int64_t> versions() const;
    std::vector<std::string> checksums() const;
};

// One SQL file run around migrations: migrations/hooks/<name>.sql.
struct HookFile {
    std::string name;  // before_all, before_each, after_each, after_all
    std::string file;  // relative to the migrations dir ("hooks/before_each.sql")
    std::string sql;
};

// The hooks found in a migrations directory (each optional).
struct MigrationHooks {
    std::optional<HookFile> before_all;   // once per run, before the first migration, own transaction
    std::optional<HookFile> before_each;  // in each migration's transaction, before it
    std::optional<HookFile> after_each;   // in each migration's transaction, after it
    std::optional<HookFile> after_all;    // once per run, after the last migration succeeded

    bool empty() const noexcept { return !before_all && !before_each && !after_each && !after_all; }
    bool each() const noexcept { return before_each || after_each; }
};

// One thing wrong with one file; `line` is 0 when not about a line.
struct FileProblem {
    std::string file;
    int line = 0;
    std::string message;

    std::string to_string() const;  // "master/003_x.up.sql:12: unterminated quoted string"
};

// Migration files that cannot be used as they are: every problem found, not
// just the first. SQLSTATE 22021 when the only problems are invalid UTF-8,
// 42601 for unterminated quotes or comments, 22023 otherwise.
class MigrationFileError : public Error {
public:
    explicit MigrationFileError(std::vector<FileProblem> problems);
    const std::vector<FileProblem> &problems() const noexcept { return problems_; }
    // {"error": {"reason": "file", "sqlstate", "message", "problems": [{"file", "line", "message"}]}}
    std::string to_json(int indent = -1) const;

private:
    std::vector<FileProblem> problems_;
};

// Reads `dir` (e.g. migrations/master, migrations/seeds/development):
// files named NNN_name.up.sql + NNN_name.down.sql (seeds: NNN_name.sql, an
// optional NNN_name.down.sql). Every file is checked; `relative_to` is the
// migrations directory that file names in messages are relative to. A
// directory that does not exist is an empty set. Throws MigrationFileError.
MigrationSet load_migration_set(const std::filesystem::path &dir, MigrationKind kind,
                                const std::filesystem::path &relative_to,
                                std::string environment = "");

// Reads <hooks_dir>/{before_all,before_each,after_each,after_all}.sql; any
// other .sql file there is an error (a misspelt hook would silently not run).
MigrationHooks load_hooks(const std::filesystem::path &hooks_dir,
                          const std::filesystem::path &relative_to);

// SHA-256 (lower-case hex) of SQL with every CR LF read as LF: what
// stratum.migration_checksum() computes.
std::string migration_checksum(std::string_view sql);

// Problems of SQL text before it is sent: a NUL byte, invalid UTF-8, a
// byte-order mark, an unterminated quoted string, quoted identifier,
// dollar-quoted string or block comment. Empty when none.
std::vector<FileProblem> check_sql_text(std::string_view sql, const std::string &file);

// The header directives of an up file (the leading comment lines), and any
// problem with them: an unknown directive, bad arguments, a directive below
// the header. Problems are appended to `problems`.
MigrationHeader parse_migration_header(std::string_view sql, const std::string &file,
                                       std::vector<FileProblem> &problems);

}  // namespace stratum
