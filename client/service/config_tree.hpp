// The configuration as a tree that remembers where every value came from
// (file:line:column or the environment variable that set it), so merging
// environments and applying overrides keeps each error pointing at its source.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "stratum/config.hpp"

namespace stratum::detail {

struct Origin {
    std::string file;  // the YAML file, when it came from one
    int line = 0;      // 1-based; 0 = unknown
    int column = 0;
    std::string env_var;  // set when the value came from the environment

    bool from_file() const noexcept { return env_var.empty() && !file.empty(); }
    std::string describe() const;  // "file:12:7", "environment variable PGPORT"
    static Origin environment(std::string name);
};

struct ConfigNode {
    enum class Kind { null, scalar, map, list };

    // Declared here and defaulted below the class: otherwise clang (with
    // libstdc++) instantiates std::pair<std::string, ConfigNode> while
    // ConfigNode is still incomplete, and the client does not build with it.
    ConfigNode();
    ConfigNode(Kind kind, Origin origin);
    ConfigNode(const ConfigNode &);
    ConfigNode(ConfigNode &&) noexcept;
    ConfigNode &operator=(const ConfigNode &);
    ConfigNode &operator=(ConfigNode &&) noexcept;
    ~ConfigNode();

    Kind kind = Kind::null;
    std::string scalar;
    std::vector<std::pair<std::string, ConfigNode>> entries;  // map, in file order
    std::vector<ConfigNode> items;                            // list
    Origin origin;

    bool is_map() const noexcept { return kind == Kind::map; }
    bool is_list() const noexcept { return kind == Kind::list; }
    bool is_scalar() const noexcept { return kind == Kind::scalar; }
    bool is_null() const noexcept { return kind == Kind::null; }

    const ConfigNode *find(std::string_view key) const;
    ConfigNode *find(std::string_view key);
    // The entry `key`, created (as null, at `origin`) if missing; makes a
    // null node a map first.
    ConfigNode &entry(std::string_view key, const Origin &origin);
    void erase(std::string_view key);

    static ConfigNode scalar_from(std::string value, Origin origin);
};

inline ConfigNode::ConfigNode() = default;
inline ConfigNode::ConfigNode(Kind kind, Origin origin) : kind(kind), origin(std::move(origin)) {}
inline ConfigNode::ConfigNode(const ConfigNode &) = default;
inline ConfigNode::ConfigNode(ConfigNode &&) noexcept = default;
inline ConfigNode &ConfigNode::operator=(const ConfigNode &) = default;
inline ConfigNode &ConfigNode::operator=(ConfigNode &&) noexcept = default;
inline ConfigNode::~ConfigNode() = default;

std::string_view kind_name(ConfigNode::Kind kind);

// Parses YAML text; syntax errors and duplicate keys are added to `problems`.
ConfigNode parse_yaml(std::string_view text, const std::string &source,
                      std::vector<ConfigProblem> &problems);

// `over` laid on `base`: maps merge key by key, anything else replaces.
ConfigNode merge(const ConfigNode &base, const ConfigNode &over);

}  // namespace stratum::detail
