// The one place stratum listens to PostgreSQL's cache invalidations.
#pragma once

#include "pg.hpp"

namespace stratum {

// Registers one relcache callback and the syscache callbacks, each passing
// the news to every cache of the module that depends on it (from _PG_init:
// a backend has room for ten relcache callbacks in all, Citus takes several,
// and registering later could fail halfway through a statement).
void register_invalidation_callbacks();

}  // namespace stratum
