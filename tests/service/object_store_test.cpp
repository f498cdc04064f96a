// The SigV4 signer against AWS's published examples, and ObjectStore against
// the real s3rver the harness starts (plus a closed port and a silent one).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "stratum/object_store.hpp"
#include "test_env.hpp"

using namespace std::chrono_literals;
using stratum::HealthState;
using stratum::ObjectStore;
using stratum::ObjectStoreConfig;
using testing::HasSubstr;
using testing::Not;
namespace sigv4 = stratum::sigv4;

namespace {

const std::string empty_sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// The credentials of AWS's SigV4 test suite, and of the S3 reference examples.
const sigv4::Credentials suite_credentials{
    "AKIDEXAMPLE", stratum::Secret("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")};
const sigv4::Credentials s3_credentials{
    "AKIAIOSFODNN7EXAMPLE", stratum::Secret("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")};

sigv4::Request suite_request(std::string method,
                             std::vector<std::pair<std::string, std::string>> query = {})
{
    return sigv4::Request{std::move(method),
                          "/",
                          std::move(query),
                          {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}},
                          empty_sha256};
}

sigv4::Request s3_request(std::string method, std::string path,
                          std::vector<std::pair<std::string, std::string>> query,
                          std::vector<std::pair<std::string, std::string>> extra_headers,
                          std::string payload_sha256 = empty_sha256)
{
    std::vector<std::pair<std::string, std::string>> headers = {
        {"host", "examplebucket.s3.amazonaws.com"},
        {"x-amz-content-sha256", payload_sha256},
        {"x-amz-date", "20130524T000000Z"},
    };
    headers.insert(headers.end(), extra_headers.begin(), extra_headers.end());
    return sigv4::Request{std::move(method), std::move(path), std::move(query), std::move(headers),
                          std::move(payload_sha256)};
}

int closed_port()
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr *>(&address), sizeof address);
    socklen_t length = sizeof address;
    getsockname(fd, reinterpret_cast<sockaddr *>(&address), &length);
    close(fd);
    return ntohs(address.sin_port);
}

ObjectStoreConfig s3rver_config()
{
    ObjectStoreConfig config;
    config.endpoint =
        stratum::parse_host_port(stratum::test::required_env("STRATUM_TEST_S3_ENDPOINT"));
    config.bucket = stratum::test::required_env("STRATUM_TEST_S3_BUCKET");
    config.access_key = stratum::test::required_env("STRATUM_TEST_S3_ACCESS_KEY");
    config.secret_key = stratum::Secret(stratum::test::required_env("STRATUM_TEST_S3_SECRET_KEY"));
    config.timeout = 5s;
    return config;
}

}  // namespace

// ---- the signer, against AWS's documented examples -------------------------

