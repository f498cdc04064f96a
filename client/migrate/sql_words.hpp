// The leading words of one SQL statement, as PostgreSQL's scanner splits
// them: enough to recognise a few statement forms on the client (a concurrent
// index build, a statement that cannot run in a transaction block) without
// sending the statement anywhere.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace stratum::detail {

struct SqlWord {
    std::string text;  // keywords and plain identifiers folded to lower case; "quoted" as written
    bool quoted = false;
};

// The first `limit` words of `statement`: identifiers and keywords, quoted
// identifiers, and punctuation as one-character words. Comments and blanks
// are skipped; scanning stops at a string constant, a dollar quote or the
// first ';'.
std::vector<SqlWord> leading_words(std::string_view statement, std::size_t limit = 16);

// A name as the catalog spells it: a quoted identifier without its quotes
// (doubled quotes undone), a plain one as it is (already lower case).
std::string catalog_name(const SqlWord &word);

}  // namespace stratum::detail
