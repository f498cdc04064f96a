// Descriptions of audited relations, kept per backend: a transaction of
// many one-row statements describes each table once, not once per statement.
#pragma once

#include "audit_table.hpp"

namespace stratum::audit {

struct CachedTable;

// The description of rel for its row trigger, built when missing or after
// anything it depends on changed (relcache and type invalidations).
AuditedTable *cached_audited_table(Relation rel, const Trigger *trigger, CachedTable **hint);

// Marks stale the descriptions that depend on relid (InvalidOid: all of
// them; also after a change to a type or a schema name).
void forget_audited_tables(Oid relid);

}  // namespace stratum::audit
