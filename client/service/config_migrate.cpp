// The configuration's migrations section as the migrator's options.
#include "stratum/config.hpp"
#include "stratum/migrator.hpp"

namespace stratum {

MigratorOptions migrator_options(const Config &config)
{
    MigratorOptions options;
    options.dir = config.migrations.dir;
    options.lock_wait_limit = config.migrations.lock_timeout;
    return options;
}

}  // namespace stratum
