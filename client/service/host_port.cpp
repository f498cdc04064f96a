// "host:port" addresses in configuration (Redis, MinIO, the HTTP listener).
#include "stratum/config.hpp"

#include <cctype>
#include <charconv>
#include <stdexcept>
#include <string>

namespace stratum {

std::string HostPort::to_string() const
{
    if (host.find(':') != std::string::npos)
        return "[" + host + "]:" + std::to_string(port);
    return host + ":" + std::to_string(port);
}

HostPort parse_host_port(std::string_view text)
{
    auto bad = [&](std::string_view why) -> HostPort {
        throw std::invalid_argument("invalid address \"" + std::string(text) +
                                    "\": " + std::string(why));
    };
    if (text.find("://") != std::string_view::npos)
        return bad("expected host:port without a scheme");
    std::string_view host, port;
    if (!text.empty() && text.front() == '[') {
        size_t close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
            return bad("expected [ipv6]:port");
        host = text.substr(1, close - 1);
        port = text.substr(close + 2);
    } else {
        size_t colon = text.rfind(':');
        if (colon == std::string_view::npos)
            return bad("missing :port");
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
        if (host.find(':') != std::string_view::npos)
            return bad("write IPv6 addresses as [addr]:port");
    }
    if (host.empty())
        return bad("missing host");
    for (char c : host)
        if (std::isspace(static_cast<unsigned char>(c)) || c == '/' || c == '@')
            return bad("host contains an invalid character");
    int number = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
    if (ec != std::errc() || end != port.data() + port.size() || port.empty())
        return bad("port is not a number");
    if (number < 1 || number > 65535)
        return bad("port must be between 1 and 65535");
    return HostPort{std::string(host), number};
}

}  // namespace stratum
