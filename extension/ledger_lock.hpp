// The advisory locks that make migrators of one scope take turns.
//
// Two locks per scope, both in the two-int4 advisory key space (objsubid 2 in
// pg_locks) with class ids of stratum's own, so they never collide with an
// application's bigint advisory keys:
//   migration lock       classid 1398033713 ('STM1'), objid = FNV-1a of the scope
//   non-transactional    classid 1398033714 ('STM2'), same objid
// A transactional migrator holds the migration lock until its transaction
// ends. A non-transactional migrator (CREATE INDEX CONCURRENTLY) holds both at
// session level, taken without ever waiting. A transactional migrator that
// finds the migration lock taken waits for it only while it can hold the
// non-transactional lock in share mode, i.e. only when no non-transactional
// migration runs: CREATE INDEX CONCURRENTLY waits for every older
// transaction, so a migrator waiting inside one would deadlock with it.
// Instead it fails at once with SQLSTATE 55P03 and the runner retries.
#pragma once

#include "pg.hpp"

namespace stratum {

constexpr uint32 migration_lock_class = 0x53544D31;
constexpr uint32 nontransactional_lock_class = 0x53544D32;

// FNV-1a (32 bit) of the scope's bytes: the objid of both locks.
uint32 migration_lock_objid(const char *scope);

// Takes the scope's migration lock until the end of the transaction, waiting
// (within the session's lock_timeout) for another transactional migrator.
// Raises 55P03 at once when a non-transactional migration of the scope runs.
void lock_scope_for_transaction(const char *scope, const char *label);

// Session-level, never waits: true when both locks are now held (or were
// already held by this session).
bool try_lock_scope_for_session(const char *scope);

// Releases what try_lock_scope_for_session took; false when not held.
bool unlock_scope_for_session(const char *scope);

// True when this session holds the scope's locks at session level.
bool holds_session_lock(const char *scope);

// Pids of other backends holding the lock in a mode that conflicts with
// `mode` (0 stands for a prepared transaction). Writes at most max_pids;
// returns how many it found.
int lock_holder_pids(const LOCKTAG &tag, LOCKMODE mode, int *pids, int max_pids);

}  // namespace stratum
