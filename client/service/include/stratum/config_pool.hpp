// Maps a loaded stratum::Config onto the pool's options: the one place where
// the YAML names (database/sql style) meet the pool's.
#pragma once

#include "stratum/config.hpp"
#include "stratum/pool_options.hpp"

namespace stratum {

// master.conninfo() -> primary; max_open_conns -> max_size; max_idle_conns ->
// max_idle (idle connections kept at most, as in database/sql: a connection
// returned beyond it is closed); min_size stays the pool's default (2), at
// most max_idle_conns; conn_max_idle_time -> idle_timeout; conn_max_lifetime
// -> max_lifetime; acquire_timeout and connect_timeout as they are; each
// replica likewise (min_size 0: replica connections open on demand).
PoolOptions to_pool_options(const Config &config);

}  // namespace stratum
