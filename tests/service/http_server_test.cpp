// stratum::HttpServer over real HTTP on loopback, backed by a real health
// checker and pool: every endpoint's status code and JSON body, up, degraded
// and down, the Prometheus exposition, and the protocol's refusals (404, 405
// with Allow, 411, 413, 400, timeouts), keep-alive, and a stop that lets the
// request in progress finish.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <future>

#include <nlohmann/json.hpp>

#include <stratum/service.hpp>

#include "client_support.hpp"
#include "http_test_support.hpp"

using namespace stratum;
using namespace std::chrono_literals;
using nlohmann::json;
using testing::HasSubstr;

namespace {

const std::string db = "stratum_http_test";

// A checker, a pool and a server on a free loopback port.
struct Served {
    explicit Served(test::Topology topology, HttpServerOptions options = {})
        : config(test::topology_config(topology))
        , pool(pool_options(topology))
        , checker(config, sources(pool))
    {
        options.listen = HostPort{"127.0.0.1", 0};
        server = std::make_unique<HttpServer>(options, checker, &pool, AdminActions{});
        server->start();
        port = server->port();
    }
    static PoolOptions pool_options(const test::Topology &t)
    {
        PoolOptions o = test::app_pool_options(t.dbname);
        o.min_size = 1;
        return o;
    }
    static HealthSources sources(const Pool &pool)
    {
        HealthSources s;
        s.pool = &pool;
        return s;
    }

    Config config;
    Pool pool;
    HealthChecker checker;
    std::unique_ptr<HttpServer> server;
    int port = 0;
};

test::Topology topology()
{
    test::Topology t;
    t.dbname = db;
    return t;
}

json body_of(const test::HttpResponse &response)
{
    return json::parse(response.body);
}

class HttpServerTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() { test::recreate_database(db); }
    void SetUp() override
    {
        for (const auto &port : test::replica_ports())
            test::wait_for_replica(port);
    }
};

TEST_F(HttpServerTest, HealthEndpointsWhenEverythingIsUp)
{
    Served s(topology());
    auto all = test::http(s.port, "GET", "/health");
    ASSERT_EQ(all.status, 200) << all.raw;
    EXPECT_EQ(all.header("content-type"), "application/json");
    EXPECT_EQ(all.header("cache-control"), "no-store");
    json report = body_of(all);
    EXPECT_EQ(report["state"], "up");
    for (const char *name : {"postgres.master", "postgres.replica.0", "postgres.replica.1", "pool",
                             "redis", "minio", "migrations"})
        EXPECT_TRUE(report["components"].contains(name)) << name;

    auto database = test::http(s.port, "GET", "/health/database");
    ASSERT_EQ(database.status, 200);
    json components = body_of(database)["components"];
    EXPECT_EQ(components.size(), 3u);  // the primary and the two replicas
    EXPECT_EQ(components["postgres.master"]["state"], "up");
    EXPECT_EQ(components["postgres.master"]["required"], true);
    EXPECT_TRUE(components["postgres.replica.0"]["lag_seconds"].is_number());

    auto pool = test::http(s.port, "GET", "/health/database/pool");
    ASSERT_EQ(pool.status, 200);
    json pool_body = body_of(pool);
    EXPECT_EQ(pool_body["state"], "up");
    EXPECT_EQ(pool_body["components"]["pool"]["max_size"], s.pool.options().max_size);
    EXPECT_EQ(pool_body["pool"]["endpoints"][0]["role"], "primary");
    for (const char *field :
         {"in_use", "idle", "total", "waiters", "timeouts", "created", "acquire_latency_us"})
        EXPECT_TRUE(pool_body["pool"].contains(field)) << field;

    auto migrations = test::http(s.port, "GET", "/health/migrations");
    ASSERT_EQ(migrations.status, 200);
    json m = body_of(migrations)["components"]["migrations"];
    EXPECT_EQ(m["state"], "up");
    EXPECT_EQ(m["applied"], 0);
    EXPECT_TRUE(m["version"].is_null());
}

