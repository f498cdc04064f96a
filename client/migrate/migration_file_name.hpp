// How migration and seed files are named (NNN_name.up.sql, NNN_name.down.sql,
// seeds NNN_name.sql): the rule the directory reader applies, declared here so
// the migration_fuzz target can feed it any bytes.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "stratum/migration_files.hpp"

namespace stratum::detail {

// A file name taken apart: the version's digits as written, the name, and
// whether it is the down file.
struct MigrationFileName {
    std::string digits;
    std::string name;
    bool down = false;
};

// nullopt when `filename` (no directory part) is not named like a file of `kind`.
std::optional<MigrationFileName> parse_migration_file_name(std::string_view filename, MigrationKind kind);

}  // namespace stratum::detail
