// Splitting the head of a statement into words (sql_words.hpp).
#include "sql_words.hpp"

namespace stratum::detail {
namespace {

bool word_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

bool word_char(unsigned char c)
{
    return word_start(c) || (c >= '0' && c <= '9') || c == '$';
}

// Skips blanks and comments (nested /* */ as PostgreSQL nests them).
std::size_t skip_space(std::string_view s, std::size_t pos)
{
    while (pos < s.size()) {
        unsigned char c = s[pos];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
            pos++;
        } else if (c == '-' && pos + 1 < s.size() && s[pos + 1] == '-') {
            std::size_t end = s.find('\n', pos);
            pos = end == std::string_view::npos ? s.size() : end + 1;
        } else if (c == '/' && pos + 1 < s.size() && s[pos + 1] == '*') {
            int depth = 0;
            while (pos < s.size()) {
                if (s[pos] == '/' && pos + 1 < s.size() && s[pos + 1] == '*') {
                    depth++;
                    pos += 2;
                } else if (s[pos] == '*' && pos + 1 < s.size() && s[pos + 1] == '/') {
                    pos += 2;
                    if (--depth == 0)
                        break;
                } else {
                    pos++;
                }
            }
        } else {
            break;
        }
    }
    return pos;
}

}  // namespace

std::vector<SqlWord> leading_words(std::string_view s, std::size_t limit)
{
    std::vector<SqlWord> words;
    std::size_t pos = 0;
    while (words.size() < limit) {
        pos = skip_space(s, pos);
        if (pos >= s.size())
            break;
        unsigned char c = s[pos];
        if (word_start(c)) {
            std::size_t end = pos;
            while (end < s.size() && word_char(static_cast<unsigned char>(s[end])))
                end++;
            if (end < s.size() && s[end] == '\'')
                break;  // E'...', B'...', U&'...': a constant, not a word
            SqlWord word;
            for (std::size_t i = pos; i < end; i++) {
                char ch = s[i];
                word.text.push_back(ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch - 'A' + 'a') : ch);
            }
            words.push_back(std::move(word));
            pos = end;
        } else if (c == '"') {
            std::size_t end = pos + 1;
            for (;;) {
                end = s.find('"', end);
                if (end == std::string_view::npos)
                    return words;
                if (end + 1 < s.size() && s[end + 1] == '"') {
                    end += 2;
                    continue;
                }
                break;
            }
            words.push_back({std::string(s.substr(pos, end + 1 - pos)), true});
            pos = end + 1;
        } else if (c == '\'' || c == '$' || c == ';') {
            break;
        } else {
            words.push_back({std::string(1, static_cast<char>(c)), false});
            pos++;
        }
    }
    return words;
}

std::string catalog_name(const SqlWord &word)
{
    if (!word.quoted)
        return word.text;
    std::string out;
    for (std::size_t i = 1; i + 1 < word.text.size(); i++) {
        out.push_back(word.text[i]);
        if (word.text[i] == '"')
            i++;  // "" stands for one "
    }
    return out;
}

}  // namespace stratum::detail
