// libpq connection strings: quoting, parsing, and the keywords (and PG*
// variables) libpq knows. The pool prepares its connection strings with
// these; the configuration builds them.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace stratum::conninfo {

// Quotes a value for a libpq keyword/value string: 'value' with \ and '
// escaped by a backslash.
std::string quote(std::string_view value);

// Parses a libpq connection string or postgres:// URI into keyword -> value
// (only the keywords present). Throws std::invalid_argument with libpq's
// message, which never repeats the string itself.
std::map<std::string, std::string> parse(const std::string &conninfo);

// Every keyword libpq accepts (from PQconndefaults).
const std::vector<std::string> &known_keywords();

// The environment variable libpq reads for each keyword that has one
// (PGHOST -> host, PGPORT -> port, PGDATABASE -> dbname, ...).
const std::map<std::string, std::string> &environment_variables();

}  // namespace stratum::conninfo
