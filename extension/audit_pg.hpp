// The PostgreSQL headers the audit trail needs beyond pg.hpp (jsonb, the
// executor's index insertion, partition routing), kept behind the same door.
#pragma once

#include "pg.hpp"

extern "C" {
#include "access/brin.h"
#include "access/brin_revmap.h"
#include "access/tableam.h"
#include "access/tupconvert.h"
#include "catalog/index.h"
#include "catalog/indexing.h"
#include "catalog/partition.h"
#include "catalog/pg_am_d.h"
#include "catalog/pg_sequence.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type_d.h"
#include "commands/sequence.h"
#include "common/jsonapi.h"
#include "executor/executor.h"
#include "nodes/makefuncs.h"
#include "partitioning/partbounds.h"
#include "partitioning/partdesc.h"
#include "storage/bufmgr.h"
#include "utils/array.h"
#include "utils/datum.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/partcache.h"
#include "utils/relcache.h"
#include "utils/syscache.h"
#include "utils/xid8.h"
}
