// ObjectStore: signed path-style S3 requests over cpp-httplib, the MinIO
// liveness probe and the bucket check behind health.
#include "stratum/object_store.hpp"

#include <atomic>
#include <regex>

#include "http_client.hpp"
#include "stratum/logging.hpp"

namespace stratum {

namespace {

using Clock = std::chrono::steady_clock;

struct Reply {
    int status = 0;
    std::string body;
    httplib::Headers headers;
};

// The <Code> of an S3 XML error body, if any.
std::string error_code(const std::string &body)
{
    static const std::regex code("<Code>([^<]*)</Code>");
    std::smatch match;
    if (std::regex_search(body, match, code))
        return match[1];
    return {};
}

std::string error_message(const std::string &body)
{
    static const std::regex message("<Message>([^<]*)</Message>");
    std::smatch match;
    if (std::regex_search(body, match, message))
        return match[1];
    return {};
}

std::string describe_error(httplib::Error error, Duration timeout)
{
    switch (error) {
    case httplib::Error::Connection:
        return "cannot connect";
    case httplib::Error::ConnectionTimeout:
        return "connection timed out after " + format_duration(timeout);
    case httplib::Error::Read:
        return "no answer within " + format_duration(timeout);
    case httplib::Error::SSLConnection:
        return "TLS handshake failed";
    case httplib::Error::SSLServerVerification:
        return "the server's TLS certificate could not be verified";
    case httplib::Error::SSLLoadingCerts:
        return "cannot load the CA certificates";
    default:
        return httplib::to_string(error);
    }
}

}  // namespace

struct ObjectStore::State {
    ObjectStoreConfig config;
    std::atomic<int> last_state{-1};  // to log changes of state, not every probe
    std::string base_url;  // "http://host:port"
    std::string host_header;

    explicit State(ObjectStoreConfig c) : config(std::move(c))
    {
        base_url = (config.secure ? "https://" : "http://") + config.endpoint.to_string();
        int default_port = config.secure ? 443 : 80;
        host_header = config.endpoint.port == default_port
                          ? (config.endpoint.host.find(':') != std::string::npos
                                 ? "[" + config.endpoint.host + "]"
                                 : config.endpoint.host)
                          : config.endpoint.to_string();
    }

    std::unique_ptr<httplib::Client> client(Duration timeout) const
    {
        auto client = std::make_unique<httplib::Client>(base_url);
        auto micros =
            std::chrono::duration_cast<std::chrono::microseconds>(std::max(timeout, Duration(1)));
        client->set_connection_timeout(micros);
        client->set_read_timeout(micros);
        client->set_write_timeout(micros);
        client->set_url_encode(false);  // paths are encoded here, as they are signed
        client->set_keep_alive(false);
        if (!config.ca_file.empty())
            client->set_ca_cert_path(config.ca_file);
        return client;
    }

    // One request; `key` empty addresses the bucket itself. Throws
    // ObjectStoreError when no HTTP answer came back.
    Reply send(const std::string &method, std::string_view key, std::string_view body,
               std::string_view content_type, Duration timeout, bool sign = true,
               const std::string &raw_path = {}) const
    {
        std::string path = raw_path;
        if (path.empty()) {
            path = "/" + config.bucket;
            if (!key.empty())
                path += "/" + std::string(key);
        }
        httplib::Request request;
        request.method = method;
        request.path = sigv4::uri_encode(path, true);
        request.body = std::string(body);
        request.set_header("Host", host_header);
        if (!content_type.empty())
            request.set_header("Content-Type", std::string(content_type));
        if (sign && !config.access_key.empty()) {
            std::string payload = sigv4::sha256_hex(body);
            std::string date = sigv4::amz_date(std::chrono::system_clock::now());
            sigv4::Request to_sign{
                method,
                path,
                {},
                {{"host", host_header}, {"x-amz-content-sha256", payload}, {"x-amz-date", date}},
                payload};
            auto signature = sigv4::sign(to_sign, {config.access_key, config.secret_key},
                                         config.region, "s3", date);
            request.set_header("x-amz-content-sha256", payload);
            request.set_header("x-amz-date", date);
            request.set_header("Authorization", signature.authorization);
        }
        httplib::Response response;
        httplib::Error error = httplib::Error::Success;
        auto http = client(timeout);
        if (!http->send(request, response, error))
            throw ObjectStoreError(method + " " + base_url + request.path + ": " +
                                   describe_error(error, timeout));
        return Reply{response.status, std::move(response.body), std::move(response.headers)};
    }

