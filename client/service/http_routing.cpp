// Routing of stratum serve's requests (internal to HttpServer): the endpoint
// for the path (404), authentication of the admin endpoints before anything
// else (403 when off, 401 with WWW-Authenticate), OPTIONS, and 405 with Allow.
#include "http_server_state.hpp"
#include "stratum/logging.hpp"

namespace stratum {

namespace {

bool allowed(const http::Endpoint &endpoint, const std::string &method)
{
    for (std::string_view m : endpoint.methods)
        if (m == method || (m == "GET" && method == "HEAD"))
            return true;
    return false;
}

// Answers 403 or 401 unless the request carries the admin token; true when
// it may go on.
bool authenticate(const HttpServer::State &s, const httplib::Request &request,
                  httplib::Response &response)
{
    if (!s.token.enabled()) {
        http::send_error(response, 403, "admin_disabled",
                         "the admin endpoints are off: set the admin token variable (" +
                             s.options.admin_token_variable + ") to turn them on");
        return false;
    }
    using Verdict = detail::AdminToken::Verdict;
    const Verdict verdict = s.token.check(request.get_header_value("Authorization"),
                                          request.get_header_value_count("Authorization"));
    if (verdict == Verdict::ok)
        return true;
    std::string challenge = "Bearer realm=\"stratum\"";
    std::string message = "this endpoint needs the admin token in the Authorization header";
    if (verdict == Verdict::malformed) {
        challenge += ", error=\"invalid_request\"";
        message = "malformed Authorization header: expected the scheme Bearer, a space, the token";
    } else if (verdict == Verdict::wrong) {
        challenge += ", error=\"invalid_token\"";
        message = "invalid admin token";
        logging::warn("http", "admin request with a wrong token refused",
                      {{"path", request.path}, {"remote", request.remote_addr}});
    }
    http::send_error(response, 401, "unauthorized", message);
    response.set_header("WWW-Authenticate", challenge);
    return false;
}

}  // namespace

void HttpServer::State::route(const httplib::Request &request, httplib::Response &response)
{
    const http::Endpoint *endpoint = http::find_endpoint(request.path);
    if (endpoint == nullptr) {
        http::send_error(response, 404, "not_found", "no endpoint at this path");
        return;
    }
    // Every admin request is authenticated first, whatever its method: no
    // answer tells anything about an admin endpoint without the token.
    if (endpoint->admin && !authenticate(*this, request, response))
        return;
    if (request.method == "OPTIONS") {
        response.status = 204;
        response.set_header("Allow", http::allow_header(*endpoint));
        return;
    }
    if (!allowed(*endpoint, request.method)) {
        http::send_error(response, 405, "method_not_allowed",
                         request.method + " is not allowed here");
        response.set_header("Allow", http::allow_header(*endpoint));
        return;
    }
    endpoint->handle(*this, request, response);
}

}  // namespace stratum
