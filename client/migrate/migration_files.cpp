// Finding and reading migration files: names, pairs of up and down files,
// headers, hooks; every problem of every file collected before failing.
#include "stratum/migration_files.hpp"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <map>
#include <sstream>

#include "concurrent_build.hpp"
#include "migration_file_name.hpp"
#include "sql_scan.hpp"

namespace stratum {
namespace {

namespace fs = std::filesystem;

const char *sqlstate_of(const std::vector<FileProblem> &problems)
{
    bool all_encoding = !problems.empty();
    bool any_unterminated = false;
    for (const auto &problem : problems) {
        bool encoding = problem.message.find("UTF-8") != std::string::npos ||
                        problem.message.find("NUL byte") != std::string::npos;
        all_encoding &= encoding;
        any_unterminated |= problem.message.starts_with("unterminated");
    }
    if (all_encoding)
        return "22021";
    return any_unterminated ? "42601" : "22023";
}

std::string describe(const std::vector<FileProblem> &problems)
{
    std::string text = problems.size() == 1 ? "migration file problem: "
                                            : std::to_string(problems.size()) +
                                                  " migration file problems:\n  ";
    for (std::size_t i = 0; i < problems.size(); i++) {
        if (i > 0)
            text += "\n  ";
        text += problems[i].to_string();
    }
    return text;
}

bool read_file(const fs::path &path, std::string &out)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return false;
    std::ostringstream buffer;
    buffer << in.rdbuf();
    out = std::move(buffer).str();
    return !in.bad();
}

// The name a problem message uses: the path as the user wrote the migrations
// directory, then the file under it.
std::string shown(const fs::path &relative_to, const std::string &relative)
{
    return (relative_to / relative).lexically_normal().generic_string();
}

struct Found {
    std::string name;
    std::string file;  // relative to the migrations dir
    fs::path path;
};

struct Pair {
    std::optional<Found> up;
    std::optional<Found> down;
};

class SetReader {
public:
    SetReader(const fs::path &dir, MigrationKind kind, const fs::path &relative_to)
        : dir_(dir), kind_(kind), relative_to_(relative_to)
    {
    }

    MigrationSet read(std::string environment)
    {
        MigrationSet set;
        set.kind = kind_;
        set.environment = std::move(environment);
        std::error_code error;
        if (!fs::is_directory(dir_, error))
            return set;
        set.directory = dir_;

        std::map<std::int64_t, Pair> pairs;
        std::vector<fs::path> entries;
        for (const auto &entry : fs::directory_iterator(dir_))
            entries.push_back(entry.path());
        std::sort(entries.begin(), entries.end());
        for (const fs::path &path : entries) {
            if (path.extension() != ".sql" || fs::is_directory(path))
                continue;
            classify(path, pairs);
        }
        for (auto &[version, pair] : pairs) {
            if (auto file = load(version, pair))
                set.files.push_back(std::move(*file));
        }
        if (!problems_.empty())
            throw MigrationFileError(std::move(problems_));
        return set;
    }

private:
    std::string relative(const fs::path &path) const
    {
        return path.lexically_relative(relative_to_.empty() ? dir_.parent_path() : relative_to_)
            .lexically_normal()
            .generic_string();
    }

    void problem(const std::string &file, int line, std::string message)
    {
        problems_.push_back({shown(relative_to_, file), line, std::move(message)});
    }

