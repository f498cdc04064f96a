// Concurrent index builds and other statements that need no transaction,
// recognised from their leading words (concurrent_build.hpp).
#include "concurrent_build.hpp"

#include <vector>

#include "sql_words.hpp"

namespace stratum::detail {
namespace {

using Words = std::vector<SqlWord>;

bool is(const Words &w, std::size_t i, std::string_view keyword)
{
    return i < w.size() && !w[i].quoted && w[i].text == keyword;
}

// A possibly qualified name starting at w[i] (a.b.c), as written; `i` moves past it.
std::string qualified_name(const Words &w, std::size_t &i)
{
    std::string out;
    while (i < w.size() && (w[i].quoted || (!w[i].text.empty() && w[i].text[0] != '(' &&
                                            w[i].text[0] != '.' && w[i].text[0] != ','))) {
        out += w[i].text;
        i++;
        if (!is(w, i, "."))
            break;
        out += '.';
        i++;
    }
    return out;
}

// Skips a parenthesised option list: REINDEX (VERBOSE) ...
void skip_parens(const Words &w, std::size_t &i)
{
    if (!is(w, i, "("))
        return;
    int depth = 0;
    for (; i < w.size(); i++) {
        if (is(w, i, "("))
            depth++;
        else if (is(w, i, ")") && --depth == 0) {
            i++;
            return;
        }
    }
}

std::optional<ConcurrentBuild> create_index(const Words &w)
{
    std::size_t i = 1;
    if (is(w, i, "unique"))
        i++;
    if (!is(w, i, "index") || !is(w, i + 1, "concurrently"))
        return std::nullopt;
    i += 2;
    if (is(w, i, "if") && is(w, i + 1, "not") && is(w, i + 2, "exists"))
        i += 3;
    ConcurrentBuild build;
    if (!is(w, i, "on")) {
        if (i >= w.size())
            return std::nullopt;
        build.index = catalog_name(w[i]);
        i++;
    }
    if (!is(w, i, "on"))
        return std::nullopt;
    i++;
    if (is(w, i, "only"))
        i++;
    build.relation = qualified_name(w, i);
    return build;
}

std::optional<ConcurrentBuild> reindex(const Words &w)
{
    std::size_t i = 1;
    skip_parens(w, i);
    if (i >= w.size() || w[i].quoted)
        return std::nullopt;
    const std::string what = w[i].text;
    i++;
    if (!is(w, i, "concurrently"))
        return std::nullopt;
    i++;
    ConcurrentBuild build;
    build.reindex = true;
    if (what == "index" || what == "table")
        build.relation = qualified_name(w, i);
    else if (what != "schema" && what != "database" && what != "system")
        return std::nullopt;
    return build;
}

}  // namespace

std::optional<ConcurrentBuild> concurrent_build_of(std::string_view statement)
{
    Words w = leading_words(statement);
    if (is(w, 0, "create"))
        return create_index(w);
    if (is(w, 0, "reindex"))
        return reindex(w);
    return std::nullopt;
}

bool needs_no_transaction(std::string_view statement)
{
    if (concurrent_build_of(statement))
        return true;
    Words w = leading_words(statement, 4);
    if (is(w, 0, "vacuum"))
        return true;
    return is(w, 0, "drop") && is(w, 1, "index") && is(w, 2, "concurrently");
}

}  // namespace stratum::detail
