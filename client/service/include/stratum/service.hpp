// What the stratum command and a service embedding it use, in one include
// (library stratum::service, pkg-config stratum-service): YAML
// configuration, health checks, the HTTP server, Redis, the object store,
// structured logging and Prometheus text. Brings the thin library and the
// migration runner along.
#pragma once

#include "stratum/config.hpp"
#include "stratum/config_pool.hpp"
#include "stratum/health.hpp"
#include "stratum/health_result.hpp"
#include "stratum/http_server.hpp"
#include "stratum/logging.hpp"
#include "stratum/migrate.hpp"
#include "stratum/object_store.hpp"
#include "stratum/prometheus.hpp"
#include "stratum/redis.hpp"
#include "stratum/stratum.hpp"
