// Recognising statements that build an index concurrently (CREATE INDEX
// CONCURRENTLY, REINDEX ... CONCURRENTLY) and statements that cannot run in
// a transaction block, from their text. A concurrent build that fails or is
// cancelled leaves an INVALID index behind, which the runner must drop
// before a retry and must never record as applied.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace stratum::detail {

struct ConcurrentBuild {
    bool reindex = false;  // REINDEX ... CONCURRENTLY (else CREATE INDEX CONCURRENTLY)
    std::string index;     // the index CREATE INDEX names, as the catalog spells it; "" when unnamed
    // The relation it works on, as written (for to_regclass): CREATE INDEX's
    // table, REINDEX TABLE's table or REINDEX INDEX's index. "" for REINDEX
    // SCHEMA / DATABASE / SYSTEM.
    std::string relation;
};

// The concurrent build `statement` is, if it is one.
std::optional<ConcurrentBuild> concurrent_build_of(std::string_view statement);

// CREATE INDEX CONCURRENTLY, DROP INDEX CONCURRENTLY, REINDEX ... CONCURRENTLY
// or VACUUM: statements that PostgreSQL refuses inside a transaction block.
bool needs_no_transaction(std::string_view statement);

}  // namespace stratum::detail
