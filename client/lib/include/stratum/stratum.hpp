// The thin client library in one include: pool, connections, tenant
// transactions, results and parameters, errors, the repository layer,
// metrics and query hooks. Depends on libpq and threads only; the
// migration runner (<stratum/migrate.hpp>) and the service parts
// (<stratum/service.hpp>: configuration, health, HTTP, Redis, object store,
// logging) have their own umbrella headers and libraries.
#pragma once

#include "stratum/clock.hpp"
#include "stratum/conninfo.hpp"
#include "stratum/connection.hpp"
#include "stratum/context_sql.hpp"
#include "stratum/conversions.hpp"
#include "stratum/duration.hpp"
#include "stratum/errors.hpp"
#include "stratum/log_sink.hpp"
#include "stratum/metrics.hpp"
#include "stratum/model.hpp"
#include "stratum/observability.hpp"
#include "stratum/params.hpp"
#include "stratum/pool.hpp"
#include "stratum/pool_options.hpp"
#include "stratum/repository.hpp"
#include "stratum/result.hpp"
#include "stratum/tx.hpp"
#include "stratum/uuid.hpp"
