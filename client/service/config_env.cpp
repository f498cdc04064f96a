// Environment-variable overrides of the configuration tree: DATABASE_URL,
// PGPASSWORD and libpq's other PG* variables, REDIS_URL, REDIS_PASSWORD,
// MinIO/AWS keys and STRATUM_* keys.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <regex>

#include "config_load.hpp"
#include "config_schema.hpp"

extern char **environ;

namespace stratum::detail {

EnvMap process_environment()
{
    EnvMap env;
    for (char **entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
        std::string_view text(*entry);
        size_t equals = text.find('=');
        if (equals != std::string_view::npos)
            env.emplace(std::string(text.substr(0, equals)), std::string(text.substr(equals + 1)));
    }
    return env;
}

void normalize_postgres(ConfigNode &environment, std::vector<ConfigProblem> &problems)
{
    ConfigNode *database = environment.find("database");
    ConfigNode *postgres = database ? database->find("postgres") : nullptr;
    if (postgres == nullptr || !postgres->is_map())
        return;
    std::vector<std::pair<std::string, ConfigNode>> flat;
    for (auto &[key, value] : postgres->entries)
        if (key != "master" && key != "replicas")
            flat.emplace_back(key, value);
    if (flat.empty())
        return;
    ConfigNode *master = postgres->find("master");
    if (master != nullptr && !master->is_null()) {
        problems.push_back({flat.front().second.origin.describe(),
                            "database.postgres." + flat.front().first,
                            "use either database.postgres.master or the flat "
                            "database.postgres.host form, not both"});
        for (const auto &[key, value] : flat)
            postgres->erase(key);
        return;
    }
    ConfigNode master_node;
    master_node.kind = ConfigNode::Kind::map;
    master_node.origin = postgres->origin;
    for (auto &[key, value] : flat) {
        master_node.entries.emplace_back(key, value);
        postgres->erase(key);
    }
    postgres->erase("master");
    postgres->entries.emplace_back("master", std::move(master_node));
}

namespace {

// The node at `path` below `root`, created as needed; nullptr (with a
// problem) when the path crosses a list index that does not exist.
ConfigNode *node_at(ConfigNode &root, const std::vector<std::string> &path, const Origin &origin,
                    std::vector<ConfigProblem> &problems, const std::string &display)
{
    ConfigNode *node = &root;
    for (const std::string &segment : path) {
        bool index = std::all_of(segment.begin(), segment.end(), [](char c) {
            return std::isdigit(static_cast<unsigned char>(c));
        });
        if (index) {
            size_t size = node->is_list() ? node->items.size() : 0;
            size_t position = std::stoul(segment);
            if (position >= size) {
                problems.push_back({origin.describe(), display,
                                    "no list entry " + segment + " to override (the list has " +
                                        std::to_string(size) + ")"});
                return nullptr;
            }
            node = &node->items[position];
            continue;
        }
        node = &node->entry(segment, origin);
    }
    return node;
}

void set_value(ConfigNode &root, const std::vector<std::string> &path, const std::string &value,
               const std::string &variable, std::vector<ConfigProblem> &problems)
{
    std::string display;
    for (const std::string &segment : path)
        display += (display.empty() ? "" : ".") + segment;
    Origin origin = Origin::environment(variable);
    if (ConfigNode *node = node_at(root, path, origin, problems, display))
        *node = ConfigNode::scalar_from(value, origin);
}

ConfigNode *postgres_master(ConfigNode &environment, const Origin &origin)
{
    return &environment.entry("database", origin).entry("postgres", origin).entry("master", origin);
}

const char *lookup(const EnvMap &env, const char *name)
{
    auto it = env.find(name);
    if (it == env.end() || it->second.empty())
        return nullptr;
    return it->second.c_str();
}

// libpq messages quote pieces of the string they reject; those pieces may be
// a password, so they are blanked.
std::string without_quoted_fragments(const std::string &message)
{
    static const std::regex quoted("\"[^\"]*\"");
    return std::regex_replace(message, quoted, "\"...\"");
}

void apply_database_url(ConfigNode &environment, const std::string &url, const std::string &name,
                        std::vector<ConfigProblem> &problems)
{
    Origin origin = Origin::environment(name);
    std::map<std::string, std::string> values;
    try {
        values = conninfo::parse(url);
    } catch (const std::invalid_argument &e) {
        problems.push_back(
            {origin.describe(), "database.postgres.master", without_quoted_fragments(e.what())});
        return;
    }
    ConfigNode *master = postgres_master(environment, origin);
    if (!master->is_map())
        *master = ConfigNode(ConfigNode::Kind::map, origin);
    for (const std::string &key : connection_keys())
        master->erase(key);
    bool multi_host = values.count("host") && values["host"].find(',') != std::string::npos;
    for (const auto &[keyword, value] : values) {
        bool modelled = std::find(connection_keys().begin(), connection_keys().end(), keyword) !=
                            connection_keys().end() &&
                        keyword != "params" && keyword != "password_env";
        if (multi_host && (keyword == "host" || keyword == "port" || keyword == "hostaddr"))
            modelled = false;
        if (keyword == "connect_timeout") {
            master->entry(keyword, origin) = ConfigNode::scalar_from(value + "s", origin);
        } else if (modelled) {
            master->entry(keyword, origin) = ConfigNode::scalar_from(value, origin);
        } else {
            master->entry("params", origin).entry(keyword, origin) =
                ConfigNode::scalar_from(value, origin);
        }
    }
}

std::optional<std::string> percent_decode(std::string_view text)
{
    std::string out;
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%') {
            out += text[i];
            continue;
        }
        // Exactly two hex digits (from_chars alone would also take a sign).
        unsigned byte = 0;
        const char *first = text.data() + i + 1;
        const char *last = first + std::min<size_t>(2, text.size() - i - 1);
        auto [end, error] = std::from_chars(first, last, byte, 16);
        if (error != std::errc() || end != first + 2 || *first == '+' || *first == '-')
            return std::nullopt;
        out += static_cast<char>(byte);
        i += 2;
    }
    return out;
}

