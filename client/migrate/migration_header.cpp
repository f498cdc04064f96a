// Header directives of a migration file: `-- stratum: <directive> [arguments]`
// lines among the comments before its first statement.
#include <charconv>
#include <stdexcept>

#include "sql_scan.hpp"
#include "stratum/duration.hpp"
#include "stratum/migration_files.hpp"

namespace stratum {
namespace {

constexpr std::string_view known_directives =
    "depends, no-transaction, irreversible, lock-timeout, statement-timeout";

std::string_view trim(std::string_view text)
{
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
        text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r'))
        text.remove_suffix(1);
    return text;
}

// The directive of a comment ("stratum: depends 3" -> "depends 3"), or nullopt
// when the comment is not one.
std::optional<std::string_view> directive_of(std::string_view comment)
{
    comment = trim(comment);
    constexpr std::string_view prefix = "stratum:";
    if (!comment.starts_with(prefix))
        return std::nullopt;
    return trim(comment.substr(prefix.size()));
}

class HeaderReader {
public:
    HeaderReader(const std::string &file, std::vector<FileProblem> &problems)
        : file_(file), problems_(problems)
    {
    }

    void read(int line, std::string_view directive)
    {
        line_ = line;
        std::size_t space = directive.find_first_of(" \t");
        std::string_view name = directive.substr(0, space);
        std::string_view args = space == std::string_view::npos ? "" : trim(directive.substr(space));
        if (name == "depends") {
            depends(args);
        } else if (name == "no-transaction") {
            flag(name, args, seen_no_transaction_);
            header_.transactional = false;
            header_.no_transaction_by = "stratum";
        } else if (name == "irreversible") {
            flag(name, args, seen_irreversible_);
            header_.irreversible = true;
        } else if (name == "lock-timeout") {
            duration(name, args, header_.lock_timeout);
        } else if (name == "statement-timeout") {
            duration(name, args, header_.statement_timeout);
        } else if (name.empty()) {
            problem("empty stratum: directive (known: " + std::string(known_directives) + ")");
        } else {
            problem("unknown directive \"" + std::string(name) + "\" (known: " +
                    std::string(known_directives) + ")");
        }
    }

    // morph's marker, read as no-transaction (after the stratum: directives,
    // which win if both are there).
    void morph_no_transaction()
    {
        if (header_.transactional) {
            header_.transactional = false;
            header_.no_transaction_by = "morph";
        }
    }

    MigrationHeader take() { return std::move(header_); }

private:
    void problem(std::string message) { problems_.push_back({file_, line_, std::move(message)}); }

    void depends(std::string_view args)
    {
        if (args.empty()) {
            problem("depends needs versions, e.g. \"-- stratum: depends 3, 5\"");
            return;
        }
        std::size_t pos = 0;
        while (pos < args.size()) {
            std::size_t end = args.find_first_of(", \t", pos);
            if (end == std::string_view::npos)
                end = args.size();
            std::string_view word = args.substr(pos, end - pos);
            pos = end + 1;
            if (word.empty())
                continue;
            std::int64_t version = -1;
            auto [stop, error] = std::from_chars(word.data(), word.data() + word.size(), version);
            if (error != std::errc() || stop != word.data() + word.size() || version < 0) {
                problem("depends: \"" + std::string(word) + "\" is not a version number");
                continue;
            }
            header_.depends_on.push_back(version);
        }
    }

    void flag(std::string_view name, std::string_view args, bool &seen)
    {
        if (!args.empty())
            problem(std::string(name) + " takes no arguments");
        if (seen)
            problem(std::string(name) + " is declared twice");
        seen = true;
    }

    void duration(std::string_view name, std::string_view args,
                  std::optional<std::chrono::milliseconds> &out)
    {
        if (out) {
            problem(std::string(name) + " is declared twice");
            return;
        }
        try {
            out = parse_duration(args);
        } catch (const std::invalid_argument &) {
            problem(std::string(name) + ": \"" + std::string(args) +
                    "\" is not a duration such as 500ms, 10s, 5m or 0 (no limit)");
        }
    }

    const std::string &file_;
    std::vector<FileProblem> &problems_;
    MigrationHeader header_;
    int line_ = 0;
    bool seen_no_transaction_ = false;
    bool seen_irreversible_ = false;
};

}  // namespace

MigrationHeader parse_migration_header(std::string_view sql, const std::string &file,
                                       std::vector<FileProblem> &problems)
{
    HeaderReader reader(file, problems);
    bool morph = false;
    for (const auto &comment : detail::scan_sql(sql).line_comments) {
        if (comment.in_header && trim(comment.text) == "morph:nontransactional")
            morph = true;
        auto directive = directive_of(comment.text);
        if (!directive)
            continue;
        if (!comment.in_header) {
            problems.push_back({file, comment.line,
                                "stratum: directive below the first statement is not read; "
                                "move it into the header (the comments at the top)"});
            continue;
        }
        reader.read(comment.line, *directive);
    }
    if (morph)
        reader.morph_no_transaction();
    return reader.take();
}

}  // namespace stratum
