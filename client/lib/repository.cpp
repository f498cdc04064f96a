// Non-template helpers of Model and Repository: identifiers, UTF-8 lengths,
// regular expressions, the tenant-transaction check.
#include "stratum/repository.hpp"

#include <cctype>

namespace stratum {

Format format(const std::string &pattern, std::string description)
{
    try {
        return Format{std::make_shared<const std::regex>(pattern, std::regex::ECMAScript), std::move(description)};
    } catch (const std::regex_error &e) {
        throw UsageError("invalid format pattern \"" + pattern + "\": " + e.what());
    }
}

namespace detail {

std::size_t utf8_length(std::string_view text) noexcept
{
    std::size_t n = 0;
    for (unsigned char c : text)
        n += (c & 0xC0) != 0x80;
    return n;
}

std::string quote_identifier(const std::string &name, bool allow_schema)
{
    std::string out;
    std::size_t start = 0;
    int parts = 0;
    for (;;) {
        std::size_t dot = name.find('.', start);
        std::string part = name.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        bool ok = !part.empty() && part.size() <= 63 &&
                  (std::isalpha(static_cast<unsigned char>(part[0])) || part[0] == '_');
        for (char c : part)
            ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
        if (!ok || ++parts > (allow_schema ? 2 : 1))
            throw UsageError("\"" + name + "\" is not a plain SQL identifier" +
                             (allow_schema ? " (or schema.name)" : ""));
        out += (out.empty() ? "\"" : ".\"") + part + "\"";
        if (dot == std::string::npos)
            break;
        start = dot + 1;
    }
    return out;
}

void require_tenant(const Tx &tx, const std::string &table)
{
    if (tx.tenant() == nullptr)
        throw UsageError("repository of " + table + " runs inside a tenant transaction (pool.with_tenant)");
}

}  // namespace detail
}  // namespace stratum