// redis://[[user][:password]@]host[:port][/db]
void apply_redis_url(ConfigNode &environment, const std::string &url,
                     std::vector<ConfigProblem> &problems)
{
    Origin origin = Origin::environment("REDIS_URL");
    auto bad = [&](const std::string &why) {
        problems.push_back({origin.describe(), "database.redis", why});
    };
    std::string_view rest(url);
    if (rest.starts_with("rediss://"))
        return bad("TLS (rediss://) is not supported by this build (hiredis 0.14 has no TLS)");
    if (!rest.starts_with("redis://"))
        return bad("expected a redis://[user:password@]host:port[/db] URL");
    rest.remove_prefix(8);
    std::string username, password;
    bool has_password = false;
    size_t at = rest.rfind('@');
    if (at != std::string_view::npos) {
        std::string_view userinfo = rest.substr(0, at);
        rest.remove_prefix(at + 1);
        size_t colon = userinfo.find(':');
        auto user = percent_decode(userinfo.substr(0, colon));
        std::optional<std::string> pass;
        if (colon != std::string_view::npos) {
            pass = percent_decode(userinfo.substr(colon + 1));
            has_password = true;
        }
        if (!user || (has_password && !pass))
            return bad("invalid percent-encoding in the user or password");
        username = *user;
        if (pass)
            password = *pass;
    }
    std::string_view address = rest, db;
    size_t slash = rest.find('/');
    if (slash != std::string_view::npos) {
        address = rest.substr(0, slash);
        db = rest.substr(slash + 1);
    }
    std::string addr(address);
    if (addr.empty())
        addr = "localhost:6379";
    else if (addr.find(':') == std::string::npos || (addr.front() == '[' && addr.back() == ']'))
        addr += ":6379";
    ConfigNode &redis = environment.entry("database", origin).entry("redis", origin);
    redis.entry("addr", origin) = ConfigNode::scalar_from(addr, origin);
    redis.erase("username");
    if (!username.empty())
        redis.entry("username", origin) = ConfigNode::scalar_from(username, origin);
    if (has_password) {
        redis.erase("password_env");
        redis.entry("password", origin) = ConfigNode::scalar_from(password, origin);
    }
    if (!db.empty())
        redis.entry("db", origin) = ConfigNode::scalar_from(std::string(db), origin);
}

// libpq's PG* variables (PGHOST, PGPORT, PGUSER, PGDATABASE, PGSSLMODE, ...)
// for the master's connection parameters that the file and DATABASE_URL
// leave unset: what libpq would read from the process environment, taken
// from the environment this configuration is loaded with (so that
// LoadOptions::env means what it says) and validated like the file's values.
// PGPASSWORD has rules of its own (apply_environment).
void apply_libpq_variables(ConfigNode &environment, const EnvMap &env)
{
    const auto &modelled = connection_keys();
    for (const auto &[variable, keyword] : conninfo::environment_variables()) {
        const char *value = lookup(env, variable.c_str());
        if (value == nullptr || variable == "PGPASSWORD")
            continue;
        Origin origin = Origin::environment(variable);
        ConfigNode *master = postgres_master(environment, origin);
        if (!master->is_map())
            *master = ConfigNode(ConfigNode::Kind::map, origin);
        const ConfigNode *params = master->find("params");
        const bool set = (master->find(keyword) != nullptr && !master->find(keyword)->is_null()) ||
                         (params != nullptr && params->is_map() && params->find(keyword) != nullptr);
        if (set)
            continue;
        const bool multi_host = std::string_view(value).find(',') != std::string_view::npos &&
                                (keyword == "host" || keyword == "port");
        if (keyword == "connect_timeout")
            master->entry(keyword, origin) = ConfigNode::scalar_from(std::string(value) + "s", origin);
        else if (!multi_host && std::find(modelled.begin(), modelled.end(), keyword) != modelled.end())
            master->entry(keyword, origin) = ConfigNode::scalar_from(value, origin);
        else
            master->entry("params", origin).entry(keyword, origin) = ConfigNode::scalar_from(value, origin);
    }
}

