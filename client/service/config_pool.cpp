// Config -> PoolOptions.
#include "stratum/config_pool.hpp"

#include <algorithm>

namespace stratum {

PoolOptions to_pool_options(const Config &config)
{
    const PostgresEndpoint &master = config.database.postgres.master;
    PoolOptions options;
    options.primary = master.conninfo();
    options.max_size = static_cast<std::size_t>(master.pool.max_open_conns);
    options.max_idle = static_cast<std::size_t>(master.pool.max_idle_conns);
    // database/sql keeps no minimum: the pool's default, within the idle cap.
    options.min_size = std::min(options.min_size, *options.max_idle);
    options.idle_timeout = master.pool.conn_max_idle_time;
    options.max_lifetime = master.pool.conn_max_lifetime;
    options.acquire_timeout = master.pool.acquire_timeout;
    options.connect_timeout = master.connect_timeout;
    for (const PostgresEndpoint &replica : config.database.postgres.replicas) {
        ReplicaOptions replica_options;
        replica_options.conninfo = replica.conninfo();
        replica_options.max_size = static_cast<std::size_t>(replica.pool.max_open_conns);
        replica_options.max_idle = static_cast<std::size_t>(replica.pool.max_idle_conns);
        options.replicas.push_back(std::move(replica_options));
    }
    return options;
}

}  // namespace stratum
