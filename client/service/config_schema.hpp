// The shape of one environment's configuration: which keys exist and what
// each holds. Used to report unknown keys and wrong types, and to map
// STRATUM_* environment variables onto key paths.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config_tree.hpp"

namespace stratum::detail {

struct SchemaNode {
    enum class Kind {
        value,       // a scalar
        value_list,  // a list of scalars (or one comma-separated scalar from the environment)
        map,         // fixed keys: children
        map_list,    // a list of `element` mappings
        free_map,    // any key -> scalar (extra libpq parameters)
    };
    Kind kind = Kind::value;
    std::vector<std::pair<std::string, const SchemaNode *>> children;
    const SchemaNode *element = nullptr;

    const SchemaNode *child(std::string_view name) const;
};

// The keys of a PostgreSQL endpoint that say how to connect (DATABASE_URL
// replaces all of them), "params" among them...
const std::vector<std::string> &connection_keys();
// ...and those that limit its pool.
const std::vector<std::string> &pool_keys();

// One environment: database, server, logging, migrations, health, production.
const SchemaNode &environment_schema();
// A PostgreSQL endpoint (master, each replica, or the flat database.postgres form).
const SchemaNode &endpoint_schema();

// Reports unknown keys and values of the wrong kind below `node`, and removes
// them so that the typed reading sees only what it can use.
void check_shape(ConfigNode &node, const SchemaNode &schema, const std::string &path,
                 std::vector<ConfigProblem> &problems);

// The key path an environment variable name (without its STRATUM_ prefix,
// lower-cased) stands for, e.g. "database_postgres_master_max_open_conns" ->
// {"database","postgres","master","max_open_conns"}; nullopt when none.
std::optional<std::vector<std::string>> resolve_variable(std::string_view name);

// The closest known key to `unknown` (edit distance <= 2), or "".
std::string suggest_key(std::string_view unknown, const SchemaNode &schema);

}  // namespace stratum::detail