// Sets `key` of `section` from the first of `variables` that is set, unless
// the file names its own variable in `key`_env.
void apply_first(ConfigNode *section, const std::string &key,
                 std::initializer_list<const char *> variables, const EnvMap &env)
{
    if (section == nullptr || !section->is_map() || section->find(key + "_env") != nullptr)
        return;
    for (const char *variable : variables)
        if (const char *value = lookup(env, variable)) {
            Origin origin = Origin::environment(variable);
            section->entry(key, origin) = ConfigNode::scalar_from(value, origin);
            return;
        }
}

bool is_config_variable(std::string_view name)
{
    static constexpr std::string_view sections[] = {
        "STRATUM_DATABASE_",   "STRATUM_SERVER_", "STRATUM_LOGGING_",
        "STRATUM_MIGRATIONS_", "STRATUM_HEALTH_",
    };
    if (name == "STRATUM_PRODUCTION")
        return true;
    for (std::string_view prefix : sections)
        if (name.starts_with(prefix))
            return true;
    return false;
}

}  // namespace

void apply_environment(ConfigNode &environment, const EnvMap &env, const std::string &database_url,
                       std::vector<ConfigProblem> &problems)
{
    if (!database_url.empty())
        apply_database_url(environment, database_url, "--database", problems);
    else if (const char *url = lookup(env, "DATABASE_URL"))
        apply_database_url(environment, url, "DATABASE_URL", problems);

    if (const char *password = lookup(env, "PGPASSWORD")) {
        Origin origin = Origin::environment("PGPASSWORD");
        ConfigNode *master = postgres_master(environment, origin);
        const ConfigNode *current = master->find("password");
        bool from_url = current != nullptr && !current->origin.env_var.empty() &&
                        current->origin.env_var != "PGPASSWORD";
        if (master->find("password_env") == nullptr && !from_url)
            master->entry("password", origin) = ConfigNode::scalar_from(password, origin);
    }

    apply_libpq_variables(environment, env);

    if (const char *url = lookup(env, "REDIS_URL"))
        apply_redis_url(environment, url, problems);
    ConfigNode *database = environment.find("database");
    ConfigNode *redis = database ? database->find("redis") : nullptr;
    apply_first(redis, "password", {"REDIS_PASSWORD"}, env);
    ConfigNode *minio = database ? database->find("minio") : nullptr;
    apply_first(minio, "access_key", {"MINIO_ACCESS_KEY", "AWS_ACCESS_KEY_ID"}, env);
    apply_first(minio, "secret_key", {"MINIO_SECRET_KEY", "AWS_SECRET_ACCESS_KEY"}, env);

    for (const auto &[name, value] : env) {
        if (!is_config_variable(name))
            continue;
        std::string lowered;
        for (char c : std::string_view(name).substr(8))
            lowered += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        auto path = resolve_variable(lowered);
        if (!path) {
            problems.push_back({Origin::environment(name).describe(), "",
                                "no configuration key matches this variable (the rule: "
                                "STRATUM_ + the key path in capitals, dots and list indexes "
                                "joined by _, e.g. STRATUM_DATABASE_POSTGRES_MASTER_PORT)"});
            continue;
        }
        // The flat database.postgres.<key> form is the master.
        if (path->size() >= 3 && (*path)[0] == "database" && (*path)[1] == "postgres" &&
            (*path)[2] != "master" && (*path)[2] != "replicas")
            path->insert(path->begin() + 2, "master");
        set_value(environment, *path, value, name, problems);
        // A secret set here replaces the file's choice of variable for it.
        const std::string &leaf = path->back();
        if (leaf == "password" || leaf == "secret_key" || leaf == "access_key") {
            ConfigNode *section = &environment;
            for (size_t i = 0; section != nullptr && i + 1 < path->size(); ++i) {
                const std::string &segment = (*path)[i];
                if (section->is_list())
                    section = std::stoul(segment) < section->items.size()
                                  ? &section->items[std::stoul(segment)]
                                  : nullptr;
                else
                    section = section->find(segment);
            }
            if (section != nullptr)
                section->erase(leaf + "_env");
        }
    }
}

}  // namespace stratum::detail
