// The steps of Config::load after parsing: environment overrides and the
// typed, validated reading of one environment's tree.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "config_tree.hpp"

namespace stratum::detail {

using EnvMap = std::map<std::string, std::string>;

// A snapshot of the process environment.
EnvMap process_environment();

// Moves the flat database.postgres.{host,...} form into database.postgres.master.
void normalize_postgres(ConfigNode &environment, std::vector<ConfigProblem> &problems);

// Lays the environment on the tree, lowest precedence first: DATABASE_URL
// (or `database_url`, from --database), PGPASSWORD, libpq's other PG*
// variables (for what is still unset), REDIS_URL, REDIS_PASSWORD,
// MINIO_*/AWS_* keys, then STRATUM_<KEY_PATH> variables.
void apply_environment(ConfigNode &environment, const EnvMap &env, const std::string &database_url,
                       std::vector<ConfigProblem> &problems);

// Reads the typed configuration of environment `name` and validates it.
void read_environment(const ConfigNode &environment, const EnvMap &env, Config &config,
                      std::vector<ConfigProblem> &problems);

}  // namespace stratum::detail
