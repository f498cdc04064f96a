// Typed reading and validation of one environment's configuration tree:
// every problem is collected with its source and key, none stops the rest.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <regex>

#include "config_load.hpp"
#include "config_schema.hpp"

namespace stratum::detail {

namespace {

std::string join(const std::string &path, std::string_view key)
{
    return path.empty() ? std::string(key) : path + "." + std::string(key);
}

// A value quoted for an error message; long values are cut.
std::string shown(const std::string &value)
{
    if (value.size() > 40)
        return "\"" + value.substr(0, 37) + "...\"";
    return "\"" + value + "\"";
}

bool valid_variable_name(const std::string &name)
{
    static const std::regex pattern("[A-Za-z_][A-Za-z0-9_]*");
    return std::regex_match(name, pattern);
}

class Reader {
public:
    Reader(const EnvMap &env, bool production, std::vector<ConfigProblem> &problems)
        : env_(env), production_(production), problems_(problems)
    {
    }

    void problem(const Origin &origin, const std::string &key, std::string message)
    {
        problems_.push_back({origin.describe(), key, std::move(message)});
    }

    // The scalar at `key`, or nullptr when it is absent or empty.
    const ConfigNode *scalar(const ConfigNode &map, std::string_view key) const
    {
        const ConfigNode *node = map.find(key);
        return node != nullptr && node->is_scalar() ? node : nullptr;
    }

    bool text(const ConfigNode &map, std::string_view key, std::string &out)
    {
        const ConfigNode *node = scalar(map, key);
        if (node == nullptr)
            return false;
        out = node->scalar;
        return true;
    }

