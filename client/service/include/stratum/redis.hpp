// stratum::RedisClient: one Redis connection from the configuration (hiredis),
// with a PING health check, reconnection with exponential backoff and
// jitter, sentinel master discovery and cluster MOVED redirects.
#pragma once

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "stratum/config.hpp"
#include "stratum/health_result.hpp"

namespace stratum {

// A Redis failure that is not an error reply: authentication refused,
// protocol error, unexpected reply.
class RedisError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The server cannot be reached (refused, lost, timed out, or waiting for
// the next reconnection attempt). The client reconnects by itself.
class RedisConnectionError : public RedisError {
public:
    using RedisError::RedisError;
};

struct RedisReply {
    enum class Type { nil, string, status, integer, array, error };

    Type type = Type::nil;
    std::string str;  // string, status or error text
    long long integer = 0;
    std::vector<RedisReply> elements;

    bool is_nil() const noexcept { return type == Type::nil; }
    bool is_error() const noexcept { return type == Type::error; }
};

// Thread-safe: calls are serialised on the one connection. A command that
// fails on a lost connection is not retried (it may have run); the next call
// reconnects at once, further failures wait for the backoff
// (reconnect_backoff_min doubling up to reconnect_backoff_max, with jitter).
class RedisClient {
public:
    explicit RedisClient(RedisConfig config);  // does not connect yet
    ~RedisClient();
    RedisClient(const RedisClient &) = delete;
    RedisClient &operator=(const RedisClient &) = delete;

    // Connects now (ignoring the backoff); throws RedisConnectionError or
    // RedisError (authentication).
    void connect();

    // Sends one command; arguments are binary-safe. An error reply comes back
    // as Type::error; a connection failure throws RedisConnectionError.
    RedisReply command(const std::vector<std::string> &arguments);
    template <class... Args> RedisReply command(std::string_view name, const Args &...arguments)
    {
        return command(std::vector<std::string>{std::string(name), std::string(arguments)...});
    }

    // GET; nullopt when the key does not exist. Error replies throw RedisError.
    std::optional<std::string> get(std::string_view key);
    // SET, with PX when a ttl is given.
    void set(std::string_view key, std::string_view value,
             std::optional<std::chrono::milliseconds> ttl = std::nullopt);
    // DEL; the number of keys removed.
    long long del(std::string_view key);

    // PING within `timeout` (connecting first if needed, ignoring the
    // backoff): up on PONG; degraded when the server answers but cannot serve
    // (LOADING, BUSY, MASTERDOWN, a cluster whose state is not ok); down when
    // unreachable, timed out or refusing the credentials. `reconnecting` is
    // set while a connection that once worked is lost. Never throws.
    HealthResult check(Duration timeout);

    bool connected() const;
    // The node in use ("" when not connected): the configured address, the
    // master a sentinel named, or the cluster node answering.
    std::string server_address() const;
    // Successful reconnections after a lost connection.
    long long reconnects() const;

private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace stratum
