// stratum::HttpServer: how it listens (socket options, timeouts, threads,
// hooks into httplib) and its life: bind, run, start, and a stop that lets
// the requests in progress finish.
#include "http_server_state.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "stratum/logging.hpp"

namespace stratum {

namespace {

using namespace std::chrono;

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
    server.set_read_timeout(static_cast<time_t>(read / 1000000),
                            static_cast<time_t>(read % 1000000));
    server.set_write_timeout(static_cast<time_t>(write / 1000000),
                             static_cast<time_t>(write % 1000000));
    server.set_keep_alive_timeout(whole_seconds(options.keep_alive_timeout));
    server.set_keep_alive_max_count(100);
    // Headers and body go out in separate writes: without TCP_NODELAY the
    // body waits for the client's delayed ACK (40 ms a request on keep-alive).
    server.set_tcp_nodelay(true);
    // httplib's default also sets SO_REUSEPORT, which would let a second
    // server bind the same port and share its connections: address reuse only.
    server.set_socket_options([](int socket) {
        int yes = 1;
        setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    server.set_default_headers(
        {{"Cache-Control", "no-store"}, {"X-Content-Type-Options", "nosniff"}});

    // Refuse what needs no body before httplib reads one: a large body is
    // never read, and a body-less POST is not read until the timeout.
    server.set_expect_100_continue_handler(
        [this](const httplib::Request &request, httplib::Response &response) {
            return http::refuse_before_body(request, response, options.max_body_bytes)
                       ? response.status
                       : 100;
        });
    server.set_pre_routing_handler(
        [this](const httplib::Request &request, httplib::Response &response) {
            return http::refuse_before_body(request, response, options.max_body_bytes)
                       ? httplib::Server::HandlerResponse::Handled
                       : httplib::Server::HandlerResponse::Unhandled;
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
            http::send_error(response, response.status, http::error_code(response.status),
                             http::reason_phrase(response.status));
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
        logging::error(
            "http", "request failed",
            {{"method", request.method}, {"path", request.path}, {logging::field::error, what}});
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

HttpServer::HttpServer(HttpServerOptions options, HealthChecker &health, const Pool *pool,
                       AdminActions admin)
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
        throw std::runtime_error(
            "cannot listen on " + listen.to_string() +
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
