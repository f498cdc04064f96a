// stratum::ObjectStore: MinIO or any S3-compatible store from the
// configuration (path-style requests signed with AWS Signature Version 4):
// a health check, bucket existence, and put/get/delete of objects.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "stratum/config.hpp"
#include "stratum/health_result.hpp"

namespace stratum {

// AWS Signature Version 4 (HMAC-SHA256 through OpenSSL).
namespace sigv4 {

struct Request {
    std::string method;  // "GET", "PUT", ...
    std::string path;    // decoded ("/bucket/a b.txt"); each segment is URI-encoded
    std::vector<std::pair<std::string, std::string>> query;    // decoded name, value
    std::vector<std::pair<std::string, std::string>> headers;  // the headers to sign
    std::string payload_sha256;  // hex SHA-256 of the body, or "UNSIGNED-PAYLOAD"
};

struct Credentials {
    std::string access_key;
    Secret secret_key;
};

struct Signature {
    std::string canonical_request;
    std::string string_to_sign;
    std::string signed_headers;  // "host;x-amz-date"
    std::string signature;       // hex
    std::string authorization;   // the Authorization header's value
};

// Signs `request` at `amz_date` ("20150830T123600Z") for `region` and
// `service` ("s3").
Signature sign(const Request &request, const Credentials &credentials, std::string_view region,
               std::string_view service, std::string_view amz_date);

// "20150830T123600Z" for a point in time (UTC).
std::string amz_date(std::chrono::system_clock::time_point time);
std::string sha256_hex(std::string_view data);
// RFC 3986 percent-encoding of everything but A-Z a-z 0-9 - _ . ~ (and '/'
// when `keep_slash`), as SigV4 wants it.
std::string uri_encode(std::string_view text, bool keep_slash);

}  // namespace sigv4

// An answer from the store that is not the expected one, or no answer.
class ObjectStoreError : public std::runtime_error {
public:
    ObjectStoreError(const std::string &message, int status = 0, std::string code = {})
        : std::runtime_error(message), status_(status), code_(std::move(code))
    {
    }
    int status() const noexcept { return status_; }             // 0: no HTTP answer
    const std::string &code() const noexcept { return code_; }  // S3 error code, e.g. NoSuchBucket

private:
    int status_;
    std::string code_;
};

// Thread-safe; each call opens its own HTTP connection (health checks and
// small objects, not bulk transfer).
class ObjectStore {
public:
    explicit ObjectStore(ObjectStoreConfig config);
    ~ObjectStore();
    ObjectStore(const ObjectStore &) = delete;
    ObjectStore &operator=(const ObjectStore &) = delete;

    // Within `timeout`: GET /minio/health/live (unsigned), then a signed HEAD
    // of the bucket. Up when the bucket answers 200. Down when the endpoint
    // cannot be reached or times out, the bucket does not exist (404), or the
    // credentials are refused (403). Degraded when the bucket answers but
    // MinIO's liveness probe says 503. A 404 from the liveness route means a
    // store that is not MinIO (AWS S3, s3rver): the bucket check decides.
    // Never throws.
    HealthResult check(Duration timeout);

    // HEAD of the bucket: true on 200, false on 404; anything else throws.
    bool bucket_exists();
    // PUT of the bucket (for setting up tests and local environments).
    void create_bucket();
    void put_object(std::string_view key, std::string_view data,
                    std::string_view content_type = "application/octet-stream");
    // nullopt when the object does not exist.
    std::optional<std::string> get_object(std::string_view key);
    // Deleting an absent object is not an error (S3 semantics).
    void delete_object(std::string_view key);

    const ObjectStoreConfig &config() const noexcept;

private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace stratum
