// Channels between sessions of one role that stratum closes for application
// roles: LISTEN, two-phase commit, and rows kept past a transaction.
#pragma once

#include "pg.hpp"

namespace stratum {

// Defines stratum.app_role_listen and installs the utility hook (from _PG_init).
void install_app_role_guard();

}  // namespace stratum
