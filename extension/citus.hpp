// What stratum needs to know about Citus, read from Citus's own catalogs
// (stratum never links against Citus): whether it is loaded, whether this
// node is a worker, and which local shard stands for a distributed table.
#pragma once

#include "pg.hpp"

namespace stratum::citus {

// The Citus library is loaded in this backend (its settings exist).
bool loaded();

// This node is a Citus worker (its group is not the coordinator's, 0).
bool is_worker();

// relid is a distributed table, reference table or Citus local table.
bool is_distributed(Oid relid);

// 'd' (hash-distributed), 'r' (reference), 'l' (Citus local) or 0 (not a
// Citus table).
char table_kind(Oid relid);

// When relid is a shard on this node (e.g. public.t_102021): its shard id
// and its logical table.
bool shard_of(Oid relid, int64 *shardid, Oid *logical);

// The shard of `logical` on this node that holds the rows of the same hash
// range as shard `shardid` of a colocated table (for a reference table, its
// one shard); InvalidOid when there is none here.
Oid colocated_shard(Oid logical, int64 shardid);

// The shard on this node of reference table `logical`; InvalidOid if none.
Oid reference_shard(Oid logical);

// Defines stratum.context_needs_transaction_block, reported to every client
// at connection start: on when Citus was loaded before stratum, where
// set_tenant's SET LOCAL reaches the workers only inside a transaction
// block. Clients that run one-statement transactions (libstratum's
// pool.query) wrap them in BEGIN ... COMMIT then.
void define_transaction_block_report();

// Forgets what was looked up about this node (after any relcache invalidation).
void forget_cached_facts();

}  // namespace stratum::citus
