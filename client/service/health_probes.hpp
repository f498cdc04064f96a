// The PostgreSQL probes of the health checker (internal): a probe connection
// that re-opens itself, and the primary and replica checks.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "stratum/config.hpp"
#include "stratum/connection.hpp"
#include "stratum/health.hpp"

namespace stratum::detail {

using ProbeDeadline = std::chrono::steady_clock::time_point;

// One connection kept for probing a server, opened on demand. A probe that
// fails drops it; the next one re-opens it (and counts a reconnect).
class ProbeConnection {
public:
    ProbeConnection(std::string conninfo, std::string endpoint);

    // The open connection, connecting first if needed, with the round-trip
    // timeout set to what is left before `deadline`. Throws stratum::Error.
    Connection &get(ProbeDeadline deadline);
    void drop() noexcept;
    // host:port of the server (from the configuration until connected).
    const std::string &endpoint() const noexcept { return endpoint_; }
    std::uint64_t reconnects() const noexcept { return reconnects_; }

private:
    std::string conninfo_;
    std::string endpoint_;
    std::unique_ptr<Connection> connection_;
    bool lost_ = false;  // a connection worked before and was dropped
    std::uint64_t reconnects_ = 0;
};

// host:port of an endpoint as configured, libpq's defaults filled in.
std::string configured_endpoint(const PostgresEndpoint &endpoint);

// "SELECT 1"-or-better of the primary: version, recovery, read-only, and its
// current WAL position (set in `wal_lsn` when it answered as a primary).
ComponentHealth probe_primary(ProbeConnection &probe, std::chrono::milliseconds timeout,
                              std::optional<std::uint64_t> &wal_lsn);

// A replica: version, recovery, and lag against the primary's WAL position
// (nullopt when the primary could not be probed).
ComponentHealth probe_replica(ProbeConnection &probe, std::string name,
                              std::chrono::milliseconds timeout,
                              std::optional<std::uint64_t> primary_lsn,
                              std::chrono::milliseconds max_lag);

// "16/B374D848" -> 0x16B374D848; nullopt when malformed.
std::optional<std::uint64_t> parse_lsn(std::string_view text) noexcept;

// Whether the WAL between a replica's replay position and the primary's
// position is too short to hold a transaction the replica lacks: the
// replica has replayed every commit, and the time since its last one is no
// lag. (The primary also writes records of its own, and its position may
// stand past a page header: an idle replica is then a few bytes behind for
// as long as the primary stays idle.)
bool holds_no_transaction(std::uint64_t replay, std::uint64_t primary) noexcept;

}  // namespace stratum::detail
