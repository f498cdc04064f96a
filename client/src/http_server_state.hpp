// The insides of stratum::HttpServer shared by its two sources (internal):
// http_server.cpp (listening, protocol checks, authentication, errors) and
// http_endpoints.cpp (what each endpoint answers).
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
    int port = -1;               // once bound
    bool stop_requested = false;
    bool serving = false;        // inside listen_after_bind
    bool httplib_stopped = false;
    std::thread thread;          // start()

    State(HttpServerOptions o, HealthChecker &h, const Pool *p, AdminActions a)
        : options(std::move(o)), health(h), pool(p), admin(std::move(a)), token(options.admin_token)
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
void send_error(httplib::Response &response, int status, std::string_view code, std::string_view message);
void send_json(httplib::Response &response, int status, const Json &body);

}  // namespace http

}  // namespace stratum