    void classify(const fs::path &path, std::map<std::int64_t, Pair> &pairs)
    {
        const std::string file = relative(path);
        std::optional<detail::MigrationFileName> parsed =
            detail::parse_migration_file_name(path.filename().string(), kind_);
        if (!parsed) {
            problem(file, 0,
                    kind_ == MigrationKind::migration
                        ? "is not named like a migration: NNN_name.up.sql and NNN_name.down.sql "
                          "(a version number, an underscore, letters, digits, _, - or .)"
                        : "is not named like a seed: NNN_name.sql (and optionally NNN_name.down.sql)");
            return;
        }
        std::int64_t version = 0;
        const std::string &digits = parsed->digits;
        auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), version);
        if (error != std::errc() || end != digits.data() + digits.size()) {
            problem(file, 0, "version " + digits + " is too large (at most 18 digits)");
            return;
        }
        Pair &pair = pairs[version];
        std::optional<Found> &slot = parsed->down ? pair.down : pair.up;
        if (slot) {
            problem(file, 0, "version " + std::to_string(version) + " is also used by " +
                                 shown(relative_to_, slot->file));
            return;
        }
        slot = Found{parsed->name, file, path};
    }

    std::optional<MigrationFile> load(std::int64_t version, Pair &pair)
    {
        if (!pair.up) {
            problem(pair.down->file, 0, "is a down file without an up file (expected " +
                                            expected_up(pair.down->file) + ")");
            return std::nullopt;
        }
        std::size_t problems_before = problems_.size();
        MigrationFile m;
        m.version = version;
        m.name = pair.up->name;
        m.file = pair.up->file;
        if (!read_file(pair.up->path, m.up_sql)) {
            problem(m.file, 0, "cannot be read");
            return std::nullopt;
        }
        check_text(m.up_sql, m.file);
        detail::SqlScan scan = detail::scan_sql(m.up_sql);
        // golang-migrate, morph and psql run a file without statements as a
        // no-op: so does stratum (recorded, with a warning when applied).
        m.empty = scan.statements == 0;
        std::vector<FileProblem> header_problems;
        m.header = parse_migration_header(m.up_sql, shown(relative_to_, m.file), header_problems);
        problems_.insert(problems_.end(), header_problems.begin(), header_problems.end());
        read_flyway_config(pair.up->path, m);
        infer_no_transaction(m, scan);
        check_dependencies(m);

        if (pair.down) {
            if (pair.down->name != pair.up->name)
                problem(pair.down->file, 0, "has another name than its up file " +
                                                shown(relative_to_, m.file));
            if (m.header.irreversible)
                problem(m.file, 0, "declares irreversible but has a down file " +
                                       shown(relative_to_, pair.down->file));
            std::string down_sql;
            if (!read_file(pair.down->path, down_sql)) {
                problem(pair.down->file, 0, "cannot be read");
            } else {
                check_text(down_sql, pair.down->file);
                for (const auto &comment : detail::scan_sql(down_sql).line_comments) {
                    std::string_view text = comment.text;
                    while (!text.empty() && text.front() == ' ')
                        text.remove_prefix(1);
                    if (text.starts_with("stratum:"))
                        problem(pair.down->file, comment.line,
                                "stratum: directives belong in the up file; a down file takes none");
                }
                m.down_file = pair.down->file;
                m.down_sql = std::move(down_sql);
            }
        } else if (kind_ == MigrationKind::migration && !m.header.irreversible) {
            problem(m.file, 0, "has no down file (expected " +
                                   shown(relative_to_, expected_down(m.file)) +
                                   "); write one, or declare \"-- stratum: irreversible\"");
        }
        if (problems_.size() != problems_before)
            return std::nullopt;
        m.checksum = migration_checksum(m.up_sql);
        return m;
    }

    // Flyway's script configuration next to the file (<file>.conf):
    // executeInTransaction=false makes it non-transactional. Other keys would
    // silently do nothing here, so they are problems.
    void read_flyway_config(const fs::path &up, MigrationFile &m)
    {
        fs::path config = up;
        config += ".conf";
        std::error_code error;
        if (!fs::is_regular_file(config, error))
            return;
        const std::string file = relative(config);
        std::string text;
        if (!read_file(config, text)) {
            problem(file, 0, "cannot be read");
            return;
        }
        std::istringstream lines(text);
        std::string line;
        for (int number = 1; std::getline(lines, line); number++) {
            std::string_view entry = trim_blanks(line);
            if (entry.empty() || entry.front() == '#')
                continue;
            std::size_t equals = entry.find('=');
            std::string_view key = trim_blanks(entry.substr(0, equals));
            std::string_view value =
                equals == std::string_view::npos ? "" : trim_blanks(entry.substr(equals + 1));
            if (key == "executeInTransaction" && (value == "false" || value == "true")) {
                if (value == "false" && m.header.transactional) {
                    m.header.transactional = false;
                    m.header.no_transaction_by = "flyway";
                }
            } else if (key == "encoding" && (value == "UTF-8" || value == "UTF8")) {
                continue;
            } else {
                problem(file, number, "is not understood: stratum reads executeInTransaction=true|false "
                                      "and encoding=UTF-8 from a Flyway script configuration");
            }
        }
    }

    // golang-migrate sends a file as one query: a file whose one statement
    // cannot run in a transaction block (CREATE INDEX CONCURRENTLY alone)
    // runs outside one there. The same file runs the same way here.
    static void infer_no_transaction(MigrationFile &m, const detail::SqlScan &scan)
    {
        if (!m.header.transactional || scan.statements != 1)
            return;
        if (detail::needs_no_transaction(std::string_view(m.up_sql).substr(scan.first_code))) {
            m.header.transactional = false;
            m.header.no_transaction_by = "single statement";
        }
    }

    static std::string_view trim_blanks(std::string_view text)
    {
        while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
            text.remove_prefix(1);
        while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r'))
            text.remove_suffix(1);
        return text;
    }

    void check_text(const std::string &sql, const std::string &file)
    {
        for (auto &p : check_sql_text(sql, shown(relative_to_, file)))
            problems_.push_back(std::move(p));
    }

    void check_dependencies(const MigrationFile &m)
    {
        if (kind_ != MigrationKind::migration)
            return;  // a seed depends on migrations, checked against the ledger
        for (std::int64_t dependency : m.header.depends_on) {
            if (dependency == m.version)
                problem(m.file, 0, "depends on itself");
            else if (dependency > m.version)
                problem(m.file, 0, "depends on " + std::to_string(dependency) +
                                       ", a later version (migrations apply in version order)");
        }
    }

    static std::string expected_down(const std::string &up)
    {
        return up.substr(0, up.size() - std::string_view(".up.sql").size()) + ".down.sql";
    }
    std::string expected_up(const std::string &down) const
    {
        std::string stem = down.substr(0, down.size() - std::string_view(".down.sql").size());
        return shown(relative_to_, stem + (kind_ == MigrationKind::migration ? ".up.sql" : ".sql"));
    }

    fs::path dir_;
    MigrationKind kind_;
    fs::path relative_to_;
    std::vector<FileProblem> problems_;
};

}  // namespace