    bool integer(const ConfigNode &map, std::string_view key, const std::string &path, int &out,
                 int min, int max)
    {
        const ConfigNode *node = scalar(map, key);
        if (node == nullptr)
            return false;
        const std::string &value = node->scalar;
        long long number = 0;
        auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
        if (ec != std::errc() || end != value.data() + value.size() || value.empty()) {
            problem(node->origin, join(path, key), "expected an integer, got " + shown(value));
            return false;
        }
        if (number < min || number > max) {
            problem(node->origin, join(path, key),
                    "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                        " (got " + value + ")");
            return false;
        }
        out = static_cast<int>(number);
        return true;
    }

    bool boolean(const ConfigNode &map, std::string_view key, const std::string &path, bool &out)
    {
        const ConfigNode *node = scalar(map, key);
        if (node == nullptr)
            return false;
        std::string value = node->scalar;
        std::transform(value.begin(), value.end(), value.begin(),
                       [](unsigned char c) { return std::tolower(c); });
        if (value == "true" || value == "yes" || value == "on" || value == "1") {
            out = true;
            return true;
        }
        if (value == "false" || value == "no" || value == "off" || value == "0") {
            out = false;
            return true;
        }
        problem(node->origin, join(path, key),
                "expected true or false, got " + shown(node->scalar));
        return false;
    }

    bool duration(const ConfigNode &map, std::string_view key, const std::string &path,
                  Duration &out, bool allow_zero = true)
    {
        const ConfigNode *node = scalar(map, key);
        if (node == nullptr)
            return false;
        try {
            Duration value = parse_duration(node->scalar);
            if (!allow_zero && value == Duration::zero()) {
                problem(node->origin, join(path, key), "must be greater than zero");
                return false;
            }
            out = value;
            return true;
        } catch (const std::invalid_argument &e) {
            problem(node->origin, join(path, key), e.what());
            return false;
        }
    }

    bool address(const ConfigNode &map, std::string_view key, const std::string &path,
                 HostPort &out)
    {
        const ConfigNode *node = scalar(map, key);
        if (node == nullptr)
            return false;
        try {
            out = parse_host_port(node->scalar);
            return true;
        } catch (const std::invalid_argument &e) {
            problem(node->origin, join(path, key), e.what());
            return false;
        }
    }

    // A list of host:port, or one scalar "a:1,b:2" (from the environment).
    bool addresses(const ConfigNode &map, std::string_view key, const std::string &path,
                   std::vector<HostPort> &out)
    {
        const ConfigNode *node = map.find(key);
        if (node == nullptr || node->is_null())
            return false;
        std::vector<std::pair<std::string, const ConfigNode *>> values;
        if (node->is_scalar()) {
            std::string_view rest = node->scalar;
            while (!rest.empty()) {
                size_t comma = rest.find(',');
                std::string_view piece = rest.substr(0, comma);
                while (!piece.empty() && piece.front() == ' ')
                    piece.remove_prefix(1);
                while (!piece.empty() && piece.back() == ' ')
                    piece.remove_suffix(1);
                if (!piece.empty())
                    values.emplace_back(std::string(piece), node);
                rest = comma == std::string_view::npos ? "" : rest.substr(comma + 1);
            }
        } else {
            for (const ConfigNode &item : node->items)
                if (item.is_scalar())
                    values.emplace_back(item.scalar, &item);
        }
        out.clear();
        bool ok = true;
        for (size_t i = 0; i < values.size(); ++i) {
            try {
                out.push_back(parse_host_port(values[i].first));
            } catch (const std::invalid_argument &e) {
                problem(values[i].second->origin, join(join(path, key), std::to_string(i)),
                        e.what());
                ok = false;
            }
        }
        return ok;
    }

    // `key` or `key`_env (the name of the variable that holds it). A value
    // written in a production file is refused; `how` says what to do instead.
    bool secret(const ConfigNode &map, const std::string &key, const std::string &path, Secret &out,
                const std::string &how)
    {
        const ConfigNode *written = scalar(map, key);
        const ConfigNode *variable = scalar(map, key + "_env");
        if (written != nullptr && variable != nullptr) {
            problem(written->origin, join(path, key),
                    "give either " + key + " or " + key + "_env, not both");
            return false;
        }
        if (variable != nullptr) {
            const std::string &name = variable->scalar;
            if (!valid_variable_name(name)) {
                problem(variable->origin, join(path, key + "_env"),
                        "is not an environment variable name: " + shown(name));
                return false;
            }
            auto it = env_.find(name);
            if (it == env_.end() || it->second.empty()) {
                problem(variable->origin, join(path, key + "_env"),
                        "names " + name + ", which is not set");
                return false;
            }
            out = Secret(it->second);
            return true;
        }
        if (written == nullptr)
            return false;
        if (production_ && written->origin.from_file()) {
            problem(written->origin, join(path, key),
                    "a secret must not be written in a production configuration file: " + how);
            return false;
        }
        out = Secret(written->scalar);
        return true;
    }

    const EnvMap &env() const { return env_; }
    bool production() const { return production_; }

private:
    const EnvMap &env_;
    bool production_;
    std::vector<ConfigProblem> &problems_;
};

const char *const sslmodes[] = {"disable", "allow",     "prefer",
                                "require", "verify-ca", "verify-full"};

// libpq keywords that have their own key, or that are secrets, are not
// accepted under params.
bool params_keyword_refused(const std::string &keyword, std::string &why)
{
    const auto &modelled = connection_keys();
    if (std::find(modelled.begin(), modelled.end(), keyword) != modelled.end()) {
        why = "set " + keyword + " as its own key, not under params";
        return true;
    }
    if (keyword == "sslpassword") {
        why = "sslpassword is a secret; use an unencrypted key file readable only by this user";
        return true;
    }
    return false;
}

void read_endpoint(Reader &reader, const ConfigNode &node, const std::string &path,
                   PostgresEndpoint &endpoint, bool replica)
{
    reader.text(node, "host", endpoint.host);
    reader.integer(node, "port", path, endpoint.port, 1, 65535);
    reader.text(node, "user", endpoint.user);
    reader.text(node, "dbname", endpoint.dbname);
    reader.secret(node, "password", path, endpoint.password,
                  "set PGPASSWORD (or DATABASE_URL), name a variable in password_env, "
                  "or use a passfile");
    reader.text(node, "passfile", endpoint.passfile);
    if (const ConfigNode *sslmode = reader.scalar(node, "sslmode")) {
        if (std::find(std::begin(sslmodes), std::end(sslmodes), sslmode->scalar) ==
            std::end(sslmodes))
            reader.problem(sslmode->origin, join(path, "sslmode"),
                           "must be one of disable, allow, prefer, require, verify-ca, "
                           "verify-full (got " +
                               shown(sslmode->scalar) + ")");
        else
            endpoint.sslmode = sslmode->scalar;
    }
    reader.text(node, "sslrootcert", endpoint.sslrootcert);
    reader.text(node, "sslcert", endpoint.sslcert);
    reader.text(node, "sslkey", endpoint.sslkey);
    reader.text(node, "application_name", endpoint.application_name);
    reader.duration(node, "connect_timeout", path, endpoint.connect_timeout);
    if (const ConfigNode *params = node.find("params"); params != nullptr && params->is_map()) {
        const auto &known = conninfo::known_keywords();
        for (const auto &[keyword, value] : params->entries) {
            std::string why;
            if (std::find(known.begin(), known.end(), keyword) == known.end())
                reader.problem(value.origin, join(join(path, "params"), keyword),
                               "not a libpq connection parameter");
            else if (params_keyword_refused(keyword, why))
                reader.problem(value.origin, join(join(path, "params"), keyword), why);
            else if (value.is_scalar())
                endpoint.params[keyword] = value.scalar;
        }
    }

    PoolLimits &pool = endpoint.pool;
    // Keys given but refused: relations involving them are not checked, so
    // one mistake is reported once.
    std::vector<std::string_view> refused;
    auto note = [&](std::string_view key, bool read) {
        if (!read && node.find(key) != nullptr && !node.find(key)->is_null())
            refused.push_back(key);
    };
    note("max_open_conns",
         reader.integer(node, "max_open_conns", path, pool.max_open_conns, 1, 1000));
    note("max_idle_conns",
         reader.integer(node, "max_idle_conns", path, pool.max_idle_conns, 0, 1000));
    note("conn_max_lifetime",
         reader.duration(node, "conn_max_lifetime", path, pool.conn_max_lifetime));
    note("conn_max_idle_time",
         reader.duration(node, "conn_max_idle_time", path, pool.conn_max_idle_time));
    reader.duration(node, "acquire_timeout", path, pool.acquire_timeout, false);

    auto origin_of = [&](std::string_view key) {
        const ConfigNode *value = node.find(key);
        return value != nullptr ? value->origin : node.origin;
    };
    // A replica answers only for the limits it sets itself; inherited ones
    // were checked at the master.
    auto sets = [&](std::string_view a, std::string_view b) {
        for (std::string_view key : refused)
            if (key == a || key == b)
                return false;
        return !replica || node.find(a) != nullptr || node.find(b) != nullptr;
    };
    if (sets("max_idle_conns", "max_open_conns") && pool.max_idle_conns > pool.max_open_conns) {
        if (node.find("max_idle_conns") != nullptr)
            reader.problem(origin_of("max_idle_conns"), join(path, "max_idle_conns"),
                           "must not exceed max_open_conns (" +
                               std::to_string(pool.max_idle_conns) + " > " +
                               std::to_string(pool.max_open_conns) + ")");
        else
            pool.max_idle_conns = pool.max_open_conns;  // a default (or inherited) cap, lowered as database/sql does
    }
    if (sets("conn_max_idle_time", "conn_max_lifetime") &&
        pool.conn_max_lifetime > Duration::zero() &&
        pool.conn_max_idle_time > pool.conn_max_lifetime)
        reader.problem(origin_of("conn_max_idle_time"), join(path, "conn_max_idle_time"),
                       "must not exceed conn_max_lifetime (" +
                           format_duration(pool.conn_max_idle_time) + " > " +
                           format_duration(pool.conn_max_lifetime) + ")");
    if (replica && endpoint.host.empty() && !endpoint.params.count("host"))
        reader.problem(node.origin, path, "a replica needs a host");
    if (reader.production() && endpoint.sslmode != "verify-full" && endpoint.sslmode != "verify-ca")
        reader.problem(origin_of("sslmode"), join(path, "sslmode"),
                       "production requires sslmode verify-full (or verify-ca), got " +
                           (endpoint.sslmode.empty() ? std::string("none (libpq's prefer)")
                                                     : shown(endpoint.sslmode)));
}

void read_postgres(Reader &reader, const ConfigNode *postgres, PostgresConfig &out)
{
    const std::string path = "database.postgres";
    ConfigNode empty(ConfigNode::Kind::map, {});
    const ConfigNode *master = postgres != nullptr ? postgres->find("master") : nullptr;
    if (master == nullptr || !master->is_map()) {
        if (postgres != nullptr)
            empty.origin = postgres->origin;
        master = &empty;
    }
    read_endpoint(reader, *master, path + ".master", out.master, false);

    const ConfigNode *replicas = postgres != nullptr ? postgres->find("replicas") : nullptr;
    if (replicas == nullptr || !replicas->is_list())
        return;
    for (size_t i = 0; i < replicas->items.size(); ++i) {
        const ConfigNode &item = replicas->items[i];
        std::string item_path = path + ".replicas." + std::to_string(i);
        if (!item.is_map()) {
            reader.problem(item.origin, item_path, "a replica needs a host");
            continue;
        }
        PostgresEndpoint replica = out.master;  // unset fields inherit the master's
        replica.host.clear();
        replica.params.erase("host");
        replica.params.erase("hostaddr");
        read_endpoint(reader, item, item_path, replica, true);
        out.replicas.push_back(std::move(replica));
    }
}

void read_redis(Reader &reader, const ConfigNode *node, std::optional<RedisConfig> &out)
{
    if (node == nullptr || !node->is_map())
        return;
    const std::string path = "database.redis";
    RedisConfig redis;
    reader.address(*node, "addr", path, redis.addr);
    reader.text(*node, "username", redis.username);
    reader.secret(*node, "password", path, redis.password,
                  "set REDIS_PASSWORD (or REDIS_URL) or name a variable in password_env");
    reader.integer(*node, "db", path, redis.db, 0, 1'000'000);
    reader.duration(*node, "dial_timeout", path, redis.dial_timeout, false);
    reader.duration(*node, "read_timeout", path, redis.read_timeout, false);
    reader.duration(*node, "reconnect_backoff_min", path, redis.reconnect_backoff_min, false);
    reader.duration(*node, "reconnect_backoff_max", path, redis.reconnect_backoff_max, false);
    if (redis.reconnect_backoff_min > redis.reconnect_backoff_max) {
        const ConfigNode *max = node->find("reconnect_backoff_max");
        reader.problem(max ? max->origin : node->origin, path + ".reconnect_backoff_max",
                       "must not be less than reconnect_backoff_min");
    }
    const ConfigNode *sentinel = node->find("sentinel");
    if (sentinel != nullptr && sentinel->is_map()) {
        reader.text(*sentinel, "master_name", redis.sentinel_master);
        reader.addresses(*sentinel, "addrs", path + ".sentinel", redis.sentinel_addrs);
        if (redis.sentinel_master.empty())
            reader.problem(sentinel->origin, path + ".sentinel.master_name",
                           "sentinel needs the name of the monitored master");
        if (redis.sentinel_addrs.empty())
            reader.problem(sentinel->origin, path + ".sentinel.addrs",
                           "sentinel needs at least one sentinel address");
    }
    const ConfigNode *cluster = node->find("cluster");
    if (cluster != nullptr && cluster->is_map()) {
        reader.addresses(*cluster, "addrs", path + ".cluster", redis.cluster_addrs);
        if (redis.cluster_addrs.empty())
            reader.problem(cluster->origin, path + ".cluster.addrs",
                           "cluster needs at least one seed address");
    }
    if (sentinel != nullptr && sentinel->is_map() && cluster != nullptr && cluster->is_map())
        reader.problem(cluster->origin, path + ".cluster",
                       "give either sentinel or cluster, not both");
    out = std::move(redis);
}

bool valid_bucket_name(const std::string &name)
{
    static const std::regex pattern("[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]");
    return std::regex_match(name, pattern) && name.find("..") == std::string::npos;
}

void read_minio(Reader &reader, const ConfigNode *node, std::optional<ObjectStoreConfig> &out)
{
    if (node == nullptr || !node->is_map())
        return;
    const std::string path = "database.minio";
    ObjectStoreConfig minio;
    std::optional<bool> scheme_secure;
    if (const ConfigNode *endpoint = reader.scalar(*node, "endpoint")) {
        std::string value = endpoint->scalar;
        if (value.starts_with("http://")) {
            scheme_secure = false;
            value.erase(0, 7);
        } else if (value.starts_with("https://")) {
            scheme_secure = true;
            value.erase(0, 8);
        }
        if (!value.empty() && value.back() == '/')
            value.pop_back();
        if (value.find(':') == std::string::npos)
            value += scheme_secure.value_or(false) ? ":443" : ":80";
        try {
            minio.endpoint = parse_host_port(value);
        } catch (const std::invalid_argument &e) {
            reader.problem(endpoint->origin, path + ".endpoint", e.what());
        }
    } else {
        reader.problem(node->origin, path + ".endpoint", "is required (host:port)");
    }
    bool secure_given = reader.boolean(*node, "secure", path, minio.secure);
    if (scheme_secure) {
        if (secure_given && minio.secure != *scheme_secure)
            reader.problem(node->find("secure")->origin, path + ".secure",
                           "contradicts the endpoint's scheme");
        minio.secure = *scheme_secure;
    }
    if (const ConfigNode *bucket = reader.scalar(*node, "bucket")) {
        if (valid_bucket_name(bucket->scalar))
            minio.bucket = bucket->scalar;
        else
            reader.problem(bucket->origin, path + ".bucket",
                           "not a valid bucket name (3-63 lower-case letters, digits, dots, "
                           "hyphens): " +
                               shown(bucket->scalar));
    } else {
        reader.problem(node->origin, path + ".bucket", "is required");
    }
    reader.text(*node, "region", minio.region);
    if (minio.region.empty())
        reader.problem(node->origin, path + ".region", "must not be empty");
    if (const ConfigNode *variable = reader.scalar(*node, "access_key_env")) {
        auto it = reader.env().find(variable->scalar);
        if (it == reader.env().end() || it->second.empty())
            reader.problem(variable->origin, path + ".access_key_env",
                           "names " + variable->scalar + ", which is not set");
        else
            minio.access_key = it->second;
    } else {
        reader.text(*node, "access_key", minio.access_key);
    }
    reader.secret(*node, "secret_key", path, minio.secret_key,
                  "set MINIO_SECRET_KEY (or AWS_SECRET_ACCESS_KEY) or name a variable in "
                  "secret_key_env");
    reader.duration(*node, "timeout", path, minio.timeout, false);
    reader.text(*node, "ca_file", minio.ca_file);
    if (minio.access_key.empty() != minio.secret_key.empty())
        reader.problem(node->origin, path,
                       minio.access_key.empty() ? "a secret key without an access key"
                                                : "an access key without a secret key "
                                                  "(set MINIO_SECRET_KEY)");
    out = std::move(minio);
}

void read_server(Reader &reader, const ConfigNode *node, ServerConfig &server)
{
    const std::string path = "server";
    if (node != nullptr && node->is_map()) {
        reader.address(*node, "listen", path, server.listen);
        if (const ConfigNode *name = reader.scalar(*node, "admin_token_env")) {
            if (valid_variable_name(name->scalar))
                server.admin_token_env = name->scalar;
            else
                reader.problem(name->origin, path + ".admin_token_env",
                               "is not an environment variable name: " + shown(name->scalar));
        }
    }
    auto it = reader.env().find(server.admin_token_env);
    if (it != reader.env().end() && !it->second.empty())
        server.admin_token = Secret(it->second);
}

void read_logging(Reader &reader, const ConfigNode *node, LoggingConfig &logging)
{
    if (node == nullptr || !node->is_map())
        return;
    static const char *const levels[] = {"trace", "debug",    "info", "warn",
                                         "error", "critical", "off"};
    if (const ConfigNode *level = reader.scalar(*node, "level")) {
        std::string value = level->scalar;
        std::transform(value.begin(), value.end(), value.begin(),
                       [](unsigned char c) { return std::tolower(c); });
        if (value == "warning")
            value = "warn";
        if (std::find(std::begin(levels), std::end(levels), value) == std::end(levels))
            reader.problem(level->origin, "logging.level",
                           "must be one of trace, debug, info, warn, error, critical, off (got " +
                               shown(level->scalar) + ")");
        else
            logging.level = value;
    }
    reader.boolean(*node, "json", "logging", logging.json);
}

void read_migrations(Reader &reader, const ConfigNode *node, MigrationsConfig &migrations)
{
    if (node == nullptr || !node->is_map())
        return;
    if (const ConfigNode *dir = reader.scalar(*node, "dir")) {
        if (dir->scalar.empty())
            reader.problem(dir->origin, "migrations.dir", "must not be empty");
        else
            migrations.dir = dir->scalar;
    }
    reader.duration(*node, "lock_timeout", "migrations", migrations.lock_timeout, false);
}

void read_health(Reader &reader, const ConfigNode *node, HealthConfig &health)
{
    if (node == nullptr || !node->is_map())
        return;
    reader.duration(*node, "timeout", "health", health.timeout, false);
    reader.duration(*node, "interval", "health", health.interval, false);
    reader.duration(*node, "max_replication_lag", "health", health.max_replication_lag);
}

}  // namespace

void read_environment(const ConfigNode &environment, const EnvMap &env, Config &config,
                      std::vector<ConfigProblem> &problems)
{
    Reader reader(env, config.production, problems);
    const ConfigNode *database = environment.find("database");
    if (database != nullptr && !database->is_map())
        database = nullptr;
    read_postgres(reader, database ? database->find("postgres") : nullptr,
                  config.database.postgres);
    read_redis(reader, database ? database->find("redis") : nullptr, config.database.redis);
    read_minio(reader, database ? database->find("minio") : nullptr, config.database.minio);
    read_server(reader, environment.find("server"), config.server);
    read_logging(reader, environment.find("logging"), config.logging);
    read_migrations(reader, environment.find("migrations"), config.migrations);
    read_health(reader, environment.find("health"), config.health);
}

}  // namespace stratum::detail
