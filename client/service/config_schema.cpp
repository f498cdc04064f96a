// The key schema of a stratum environment, shape checks and the mapping of
// STRATUM_* variable names onto key paths.
#include "config_schema.hpp"

#include <algorithm>
#include <cctype>

namespace stratum::detail {

const SchemaNode *SchemaNode::child(std::string_view name) const
{
    for (const auto &[key, node] : children)
        if (key == name)
            return node;
    return nullptr;
}

namespace {

using Kind = SchemaNode::Kind;

const SchemaNode value_node{Kind::value, {}, nullptr};
const SchemaNode value_list_node{Kind::value_list, {}, nullptr};
const SchemaNode free_map_node{Kind::free_map, {}, nullptr};

SchemaNode map_of(std::initializer_list<std::pair<std::string, const SchemaNode *>> children)
{
    return SchemaNode{Kind::map, children, nullptr};
}

SchemaNode build_endpoint()
{
    SchemaNode node{Kind::map, {}, nullptr};
    for (const std::string &key : connection_keys())
        if (key != "params")
            node.children.emplace_back(key, &value_node);
    for (const std::string &key : pool_keys())
        node.children.emplace_back(key, &value_node);
    node.children.emplace_back("params", &free_map_node);
    return node;
}

}  // namespace

const std::vector<std::string> &connection_keys()
{
    static const std::vector<std::string> keys = {
        "host",        "port",    "user",        "dbname",         "password",
        "password_env", "passfile", "sslmode",   "sslrootcert",    "sslcert",
        "sslkey",      "application_name", "connect_timeout", "params",
    };
    return keys;
}

const std::vector<std::string> &pool_keys()
{
    static const std::vector<std::string> keys = {
        "max_open_conns", "max_idle_conns", "conn_max_lifetime", "conn_max_idle_time",
        "acquire_timeout",
    };
    return keys;
}

const SchemaNode &endpoint_schema()
{
    static const SchemaNode endpoint = build_endpoint();
    return endpoint;
}

const SchemaNode &environment_schema()
{
    static const SchemaNode replicas{Kind::map_list, {}, &endpoint_schema()};
    static const SchemaNode postgres = [] {
        SchemaNode node = build_endpoint();  // the flat form
        node.children.emplace_back("master", &endpoint_schema());
        node.children.emplace_back("replicas", &replicas);
        return node;
    }();
    static const SchemaNode sentinel =
        map_of({{"master_name", &value_node}, {"addrs", &value_list_node}});
    static const SchemaNode cluster = map_of({{"addrs", &value_list_node}});
    static const SchemaNode redis = map_of({
        {"addr", &value_node},
        {"username", &value_node},
        {"password", &value_node},
        {"password_env", &value_node},
        {"db", &value_node},
        {"dial_timeout", &value_node},
        {"read_timeout", &value_node},
        {"reconnect_backoff_min", &value_node},
        {"reconnect_backoff_max", &value_node},
        {"sentinel", &sentinel},
        {"cluster", &cluster},
    });
    static const SchemaNode minio = map_of({
        {"endpoint", &value_node},
        {"secure", &value_node},
        {"bucket", &value_node},
        {"region", &value_node},
        {"access_key", &value_node},
        {"access_key_env", &value_node},
        {"secret_key", &value_node},
        {"secret_key_env", &value_node},
        {"timeout", &value_node},
        {"ca_file", &value_node},
    });
    static const SchemaNode database =
        map_of({{"postgres", &postgres}, {"redis", &redis}, {"minio", &minio}});
    static const SchemaNode server =
        map_of({{"listen", &value_node}, {"admin_token_env", &value_node}});
    static const SchemaNode logging = map_of({{"level", &value_node}, {"json", &value_node}});
    static const SchemaNode migrations =
        map_of({{"dir", &value_node}, {"lock_timeout", &value_node}});
    static const SchemaNode health = map_of({{"timeout", &value_node},
                                             {"interval", &value_node},
                                             {"max_replication_lag", &value_node}});
    static const SchemaNode environment = map_of({
        {"production", &value_node},
        {"database", &database},
        {"server", &server},
        {"logging", &logging},
        {"migrations", &migrations},
        {"health", &health},
    });
    return environment;
}

namespace {

size_t edit_distance(std::string_view a, std::string_view b)
{
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j)
        row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
            diagonal = above;
        }
    }
    return row[b.size()];
}

std::string join(const std::string &path, std::string_view key)
{
    return path.empty() ? std::string(key) : path + "." + std::string(key);
}

