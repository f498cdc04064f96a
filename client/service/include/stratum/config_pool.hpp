// Maps a loaded stratum::Config onto the pool's options: the one place where
// the YAML names (database/sql style) meet the pool's.
#pragma once

#include "stratum/config.hpp"
#include "stratum/pool_options.hpp"

namespace stratum {

// master.conninfo() -> primary; max_open_conns -> max_size; max_idle_conns ->
// min_size (connections kept open while idle); conn_max_idle_time ->
// idle_timeout; conn_max_lifetime -> max_lifetime; acquire_timeout and
// connect_timeout as they are; each replica likewise.
PoolOptions to_pool_options(const Config &config);

}  // namespace stratum
