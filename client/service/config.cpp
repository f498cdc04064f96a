// Config::load: reads the file, selects and merges the environment, applies
// the environment's overrides, validates, and renders the result redacted.
#include "stratum/config.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <ostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "config_load.hpp"
#include "config_schema.hpp"

namespace stratum {

std::ostream &operator<<(std::ostream &out, const Secret &secret)
{
    return out << (secret.empty() ? "" : "[redacted]");
}

std::string ConfigProblem::to_string() const
{
    std::string out = source;
    if (!key.empty())
        out += (out.empty() ? "" : ": ") + key;
    return out + ": " + message;
}

namespace {

std::string describe(const std::vector<ConfigProblem> &problems)
{
    std::string out = "invalid configuration (" + std::to_string(problems.size()) +
                      (problems.size() == 1 ? " problem):" : " problems):");
    for (const ConfigProblem &problem : problems)
        out += "\n  " + problem.to_string();
    return out;
}

}  // namespace

ConfigError::ConfigError(std::vector<ConfigProblem> problems)
    : std::runtime_error(describe(problems)), problems_(std::move(problems))
{
}

namespace {

using detail::ConfigNode;
using detail::EnvMap;

std::string env_value(const EnvMap &env, const char *name)
{
    auto it = env.find(name);
    return it == env.end() ? std::string() : it->second;
}

std::string names_of(const ConfigNode &environments)
{
    std::string out;
    for (const auto &[name, value] : environments.entries)
        out += (out.empty() ? "" : ", ") + name;
    return out;
}

// The tree of the selected environment: defaults merged under
// environments.<name>, or the whole file when it has no environments.
ConfigNode select_environment(const ConfigNode &root, const std::string &source,
                              const std::string &requested, std::string &name,
                              std::vector<ConfigProblem> &problems)
{
    std::string where = source.empty() ? "(no file)" : source;
    if (!root.is_map() && !root.is_null()) {
        problems.push_back({where, "", "the file must hold a mapping of keys"});
        return {};
    }
    const ConfigNode *environments = root.find("environments");
    if (environments == nullptr) {
        name = requested;
        ConfigNode tree = root;
        if (tree.find("defaults") != nullptr || tree.find("default_environment") != nullptr) {
            const ConfigNode &stray =
                tree.find("defaults") ? *tree.find("defaults") : *tree.find("default_environment");
            problems.push_back({stray.origin.describe(), "",
                                "defaults and default_environment need an environments: section"});
            tree.erase("defaults");
            tree.erase("default_environment");
        }
        return tree;
    }
    for (const auto &[key, value] : root.entries)
        if (key != "environments" && key != "defaults" && key != "default_environment")
            problems.push_back({value.origin.describe(), key,
                                "not allowed next to environments: put it under defaults: "
                                "or under an environment"});
    if (!environments->is_map() || environments->entries.empty()) {
        problems.push_back({environments->origin.describe(), "environments",
                            "expected a mapping of environment names"});
        return {};
    }
    name = requested;
    if (name.empty())
        if (const ConfigNode *fallback = root.find("default_environment");
            fallback != nullptr && fallback->is_scalar())
            name = fallback->scalar;
    if (name.empty()) {
        problems.push_back({where, "",
                            "no environment selected: pass --env or set STRATUM_ENV "
                            "(defined: " +
                                names_of(*environments) + ")"});
        return {};
    }
    const ConfigNode *selected = environments->find(name);
    if (selected == nullptr) {
        problems.push_back({where, "environments",
                            "environment \"" + name +
                                "\" is not defined (defined: " + names_of(*environments) + ")"});
        return {};
    }
    if (!selected->is_map() && !selected->is_null()) {
        problems.push_back(
            {selected->origin.describe(), "environments." + name, "expected a mapping"});
        return {};
    }
    ConfigNode base;
    if (const ConfigNode *defaults = root.find("defaults")) {
        if (defaults->is_map())
            base = *defaults;
        else if (!defaults->is_null())
            problems.push_back({defaults->origin.describe(), "defaults", "expected a mapping"});
    }
    ConfigNode over = selected->is_map() ? *selected : ConfigNode{};
    if (base.is_null())
        return over;
    if (over.is_null())
        return base;
    return detail::merge(base, over);
}

Config build(const ConfigNode &root, const std::string &source, const LoadOptions &options,
             const EnvMap &env, std::vector<ConfigProblem> problems)
{
    Config config;
    config.source = source;
    std::string requested =
        !options.environment.empty() ? options.environment : env_value(env, "STRATUM_ENV");
    ConfigNode tree = select_environment(root, source, requested, config.environment, problems);
    if (!problems.empty())
        throw ConfigError(std::move(problems));
    if (tree.is_null())
        tree.kind = ConfigNode::Kind::map;

    detail::check_shape(tree, detail::environment_schema(), "", problems);
    detail::normalize_postgres(tree, problems);
    detail::apply_environment(tree, env, options.database_url, problems);

    const std::string &name = config.environment;
    config.production = name == "production" || name == "prod";
    if (const ConfigNode *flag = tree.find("production"); flag != nullptr && flag->is_scalar()) {
        if (flag->scalar == "true" || flag->scalar == "yes" || flag->scalar == "on")
            config.production = true;
        else if (flag->scalar != "false" && flag->scalar != "no" && flag->scalar != "off")
            problems.push_back({flag->origin.describe(), "production", "expected true or false"});
        else if (config.production)
            problems.push_back({flag->origin.describe(), "production",
                                "the environment named " + name + " is always production"});
    }
    detail::read_environment(tree, env, config, problems);
    if (!problems.empty())
        throw ConfigError(std::move(problems));
    return config;
}

}  // namespace

Config Config::parse(std::string_view yaml, std::string_view source_name,
                     const LoadOptions &options)
{
    EnvMap env = options.env ? *options.env : detail::process_environment();
    std::vector<ConfigProblem> problems;
    std::string source(source_name);
    ConfigNode root = detail::parse_yaml(yaml, source, problems);
    if (!problems.empty())
        throw ConfigError(std::move(problems));
    return build(root, source, options, env, {});
}

Config Config::load(const LoadOptions &options)
{
    EnvMap env = options.env ? *options.env : detail::process_environment();
    std::string path = !options.path.empty() ? options.path : env_value(env, "STRATUM_CONFIG");
    if (path.empty())
        return build(ConfigNode{}, "", options, env, {});
    std::ifstream file(path, std::ios::binary);
    if (!file)
        throw ConfigError(
            {{path, "", std::string("cannot read the file: ") + std::strerror(errno)}});
    std::ostringstream text;
    text << file.rdbuf();
    std::vector<ConfigProblem> problems;
    ConfigNode root = detail::parse_yaml(text.str(), path, problems);
    if (!problems.empty())
        throw ConfigError(std::move(problems));
    return build(root, path, options, env, {});
}

namespace {

const Secret redacted_marker("[redacted]");

void redact(Secret &secret)
{
    if (!secret.empty())
        secret = redacted_marker;
}

nlohmann::json secret_json(const Secret &secret)
{
    return secret.empty() ? nlohmann::json(nullptr) : nlohmann::json("[redacted]");
}

nlohmann::json endpoint_json(const PostgresEndpoint &endpoint)
{
    return {
        {"host", endpoint.host},
        {"port", endpoint.port},
        {"user", endpoint.user},
        {"dbname", endpoint.dbname},
        {"password", secret_json(endpoint.password)},
        {"passfile", endpoint.passfile},
        {"sslmode", endpoint.sslmode},
        {"sslrootcert", endpoint.sslrootcert},
        {"sslcert", endpoint.sslcert},
        {"sslkey", endpoint.sslkey},
        {"application_name", endpoint.application_name},
        {"connect_timeout", format_duration(endpoint.connect_timeout)},
        {"params", endpoint.params},
        {"max_open_conns", endpoint.pool.max_open_conns},
        {"max_idle_conns", endpoint.pool.max_idle_conns},
        {"conn_max_lifetime", format_duration(endpoint.pool.conn_max_lifetime)},
        {"conn_max_idle_time", format_duration(endpoint.pool.conn_max_idle_time)},
        {"acquire_timeout", format_duration(endpoint.pool.acquire_timeout)},
    };
}

nlohmann::json addresses_json(const std::vector<HostPort> &addresses)
{
    nlohmann::json out = nlohmann::json::array();
    for (const HostPort &address : addresses)
        out.push_back(address.to_string());
    return out;
}

}  // namespace

Config Config::redacted() const
{
    Config copy = *this;
    redact(copy.database.postgres.master.password);
    for (PostgresEndpoint &replica : copy.database.postgres.replicas)
        redact(replica.password);
    if (copy.database.redis)
        redact(copy.database.redis->password);
    if (copy.database.minio)
        redact(copy.database.minio->secret_key);
    redact(copy.server.admin_token);
    return copy;
}

std::string Config::to_json(int indent) const
{
    nlohmann::json replicas = nlohmann::json::array();
    for (const PostgresEndpoint &replica : database.postgres.replicas)
        replicas.push_back(endpoint_json(replica));
    nlohmann::json db = {
        {"postgres", {{"master", endpoint_json(database.postgres.master)}, {"replicas", replicas}}},
        {"redis", nullptr},
        {"minio", nullptr},
    };
    if (database.redis) {
        const RedisConfig &redis = *database.redis;
        db["redis"] = {
            {"addr", redis.addr.to_string()},
            {"username", redis.username},
            {"password", secret_json(redis.password)},
            {"db", redis.db},
            {"dial_timeout", format_duration(redis.dial_timeout)},
            {"read_timeout", format_duration(redis.read_timeout)},
            {"reconnect_backoff_min", format_duration(redis.reconnect_backoff_min)},
            {"reconnect_backoff_max", format_duration(redis.reconnect_backoff_max)},
            {"sentinel",
             {{"master_name", redis.sentinel_master},
              {"addrs", addresses_json(redis.sentinel_addrs)}}},
            {"cluster", {{"addrs", addresses_json(redis.cluster_addrs)}}},
        };
    }
    if (database.minio) {
        const ObjectStoreConfig &minio = *database.minio;
        db["minio"] = {
            {"endpoint", minio.endpoint.to_string()},
            {"secure", minio.secure},
            {"bucket", minio.bucket},
            {"region", minio.region},
            {"access_key", minio.access_key},
            {"secret_key", secret_json(minio.secret_key)},
            {"timeout", format_duration(minio.timeout)},
            {"ca_file", minio.ca_file},
        };
    }
    nlohmann::json out = {
        {"environment", environment},
        {"source", source},
        {"production", production},
        {"database", db},
        {"server",
         {{"listen", server.listen.to_string()},
          {"admin_token_env", server.admin_token_env},
          {"admin_token", secret_json(server.admin_token)}}},
        {"logging", {{"level", logging.level}, {"json", logging.json}}},
        {"migrations",
         {{"dir", migrations.dir}, {"lock_timeout", format_duration(migrations.lock_timeout)}}},
        {"health",
         {{"timeout", format_duration(health.timeout)},
          {"interval", format_duration(health.interval)},
          {"max_replication_lag", format_duration(health.max_replication_lag)}}},
    };
    // Values come from files and the environment, which may hold any bytes:
    // invalid UTF-8 is shown as U+FFFD rather than thrown as json::type_error.
    return out.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace stratum

namespace stratum {

RedisConfig::Mode RedisConfig::mode() const noexcept
{
    if (!sentinel_addrs.empty())
        return Mode::sentinel;
    if (!cluster_addrs.empty())
        return Mode::cluster;
    return Mode::standalone;
}

}  // namespace stratum