TEST(SigV4, GetVanilla)
{
    auto signature = sigv4::sign(suite_request("GET"), suite_credentials, "us-east-1", "service",
                                 "20150830T123600Z");
    EXPECT_EQ(signature.canonical_request,
              "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
              "host;x-amz-date\n" +
                  empty_sha256);
    EXPECT_EQ(signature.string_to_sign,
              "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
              "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
    EXPECT_EQ(signature.authorization,
              "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
              "SignedHeaders=host;x-amz-date, "
              "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

TEST(SigV4, PostVanilla)
{
    auto signature = sigv4::sign(suite_request("POST"), suite_credentials, "us-east-1", "service",
                                 "20150830T123600Z");
    EXPECT_EQ(signature.signature,
              "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
}

TEST(SigV4, QueryParametersAreSorted)
{
    auto signature = sigv4::sign(suite_request("GET", {{"Param2", "value2"}, {"Param1", "value1"}}),
                                 suite_credentials, "us-east-1", "service", "20150830T123600Z");
    EXPECT_THAT(signature.canonical_request, HasSubstr("\n/\nParam1=value1&Param2=value2\n"));
    EXPECT_EQ(signature.signature,
              "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
}

TEST(SigV4, S3GetObjectWithRange)
{
    auto signature = sigv4::sign(s3_request("GET", "/test.txt", {}, {{"Range", "bytes=0-9"}}),
                                 s3_credentials, "us-east-1", "s3", "20130524T000000Z");
    EXPECT_EQ(signature.signed_headers, "host;range;x-amz-content-sha256;x-amz-date");
    EXPECT_EQ(sigv4::sha256_hex(signature.canonical_request),
              "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
    EXPECT_EQ(signature.signature,
              "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SigV4, S3PutObjectEncodesThePathAndSignsThePayload)
{
    std::string payload = sigv4::sha256_hex("Welcome to Amazon S3.");
    EXPECT_EQ(payload, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    auto signature = sigv4::sign(s3_request("PUT", "/test$file.text", {},
                                            {{"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                                             {"x-amz-storage-class", "REDUCED_REDUNDANCY"}},
                                            payload),
                                 s3_credentials, "us-east-1", "s3", "20130524T000000Z");
    EXPECT_THAT(signature.canonical_request, HasSubstr("PUT\n/test%24file.text\n"));
    EXPECT_EQ(sigv4::sha256_hex(signature.canonical_request),
              "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d");
    EXPECT_EQ(signature.signature,
              "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST(SigV4, S3SubresourceAndListing)
{
    auto lifecycle = sigv4::sign(s3_request("GET", "/", {{"lifecycle", ""}}, {}), s3_credentials,
                                 "us-east-1", "s3", "20130524T000000Z");
    EXPECT_EQ(lifecycle.signature,
              "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
    auto listing = sigv4::sign(s3_request("GET", "/", {{"prefix", "J"}, {"max-keys", "2"}}, {}),
                               s3_credentials, "us-east-1", "s3", "20130524T000000Z");
    EXPECT_EQ(listing.signature,
              "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST(SigV4, EncodingAndDates)
{
    EXPECT_EQ(sigv4::uri_encode("a b/c~d_e.f-g", true), "a%20b/c~d_e.f-g");
    EXPECT_EQ(sigv4::uri_encode("a/b+c=", false), "a%2Fb%2Bc%3D");
    EXPECT_EQ(sigv4::uri_encode("é", true), "%C3%A9");
    EXPECT_EQ(sigv4::sha256_hex(""), empty_sha256);
    EXPECT_EQ(sigv4::amz_date(std::chrono::system_clock::time_point(1440938160s)),
              "20150830T123600Z");
}

TEST(SigV4, TheSecretNeverAppearsInWhatIsSent)
{
    auto signature = sigv4::sign(suite_request("GET"), suite_credentials, "us-east-1", "service",
                                 "20150830T123600Z");
    for (const std::string &text :
         {signature.authorization, signature.canonical_request, signature.string_to_sign})
        EXPECT_THAT(text, Not(HasSubstr("EXAMPLEKEY")));
}

// ---- against s3rver ---------------------------------------------------------

TEST(ObjectStore, HealthyBucketIsUp)
{
    ObjectStore store(s3rver_config());
    auto health = store.check(5s);
    EXPECT_EQ(health.state, HealthState::up) << health.error;
    EXPECT_EQ(health.component, "minio");
    EXPECT_TRUE(health.error.empty());
    EXPECT_GT(health.latency.count(), 0);
    // s3rver has no MinIO liveness route; the bucket check decides.
    EXPECT_THAT(health.detail, HasSubstr("no MinIO liveness route"));
    EXPECT_TRUE(store.bucket_exists());
}

TEST(ObjectStore, PutGetDeleteRoundTrip)
{
    ObjectStore store(s3rver_config());
    const std::string key = "tests/" + std::to_string(getpid()) + "/a file ü+=&.bin";
    std::string data("binary\0data\xff", 12);
    store.put_object(key, data);
    EXPECT_EQ(store.get_object(key), data);
    store.delete_object(key);
    EXPECT_EQ(store.get_object(key), std::nullopt);
    EXPECT_NO_THROW(store.delete_object(key));  // absent: not an error
    EXPECT_THROW(store.put_object("", "x"), stratum::ObjectStoreError);
}

TEST(ObjectStore, MissingBucketIsDownWithAClearError)
{
    ObjectStoreConfig config = s3rver_config();
    config.bucket = "stratum-missing-" + std::to_string(getpid());
    ObjectStore store(config);
    auto health = store.check(5s);
    EXPECT_EQ(health.state, HealthState::down);
    EXPECT_THAT(health.error, HasSubstr("bucket \"" + config.bucket + "\" does not exist"));
    EXPECT_FALSE(store.bucket_exists());
    try {
        store.put_object("k", "v");
        FAIL();
    } catch (const stratum::ObjectStoreError &e) {
        EXPECT_EQ(e.status(), 404);
        EXPECT_EQ(e.code(), "NoSuchBucket");
    }

    store.create_bucket();
    EXPECT_TRUE(store.bucket_exists());
    EXPECT_EQ(store.check(5s).state, HealthState::up);
}

TEST(ObjectStore, UnknownAccessKeyIsRefused)
{
    // s3rver checks the access key id but not the signature itself (its
    // SigV4 verification is unimplemented), so a wrong secret alone passes
    // there; the signer is checked against AWS's examples above.
    ObjectStoreConfig config = s3rver_config();
    config.access_key = "NOT-A-KNOWN-KEY";
    ObjectStore store(config);
    auto health = store.check(5s);
    EXPECT_EQ(health.state, HealthState::down);
    EXPECT_THAT(health.error, HasSubstr("denied"));
    try {
        store.put_object("k", "v");
        FAIL();
    } catch (const stratum::ObjectStoreError &e) {
        EXPECT_EQ(e.status(), 403);
        EXPECT_EQ(e.code(), "InvalidAccessKeyId");
        EXPECT_THAT(e.what(), Not(HasSubstr(config.secret_key.reveal() + "x")));
    }
}

TEST(ObjectStore, ClosedEndpointIsDownAtOnce)
{
    ObjectStoreConfig config = s3rver_config();
    config.endpoint = {"127.0.0.1", closed_port()};
    ObjectStore store(config);
    auto started = std::chrono::steady_clock::now();
    auto health = store.check(2s);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 1s);
    EXPECT_EQ(health.state, HealthState::down);
    EXPECT_THAT(health.error, HasSubstr("cannot connect"));
    EXPECT_THROW(store.bucket_exists(), stratum::ObjectStoreError);
}

TEST(ObjectStore, SilentEndpointIsDownWithinTheTimeout)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr *>(&address), sizeof address);
    listen(fd, 16);
    socklen_t length = sizeof address;
    getsockname(fd, reinterpret_cast<sockaddr *>(&address), &length);

    ObjectStoreConfig config = s3rver_config();
    config.endpoint = {"127.0.0.1", ntohs(address.sin_port)};
    ObjectStore store(config);
    auto started = std::chrono::steady_clock::now();
    auto health = store.check(400ms);
    auto elapsed = std::chrono::steady_clock::now() - started;
    close(fd);
    EXPECT_EQ(health.state, HealthState::down);
    EXPECT_THAT(health.error, HasSubstr("no answer within"));
    EXPECT_GE(elapsed, 350ms);
    EXPECT_LT(elapsed, 1500ms);
}

TEST(ObjectStore, ConfiguredFromTheConfigFile)
{
    stratum::LoadOptions load;
    load.env = std::map<std::string, std::string>{
        {"MINIO_ACCESS_KEY", stratum::test::required_env("STRATUM_TEST_S3_ACCESS_KEY")},
        {"MINIO_SECRET_KEY", stratum::test::required_env("STRATUM_TEST_S3_SECRET_KEY")}};
    std::string yaml = "database: {minio: {endpoint: 'http://" +
                       stratum::test::required_env("STRATUM_TEST_S3_ENDPOINT") +
                       "', bucket: " + stratum::test::required_env("STRATUM_TEST_S3_BUCKET") + "}}";
    stratum::Config config = stratum::Config::parse(yaml, "inline", load);
    ASSERT_TRUE(config.database.minio);
    EXPECT_FALSE(config.database.minio->secure);
    ObjectStore store(*config.database.minio);
    EXPECT_EQ(store.check(5s).state, HealthState::up);
}

// An https s3rver with a self-signed certificate for 127.0.0.1: the https
// path of the client (Debian's cpp-httplib is built with OpenSSL) and
// certificate verification.
class TlsObjectStore : public testing::Test {
protected:
    void SetUp() override
    {
        dir_ =
            std::filesystem::temp_directory_path() / ("stratum-s3-tls-" + std::to_string(getpid()));
        std::filesystem::create_directories(dir_ / "data");
        std::string openssl =
            "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1"
            " -addext subjectAltName=IP:127.0.0.1 -keyout " +
            (dir_ / "key.pem").string() + " -out " + (dir_ / "cert.pem").string() +
            " >/dev/null 2>&1";
        ASSERT_EQ(std::system(openssl.c_str()), 0) << "openssl could not make a certificate";
        port_ = closed_port();
        std::string bin = stratum::test::required_env("STRATUM_TEST_S3RVER_BIN");
        std::vector<std::string> args = {bin,
                                         "-d",
                                         (dir_ / "data").string(),
                                         "-a",
                                         "127.0.0.1",
                                         "-p",
                                         std::to_string(port_),
                                         "--key",
                                         (dir_ / "key.pem").string(),
                                         "--cert",
                                         (dir_ / "cert.pem").string(),
                                         "--configure-bucket",
                                         "tls-bucket",
                                         "--silent"};
        pid_ = fork();
        if (pid_ == 0) {
            std::vector<char *> argv;
            for (std::string &arg : args)
                argv.push_back(arg.data());
            argv.push_back(nullptr);
            execv(argv[0], argv.data());
            _exit(127);
        }
        ObjectStoreConfig probe = config();
        probe.ca_file = (dir_ / "cert.pem").string();
        ObjectStore store(probe);
        for (int i = 0; i < 100 && store.check(1s).state != HealthState::up; ++i)
            std::this_thread::sleep_for(50ms);
    }

    void TearDown() override
    {
        if (pid_ > 0) {
            kill(pid_, SIGTERM);
            waitpid(pid_, nullptr, 0);
        }
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
    }

    ObjectStoreConfig config() const
    {
        ObjectStoreConfig config = s3rver_config();
        config.endpoint = {"127.0.0.1", port_};
        config.secure = true;
        config.bucket = "tls-bucket";
        return config;
    }

    std::filesystem::path dir_;
    int port_ = 0;
    pid_t pid_ = -1;
};

TEST_F(TlsObjectStore, TrustedCertificateIsUp)
{
    ObjectStoreConfig trusted = config();
    trusted.ca_file = (dir_ / "cert.pem").string();
    ObjectStore store(trusted);
    auto health = store.check(5s);
    EXPECT_EQ(health.state, HealthState::up) << health.error;
    EXPECT_THAT(health.detail, HasSubstr("https://127.0.0.1:"));
    store.put_object("over-tls", "secret-free payload");
    EXPECT_EQ(store.get_object("over-tls"), "secret-free payload");
}

TEST_F(TlsObjectStore, UnknownCertificateIsRefused)
{
    ObjectStore store(config());  // the system store does not know this certificate
    auto health = store.check(5s);
    EXPECT_EQ(health.state, HealthState::down);
    EXPECT_THAT(health.error, HasSubstr("could not be verified"));
}
