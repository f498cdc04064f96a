// A lexical pass over SQL text as PostgreSQL's scanner sees it: where the
// comments are, whether there is any code, and which quoted string, quoted
// identifier, dollar-quoted string or block comment is never closed. Nothing
// is parsed beyond that (the server's parser does the rest).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace stratum::detail {

struct SqlLineComment {
    int line;               // 1-based
    std::string_view text;  // after the "--", up to the end of the line
    bool in_header;         // before the first token that is not a comment
};

struct SqlScanProblem {
    int line;
    std::string message;
};

struct SqlScan {
    std::vector<SqlLineComment> line_comments;
    std::vector<SqlScanProblem> problems;  // unterminated constructs
    bool has_code = false;                 // something besides comments and blanks
    // Statements, counted by their terminating ';' (and a last one without
    // it); a ';' inside a BEGIN ATOMIC body counts too, so this is an upper bound.
    int statements = 0;
    std::size_t first_code = std::string_view::npos;  // offset of the first statement's first token
};

SqlScan scan_sql(std::string_view sql);

}  // namespace stratum::detail
