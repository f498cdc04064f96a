// The lexical pass of sql_scan.hpp, following PostgreSQL's scan.l for the
// constructs that can swallow the rest of a file: '...', E'...', "...",
// $tag$...$tag$ and nested /* */ comments.
#include "sql_scan.hpp"

#include <cstddef>

namespace stratum::detail {
namespace {

bool ident_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

bool ident_cont(unsigned char c)
{
    return ident_start(c) || (c >= '0' && c <= '9') || c == '$';
}

class Scanner {
public:
    explicit Scanner(std::string_view sql) : sql_(sql) {}

    SqlScan run()
    {
        while (pos_ < sql_.size()) {
            unsigned char c = sql_[pos_];
            if (c == '\n') {
                line_++;
                pos_++;
                previous_ = 0;
            } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
                pos_++;
                previous_ = 0;
            } else if (c == '-' && peek(1) == '-') {
                line_comment();
            } else if (c == '/' && peek(1) == '*') {
                block_comment();
            } else if (c == '\'') {
                code();
                bool escapes = previous_is_escape_prefix();
                quoted('\'', escapes, "quoted string");
            } else if (c == '"') {
                code();
                quoted('"', false, "quoted identifier");
            } else if (c == '$' && !ident_cont(previous_)) {
                code();
                dollar();
            } else if (c == ';') {
                scan_.has_code = true;
                scan_.statements += open_statement_ ? 1 : 0;
                open_statement_ = false;
                previous_ = c;
                pos_++;
            } else {
                code();
                previous_ = c;
                pos_++;
            }
        }
        scan_.statements += open_statement_ ? 1 : 0;
        return std::move(scan_);
    }

private:
    unsigned char peek(std::size_t ahead) const
    {
        return pos_ + ahead < sql_.size() ? static_cast<unsigned char>(sql_[pos_ + ahead]) : 0;
    }

    void code()
    {
        if (scan_.first_code == std::string_view::npos)
            scan_.first_code = pos_;
        scan_.has_code = true;
        open_statement_ = true;
    }

    // E'...' (or e'...') takes backslash escapes; the E must start its token.
    bool previous_is_escape_prefix() const
    {
        if (previous_ != 'E' && previous_ != 'e')
            return false;
        return pos_ < 2 || !ident_cont(static_cast<unsigned char>(sql_[pos_ - 2]));
    }

    void line_comment()
    {
        std::size_t start = pos_ + 2;
        std::size_t end = sql_.find('\n', start);
        if (end == std::string_view::npos)
            end = sql_.size();
        std::string_view text = sql_.substr(start, end - start);
        if (!text.empty() && text.back() == '\r')
            text.remove_suffix(1);
        scan_.line_comments.push_back({line_, text, !scan_.has_code});
        pos_ = end;
        previous_ = 0;
    }

    void block_comment()
    {
        int start_line = line_;
        int depth = 0;
        while (pos_ < sql_.size()) {
            if (sql_[pos_] == '/' && peek(1) == '*') {
                depth++;
                pos_ += 2;
            } else if (sql_[pos_] == '*' && peek(1) == '/') {
                depth--;
                pos_ += 2;
                if (depth == 0) {
                    previous_ = 0;
                    return;
                }
            } else {
                line_ += sql_[pos_] == '\n';
                pos_++;
            }
        }
        problem(start_line, "unterminated /* comment starting at line " + std::to_string(start_line));
    }

    void quoted(char quote, bool backslash_escapes, const char *what)
    {
        int start_line = line_;
        pos_++;
        while (pos_ < sql_.size()) {
            char c = sql_[pos_];
            if (c == '\n')
                line_++;
            if (backslash_escapes && c == '\\') {
                if (peek(1) == '\n')
                    line_++;
                pos_ += 2;
                continue;
            }
            if (c == quote) {
                if (peek(1) == static_cast<unsigned char>(quote)) {
                    pos_ += 2;  // doubled quote
                    continue;
                }
                pos_++;
                previous_ = static_cast<unsigned char>(quote);
                return;
            }
            pos_++;
        }
        pos_ = sql_.size();
        problem(start_line, std::string("unterminated ") + what + " starting at line " +
                                std::to_string(start_line));
    }

    void dollar()
    {
        // $1, $2: a parameter.
        if (peek(1) >= '0' && peek(1) <= '9') {
            pos_++;
            while (pos_ < sql_.size() && sql_[pos_] >= '0' && sql_[pos_] <= '9')
                pos_++;
            previous_ = '0';
            return;
        }
        std::size_t end = pos_ + 1;
        if (end < sql_.size() && ident_start(static_cast<unsigned char>(sql_[end]))) {
            end++;
            while (end < sql_.size() && ident_cont(static_cast<unsigned char>(sql_[end])) &&
                   sql_[end] != '$')
                end++;
        }
        if (end >= sql_.size() || sql_[end] != '$') {
            previous_ = '$';  // a lone $ (an operator character in some contexts)
            pos_++;
            return;
        }
        std::string_view tag = sql_.substr(pos_, end - pos_ + 1);
        int start_line = line_;
        std::size_t body = end + 1;
        std::size_t close = sql_.find(tag, body);
        if (close == std::string_view::npos) {
            problem(start_line, "unterminated dollar-quoted string (" + std::string(tag) +
                                    ") starting at line " + std::to_string(start_line));
            pos_ = sql_.size();
            return;
        }
        for (std::size_t i = body; i < close; i++)
            line_ += sql_[i] == '\n';
        pos_ = close + tag.size();
        previous_ = '$';
    }

    void problem(int line, std::string message) { scan_.problems.push_back({line, std::move(message)}); }

    std::string_view sql_;
    std::size_t pos_ = 0;
    int line_ = 1;
    unsigned char previous_ = 0;  // the previous code character (0 after blanks and comments)
    bool open_statement_ = false;  // code seen since the last ';'
    SqlScan scan_;
};

}  // namespace

SqlScan scan_sql(std::string_view sql)
{
    return Scanner(sql).run();
}

}  // namespace stratum::detail