void wrong_kind(const ConfigNode &node, const std::string &path, std::string_view expected,
                std::vector<ConfigProblem> &problems)
{
    problems.push_back(
        {node.origin.describe(), path,
         "expected " + std::string(expected) + ", got " + std::string(kind_name(node.kind))});
}

}  // namespace

std::string suggest_key(std::string_view unknown, const SchemaNode &schema)
{
    std::string best;
    size_t best_distance = 3;
    for (const auto &[key, child] : schema.children) {
        size_t distance = edit_distance(unknown, key);
        if (distance < best_distance) {
            best_distance = distance;
            best = key;
        }
    }
    return best;
}

void check_shape(ConfigNode &node, const SchemaNode &schema, const std::string &path,
                 std::vector<ConfigProblem> &problems)
{
    if (node.is_null())
        return;  // an empty key means "not set"
    switch (schema.kind) {
    case Kind::value:
        if (!node.is_scalar()) {
            wrong_kind(node, path, "a value", problems);
            node = ConfigNode{};
        }
        return;
    case Kind::value_list:
        if (node.is_scalar())
            return;  // one address, or a comma-separated list from the environment
        if (!node.is_list()) {
            wrong_kind(node, path, "a list of values", problems);
            node = ConfigNode{};
            return;
        }
        for (size_t i = 0; i < node.items.size(); ++i)
            if (!node.items[i].is_scalar()) {
                wrong_kind(node.items[i], join(path, std::to_string(i)), "a value", problems);
                node.items[i] = ConfigNode{};
            }
        return;
    case Kind::map_list:
        if (!node.is_list()) {
            wrong_kind(node, path, "a list", problems);
            node = ConfigNode{};
            return;
        }
        for (size_t i = 0; i < node.items.size(); ++i)
            check_shape(node.items[i], *schema.element, join(path, std::to_string(i)), problems);
        return;
    case Kind::free_map:
        if (!node.is_map()) {
            wrong_kind(node, path, "a mapping", problems);
            node = ConfigNode{};
            return;
        }
        for (auto &[key, value] : node.entries)
            if (!value.is_scalar() && !value.is_null()) {
                wrong_kind(value, join(path, key), "a value", problems);
                value = ConfigNode{};
            }
        return;
    case Kind::map:
        if (!node.is_map()) {
            wrong_kind(node, path, "a mapping", problems);
            node = ConfigNode{};
            return;
        }
        std::vector<std::string> unknown;
        for (auto &[key, value] : node.entries) {
            const SchemaNode *child = schema.child(key);
            if (child == nullptr) {
                std::string message = "unknown key \"" + key + "\"";
                std::string suggestion = suggest_key(key, schema);
                if (!suggestion.empty())
                    message += " (did you mean \"" + suggestion + "\"?)";
                problems.push_back({value.origin.describe(), join(path, key), message});
                unknown.push_back(key);
                continue;
            }
            check_shape(value, *child, join(path, key), problems);
        }
        for (const std::string &key : unknown)
            node.erase(key);
        return;
    }
}

namespace {

std::optional<std::vector<std::string>> resolve_in(const SchemaNode &schema, std::string_view rest)
{
    switch (schema.kind) {
    case Kind::value:
    case Kind::value_list:
        if (rest.empty())
            return std::vector<std::string>{};
        return std::nullopt;
    case Kind::free_map:
        if (rest.empty())
            return std::nullopt;
        return std::vector<std::string>{std::string(rest)};
    case Kind::map_list: {
        size_t digits = 0;
        while (digits < rest.size() && std::isdigit(static_cast<unsigned char>(rest[digits])))
            ++digits;
        if (digits == 0 || digits >= rest.size() || rest[digits] != '_')
            return std::nullopt;
        auto tail = resolve_in(*schema.element, rest.substr(digits + 1));
        if (!tail)
            return std::nullopt;
        tail->insert(tail->begin(), std::string(rest.substr(0, digits)));
        return tail;
    }
    case Kind::map:
        for (const auto &[key, child] : schema.children) {
            if (rest == key) {
                if (child->kind == Kind::value || child->kind == Kind::value_list)
                    return std::vector<std::string>{key};
                continue;
            }
            if (rest.size() > key.size() + 1 && rest.substr(0, key.size()) == key &&
                rest[key.size()] == '_') {
                auto tail = resolve_in(*child, rest.substr(key.size() + 1));
                if (tail) {
                    tail->insert(tail->begin(), key);
                    return tail;
                }
            }
        }
        return std::nullopt;
    }
    return std::nullopt;
}

}  // namespace

std::optional<std::vector<std::string>> resolve_variable(std::string_view name)
{
    return resolve_in(environment_schema(), name);
}

}  // namespace stratum::detail