    [[noreturn]] void fail(const std::string &what, const Reply &reply) const
    {
        std::string code = error_code(reply.body);
        std::string message = what + ": HTTP " + std::to_string(reply.status);
        if (!code.empty())
            message += " " + code;
        std::string detail = error_message(reply.body);
        if (!detail.empty())
            message += " (" + detail + ")";
        throw ObjectStoreError(message, reply.status, code);
    }
};

ObjectStore::ObjectStore(ObjectStoreConfig config)
    : state_(std::make_unique<State>(std::move(config)))
{
}

ObjectStore::~ObjectStore() = default;

const ObjectStoreConfig &ObjectStore::config() const noexcept
{
    return state_->config;
}

bool ObjectStore::bucket_exists()
{
    Reply reply = state_->send("HEAD", "", "", "", state_->config.timeout);
    if (reply.status == 200)
        return true;
    if (reply.status == 404)
        return false;
    state_->fail("HEAD bucket " + state_->config.bucket, reply);
}

void ObjectStore::create_bucket()
{
    Reply reply = state_->send("PUT", "", "", "", state_->config.timeout);
    if (reply.status != 200)
        state_->fail("create bucket " + state_->config.bucket, reply);
}

void ObjectStore::put_object(std::string_view key, std::string_view data,
                             std::string_view content_type)
{
    if (key.empty())
        throw ObjectStoreError("an object key must not be empty");
    Reply reply = state_->send("PUT", key, data, content_type, state_->config.timeout);
    if (reply.status != 200)
        state_->fail("PUT " + std::string(key), reply);
}

std::optional<std::string> ObjectStore::get_object(std::string_view key)
{
    if (key.empty())
        throw ObjectStoreError("an object key must not be empty");
    Reply reply = state_->send("GET", key, "", "", state_->config.timeout);
    if (reply.status == 200)
        return std::move(reply.body);
    if (reply.status == 404 && error_code(reply.body) != "NoSuchBucket")
        return std::nullopt;
    state_->fail("GET " + std::string(key), reply);
}

void ObjectStore::delete_object(std::string_view key)
{
    if (key.empty())
        throw ObjectStoreError("an object key must not be empty");
    Reply reply = state_->send("DELETE", key, "", "", state_->config.timeout);
    if (reply.status != 204 && reply.status != 200)
        state_->fail("DELETE " + std::string(key), reply);
}

HealthResult ObjectStore::check(Duration timeout)
{
    HealthResult result;
    result.component = "minio";
    result.detail = "endpoint=" + state_->base_url + " bucket=" + state_->config.bucket;
    auto started = Clock::now();
    auto remaining = [&] {
        return std::max(Duration(1),
                        timeout - std::chrono::duration_cast<Duration>(Clock::now() - started));
    };
    auto finish = [&](HealthState state, std::string error) {
        result.state = state;
        result.error = error;
        result.last_error = error;
        if (!error.empty())
            result.last_error_at = std::chrono::system_clock::now();
        result.latency =
            std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started);
        result.checked_at = std::chrono::system_clock::now();
        int previous = state_->last_state.exchange(static_cast<int>(state));
        if (previous != static_cast<int>(state) && (previous != -1 || state != HealthState::up))
            logging::log(state == HealthState::up ? logging::Level::info : logging::Level::warn,
                         "minio", "health changed",
                         {{logging::field::state, to_string(state)},
                          {logging::field::endpoint, state_->config.endpoint.to_string()},
                          {logging::field::error, error}});
        return result;
    };
    try {
        Reply live = state_->send("GET", "", "", "", remaining(), false, "/minio/health/live");
        std::string liveness;
        if (live.status == 200)
            liveness = "live";
        else if (live.status == 404 || live.status == 403 || live.status == 400 ||
                 live.status == 405)
            liveness = "no MinIO liveness route";  // another S3 implementation
        else
            liveness = "liveness " + std::to_string(live.status);

        Reply bucket = state_->send("HEAD", "", "", "", remaining());
        if (bucket.status == 200) {
            if (live.status >= 500)
                return finish(HealthState::degraded,
                              "the bucket answers but /minio/health/live says " +
                                  std::to_string(live.status));
            result.detail += " (" + liveness + ")";
            return finish(HealthState::up, "");
        }
        // HEAD answers carry no body: say what the status means.
        std::string why;
        switch (bucket.status) {
        case 404:
            why = "bucket \"" + state_->config.bucket + "\" does not exist";
            break;
        case 403:
            why = "access to bucket \"" + state_->config.bucket +
                  "\" denied: check the access key and secret key";
            break;
        case 301:
        case 400: {
            auto region = bucket.headers.find("x-amz-bucket-region");
            why = "bucket \"" + state_->config.bucket + "\" answered HTTP " +
                  std::to_string(bucket.status) +
                  (region != bucket.headers.end() ? " (it lives in region " + region->second + ")"
                                                  : std::string(" (wrong region?)"));
            break;
        }
        default:
            why = "bucket \"" + state_->config.bucket + "\" answered HTTP " +
                  std::to_string(bucket.status);
        }
        return finish(HealthState::down, why);
    } catch (const ObjectStoreError &e) {
        return finish(HealthState::down, e.what());
    } catch (const std::exception &e) {
        return finish(HealthState::down, e.what());
    }
}

}  // namespace stratum
