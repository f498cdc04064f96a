// Normalised SHA-256 of migration SQL (see checksum.hpp for what is normalised).
#include "checksum.hpp"

#include <cstring>

#include <openssl/evp.h>

namespace stratum {
namespace {

// One digest context per backend, reused: a backend is single-threaded and
// never nests checksums, and reuse saves an allocation and a provider lookup
// per call.
EVP_MD_CTX *digest_context()
{
    static EVP_MD_CTX *context = EVP_MD_CTX_new();
    return context;
}

const EVP_MD *sha256()
{
    static const EVP_MD *md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return md;
}

}  // namespace

bool migration_checksum(const char *text, std::size_t length,
                        char out[checksum_hex_length + 1]) noexcept
{
    EVP_MD_CTX *context = digest_context();
    const EVP_MD *md = sha256();
    if (context == nullptr || md == nullptr || EVP_DigestInit_ex(context, md, nullptr) != 1)
        return false;

    // Hash the runs between the CRs of CR LF pairs, so that no copy is made.
    const char *run = text;
    const char *end = text + length;
    const char *cursor = text;
    while (cursor < end) {
        const char *cr = static_cast<const char *>(std::memchr(cursor, '\r', end - cursor));
        if (cr == nullptr)
            break;
        if (cr + 1 < end && cr[1] == '\n') {
            if (EVP_DigestUpdate(context, run, cr - run) != 1)
                return false;
            run = cr + 1;  // the LF opens the next run
            cursor = cr + 2;
        } else {
            cursor = cr + 1;  // a lone CR is content
        }
    }
    if (EVP_DigestUpdate(context, run, end - run) != 1)
        return false;

    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_length = 0;
    if (EVP_DigestFinal_ex(context, digest, &digest_length) != 1 || digest_length != 32)
        return false;
    static constexpr char hex[] = "0123456789abcdef";
    for (unsigned int i = 0; i < digest_length; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 0x0f];
    }
    out[checksum_hex_length] = '\0';
    return true;
}

bool is_checksum(const char *text, std::size_t length) noexcept
{
    if (length != checksum_hex_length)
        return false;
    for (std::size_t i = 0; i < length; i++) {
        char c = text[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return true;
}

}  // namespace stratum
