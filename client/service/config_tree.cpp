// YAML (yaml-cpp) into a ConfigNode tree with origins, and merging of trees.
#include "config_tree.hpp"

#include <set>

#include <yaml-cpp/yaml.h>

namespace stratum::detail {

std::string Origin::describe() const
{
    if (!env_var.empty())
        return "environment variable " + env_var;
    if (file.empty())
        return "(defaults)";
    if (line <= 0)
        return file;
    return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

Origin Origin::environment(std::string name)
{
    Origin origin;
    origin.env_var = std::move(name);
    return origin;
}

const ConfigNode *ConfigNode::find(std::string_view key) const
{
    for (const auto &[name, node] : entries)
        if (name == key)
            return &node;
    return nullptr;
}

ConfigNode *ConfigNode::find(std::string_view key)
{
    for (auto &[name, node] : entries)
        if (name == key)
            return &node;
    return nullptr;
}

ConfigNode &ConfigNode::entry(std::string_view key, const Origin &at)
{
    if (kind != Kind::map) {
        kind = Kind::map;
        scalar.clear();
        items.clear();
        if (origin.line == 0 && origin.env_var.empty())
            origin = at;
    }
    if (ConfigNode *existing = find(key))
        return *existing;
    ConfigNode created;
    created.origin = at;
    entries.emplace_back(std::string(key), std::move(created));
    return entries.back().second;
}

void ConfigNode::erase(std::string_view key)
{
    std::erase_if(entries, [&](const auto &entry) { return entry.first == key; });
}

ConfigNode ConfigNode::scalar_from(std::string value, Origin origin)
{
    ConfigNode node;
    node.kind = Kind::scalar;
    node.scalar = std::move(value);
    node.origin = std::move(origin);
    return node;
}

std::string_view kind_name(ConfigNode::Kind kind)
{
    switch (kind) {
    case ConfigNode::Kind::null:
        return "nothing";
    case ConfigNode::Kind::scalar:
        return "a value";
    case ConfigNode::Kind::map:
        return "a mapping";
    case ConfigNode::Kind::list:
        return "a list";
    }
    return "?";
}

namespace {

Origin origin_of(const YAML::Mark &mark, const std::string &source)
{
    Origin origin;
    origin.file = source;
    if (mark.line >= 0) {
        origin.line = mark.line + 1;
        origin.column = mark.column + 1;
    }
    return origin;
}

ConfigNode convert(const YAML::Node &yaml, const Origin &origin, const std::string &source,
                   const std::string &path, std::vector<ConfigProblem> &problems)
{
    ConfigNode node;
    node.origin = origin;
    switch (yaml.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
        node.kind = ConfigNode::Kind::null;
        break;
    case YAML::NodeType::Scalar:
        node.kind = ConfigNode::Kind::scalar;
        node.scalar = yaml.Scalar();
        // YAML can spell one ("\0"); libpq and every C API would silently
        // cut the value there (user "app\0x" would log in as "app").
        if (node.scalar.find('\0') != std::string::npos)
            problems.push_back({origin.describe(), path, "must not contain a NUL character"});
        break;
    case YAML::NodeType::Sequence: {
        node.kind = ConfigNode::Kind::list;
        size_t index = 0;
        for (const YAML::Node &item : yaml) {
            std::string item_path = path + "." + std::to_string(index++);
            node.items.push_back(
                convert(item, origin_of(item.Mark(), source), source, item_path, problems));
        }
        break;
    }
    case YAML::NodeType::Map: {
        node.kind = ConfigNode::Kind::map;
        std::set<std::string> seen;
        for (const auto &pair : yaml) {
            Origin key_origin = origin_of(pair.first.Mark(), source);
            if (!pair.first.IsScalar()) {
                problems.push_back({key_origin.describe(), path, "keys must be plain names"});
                continue;
            }
            const std::string &key = pair.first.Scalar();
            std::string key_path = path.empty() ? key : path + "." + key;
            if (!seen.insert(key).second) {
                problems.push_back({key_origin.describe(), key_path, "duplicate key"});
                continue;
            }
            // A value is located at its key: that is the line a reader looks for.
            node.entries.emplace_back(key,
                                      convert(pair.second, key_origin, source, key_path, problems));
        }
        break;
    }
    }
    return node;
}

}  // namespace

ConfigNode parse_yaml(std::string_view text, const std::string &source,
                      std::vector<ConfigProblem> &problems)
{
    YAML::Node root;
    try {
        root = YAML::Load(std::string(text));
    } catch (const YAML::Exception &e) {
        problems.push_back({origin_of(e.mark, source).describe(), "", "YAML syntax: " + e.msg});
        return {};
    }
    Origin top;
    top.file = source;
    return convert(root, top, source, "", problems);
}

ConfigNode merge(const ConfigNode &base, const ConfigNode &over)
{
    if (!base.is_map() || !over.is_map())
        return over;
    ConfigNode merged = base;
    for (const auto &[key, value] : over.entries) {
        if (ConfigNode *existing = merged.find(key))
            *existing = merge(*existing, value);
        else
            merged.entries.emplace_back(key, value);
    }
    return merged;
}

}  // namespace stratum::detail
