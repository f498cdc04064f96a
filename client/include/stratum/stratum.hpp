// libstratum: the C++ client of the stratum extension. Include this one header.
#pragma once

#include "stratum/clock.hpp"
#include "stratum/connection.hpp"
#include "stratum/conversions.hpp"
#include "stratum/errors.hpp"
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
