// Checks on the text of a migration file before it is sent, and its checksum
// computed exactly as the ledger computes it (so a plan needs no SQL sent).
#include <cstdio>
#include <memory>
#include <stdexcept>

#include <openssl/evp.h>

#include "sql_scan.hpp"
#include "stratum/migration_files.hpp"

namespace stratum {
namespace {

struct DigestContextFree {
    void operator()(EVP_MD_CTX *context) const noexcept { EVP_MD_CTX_free(context); }
};

// Length of the valid UTF-8 sequence at `p` (1-4), or 0 when it is not one
// (overlong forms, surrogates and code points above U+10FFFF are invalid).
std::size_t utf8_sequence(const unsigned char *p, std::size_t left)
{
    unsigned char c = p[0];
    if (c < 0x80)
        return 1;
    std::size_t length;
    unsigned char min_second = 0x80, max_second = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        length = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        length = 3;
        if (c == 0xE0)
            min_second = 0xA0;  // overlong
        if (c == 0xED)
            max_second = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
        length = 4;
        if (c == 0xF0)
            min_second = 0x90;  // overlong
        if (c == 0xF4)
            max_second = 0x8F;  // above U+10FFFF
    } else {
        return 0;
    }
    if (left < length || p[1] < min_second || p[1] > max_second)
        return 0;
    for (std::size_t i = 2; i < length; i++) {
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    }
    return length;
}

}  // namespace

std::string migration_checksum(std::string_view sql)
{
    std::unique_ptr<EVP_MD_CTX, DigestContextFree> context(EVP_MD_CTX_new());
    if (!context || EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr) != 1)
        throw std::runtime_error("SHA-256: OpenSSL could not start a digest");
    // Hash the runs between the CRs of CR LF pairs: no copy of the text.
    std::size_t run = 0;
    for (std::size_t i = 0; i + 1 < sql.size(); i++) {
        if (sql[i] == '\r' && sql[i + 1] == '\n') {
            EVP_DigestUpdate(context.get(), sql.data() + run, i - run);
            run = i + 1;
        }
    }
    EVP_DigestUpdate(context.get(), sql.data() + run, sql.size() - run);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (EVP_DigestFinal_ex(context.get(), digest, &length) != 1 || length != 32)
        throw std::runtime_error("SHA-256: OpenSSL could not finish the digest");
    static constexpr char hex[] = "0123456789abcdef";
    std::string out(64, '0');
    for (unsigned int i = 0; i < length; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 0xF];
    }
    return out;
}

std::vector<FileProblem> check_sql_text(std::string_view sql, const std::string &file)
{
    std::vector<FileProblem> problems;
    const auto *bytes = reinterpret_cast<const unsigned char *>(sql.data());
    if (sql.size() >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF)
        problems.push_back({file, 1, "starts with a UTF-8 byte-order mark, which PostgreSQL "
                                     "does not accept; save the file without it"});
    int line = 1;
    bool reported_nul = false;
    for (std::size_t i = 0; i < sql.size();) {
        if (bytes[i] == '\n')
            line++;
        if (bytes[i] == 0 && !reported_nul) {
            problems.push_back({file, line, "contains a NUL byte, which SQL text cannot hold"});
            reported_nul = true;
        }
        std::size_t length = utf8_sequence(bytes + i, sql.size() - i);
        if (length == 0) {
            char byte[8];
            std::snprintf(byte, sizeof byte, "0x%02x", bytes[i]);
            problems.push_back({file, line, std::string("is not valid UTF-8 (byte ") + byte +
                                                "); migration files are UTF-8: convert it, "
                                                "e.g. with iconv"});
            return problems;  // the rest cannot be read reliably
        }
        i += length;
    }
    detail::SqlScan scan = detail::scan_sql(sql);
    for (auto &problem : scan.problems)
        problems.push_back({file, problem.line, std::move(problem.message)});
    return problems;
}

}  // namespace stratum
