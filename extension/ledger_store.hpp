// Reads and writes of the ledger tables (stratum.schema_migrations and its
// log). They run as the ledger's owner with search_path pinned to pg_catalog,
// through plans prepared once per backend, and read with the latest snapshot:
// under the scope's migration lock the latest committed ledger is the truth,
// whatever the caller's isolation level. Expect an open SPI connection.
#pragma once

#include "pg.hpp"

namespace stratum {

struct LedgerKey {
    const char *scope;        // 'master' or a tenant schema
    const char *kind;         // 'migration' or 'seed'
    const char *environment;  // '' for migrations
    int64 version;
};

struct LedgerRow {
    bool found;
    bool applied;          // status = 'applied' (else 'rolled_back')
    char *name;
    char *checksum;
    char *down_checksum;   // nullptr when there is no down SQL
    char *down_sql;        // nullptr when there is no down SQL
};

// What apply, record and repair write.
struct LedgerRecord {
    LedgerKey key;
    const char *name;
    const char *checksum;
    const char *down_checksum;  // nullptr: no down SQL
    const char *up_sql;
    const char *down_sql;       // nullptr: no down SQL
    Datum depends_on;           // bigint[]
    bool transactional;
    Datum lock_timeout;         // interval, or 0 for NULL
    const char *done_by;        // the role that ran it
    const char *actor;          // stratum.actor, or nullptr
    TimestampTz done_at;
    Datum duration;             // interval, or 0 for NULL
    Datum metadata;             // jsonb
};

LedgerRow find_migration(const LedgerKey &key);

// Raises unless scope is 'master' or the schema of a registered tenant that
// exists.
void check_scope(const char *scope);

// "3, 5" for the versions of depends_on not applied in the scope, or nullptr.
char *missing_dependencies(const char *scope, Datum depends_on);

// "8, 9" for applied migrations of the scope that depend on version, or nullptr.
char *dependents_of(const char *scope, int64 version);

// action is "applied" (insert, or update of a rolled-back row) or "repaired"
// (content of an applied row replaced, nothing run).
void record_migration_row(const LedgerRecord &record, const char *action);

void record_rollback_row(const LedgerKey &key, const char *done_by, const char *actor,
                         TimestampTz done_at, Datum duration);

}  // namespace stratum
