// AWS Signature Version 4: canonical request, string to sign, the derived
// signing key and the HMAC-SHA256 signature, with OpenSSL.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "stratum/object_store.hpp"

namespace stratum::sigv4 {

namespace {

std::string hex(const unsigned char *data, size_t size)
{
    static constexpr char digits[] = "0123456789abcdef";
    std::string out(size * 2, '0');
    for (size_t i = 0; i < size; ++i) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 0xf];
    }
    return out;
}

// Raw HMAC-SHA256 of `data` keyed by `key`.
std::string hmac(std::string_view key, std::string_view data)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
             reinterpret_cast<const unsigned char *>(data.data()), data.size(), digest,
             &length) == nullptr)
        throw std::runtime_error("HMAC-SHA256 failed");
    return std::string(reinterpret_cast<const char *>(digest), length);
}

std::string lower(std::string_view text)
{
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    return out;
}

// Header values are trimmed and inner runs of spaces collapse to one.
std::string canonical_value(std::string_view value)
{
    std::string out;
    bool space = false;
    for (char c : value) {
        if (c == ' ' || c == '\t') {
            space = !out.empty();
            continue;
        }
        if (space)
            out += ' ';
        space = false;
        out += c;
    }
    return out;
}

}  // namespace

std::string sha256_hex(std::string_view data)
{
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char *>(data.data()), data.size(), digest);
    return hex(digest, sizeof digest);
}

std::string uri_encode(std::string_view text, bool keep_slash)
{
    static constexpr char digits[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size());
    for (unsigned char c : text) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
            (keep_slash && c == '/')) {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += digits[c >> 4];
            out += digits[c & 0xf];
        }
    }
    return out;
}

std::string amz_date(std::chrono::system_clock::time_point time)
{
    std::time_t seconds = std::chrono::system_clock::to_time_t(time);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char buffer[20];
    std::strftime(buffer, sizeof buffer, "%Y%m%dT%H%M%SZ", &utc);
    return buffer;
}

Signature sign(const Request &request, const Credentials &credentials, std::string_view region,
               std::string_view service, std::string_view amz_date)
{
    Signature out;

    std::vector<std::pair<std::string, std::string>> query;
    for (const auto &[name, value] : request.query)
        query.emplace_back(uri_encode(name, false), uri_encode(value, false));
    std::sort(query.begin(), query.end());
    std::string canonical_query;
    for (const auto &[name, value] : query)
        canonical_query += (canonical_query.empty() ? "" : "&") + name + "=" + value;

    std::vector<std::pair<std::string, std::string>> headers;
    for (const auto &[name, value] : request.headers)
        headers.emplace_back(lower(name), canonical_value(value));
    std::sort(headers.begin(), headers.end());
    std::string canonical_headers;
    for (const auto &[name, value] : headers) {
        canonical_headers += name + ":" + value + "\n";
        out.signed_headers += (out.signed_headers.empty() ? "" : ";") + name;
    }

    std::string path = request.path.empty() ? "/" : request.path;
    out.canonical_request = request.method + "\n" + uri_encode(path, true) + "\n" +
                            canonical_query + "\n" + canonical_headers + "\n" + out.signed_headers +
                            "\n" + request.payload_sha256;

    std::string date(amz_date.substr(0, 8));
    std::string scope =
        date + "/" + std::string(region) + "/" + std::string(service) + "/aws4_request";
    out.string_to_sign = "AWS4-HMAC-SHA256\n" + std::string(amz_date) + "\n" + scope + "\n" +
                         sha256_hex(out.canonical_request);

    std::string key = hmac("AWS4" + credentials.secret_key.reveal(), date);
    key = hmac(key, region);
    key = hmac(key, service);
    key = hmac(key, "aws4_request");
    std::string raw = hmac(key, out.string_to_sign);
    out.signature = hex(reinterpret_cast<const unsigned char *>(raw.data()), raw.size());
    out.authorization = "AWS4-HMAC-SHA256 Credential=" + credentials.access_key + "/" + scope +
                        ", SignedHeaders=" + out.signed_headers + ", Signature=" + out.signature;
    return out;
}

}  // namespace stratum::sigv4