TEST_F(HttpServerTest, HeadAnswersWithoutABody)
{
    Served s(topology());
    auto head = test::http(s.port, "HEAD", "/health/database");
    EXPECT_EQ(head.status, 200);
    EXPECT_TRUE(head.body.empty());
    EXPECT_EQ(head.header("content-type"), "application/json");
}

TEST_F(HttpServerTest, DownPrimaryAnswers503)
{
    test::Topology t = topology();
    t.master_port = test::closed_port();
    t.replicas = false;
    Served s(t);
    auto database = test::http(s.port, "GET", "/health/database");
    EXPECT_EQ(database.status, 503);
    json body = body_of(database);
    EXPECT_EQ(body["state"], "down");
    EXPECT_EQ(body["components"]["postgres.master"]["state"], "down");
    EXPECT_THAT(body["components"]["postgres.master"]["error"].get<std::string>(),
                HasSubstr("refused"));
    EXPECT_EQ(test::http(s.port, "GET", "/health").status, 503);
    EXPECT_EQ(test::http(s.port, "GET", "/health/migrations").status, 503);
    EXPECT_EQ(test::http(s.port, "GET", "/metrics").status, 200);  // metrics describe the outage
}

TEST_F(HttpServerTest, DegradedAnswers200WithTheStateInTheBody)
{
    test::Topology t = topology();
    t.redis_port = test::closed_port();
    Served s(t);
    auto all = test::http(s.port, "GET", "/health");
    EXPECT_EQ(all.status, 200);
    json body = body_of(all);
    EXPECT_EQ(body["state"], "degraded");
    EXPECT_EQ(body["components"]["redis"]["state"], "down");
    EXPECT_EQ(test::http(s.port, "GET", "/health/database").status, 200);
}

TEST_F(HttpServerTest, PoolEndpointDegradedWhenExhausted)
{
    Served s(topology());
    std::vector<Lease> leases;
    for (std::size_t i = 0; i < s.pool.options().max_size; i++)
        leases.push_back(s.pool.acquire());
    s.checker.check();  // the server shows the latest round
    auto pool = test::http(s.port, "GET", "/health/database/pool");
    EXPECT_EQ(pool.status, 200);
    json body = body_of(pool);
    EXPECT_EQ(body["state"], "degraded");
    EXPECT_EQ(body["pool"]["in_use"], s.pool.options().max_size);
}

