// The HTTP side of stratum serve's answers (internal to HttpServer): JSON
// bodies for every refusal, and the checks made from the request line and
// headers alone, before httplib reads a body (method, Transfer-Encoding,
// Content-Length).
#include <charconv>
#include <memory>

#include "http_server_state.hpp"

namespace stratum::http {

namespace {

// Methods httplib hands to a handler; it answers 400 to the rest (TRACE,
// CONNECT), so those are refused before routing.
bool routable(const std::string &method)
{
    return method == "GET" || method == "HEAD" || method == "POST" || method == "PUT" ||
           method == "PATCH" || method == "DELETE" || method == "OPTIONS";
}

}  // namespace

void send_json(httplib::Response &response, int status, const Json &body)
{
    response.status = status;
    response.set_content(detail::dump_json(body) + "\n", std::string(json_type).c_str());
}

void send_error(httplib::Response &response, int status, std::string_view code,
                std::string_view message)
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
    auto body =
        std::make_shared<std::string>(detail::dump_json(http::Json{{"error", error}}) + "\n");
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

bool refuse_before_body(const httplib::Request &request, httplib::Response &response,
                        std::size_t max_body_bytes)
{
    if (!routable(request.method)) {
        const Endpoint *endpoint = find_endpoint(request.path);
        if (endpoint == nullptr) {
            refuse_unread(response, 404, "not_found", "no endpoint at this path");
        } else {
            refuse_unread(response, 405, "method_not_allowed",
                          request.method + " is not allowed here");
            response.set_header("Allow", allow_header(*endpoint));
        }
        return true;
    }
    if (request.has_header("Transfer-Encoding")) {
        refuse_unread(response, 411, "length_required",
                      "send the request body with a Content-Length, not chunked");
        return true;
    }
    if (!request.has_header("Content-Length")) {
        if (request.method != "GET" && request.method != "HEAD" && request.method != "OPTIONS") {
            // HTTP/1.1: a request without Content-Length or Transfer-Encoding
            // has no body, but httplib would read one until the client
            // closes. Tell it the length is 0 (httplib's own Request, which
            // this hook sees as const).
            const_cast<httplib::Request &>(request).set_header("Content-Length", "0");
        }
        return false;
    }
    const std::string length = request.get_header_value("Content-Length");
    std::size_t bytes = 0;
    auto [end, ec] = std::from_chars(length.data(), length.data() + length.size(), bytes);
    if (ec == std::errc::result_out_of_range || (ec == std::errc() && bytes > max_body_bytes)) {
        refuse_unread(response, 413, "payload_too_large",
                      "request body larger than " + std::to_string(max_body_bytes) + " bytes");
        return true;
    }
    if (ec != std::errc() || end != length.data() + length.size() ||
        request.get_header_value_count("Content-Length") > 1) {
        refuse_unread(response, 400, "bad_request", "invalid Content-Length");
        return true;
    }
    return false;
}

}  // namespace stratum::http
