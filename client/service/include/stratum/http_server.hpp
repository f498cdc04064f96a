// stratum::HttpServer: the HTTP API of `stratum serve` (cpp-httplib) —
// health endpoints, Prometheus metrics, and admin endpoints behind a bearer
// token that drive migrations through injected actions. Reference with curl
// examples: docs/operations.md.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include "stratum/config.hpp"

namespace stratum {

class HealthChecker;
class Pool;

// One call of an admin endpoint, as its action sees it.
struct AdminRequest {
    std::string body;    // the request's JSON object, as sent ("{}" when it had no body)
    std::string remote;  // the peer's address, for the log
};

struct AdminResponse {
    int status = 200;
    std::string body;  // JSON
};

// An admin action: does the work and answers with a JSON body. It may throw
// AdminError (its status and code are answered), a stratum::Error (mapped by
// SQLSTATE: drift 409, database unavailable 503, ...), or anything else (500,
// message logged, not shown).
using AdminAction = std::function<AdminResponse(const AdminRequest &)>;

// What the admin endpoints do. An empty action answers 501.
struct AdminActions {
    AdminAction migrate_up;        // POST /admin/migrations/up
    AdminAction migrate_down;      // POST /admin/migrations/down
    AdminAction migration_status;  // GET  /admin/migrations/status
    AdminAction seed;              // POST /admin/database/seed (refused in production first)
};

// Thrown by an admin action to answer with this status and error code, e.g.
// AdminError(400, "invalid_request", "\"steps\" must be a positive integer").
class AdminError : public std::runtime_error {
public:
    AdminError(int status, std::string code, const std::string &message)
        : std::runtime_error(message)
        , status_(status)
        , code_(std::move(code))
    {
    }
    int status() const noexcept { return status_; }
    const std::string &code() const noexcept { return code_; }

private:
    int status_;
    std::string code_;
};

struct HttpServerOptions {
    HostPort listen{"127.0.0.1", 8080};  // port 0: any free port (see port())
    Secret admin_token;                  // empty: the admin endpoints answer 403
    std::string admin_token_variable = "STRATUM_ADMIN_TOKEN";  // named in the 403 message
    bool production = false;                            // POST /admin/database/seed answers 403
    std::size_t max_body_bytes = 64 * 1024;             // larger requests: 413
    Duration read_timeout = std::chrono::seconds(10);   // per read of a request
    Duration write_timeout = std::chrono::seconds(10);  // per write of a response
    // Idle keep-alive connections are closed after this; it also bounds how
    // long stop() waits for them.
    Duration keep_alive_timeout = std::chrono::seconds(2);
    std::size_t threads = 4;  // requests served at once
};

// Health answers come from health.latest() (a round is run first if none
// ran yet): 200 when up or degraded (the state is in the body), 503 when
// down. `pool` (may be null) feeds /health/database/pool and /metrics; the
// checker and the pool must outlive the server.
class HttpServer {
public:
    HttpServer(HttpServerOptions options, HealthChecker &health, const Pool *pool,
               AdminActions admin);
    ~HttpServer();  // stop()
    HttpServer(const HttpServer &) = delete;
    HttpServer &operator=(const HttpServer &) = delete;

    // Binds the listening socket (once); returns the port. Throws
    // std::runtime_error when the address cannot be bound.
    int bind();
    // Serves (binding first if needed) until stop(); returns once the
    // requests in progress have been answered.
    void run();
    // run() on a background thread; returns once bound.
    void start();
    // Stops accepting connections and lets requests in progress finish.
    // Thread-safe and idempotent; when start() was used, also waits for the
    // background thread. Not async-signal-safe: call it from a thread that
    // received the signal with sigwait.
    void stop();

    int port() const noexcept;

    struct State;  // the implementation's (client/src/http_server_state.hpp)

private:
    std::unique_ptr<State> state_;
};

}  // namespace stratum
