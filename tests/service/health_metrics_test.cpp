// /metrics content: the Prometheus text writer (names, escaping, values),
// the acquire-latency buckets, and the whole exposition rendered from a real
// pool and health checker, checked line by line by a parser of the format
// (which is itself shown to catch malformed text).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stratum/service.hpp>

#include "client_support.hpp"
#include "http_test_support.hpp"

using namespace stratum;
using namespace std::chrono_literals;
using testing::HasSubstr;

namespace {

TEST(LatencyBuckets, CumulativeCountsAtTheBounds)
{
    LatencyHistogram histogram;
    for (int i = 0; i < 3; i++)
        histogram.record(500ns);
    histogram.record(2us);
    histogram.record(9us);
    histogram.record(3ms);
    histogram.record(10s);
    const std::vector<double> bounds = {1e-6, 1e-5, 1e-2};
    const LatencyBuckets buckets = histogram.buckets(bounds);
    EXPECT_EQ(buckets.upper_bounds_seconds, bounds);
    EXPECT_THAT(buckets.cumulative, testing::ElementsAre(3u, 5u, 6u));
    EXPECT_EQ(buckets.count, 7u);
    EXPECT_NEAR(buckets.sum_seconds, 10.003 + 11e-6 + 1.5e-6, 1e-9);
}

TEST(LatencyBuckets, BoundsAreExactToTheHistogramResolution)
{
    LatencyHistogram histogram;
    histogram.record(1000ns);  // in the bucket [992, 1008): counted at 1 us
    histogram.record(1010ns);  // in the bucket [1008, 1024): above 1 us
    histogram.record(63ns);    // exact below 64 ns
    const std::vector<double> bounds = {63e-9, 1e-6, 2e-6};
    const LatencyBuckets buckets = histogram.buckets(bounds);
    EXPECT_THAT(buckets.cumulative, testing::ElementsAre(1u, 2u, 3u));
    EXPECT_EQ(buckets.count, 3u);
}

TEST(LatencyBuckets, EmptyHistogram)
{
    LatencyHistogram histogram;
    const std::vector<double> bounds = {1e-3};
    const LatencyBuckets buckets = histogram.buckets(bounds);
    EXPECT_THAT(buckets.cumulative, testing::ElementsAre(0u));
    EXPECT_EQ(buckets.count, 0u);
    EXPECT_EQ(buckets.sum_seconds, 0.0);
}

TEST(PrometheusWriter, ValuesAsPrometheusParsesThem)
{
    EXPECT_EQ(prometheus::format_value(0), "0");
    EXPECT_EQ(prometheus::format_value(42), "42");
    EXPECT_EQ(prometheus::format_value(-3), "-3");
    EXPECT_EQ(prometheus::format_value(1e6), "1000000");
    EXPECT_EQ(prometheus::format_value(0.5), "0.5");
    EXPECT_EQ(prometheus::format_value(1e-6), "1e-06");
    EXPECT_EQ(prometheus::format_value(INFINITY), "+Inf");
    EXPECT_EQ(prometheus::format_value(-INFINITY), "-Inf");
    EXPECT_EQ(prometheus::format_value(NAN), "NaN");
    EXPECT_EQ(std::stod(prometheus::format_value(0.1 + 0.2)), 0.1 + 0.2);  // round-trips
}

TEST(PrometheusWriter, EscapesLabelValuesAndHelp)
{
    EXPECT_EQ(prometheus::escape_label_value(R"(a\b"c)"
                                             "\n"),
              R"(a\\b\"c\n)");
    EXPECT_EQ(prometheus::escape_help("line\\one\ntwo \"quoted\""), "line\\\\one\\ntwo \"quoted\"");

    prometheus::TextWriter out;
    out.family("demo_total", "counter", "A help\nwith a newline.");
    out.sample("demo_total", {{"path", "C:\\dir \"x\"\nnext"}}, 3);
    const test::Exposition parsed = test::parse_exposition(out.text());
    EXPECT_TRUE(parsed.errors.empty()) << testing::PrintToString(parsed.errors) << out.text();
    ASSERT_EQ(parsed.samples.size(), 1u);
    EXPECT_EQ(parsed.samples[0].labels.at("path"), "C:\\dir \"x\"\nnext");
    EXPECT_EQ(parsed.samples[0].value, 3);
    EXPECT_THAT(out.text(), HasSubstr("# HELP demo_total A help\\nwith a newline.\n"));
}

