// Reading the ledgers of golang-migrate, Flyway and sqitch: which of their
// migrations are applied, and whether the ledger is dirty (a migration the
// tool left half-done), for Migrator::import_ledger.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "stratum/connection.hpp"
#include "stratum/migrator.hpp"

namespace stratum::migrator {

struct SourceLedger {
    std::string table;                    // as the server names it
    std::optional<std::int64_t> up_to;    // every version up to this one is applied (golang-migrate, Flyway baseline)
    std::set<std::int64_t> versions;      // applied versions (Flyway)
    std::vector<std::string> changes;     // applied change names, in deploy order (sqitch)
    std::vector<std::string> warnings;    // entries not imported (Flyway repeatable migrations)
};

// Why a source ledger cannot be imported; the message says what to do.
struct SourceLedgerProblem {
    std::string sqlstate;  // 42P01 no such table, 55000 dirty, 22023 a version stratum cannot hold
    std::string message;
    std::string hint;
};

// Reads the ledger of `options.from`; nullopt and `problem` when it cannot
// be imported.
std::optional<SourceLedger> read_source_ledger(Connection &conn, const ImportOptions &options,
                                               SourceLedgerProblem &problem);

}  // namespace stratum::migrator
