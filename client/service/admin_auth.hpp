// Bearer-token check of the admin endpoints (internal): the configured token
// is kept as a SHA-256 digest and compared in constant time.
#pragma once

#include <array>
#include <string_view>

#include "stratum/config.hpp"

namespace stratum::detail {

class AdminToken {
public:
    explicit AdminToken(const Secret &token);

    bool enabled() const noexcept { return enabled_; }

    enum class Verdict {
        ok,
        missing,    // no Authorization header
        malformed,  // not "Bearer <token>", or several headers
        wrong,      // a token that is not the one configured
    };
    // `header` is the Authorization header's value; `count` how many were sent.
    Verdict check(std::string_view header, std::size_t count) const noexcept;

private:
    std::array<unsigned char, 32> digest_{};
    bool enabled_ = false;
};

}  // namespace stratum::detail