std::string_view to_string(MigrationKind kind) noexcept
{
    return kind == MigrationKind::seed ? "seed" : "migration";
}

std::string FileProblem::to_string() const
{
    std::string text = file;
    if (line > 0) {
        text += ':';
        text += std::to_string(line);
    }
    text += ": ";
    text += message;
    return text;
}

MigrationFileError::MigrationFileError(std::vector<FileProblem> problems)
    : Error(ErrorFields{.sqlstate = sqlstate_of(problems), .message = describe(problems)}),
      problems_(std::move(problems))
{
}

const MigrationFile *MigrationSet::find(std::int64_t version) const noexcept
{
    auto it = std::lower_bound(files.begin(), files.end(), version,
                               [](const MigrationFile &f, std::int64_t v) { return f.version < v; });
    return it != files.end() && it->version == version ? &*it : nullptr;
}

std::vector<std::int64_t> MigrationSet::versions() const
{
    std::vector<std::int64_t> out;
    out.reserve(files.size());
    for (const auto &f : files)
        out.push_back(f.version);
    return out;
}

std::vector<std::string> MigrationSet::checksums() const
{
    std::vector<std::string> out;
    out.reserve(files.size());
    for (const auto &f : files)
        out.push_back(f.checksum);
    return out;
}

MigrationSet load_migration_set(const std::filesystem::path &dir, MigrationKind kind,
                                const std::filesystem::path &relative_to, std::string environment)
{
    return SetReader(dir, kind, relative_to).read(std::move(environment));
}

MigrationHooks load_hooks(const std::filesystem::path &hooks_dir,
                          const std::filesystem::path &relative_to)
{
    MigrationHooks hooks;
    std::error_code error;
    if (!fs::is_directory(hooks_dir, error))
        return hooks;
    std::vector<FileProblem> problems;
    std::vector<fs::path> entries;
    for (const auto &entry : fs::directory_iterator(hooks_dir))
        entries.push_back(entry.path());
    std::sort(entries.begin(), entries.end());
    for (const fs::path &path : entries) {
        if (path.extension() != ".sql" || fs::is_directory(path))
            continue;
        std::string file = path.lexically_relative(relative_to).lexically_normal().generic_string();
        std::string name = path.stem().string();
        std::optional<HookFile> *slot = name == "before_all"    ? &hooks.before_all
                                        : name == "before_each" ? &hooks.before_each
                                        : name == "after_each"  ? &hooks.after_each
                                        : name == "after_all"   ? &hooks.after_all
                                                                : nullptr;
        if (slot == nullptr) {
            problems.push_back({shown(relative_to, file), 0,
                                "is not a hook: hooks are before_all.sql, before_each.sql, "
                                "after_each.sql and after_all.sql"});
            continue;
        }
        HookFile hook{name, file, {}};
        if (!read_file(path, hook.sql)) {
            problems.push_back({shown(relative_to, file), 0, "cannot be read"});
            continue;
        }
        auto text_problems = check_sql_text(hook.sql, shown(relative_to, file));
        if (!text_problems.empty()) {
            problems.insert(problems.end(), text_problems.begin(), text_problems.end());
            continue;
        }
        *slot = std::move(hook);
    }
    if (!problems.empty())
        throw MigrationFileError(std::move(problems));
    return hooks;
}

namespace detail {

std::optional<MigrationFileName> parse_migration_file_name(std::string_view filename, MigrationKind kind)
{
    auto strip = [&](std::string_view suffix) {
        if (!filename.ends_with(suffix))
            return false;
        filename.remove_suffix(suffix.size());
        return true;
    };
    MigrationFileName parsed;
    if (kind == MigrationKind::migration) {
        parsed.down = strip(".down.sql");
        if (!parsed.down && !strip(".up.sql"))
            return std::nullopt;
    } else {
        parsed.down = strip(".down.sql");
        if (!parsed.down && !strip(".sql"))
            return std::nullopt;
    }
    std::size_t underscore = filename.find('_');
    if (underscore == 0 || underscore == std::string_view::npos || underscore + 1 == filename.size())
        return std::nullopt;
    std::string_view digits = filename.substr(0, underscore);
    std::string_view name = filename.substr(underscore + 1);
    for (char c : digits) {
        if (c < '0' || c > '9')
            return std::nullopt;
    }
    for (char c : name) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.';
        if (!ok)
            return std::nullopt;
    }
    parsed.digits = std::string(digits);
    parsed.name = std::string(name);
    return parsed;
}

}  // namespace detail

}  // namespace stratum