TEST(PrometheusWriter, RefusesBadNamesAndRepeatedFamilies)
{
    prometheus::TextWriter out;
    EXPECT_THROW(out.family("9lives", "gauge", "x"), std::invalid_argument);
    EXPECT_THROW(out.family("has-dash", "gauge", "x"), std::invalid_argument);
    EXPECT_THROW(out.family("ok_name", "meter", "x"), std::invalid_argument);
    out.family("ok_name", "gauge", "x");
    EXPECT_THROW(out.family("ok_name", "gauge", "again"), std::invalid_argument);
    EXPECT_THROW(out.sample("ok_name", {{"bad-label", "v"}}, 1), std::invalid_argument);
    EXPECT_THROW(out.sample("ok_name", {{"__reserved", "v"}}, 1), std::invalid_argument);
}

TEST(PrometheusWriter, HistogramLines)
{
    LatencyBuckets buckets;
    buckets.upper_bounds_seconds = {0.001, 0.5};
    buckets.cumulative = {2, 5};
    buckets.count = 6;
    buckets.sum_seconds = 1.25;
    prometheus::TextWriter out;
    out.family("demo_seconds", "histogram", "Demo.");
    out.histogram("demo_seconds", {{"pool", "main"}}, buckets);
    EXPECT_EQ(out.text(), "# HELP demo_seconds Demo.\n"
                          "# TYPE demo_seconds histogram\n"
                          "demo_seconds_bucket{pool=\"main\",le=\"0.001\"} 2\n"
                          "demo_seconds_bucket{pool=\"main\",le=\"0.5\"} 5\n"
                          "demo_seconds_bucket{pool=\"main\",le=\"+Inf\"} 6\n"
                          "demo_seconds_sum{pool=\"main\"} 1.25\n"
                          "demo_seconds_count{pool=\"main\"} 6\n");
    EXPECT_TRUE(test::parse_exposition(out.text()).errors.empty());
}

// The checker the /metrics tests rely on must catch what it claims to.
TEST(ExpositionChecker, CatchesMalformedText)
{
    auto errors = [](const std::string &text) {
        return test::parse_exposition(text).errors;
    };
    EXPECT_FALSE(errors("no_type 1\n").empty());
    EXPECT_FALSE(errors("# TYPE a gauge\na{x=\"1} 2\n").empty());
    EXPECT_FALSE(errors("# TYPE a gauge\na{x=\"\\q\"} 2\n").empty());
    EXPECT_FALSE(errors("# TYPE a gauge\na twelve\n").empty());
    EXPECT_FALSE(errors("# TYPE a gauge\na 1").empty());  // no final newline
    EXPECT_FALSE(errors("# TYPE a gauge\n# TYPE a gauge\na 1\n").empty());
    EXPECT_FALSE(errors("# TYPE a gauge\n# TYPE b gauge\nb 1\na 1\n").empty());  // interleaved
    const std::string histogram = "# TYPE h histogram\n"
                                  "h_bucket{le=\"1\"} 3\n"
                                  "h_bucket{le=\"2\"} 2\n"
                                  "h_bucket{le=\"+Inf\"} 4\n"
                                  "h_sum 1\nh_count 5\n";
    const auto found = errors(histogram);
    EXPECT_THAT(found, testing::Contains(HasSubstr("not cumulative")));
    EXPECT_THAT(found, testing::Contains(HasSubstr("differs from _count")));
    EXPECT_FALSE(errors("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n").empty());
    EXPECT_TRUE(errors("# HELP a x\n# TYPE a gauge\na{b=\"c\"} -1.5e-3\n").empty());
}

class MetricsTest : public ::testing::Test {
protected:
    static void SetUpTestSuite()
    {
        test::recreate_database(db);
        test::admin_sql(
            "SELECT stratum.apply_migration('master', 3, 'three', 'CREATE TABLE m3 (id int)')", db);
    }
    void SetUp() override
    {
        for (const auto &port : test::replica_ports())
            test::wait_for_replica(port);
    }
    static inline const std::string db = "stratum_health_metrics_test";
};

