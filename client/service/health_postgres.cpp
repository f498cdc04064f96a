// Health probes of PostgreSQL servers: the primary (version, recovery,
// read-only, WAL position) and each replica (replication lag, measured
// against the primary's WAL position taken just before).
#include "health_probes.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>

#include "stratum/errors.hpp"

namespace stratum::detail {

using namespace std::chrono;

ProbeConnection::ProbeConnection(std::string conninfo, std::string endpoint)
    : conninfo_(std::move(conninfo))
    , endpoint_(std::move(endpoint))
{
}

Connection &ProbeConnection::get(ProbeDeadline deadline)
{
    // Broken, or left mid-pipeline or mid-transaction by a probe that threw.
    if (connection_ && !connection_->is_clean())
        drop();
    if (!connection_) {
        ConnectionOptions options;
        options.application_name = "stratum-health";
        // Unnamed statements: the probe may go through PgBouncer in
        // transaction pooling, which cannot route prepared ones.
        options.prepared_statements = false;
        connection_ = Connection::open(conninfo_, options, deadline);
        endpoint_ = connection_->endpoint();
        if (lost_)
            reconnects_++;
        lost_ = false;
    }
    const auto left = duration_cast<milliseconds>(deadline - steady_clock::now());
    // Zero would mean "no limit": what is left is at least a millisecond.
    connection_->set_round_trip_timeout(std::max(left, milliseconds(1)));
    return *connection_;
}

void ProbeConnection::drop() noexcept
{
    if (connection_)
        lost_ = true;
    connection_.reset();
}

std::string configured_endpoint(const PostgresEndpoint &endpoint)
{
    std::string host = endpoint.host;
    if (host.empty()) {
        const char *env = std::getenv("PGHOST");
        host = env != nullptr && *env != '\0' ? env : "localhost";
    }
    std::string port = endpoint.port != 0 ? std::to_string(endpoint.port) : "";
    if (port.empty()) {
        const char *env = std::getenv("PGPORT");
        port = env != nullptr && *env != '\0' ? env : "5432";
    }
    return host + ":" + port;
}

std::optional<std::uint64_t> parse_lsn(std::string_view text) noexcept
{
    const auto slash = text.find('/');
    if (slash == std::string_view::npos || slash == 0 || slash + 1 >= text.size())
        return std::nullopt;
    std::uint32_t high = 0, low = 0;
    auto [end_high, ec_high] = std::from_chars(text.data(), text.data() + slash, high, 16);
    auto [end_low, ec_low] =
        std::from_chars(text.data() + slash + 1, text.data() + text.size(), low, 16);
    if (ec_high != std::errc() || ec_low != std::errc() || end_high != text.data() + slash ||
        end_low != text.data() + text.size())
        return std::nullopt;
    return (static_cast<std::uint64_t>(high) << 32) | low;
}

bool holds_no_transaction(std::uint64_t replay, std::uint64_t primary) noexcept
{
    // The smallest commit (or abort) record: a 24-byte header, a 2-byte data
    // header and the 8-byte commit time, aligned to 8.
    constexpr std::uint64_t smallest_commit_record = 40;
    return replay >= primary || primary - replay < smallest_commit_record;
}

namespace {

std::string failure_text(const std::exception &error, milliseconds timeout)
{
    if (dynamic_cast<const Timeout *>(&error) != nullptr)
        return "no answer within " + format_duration(timeout) + ": " + error.what();
    return error.what();
}

bool lsn_from(const std::optional<std::string> &text, std::uint64_t &lsn)
{
    if (!text)
        return false;
    const auto parsed = parse_lsn(*text);
    lsn = parsed.value_or(0);
    return parsed.has_value();
}

std::string seconds_text(double seconds)
{
    char text[32];
    std::snprintf(text, sizeof text, "%.1fs", seconds);
    return text;
}

ComponentHealth postgres_component(std::string name, std::string role, bool required)
{
    ComponentHealth out;
    out.kind = ComponentKind::postgres;
    out.required = required;
    out.result.component = std::move(name);
    out.postgres.emplace();
    out.postgres->role = std::move(role);
    return out;
}

void finish(ComponentHealth &out, const ProbeConnection &probe, steady_clock::time_point started)
{
    out.result.latency = duration_cast<microseconds>(steady_clock::now() - started);
    out.result.checked_at = system_clock::now();
    out.postgres->endpoint = probe.endpoint();
    out.postgres->reconnects = probe.reconnects();
    std::string detail = out.postgres->role + " at " + probe.endpoint();
    if (!out.postgres->server_version.empty())
        detail += ", PostgreSQL " + out.postgres->server_version;
    out.result.detail = std::move(detail);
}

// Runs one probe query on the probe's connection. Its first three columns
// are server_version, pg_is_in_recovery() and whether
// default_transaction_read_only is on; `judge` reads the rest of the row and
// sets the state. Any failure makes the component down.
template <class Judge>
void run_probe(ProbeConnection &probe, milliseconds timeout, const char *sql, ComponentHealth &out,
               Judge judge)
{
    PostgresFacts &facts = *out.postgres;
    const auto started = steady_clock::now();
    try {
        Connection &connection = probe.get(started + timeout);
        const Result result = connection.exec(sql);
        const Row row = result.one_row();
        facts.server_version = row[0].as<std::string>();
        facts.in_recovery = row[1].as<bool>();
        facts.read_only = row[2].as<bool>();
        judge(row);
    } catch (const std::exception &error) {
        probe.drop();
        out.result.state = HealthState::down;
        out.result.error = failure_text(error, timeout);
    }
    finish(out, probe, started);
}

}  // namespace

ComponentHealth probe_primary(ProbeConnection &probe, milliseconds timeout,
                              std::optional<std::uint64_t> &wal_lsn)
{
    ComponentHealth out = postgres_component("postgres.master", "primary", true);
    const PostgresFacts &facts = *out.postgres;
    const char *sql = "SELECT current_setting('server_version'), pg_is_in_recovery(), "
                      "current_setting('default_transaction_read_only') = 'on', "
                      "CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn() END::text";
    run_probe(probe, timeout, sql, out, [&](const Row &row) {
        if (facts.in_recovery) {
            out.result.state = HealthState::down;
            out.result.error = "the primary is in recovery (a standby): it cannot take writes";
        } else if (facts.read_only) {
            out.result.state = HealthState::down;
            out.result.error = "the primary refuses writes (default_transaction_read_only is on)";
        } else {
            out.result.state = HealthState::up;
            if (auto lsn = row[3].as<std::optional<std::string>>())
                wal_lsn = parse_lsn(*lsn);
        }
    });
    return out;
}

ComponentHealth probe_replica(ProbeConnection &probe, std::string name, milliseconds timeout,
                              std::optional<std::uint64_t> primary_lsn, milliseconds max_lag)
{
    ComponentHealth out = postgres_component(std::move(name), "replica", false);
    PostgresFacts &facts = *out.postgres;
    const char *sql =
        "SELECT current_setting('server_version'), pg_is_in_recovery(), "
        "current_setting('default_transaction_read_only') = 'on', "
        "pg_last_wal_receive_lsn()::text, pg_last_wal_replay_lsn()::text, "
        "extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8, "
        "CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END";
    run_probe(probe, timeout, sql, out, [&](const Row &row) {
        const auto received = row[3].as<std::optional<std::string>>();
        const auto replayed = row[4].as<std::optional<std::string>>();
        const auto since_replay = row[5].as<std::optional<double>>();
        facts.replay_paused = row[6].as<bool>();
        std::uint64_t replay = 0, receive = 0;
        const bool have_replay = lsn_from(replayed, replay);
        const bool have_receive = lsn_from(received, receive);

        if (facts.in_recovery) {
            if (primary_lsn && have_replay) {
                const std::uint64_t primary = *primary_lsn;
                // The primary was probed first: a replica that has replayed
                // its position then is at most this round's duration behind.
                facts.lag_bytes = static_cast<std::int64_t>(replay >= primary ? 0 : primary - replay);
                facts.lag_seconds =
                    holds_no_transaction(replay, primary) ? std::optional<double>(0.0) : since_replay;
            } else if (have_receive && have_replay && receive == replay) {
                facts.lag_seconds = 0.0;  // replayed all it received (the primary is unknown)
            } else {
                facts.lag_seconds = since_replay;
            }
        }

        const double max_lag_seconds = static_cast<double>(max_lag.count()) / 1000.0;
        out.result.state = HealthState::up;
        if (!facts.in_recovery) {
            out.result.state = HealthState::degraded;
            out.result.error = "not a standby (promoted, or the configuration names a primary)";
        } else if (facts.replay_paused) {
            out.result.state = HealthState::degraded;
            out.result.error = "WAL replay is paused";
        } else if (facts.lag_seconds && *facts.lag_seconds > max_lag_seconds) {
            out.result.state = HealthState::degraded;
            out.result.error = "replication lag " + seconds_text(*facts.lag_seconds) +
                               " exceeds health.max_replication_lag (" + format_duration(max_lag) +
                               ")";
        } else if (!facts.lag_seconds && facts.lag_bytes.value_or(0) > 0) {
            out.result.state = HealthState::degraded;
            out.result.error = "behind the primary by " + std::to_string(*facts.lag_bytes) +
                               " bytes of WAL, and no transaction replayed yet to time it";
        }
    });
    return out;
}

}  // namespace stratum::detail