TEST_F(HttpServerTest, MetricsInPrometheusTextFormat)
{
    Served s(topology());
    {
        Lease lease = s.pool.acquire();
    }
    auto metrics = test::http(s.port, "GET", "/metrics");
    ASSERT_EQ(metrics.status, 200);
    EXPECT_EQ(metrics.header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    const test::Exposition parsed = test::parse_exposition(metrics.body);
    ASSERT_TRUE(parsed.errors.empty()) << testing::PrintToString(parsed.errors);
    EXPECT_FALSE(parsed.find("stratum_pool_connections_in_use", {{"role", "primary"}}).empty());
    EXPECT_GE(parsed.find("stratum_pool_acquire_duration_seconds_count")[0].value, 1);
    EXPECT_EQ(
        parsed.find("stratum_health_state", {{"component", "postgres.master"}, {"state", "up"}})[0]
            .value,
        1);
}

TEST_F(HttpServerTest, UnknownPathsAre404)
{
    Served s(topology());
    for (const char *path :
         {"/", "/nope", "/health/", "/health/database/pool/x", "/admin", "/metrics.json"}) {
        auto response = test::http(s.port, "GET", path);
        EXPECT_EQ(response.status, 404) << path;
        EXPECT_EQ(body_of(response)["error"]["code"], "not_found") << path;
        EXPECT_EQ(body_of(response)["error"]["status"], 404);
    }
}

TEST_F(HttpServerTest, WrongMethodsAre405WithAllow)
{
    Served s(topology());
    for (const char *method : {"POST", "PUT", "PATCH", "DELETE"}) {
        auto response = test::http(s.port, method, "/health/database", {}, std::string("{}"));
        EXPECT_EQ(response.status, 405) << method;
        EXPECT_EQ(response.header("allow"), "GET, HEAD, OPTIONS") << method;
        EXPECT_EQ(body_of(response)["error"]["code"], "method_not_allowed");
    }
    auto trace = test::http(s.port, "TRACE", "/metrics");
    EXPECT_EQ(trace.status, 405);
    EXPECT_EQ(trace.header("allow"), "GET, HEAD, OPTIONS");
    EXPECT_EQ(test::http(s.port, "TRACE", "/nowhere").status, 404);
    auto options = test::http(s.port, "OPTIONS", "/metrics");
    EXPECT_EQ(options.status, 204);
    EXPECT_EQ(options.header("allow"), "GET, HEAD, OPTIONS");
}

TEST_F(HttpServerTest, OversizedBodiesAre413BeforeBeingRead)
{
    HttpServerOptions options;
    options.max_body_bytes = 1024;
    Served s(topology(), options);
    auto big = test::http(s.port, "POST", "/admin/migrations/up", {}, std::string(1025, 'x'));
    EXPECT_EQ(big.status, 413);
    EXPECT_EQ(body_of(big)["error"]["code"], "payload_too_large");
    EXPECT_EQ(big.header("connection"), "close");
    EXPECT_EQ(test::http(s.port, "POST", "/health", {}, std::string(5000, 'x')).status, 413);

    // A client announcing a gigabyte gets its answer at once, without the
    // server waiting for (or reading) the body.
    const auto started = std::chrono::steady_clock::now();
    auto liar = test::raw_request(s.port,
                                  "POST /admin/migrations/up HTTP/1.1\r\nHost: x\r\n"
                                  "Content-Length: 1000000000\r\n\r\n",
                                  5s);
    EXPECT_EQ(liar.status, 413);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
    auto expecting = test::raw_request(s.port,
                                       "POST /admin/migrations/up HTTP/1.1\r\nHost: x\r\n"
                                       "Expect: 100-continue\r\nContent-Length: 4096\r\n\r\n",
                                       5s);
    EXPECT_EQ(expecting.status, 413);
    EXPECT_THAT(expecting.raw, testing::Not(HasSubstr("100 Continue")));
    // A small body behind Expect: 100-continue is asked for, then routed.
    auto small = test::raw_request(s.port, "POST /metrics HTTP/1.1\r\nHost: x\r\n"
                                           "Expect: 100-continue\r\nContent-Length: 2\r\n\r\n{}",
                                   5s);
    EXPECT_EQ(small.status, 405);
}

TEST_F(HttpServerTest, MalformedRequestsAreRefused)
{
    Served s(topology());
    auto chunked =
        test::raw_request(s.port, "POST /admin/migrations/up HTTP/1.1\r\nHost: x\r\n"
                                  "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                                  "2\r\n{}\r\n0\r\n\r\n");
    EXPECT_EQ(chunked.status, 411);
    EXPECT_EQ(body_of(chunked)["error"]["code"], "length_required");
    auto length =
        test::raw_request(s.port, "POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n"
                                  "Connection: close\r\n\r\n");
    EXPECT_EQ(length.status, 400);
    auto garbage = test::raw_request(s.port, "HELLO\r\n\r\n");
    EXPECT_EQ(garbage.status, 400);
    EXPECT_EQ(body_of(garbage)["error"]["code"], "bad_request");
}

TEST_F(HttpServerTest, PostWithoutContentLengthIsAnsweredAtOnce)
{
    HttpServerOptions options;
    options.read_timeout = 10s;
    Served s(topology(), options);
    const auto started = std::chrono::steady_clock::now();
    auto response =
        test::raw_request(s.port, "POST /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(response.status, 405);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 2s)
        << "the server waited for a body that never comes";
}

TEST_F(HttpServerTest, StalledClientsAreDisconnected)
{
    HttpServerOptions options;
    options.read_timeout = 500ms;
    Served s(topology(), options);
    int fd = test::connect_loopback(s.port);
    ASSERT_GE(fd, 0);
    test::send_all(fd, "GET /health HTTP/1.1\r\nHost: x\r\n");  // and never the end of the headers
    const auto started = std::chrono::steady_clock::now();
    const std::string answer = test::read_until_closed(fd, 10s);
    ::close(fd);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 5s) << "the connection was not dropped";
    EXPECT_EQ(test::http(s.port, "GET", "/health").status, 200);
}

TEST_F(HttpServerTest, KeepAliveServesSeveralRequests)
{
    Served s(topology());
    int fd = test::connect_loopback(s.port);
    ASSERT_GE(fd, 0);
    test::send_all(fd, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    auto first = test::parse_response(test::read_response(fd, false, 10s));
    EXPECT_EQ(first.status, 200);
    EXPECT_THAT(first.header("keep-alive"), HasSubstr("timeout="));
    test::send_all(fd, "GET /health/database HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    auto second = test::parse_response(test::read_until_closed(fd, 10s));
    ::close(fd);
    EXPECT_EQ(second.status, 200);
    EXPECT_EQ(second.header("connection"), "close");
    EXPECT_THAT(second.body, HasSubstr("\"postgres.master\""));
}

TEST_F(HttpServerTest, KeepAliveRequestsAreNotHeldByDelayedAcks)
{
    // Headers and body leave in two writes; with Nagle's algorithm on, each
    // answer on a kept-alive connection would wait ~40 ms for the client's
    // delayed ACK (20 requests: ~800 ms). TCP_NODELAY makes it a few ms.
    Served s(topology());
    int fd = test::connect_loopback(s.port);
    ASSERT_GE(fd, 0);
    const auto started = std::chrono::steady_clock::now();
    for (int i = 0; i < 20; i++) {
        test::send_all(fd, "GET /health/database HTTP/1.1\r\nHost: x\r\n\r\n");
        ASSERT_EQ(test::parse_response(test::read_response(fd, false, 5s)).status, 200);
    }
    const auto took = std::chrono::steady_clock::now() - started;
    ::close(fd);
    EXPECT_LT(took, 400ms) << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
}

TEST_F(HttpServerTest, AnEarlyRefusalClosesTheConnection)
{
    // The unread body must not be taken for the next request.
    Served s(topology());
    int fd = test::connect_loopback(s.port);
    ASSERT_GE(fd, 0);
    test::send_all(
        fd, "POST /admin/migrations/up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            "5\r\nGET /\r\n0\r\n\r\n");
    const auto started = std::chrono::steady_clock::now();
    const std::string all = test::read_until_closed(fd, 10s);
    ::close(fd);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 1500ms);
    const auto answer = test::parse_response(all);
    EXPECT_EQ(answer.status, 411);
    EXPECT_EQ(all.find("HTTP/1.1", 1), std::string::npos) << "a second answer followed: " << all;
}

TEST_F(HttpServerTest, BindingAPortInUseFails)
{
    Served s(topology());
    HttpServerOptions options;
    options.listen = HostPort{"127.0.0.1", s.port};
    HttpServer second(options, s.checker, &s.pool, AdminActions{});
    try {
        second.bind();
        FAIL() << "bound a port already in use";
    } catch (const std::runtime_error &error) {
        EXPECT_THAT(error.what(),
                    HasSubstr("cannot listen on 127.0.0.1:" + std::to_string(s.port)));
    }
}

TEST_F(HttpServerTest, StopLetsTheRequestInProgressFinish)
{
    Served s(topology());
    int fd = test::connect_loopback(s.port);
    ASSERT_GE(fd, 0);
    test::send_all(fd, "GET /health/database HTTP/1.1\r\nHost: x\r\n");
    std::this_thread::sleep_for(100ms);  // the server is reading this request now
    auto stopped = std::async(std::launch::async, [&] { s.server->stop(); });
    std::this_thread::sleep_for(200ms);
    EXPECT_EQ(test::connect_loopback(s.port), -1) << "still accepting after stop()";
    test::send_all(fd, "Connection: close\r\n\r\n");
    const test::HttpResponse response = test::parse_response(test::read_until_closed(fd, 10s));
    ::close(fd);
    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(stopped.wait_for(10s), std::future_status::ready);
}

}  // namespace
