// The insides of stratum::HttpServer (internal), shared by its sources:
// http_server.cpp (listening, life), http_protocol.cpp (error bodies, checks
// before the body is read), http_routing.cpp (endpoints, authentication,
// methods) and http_endpoints.cpp (what each endpoint answers).
#pragma once

#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "admin_auth.hpp"
#include "health_json.hpp"
#include "http_client.hpp"
#include "stratum/http_server.hpp"

namespace stratum {

struct HttpServer::State {
    HttpServerOptions options;
    HealthChecker &health;
    const Pool *pool;
    AdminActions admin;
    detail::AdminToken token;
    httplib::Server server;

    std::mutex mutex;
    int port = -1;  // once bound
    bool stop_requested = false;
    bool serving = false;  // inside listen_after_bind
    bool httplib_stopped = false;
    std::thread thread;  // start()

    State(HttpServerOptions o, HealthChecker &h, const Pool *p, AdminActions a)
        : options(std::move(o))
        , health(h)
        , pool(p)
        , admin(std::move(a))
        , token(options.admin_token)
    {
    }

    void configure();
    void route(const httplib::Request &request, httplib::Response &response);
};

namespace http {

using detail::Json;

// One endpoint: its path, the methods it answers, whether it needs the
// admin token, and what it does.
struct Endpoint {
    std::string_view path;
    std::vector<std::string_view> methods;  // GET implies HEAD
    bool admin = false;
    void (*handle)(HttpServer::State &, const httplib::Request &, httplib::Response &) = nullptr;
};

const std::vector<Endpoint> &endpoints();
const Endpoint *find_endpoint(std::string_view path) noexcept;
// "GET, HEAD, OPTIONS"
std::string allow_header(const Endpoint &endpoint);

inline constexpr std::string_view json_type = "application/json";

// {"error": {"status": 404, "code": "not_found", "message": "..."}}
void send_error(httplib::Response &response, int status, std::string_view code,
                std::string_view message);
void send_json(httplib::Response &response, int status, const Json &body);
// The same error body for a refusal made before the request body was read;
// the connection is closed after it (the unread body must not be taken for
// the next request).
void refuse_unread(httplib::Response &response, int status, std::string_view code,
                   std::string_view message);
// "not_found", "payload_too_large", ... and a short text for statuses httplib sets.
std::string_view error_code(int status);
std::string_view reason_phrase(int status);

// Refusals decided from the request line and headers alone: a method httplib
// cannot route (404/405), a chunked body (411), a Content-Length above
// `max_body_bytes` (413) or invalid (400). True when `response` is set. A
// body-carrying request without Content-Length is given Content-Length: 0.
bool refuse_before_body(const httplib::Request &request, httplib::Response &response,
                        std::size_t max_body_bytes);

}  // namespace http

}  // namespace stratum
