// The admin bearer token: digests of equal length compared with
// CRYPTO_memcmp, so neither the token's length nor its prefix leaks through
// timing.
#include "admin_auth.hpp"

#include <cctype>

#include <openssl/crypto.h>
#include <openssl/sha.h>

namespace stratum::detail {

namespace {

std::array<unsigned char, 32> sha256(std::string_view text) noexcept
{
    std::array<unsigned char, 32> digest{};
    SHA256(reinterpret_cast<const unsigned char *>(text.data()), text.size(), digest.data());
    return digest;
}

bool is_blank(char c) noexcept
{
    return c == ' ' || c == '\t';
}

}  // namespace

AdminToken::AdminToken(const Secret &token)
    : enabled_(!token.empty())
{
    if (enabled_)
        digest_ = sha256(token.reveal());
}

AdminToken::Verdict AdminToken::check(std::string_view header, std::size_t count) const noexcept
{
    if (count == 0)
        return Verdict::missing;
    if (count > 1)
        return Verdict::malformed;
    constexpr std::string_view scheme = "bearer";
    if (header.size() <= scheme.size() || !is_blank(header[scheme.size()]))
        return Verdict::malformed;
    for (std::size_t i = 0; i < scheme.size(); i++)
        if (std::tolower(static_cast<unsigned char>(header[i])) != scheme[i])
            return Verdict::malformed;
    std::string_view token = header.substr(scheme.size());
    while (!token.empty() && is_blank(token.front()))
        token.remove_prefix(1);
    while (!token.empty() && is_blank(token.back()))
        token.remove_suffix(1);
    if (token.empty())
        return Verdict::malformed;
    for (char c : token)
        if (is_blank(c))
            return Verdict::malformed;
    const auto presented = sha256(token);
    if (!enabled_ || CRYPTO_memcmp(presented.data(), digest_.data(), digest_.size()) != 0)
        return Verdict::wrong;
    return Verdict::ok;
}

}  // namespace stratum::detail
