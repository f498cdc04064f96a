// Runs a migration's statements in the caller's transaction, and turns a
// failure into an error that names the migration, the statement and, for a
// lock timeout, what blocked it.
#pragma once

#include "ledger_script.hpp"

namespace stratum {

struct RunSettings {
    const char *label;        // "migration master/7 (add_users)"
    int lock_timeout_ms;      // for every statement; < 0 keeps the session's
    const char *search_path;  // nullptr keeps the caller's
};

// Runs every statement of the script, in order, inside one internal
// subtransaction with the settings applied (restored on return, as a
// function's SET clause would be). On failure the subtransaction is rolled
// back, so the migration has left nothing, and the server's error is raised
// again with its SQLSTATE, prefixed with the label, statement number and line.
// Expects an open SPI connection.
void run_script(const Script &script, const RunSettings &settings);

}  // namespace stratum
