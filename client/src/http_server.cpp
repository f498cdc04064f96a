// stratum::HttpServer: listening and shutting down, the checks made before a
// request body is read (method, length, size), authentication of the admin
// endpoints, routing, and JSON error bodies for every refusal.
#include "http_server_state.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "stratum/logging.hpp"

namespace stratum {

namespace http {

void send_json(httplib::Response &response, int status, const Json &body)
{
    response.status = status;
    response.set_content(detail::dump_json(body) + "\n", std::string(json_type).c_str());
}

void send_error(httplib::Response &response, int status, std::string_view code, std::string_view message)
{
    Json error;
    error["status"] = status;
    error["code"] = std::string(code);
    error["message"] = detail::presentable_error(message);
    send_json(response, status, Json{{"error", std::move(error)}});
}

std::string allow_header(const Endpoint &endpoint)
{
    std::string allow;
    for (std::string_view method : endpoint.methods) {
        allow += allow.empty() ? "" : ", ";
        allow += method;
        if (method == "GET")
            allow += ", HEAD";
    }
    return allow + ", OPTIONS";
}

const Endpoint *find_endpoint(std::string_view path) noexcept
{
    for (const Endpoint &endpoint : endpoints())
        if (endpoint.path == path)
            return &endpoint;
    return nullptr;
}

}  // namespace http

namespace {

using namespace std::chrono;

// Methods httplib hands to a handler; it answers 400 to the rest (TRACE,
// CONNECT), so those are refused before routing.
bool routable(const std::string &method)
{
    return method == "GET" || method == "HEAD" || method == "POST" || method == "PUT" ||
           method == "PATCH" || method == "DELETE" || method == "OPTIONS";
}

bool allowed(const http::Endpoint &endpoint, const std::string &method)
{
    for (std::string_view m : endpoint.methods)
        if (m == method || (m == "GET" && method == "HEAD"))
            return true;
    return false;
}

// A refusal made before the body was read: the body is still on the
// connection and would be parsed as the next request, so the connection must
// end with this answer. httplib (0.11) keeps a connection open unless the
// request asked otherwise, but closes it when a content provider fails: the
// provider writes the whole body, then reports failure.
void refuse_unread(httplib::Response &response, int status, std::string_view code,
                   std::string_view message)
{
    http::Json error;
    error["status"] = status;
    error["code"] = std::string(code);
    error["message"] = detail::presentable_error(message);
    auto body = std::make_shared<std::string>(detail::dump_json(http::Json{{"error", error}}) + "\n");
    response.status = status;
    response.set_header("Connection", "close");
    response.set_content_provider(
        body->size(), std::string(http::json_type),
        [body](std::size_t offset, std::size_t length, httplib::DataSink &sink) {
            sink.write(body->data() + offset, length);
            return false;
        });
}

std::string_view error_code(int status)
{
    switch (status) {
    case 400:
        return "bad_request";
    case 401:
        return "unauthorized";
    case 403:
        return "forbidden";
    case 404:
        return "not_found";
    case 405:
        return "method_not_allowed";
    case 411:
        return "length_required";
    case 413:
        return "payload_too_large";
    case 414:
        return "uri_too_long";
    case 415:
        return "unsupported_media_type";
    case 416:
        return "range_not_satisfiable";
    case 503:
        return "unavailable";
    default:
        return status >= 500 ? "internal_error" : "error";
    }
}

std::string_view reason_phrase(int status)
{
    switch (status) {
    case 400:
        return "the request could not be parsed";
    case 413:
        return "request body too large";
    case 414:
        return "request URI too long";
    case 416:
        return "range not satisfiable";
    default:
        return status >= 500 ? "internal error" : "request refused";
    }
}

time_t whole_seconds(Duration duration)
{
    return static_cast<time_t>(std::max<long long>(1, (duration.count() + 999) / 1000));
}

}  // namespace

void HttpServer::State::configure()
{
    server.new_task_queue = [threads = std::max<std::size_t>(1, options.threads)] {
        return new httplib::ThreadPool(threads);
    };
    server.set_payload_max_length(options.max_body_bytes);
    const auto read = duration_cast<microseconds>(options.read_timeout).count();
    const auto write = duration_cast<microseconds>(options.write_timeout).count();
    server.set_read_timeout(static_cast<time_t>(read / 1000000), static_cast<time_t>(read % 1000000));
    server.set_write_timeout(static_cast<time_t>(write / 1000000), static_cast<time_t>(write % 1000000));
    server.set_keep_alive_timeout(whole_seconds(options.keep_alive_timeout));
    server.set_keep_alive_max_count(100);
    // httplib's default also sets SO_REUSEPORT, which would let a second
    // server bind the same port and share its connections: address reuse only.
    server.set_socket_options([](int socket) {
        int yes = 1;
        setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    server.set_default_headers({{"Cache-Control", "no-store"}, {"X-Content-Type-Options", "nosniff"}});

    // Refuse what needs no body before httplib reads one: a large body is
    // never read, and a body-less POST is not read until the timeout.
    server.set_expect_100_continue_handler([this](const httplib::Request &request, httplib::Response &response) {
        const std::string length = request.get_header_value("Content-Length");
        std::size_t bytes = 0;
        auto [end, ec] = std::from_chars(length.data(), length.data() + length.size(), bytes);
        if (ec == std::errc() && end == length.data() + length.size() && bytes > options.max_body_bytes) {
            refuse_unread(response, 413, "payload_too_large",
                          "request body larger than " + std::to_string(options.max_body_bytes) + " bytes");
            return 413;
        }
        return 100;
    });
    server.set_pre_routing_handler([this](const httplib::Request &request, httplib::Response &response) {
        if (!routable(request.method)) {
            const http::Endpoint *endpoint = http::find_endpoint(request.path);
            if (endpoint == nullptr) {
                refuse_unread(response, 404, "not_found", "no endpoint at this path");
            } else {
                refuse_unread(response, 405, "method_not_allowed", request.method + " is not allowed here");
                response.set_header("Allow", http::allow_header(*endpoint));
            }
            return httplib::Server::HandlerResponse::Handled;
        }
        if (request.has_header("Transfer-Encoding")) {
            refuse_unread(response, 411, "length_required",
                          "send the request body with a Content-Length, not chunked");
            return httplib::Server::HandlerResponse::Handled;
        }
        if (request.has_header("Content-Length")) {
            const std::string length = request.get_header_value("Content-Length");
            std::size_t bytes = 0;
            auto [end, ec] = std::from_chars(length.data(), length.data() + length.size(), bytes);
            if (ec == std::errc::result_out_of_range || (ec == std::errc() && bytes > options.max_body_bytes)) {
                refuse_unread(response, 413, "payload_too_large",
                              "request body larger than " + std::to_string(options.max_body_bytes) + " bytes");
                return httplib::Server::HandlerResponse::Handled;
            }
            if (ec != std::errc() || end != length.data() + length.size() ||
                request.get_header_value_count("Content-Length") > 1) {
                refuse_unread(response, 400, "bad_request", "invalid Content-Length");
                return httplib::Server::HandlerResponse::Handled;
            }
        } else if (request.method != "GET" && request.method != "HEAD" && request.method != "OPTIONS") {
            // HTTP/1.1: a request without Content-Length or Transfer-Encoding
            // has no body. httplib would read until the client closes; tell
            // it the length is 0 (the request is not const to httplib: this
            // handler just sees it so).
            const_cast<httplib::Request &>(request).set_header("Content-Length", "0");
        }
        return httplib::Server::HandlerResponse::Unhandled;
    });

    auto handler = [this](const httplib::Request &request, httplib::Response &response) {
        route(request, response);
    };
    server.Get(".*", handler);
    server.Post(".*", handler);
    server.Put(".*", handler);
    server.Patch(".*", handler);
    server.Delete(".*", handler);
    server.Options(".*", handler);

    // httplib's own refusals (malformed requests, oversized headers) get the
    // same JSON error body as ours.
    server.set_error_handler(httplib::Server::HandlerWithResponse(
        [](const httplib::Request &, httplib::Response &response) {
            if (!response.body.empty() || response.has_header("Content-Type"))
                return httplib::Server::HandlerResponse::Unhandled;
            http::send_error(response, response.status, error_code(response.status),
                             reason_phrase(response.status));
            return httplib::Server::HandlerResponse::Handled;
        }));
    server.set_exception_handler([](const httplib::Request &request, httplib::Response &response,
                                    std::exception_ptr error) {
        std::string what = "unknown exception";
        try {
            std::rethrow_exception(error);
        } catch (const std::exception &e) {
            what = e.what();
        } catch (...) {
        }
        logging::error("http", "request failed", {{"method", request.method}, {"path", request.path},
                                                 {logging::field::error, what}});
        http::send_error(response, 500, "internal_error", "internal error (see the server log)");
    });
    server.set_logger([](const httplib::Request &request, const httplib::Response &response) {
        const bool admin = request.path.starts_with("/admin/");
        const logging::Level level = response.status >= 500 ? logging::Level::warn
                                     : admin                ? logging::Level::info
                                                            : logging::Level::debug;
        logging::log(level, "http", "request",
                     {{"method", request.method},
                      {"path", request.path},
                      {"status", response.status},
                      {"remote", request.remote_addr}});
    });
}

void HttpServer::State::route(const httplib::Request &request, httplib::Response &response)
{
    const http::Endpoint *endpoint = http::find_endpoint(request.path);
    if (endpoint == nullptr) {
        http::send_error(response, 404, "not_found", "no endpoint at this path");
        return;
    }
    if (endpoint->admin) {
        // Every admin request is authenticated first, whatever its method.
        if (!token.enabled()) {
            http::send_error(response, 403, "admin_disabled",
                             "the admin endpoints are off: set the admin token variable (" +
                                 options.admin_token_variable + ") to turn them on");
            return;
        }
        using Verdict = detail::AdminToken::Verdict;
        const Verdict verdict = token.check(request.get_header_value("Authorization"),
                                            request.get_header_value_count("Authorization"));
        if (verdict != Verdict::ok) {
            std::string challenge = "Bearer realm=\"stratum\"";
            if (verdict == Verdict::malformed)
                challenge += ", error=\"invalid_request\"";
            else if (verdict == Verdict::wrong)
                challenge += ", error=\"invalid_token\"";
            http::send_error(response, 401, "unauthorized",
                             verdict == Verdict::missing ? "this endpoint needs the admin token in the Authorization header"
                             : verdict == Verdict::malformed
                                 ? "malformed Authorization header: expected the scheme Bearer, one space and the token"
                                 : "invalid admin token");
            response.set_header("WWW-Authenticate", challenge);
            if (verdict == Verdict::wrong)
                logging::warn("http", "admin request with a wrong token refused",
                              {{"path", request.path}, {"remote", request.remote_addr}});
            return;
        }
    }
    if (request.method == "OPTIONS") {
        response.status = 204;
        response.set_header("Allow", http::allow_header(*endpoint));
        return;
    }
    if (!allowed(*endpoint, request.method)) {
        http::send_error(response, 405, "method_not_allowed", request.method + " is not allowed here");
        response.set_header("Allow", http::allow_header(*endpoint));
        return;
    }
    endpoint->handle(*this, request, response);
}

HttpServer::HttpServer(HttpServerOptions options, HealthChecker &health, const Pool *pool, AdminActions admin)
    : state_(std::make_unique<State>(std::move(options), health, pool, std::move(admin)))
{
    state_->configure();
}

HttpServer::~HttpServer()
{
    stop();
}

int HttpServer::bind()
{
    std::lock_guard lock(state_->mutex);
    if (state_->port >= 0)
        return state_->port;
    const HostPort &listen = state_->options.listen;
    errno = 0;
    int port = -1;
    if (listen.port == 0)
        port = state_->server.bind_to_any_port(listen.host);
    else if (state_->server.bind_to_port(listen.host, listen.port))
        port = listen.port;
    if (port < 0) {
        const int error = errno;
        throw std::runtime_error("cannot listen on " + listen.to_string() +
                                 (error != 0 ? std::string(": ") + std::strerror(error) : std::string()));
    }
    state_->port = port;
    return port;
}

void HttpServer::run()
{
    bind();
    {
        std::lock_guard lock(state_->mutex);
        if (state_->stop_requested)
            return;
        state_->serving = true;
    }
    state_->server.listen_after_bind();
    std::lock_guard lock(state_->mutex);
    state_->serving = false;
}

void HttpServer::start()
{
    bind();
    std::lock_guard lock(state_->mutex);
    if (state_->thread.joinable() || state_->stop_requested)
        return;
    state_->thread = std::thread([this] { run(); });
}

void HttpServer::stop()
{
    {
        std::lock_guard lock(state_->mutex);
        state_->stop_requested = true;
    }
    // httplib ignores stop() until its accept loop runs: wait for it.
    for (;;) {
        {
            std::lock_guard lock(state_->mutex);
            if (!state_->serving || state_->httplib_stopped)
                break;
            if (state_->server.is_running()) {
                state_->server.stop();
                state_->httplib_stopped = true;
                break;
            }
        }
        std::this_thread::sleep_for(milliseconds(1));
    }
    if (state_->thread.joinable() && state_->thread.get_id() != std::this_thread::get_id())
        state_->thread.join();
}

int HttpServer::port() const noexcept
{
    std::lock_guard lock(state_->mutex);
    return state_->port;
}

}  // namespace stratum
