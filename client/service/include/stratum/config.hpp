// stratum::Config: the configuration of one environment (local, staging,
// production, ...) loaded from YAML, overridden from the process environment
// and validated as a whole. See docs/configuration.md for the file layout.
#pragma once

#include <chrono>
#include <iosfwd>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "stratum/conninfo.hpp"
#include "stratum/duration.hpp"

namespace stratum {

// A password, token or secret key. It renders as "[redacted]" everywhere
// (operator<<, Config::to_json); reveal() is the one way to read it.
class Secret {
public:
    Secret() = default;
    explicit Secret(std::string value) : value_(std::move(value)) {}

    bool empty() const noexcept { return value_.empty(); }
    const std::string &reveal() const noexcept { return value_; }
    friend bool operator==(const Secret &, const Secret &) = default;

private:
    std::string value_;
};

std::ostream &operator<<(std::ostream &out, const Secret &secret);

// "host:port" (IPv6 as "[::1]:6379").
struct HostPort {
    std::string host;
    int port = 0;

    std::string to_string() const;
    friend bool operator==(const HostPort &, const HostPort &) = default;
};

// Parses "host:port", "[v6]:port"; throws std::invalid_argument.
HostPort parse_host_port(std::string_view text);

// One problem found while loading: where (file:line:column, or the
// environment variable that set the value), which key, and what is wrong.
struct ConfigProblem {
    std::string source;   // "config/stratum.yaml:12:7" or "environment variable PGPORT"
    std::string key;      // "database.postgres.master.port"
    std::string message;  // "must be between 1 and 65535 (got 70000)"

    std::string to_string() const;  // "source: key: message"
};

// Thrown by Config::load/parse with every problem found, not just the first.
// Its message lists them all and never contains a secret value.
class ConfigError : public std::runtime_error {
public:
    explicit ConfigError(std::vector<ConfigProblem> problems);
    const std::vector<ConfigProblem> &problems() const noexcept { return problems_; }

private:
    std::vector<ConfigProblem> problems_;
};

// Pool limits of one PostgreSQL endpoint, named and meant as in Go's
// database/sql. A lifetime or idle time of 0 means "no limit".
struct PoolLimits {
    int max_open_conns = 25;  // 1..1000: connections open at most
    // 0..max_open_conns: idle connections kept at most; one returned beyond
    // it is closed. A cap, not a minimum: nothing is opened to reach it.
    // Unset, it is lowered to max_open_conns when that is smaller.
    int max_idle_conns = 10;
    Duration conn_max_lifetime = std::chrono::hours(1);
    Duration conn_max_idle_time = std::chrono::minutes(30);
    Duration acquire_timeout = std::chrono::seconds(5);
};

// One PostgreSQL server: where, as whom, how securely, and its pool limits.
// Empty strings leave the parameter to libpq (and so to its PG* variables).
struct PostgresEndpoint {
    std::string host;  // name, address or unix-socket directory
    int port = 0;      // 0 = libpq's default ($PGPORT, else 5432)
    std::string user;
    std::string dbname;
    Secret password;  // from the environment (or a non-production file)
    std::string passfile;
    std::string sslmode;  // disable|allow|prefer|require|verify-ca|verify-full
    std::string sslrootcert;
    std::string sslcert;
    std::string sslkey;
    std::string application_name;
    Duration connect_timeout = std::chrono::seconds(10);  // whole seconds for libpq
    std::map<std::string, std::string> params;            // further libpq keywords
    PoolLimits pool;

