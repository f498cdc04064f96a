// Buffered audit entries reach the log before anything that could look for
// them: a statement that reads or changes the log, and any utility command.
#pragma once

#include "pg.hpp"

namespace stratum {

// Installs the executor permission hook and utility hook (from _PG_init).
void install_audit_read_barrier();

}  // namespace stratum