TEST_F(MetricsTest, ExpositionOfARealPoolAndHealthReport)
{
    test::Topology t;
    t.dbname = db;
    const Config config = test::topology_config(t);
    PoolOptions options = test::app_pool_options(db);
    options.min_size = 0;
    for (const auto &port : test::replica_ports())
        options.replicas.push_back(
            ReplicaOptions{.conninfo = test::conninfo_at(port, "stratum_app", db)});
    Pool pool(options);
    for (int i = 0; i < 25; i++) {
        Lease lease = pool.acquire();
    }
    {
        Lease lease = pool.replica();
    }
    HealthSources sources;
    sources.pool = &pool;
    HealthChecker checker(config, sources);
    const HealthReport report = checker.check();
    ASSERT_EQ(report.state, HealthState::up) << report.to_json(2);

    const std::string text = prometheus::render_metrics(report, &pool);
    const test::Exposition metrics = test::parse_exposition(text);
    ASSERT_TRUE(metrics.errors.empty()) << testing::PrintToString(metrics.errors) << "\n" << text;

    const std::string primary = "127.0.0.1:" + test::required_env("STRATUM_TEST_PGPORT") + "/" + db;
    for (const char *gauge : {"stratum_pool_connections_in_use", "stratum_pool_connections_idle",
                              "stratum_pool_connections_open", "stratum_pool_waiters",
                              "stratum_pool_connections_max"}) {
        EXPECT_EQ(metrics.types.at(gauge), "gauge") << gauge;
        EXPECT_EQ(metrics.find(gauge, {{"role", "primary"}, {"endpoint", primary}}).size(), 1u)
            << gauge;
        EXPECT_EQ(metrics.find(gauge, {{"role", "replica"}}).size(), 2u) << gauge;
    }
    EXPECT_EQ(metrics.find("stratum_pool_connections_max", {{"role", "primary"}})[0].value,
              static_cast<double>(options.max_size));
    EXPECT_EQ(metrics.find("stratum_pool_connections_in_use", {{"role", "primary"}})[0].value, 0);
    for (const char *counter :
         {"stratum_pool_connections_created_total", "stratum_pool_connections_closed_total",
          "stratum_pool_connect_failures_total", "stratum_pool_acquire_timeouts_total",
          "stratum_pool_acquires_total"})
        EXPECT_EQ(metrics.types.at(counter), "counter") << counter;
    EXPECT_EQ(metrics.find("stratum_pool_acquires_total", {{"role", "primary"}})[0].value, 25);
    EXPECT_GE(
        metrics.find("stratum_pool_connections_created_total", {{"role", "primary"}})[0].value, 1);

    EXPECT_EQ(metrics.types.at("stratum_pool_acquire_duration_seconds"), "histogram");
    const auto count = metrics.find("stratum_pool_acquire_duration_seconds_count");
    ASSERT_EQ(count.size(), 1u);
    EXPECT_EQ(count[0].value, 26);  // 25 primary acquires and one replica
    EXPECT_EQ(metrics.find("stratum_pool_acquire_duration_seconds_bucket").size(),
              prometheus::acquire_latency_bounds().size() + 1);

    EXPECT_EQ(
        metrics.find("stratum_health_state", {{"component", "postgres.master"}, {"state", "up"}})[0]
            .value,
        1);
    EXPECT_EQ(
        metrics
            .find("stratum_health_state", {{"component", "postgres.master"}, {"state", "down"}})[0]
            .value,
        0);
    EXPECT_EQ(
        metrics.find("stratum_health_state", {{"component", "pool"}, {"kind", "pool"}}).size(), 3u);
    EXPECT_EQ(
        metrics.find("stratum_health_state", {{"component", "redis"}, {"state", "up"}})[0].value,
        1);
    EXPECT_EQ(metrics.find("stratum_health_overall_state", {{"state", "up"}})[0].value, 1);
    EXPECT_EQ(metrics.find("stratum_health_required", {{"component", "postgres.master"}})[0].value,
              1);
    EXPECT_EQ(metrics.find("stratum_health_required", {{"component", "minio"}})[0].value, 0);
    EXPECT_EQ(metrics.find("stratum_replication_lag_seconds").size(), 2u);
    EXPECT_EQ(
        metrics.find("stratum_replication_lag_bytes", {{"component", "postgres.replica.1"}}).size(),
        1u);
    EXPECT_EQ(metrics.find("stratum_migration_version", {{"scope", "master"}})[0].value, 3);
    EXPECT_EQ(metrics.find("stratum_migrations_applied")[0].value, 1);
    EXPECT_TRUE(metrics.find("stratum_migrations_pending").empty());  // unknown without files
    EXPECT_EQ(metrics.find("stratum_migrations_drifted")[0].value, 0);
    EXPECT_EQ(metrics.find("stratum_build_info")[0].labels.at("version"), "0.1.0");
}

TEST_F(MetricsTest, ADownComponentShowsInTheStateSet)
{
    test::Topology t;
    t.dbname = db;
    t.redis_port = test::closed_port();
    t.replicas = false;
    HealthChecker checker(test::topology_config(t));
    const std::string text = prometheus::render_metrics(checker.check(), nullptr);
    const test::Exposition metrics = test::parse_exposition(text);
    ASSERT_TRUE(metrics.errors.empty()) << testing::PrintToString(metrics.errors);
    EXPECT_EQ(
        metrics.find("stratum_health_state", {{"component", "redis"}, {"state", "down"}})[0].value,
        1);
    EXPECT_EQ(
        metrics.find("stratum_health_state", {{"component", "redis"}, {"state", "up"}})[0].value,
        0);
    EXPECT_EQ(metrics.find("stratum_health_overall_state", {{"state", "degraded"}})[0].value, 1);
    EXPECT_TRUE(metrics.find("stratum_pool_connections_in_use").empty());  // no pool given
    EXPECT_TRUE(metrics.find("stratum_replication_lag_seconds").empty());
}

}  // namespace