    // libpq keyword/value string, every value quoted and escaped. Contains
    // the password: hand it to libpq, never to a log (see redacted_conninfo).
    std::string conninfo() const;
    // The same with the password shown as [redacted].
    std::string redacted_conninfo() const;
};

struct PostgresConfig {
    PostgresEndpoint master;
    std::vector<PostgresEndpoint> replicas;  // unset fields inherit the master's
};

struct RedisConfig {
    HostPort addr{"localhost", 6379};
    std::string username;  // Redis 6 ACL user; "" = the default user
    Secret password;
    int db = 0;
    Duration dial_timeout = std::chrono::seconds(2);
    Duration read_timeout = std::chrono::seconds(2);
    Duration reconnect_backoff_min = std::chrono::milliseconds(100);
    Duration reconnect_backoff_max = std::chrono::seconds(5);
    // Sentinel: the master's address is asked of these sentinels.
    std::string sentinel_master;
    std::vector<HostPort> sentinel_addrs;
    // Cluster: seed nodes; the first that answers is used.
    std::vector<HostPort> cluster_addrs;

    enum class Mode { standalone, sentinel, cluster };
    Mode mode() const noexcept;
};

// MinIO or any S3-compatible store, path-style addressing.
struct ObjectStoreConfig {
    HostPort endpoint;
    bool secure = false;  // https
    std::string bucket;
    std::string region = "us-east-1";
    std::string access_key;
    Secret secret_key;
    Duration timeout = std::chrono::seconds(5);
    std::string ca_file;  // for https with a private CA; "" = system store
};

struct DatabaseConfig {
    PostgresConfig postgres;
    std::optional<RedisConfig> redis;        // absent when not configured
    std::optional<ObjectStoreConfig> minio;  // absent when not configured
};

struct ServerConfig {
    HostPort listen{"127.0.0.1", 8080};
    std::string admin_token_env = "STRATUM_ADMIN_TOKEN";  // the variable's name
    Secret admin_token;  // read from admin_token_env; empty = admin endpoints off
};

struct LoggingConfig {
    std::string level = "info";  // trace|debug|info|warn|error|critical|off
    bool json = false;           // JSON lines instead of text
};

struct MigrationsConfig {
    std::string dir = "migrations";
    Duration lock_timeout = std::chrono::seconds(30);
};

struct HealthConfig {
    Duration timeout = std::chrono::seconds(2);               // per component probe
    Duration interval = std::chrono::seconds(15);             // between background probes
    Duration max_replication_lag = std::chrono::seconds(30);  // above: degraded
};

// Where Config::load looks. Every field has an environment fallback.
struct LoadOptions {
    std::string path;          // "" -> $STRATUM_CONFIG -> no file (environment only)
    std::string environment;   // "" -> $STRATUM_ENV -> the file's default_environment
    std::string database_url;  // --database: beats $DATABASE_URL
    // The environment variables to read; nullopt = the process environment.
    // Tests pass their own map instead of calling setenv. libpq's PG*
    // variables in it (PGHOST, PGPORT, PGUSER, PGDATABASE, PGSSLMODE, ...) set
    // the master's connection parameters the file and DATABASE_URL leave
    // unset, validated like the file's values. (libpq still reads the process
    // environment for whatever stays unset after that.)
    std::optional<std::map<std::string, std::string>> env;
};

struct Config {
    std::string environment;  // the selected environment ("" when the file has none)
    std::string source;       // the file read ("" when none)
    bool production = false;  // named production/prod, or `production: true`

    DatabaseConfig database;
    ServerConfig server;
    LoggingConfig logging;
    MigrationsConfig migrations;
    HealthConfig health;

    // Reads, merges, overrides and validates; throws ConfigError listing every
    // problem (or when the file cannot be read).
    static Config load(const LoadOptions &options = {});
    // The same from YAML text; `source_name` names it in errors.
    static Config parse(std::string_view yaml, std::string_view source_name,
                        const LoadOptions &options = {});

    // libpq connection strings (they contain passwords: never log them).
    std::string postgres_master_conninfo() const;
    std::vector<std::string> postgres_replica_conninfos() const;

    // A copy whose secrets are all replaced by "[redacted]": safe to hand to
    // code that renders or logs configuration.
    Config redacted() const;
    // The whole configuration as JSON; secrets appear as "[redacted]" (or
    // null when unset), never their values.
    std::string to_json(int indent = 2) const;
    std::string to_string() const { return to_json(-1); }
};

}  // namespace stratum
