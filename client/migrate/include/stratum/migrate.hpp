// The migration runner in one include (library stratum::migrate, pkg-config
// stratum-migrate): stratum::Migrator and the migration files it reads.
#pragma once

#include "stratum/migration_files.hpp"
#include "stratum/migrator.hpp"
#include "stratum/stratum.hpp"
