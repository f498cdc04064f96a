// The one door to PostgreSQL's C headers: standard headers first, then the
// server headers inside extern "C" so symbols keep their C names, then the
// small adapters for what differs between the server versions stratum
// supports (15 to 18). No other file includes a server header or tests
// PG_VERSION_NUM.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <new>
#include <type_traits>
#include <utility>

extern "C" {
#include "postgres.h"

#include "access/brin.h"
#include "access/brin_revmap.h"
#include "access/genam.h"
#include "access/heapam.h"
#include "access/hio.h"
#include "access/htup_details.h"
#include "access/parallel.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/tupconvert.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_am_d.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_sequence.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "commands/trigger.h"
#include "common/jsonapi.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/parsenodes.h"
#include "nodes/supportnodes.h"
#include "parser/parser.h"
#include "partitioning/partbounds.h"
#include "partitioning/partdesc.h"
#include "postmaster/autovacuum.h"
#include "rewrite/rowsecurity.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "tcop/cmdtag.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/arrayaccess.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/partcache.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/resowner.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
#include "utils/uuid.h"
#include "utils/xid8.h"
}

#if PG_VERSION_NUM < 150000 || PG_VERSION_NUM >= 190000
#error "stratum supports PostgreSQL 15 to 18"
#endif

namespace stratum::pg {

// --- GUC memory -------------------------------------------------------------
// A check hook's "extra" and a replaced value are freed by the GUC machinery:
// with free() up to 15, with guc_free() from 16 on. Both return nullptr when
// memory runs out (the hook then reports failure).

inline void *guc_alloc(size_t size)
{
#if PG_VERSION_NUM >= 160000
    return guc_malloc(LOG, size);
#else
    return malloc(size);
#endif
}

inline void guc_release(void *pointer)
{
#if PG_VERSION_NUM >= 160000
    guc_free(pointer);
#else
    free(pointer);
#endif
}

// --- processes ---------------------------------------------------------------

// The local id of the transaction a backend is in (moved into PGPROC.vxid in 17).
inline LocalTransactionId local_transaction_id(const PGPROC *proc)
{
#if PG_VERSION_NUM >= 170000
    return proc->vxid.lxid;
#else
    return proc->lxid;
#endif
}

// --- locks -------------------------------------------------------------------

inline bool lock_held_by_me(const LOCKTAG *tag, LOCKMODE mode)
{
#if PG_VERSION_NUM >= 170000
    return LockHeldByMe(tag, mode, false);
#else
    return LockHeldByMe(tag, mode);
#endif
}

// --- buffers -------------------------------------------------------------------

// Which file holds a relation's data (RelFileNode up to 15, RelFileLocator from 16).
#if PG_VERSION_NUM >= 160000
using RelationFile = RelFileLocator;
inline RelationFile relation_file(Relation rel) { return rel->rd_locator; }
#else
using RelationFile = RelFileNode;
inline RelationFile relation_file(Relation rel) { return rel->rd_node; }
#endif

// Pins `recent` if it still holds block `block` of the file: no relation,
// no buffer-table search.
inline bool read_recent_buffer(const RelationFile &file, BlockNumber block, Buffer recent)
{
    return ReadRecentBuffer(file, MAIN_FORKNUM, block, recent);
}

// --- relations ----------------------------------------------------------------

// The primary key index, DEFERRABLE or not (15 to 17 leave a deferrable one
// out of rd_pkindex; 18 asks the caller). A deferrable key still names the row.
inline Oid primary_key_index(Relation rel)
{
#if PG_VERSION_NUM >= 180000
    return RelationGetPrimaryKeyIndex(rel, true);
#else
    List *indexes = RelationGetIndexList(rel);
    Oid found = InvalidOid;
    ListCell *cell;
    foreach (cell, indexes) {
        HeapTuple tuple = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(lfirst_oid(cell)));
        if (!HeapTupleIsValid(tuple))
            continue;
        bool primary = reinterpret_cast<Form_pg_index>(GETSTRUCT(tuple))->indisprimary;
        ReleaseSysCache(tuple);
        if (primary) {
            found = lfirst_oid(cell);
            break;
        }
    }
    list_free(indexes);
    return found;
#endif
}

// --- the executor ----------------------------------------------------------------

inline void insert_index_tuples(ResultRelInfo *result_rel, TupleTableSlot *slot, EState *estate)
{
#if PG_VERSION_NUM >= 160000
    (void) ExecInsertIndexTuples(result_rel, slot, estate, false, false, nullptr, NIL, false);
#else
    (void) ExecInsertIndexTuples(result_rel, slot, estate, false, false, nullptr, NIL);
#endif
}

// The executor's permission-check hook: its arguments changed in 16 (the
// permissions moved from the range table entries into their own list).
#if PG_VERSION_NUM >= 160000
#define STRATUM_CHECK_PERMS_PARAMS List *range_table, List *perm_infos, bool ereport_on_violation
#define STRATUM_CHECK_PERMS_ARGS range_table, perm_infos, ereport_on_violation
#else
#define STRATUM_CHECK_PERMS_PARAMS List *range_table, bool ereport_on_violation
#define STRATUM_CHECK_PERMS_ARGS range_table, ereport_on_violation
#endif

// Calls visit(relid, check_as_user) for each relation whose privileges a
// statement checks, stopping when it returns false. check_as_user is
// InvalidOid when the current user is meant (a view owner's otherwise).
template <typename Visit>
void for_each_checked_relation(STRATUM_CHECK_PERMS_PARAMS, Visit &&visit)
{
#if PG_VERSION_NUM >= 160000
    (void) range_table;
    ListCell *cell;
    foreach (cell, perm_infos) {
        auto *info = static_cast<RTEPermissionInfo *>(lfirst(cell));
        if (!visit(info->relid, info->checkAsUser))
            return;
    }
#else
    ListCell *cell;
    foreach (cell, range_table) {
        auto *entry = static_cast<RangeTblEntry *>(lfirst(cell));
        // Partitions added by inheritance expansion carry no permissions of
        // their own: their parent, checked here too, speaks for them.
        if (entry->rtekind != RTE_RELATION || entry->requiredPerms == 0)
            continue;
        if (!visit(entry->relid, entry->checkAsUser))
            return;
    }
#endif
    (void) ereport_on_violation;
}

// --- utility statements ------------------------------------------------------------

// Hands a utility statement on along the ProcessUtility chain: to the hook
// that was installed before ours, else to PostgreSQL itself. Every stratum
// hook ends with this.
inline void next_process_utility(ProcessUtility_hook_type previous, PlannedStmt *pstmt,
                                 const char *query_string, bool read_only_tree,
                                 ProcessUtilityContext context, ParamListInfo params,
                                 QueryEnvironment *query_env, DestReceiver *dest,
                                 QueryCompletion *qc)
{
    (previous != nullptr ? previous : standard_ProcessUtility)(
        pstmt, query_string, read_only_tree, context, params, query_env, dest, qc);
}

// --- Tuples ----------------------------------------------------------------------

// 18 added room for extra bytes before the tuple.
inline MinimalTuple form_minimal_tuple(TupleDesc desc, Datum *values, bool *nulls)
{
#if PG_VERSION_NUM >= 180000
    return heap_form_minimal_tuple(desc, values, nulls, 0);
#else
    return heap_form_minimal_tuple(desc, values, nulls);
#endif
}

// --- Bulk inserts --------------------------------------------------------------

// A bulk-insert state without its ring of buffers. Since 16, an insert that
// brings one extends the relation by the pages it needs at once (one
// fallocate) instead of writing a page of zeros per page; a ring would make
// the writer write back its own dirty pages. Before 16 such a state would
// bring only the ring, so there is none (nullptr).
inline BulkInsertState bulk_extension_state()
{
#if PG_VERSION_NUM >= 160000
    BulkInsertState state = GetBulkInsertState();
    FreeAccessStrategy(state->strategy);
    state->strategy = nullptr;
    return state;
#else
    return nullptr;
#endif
}

inline void free_bulk_extension_state(BulkInsertState state)
{
    if (state != nullptr)
        FreeBulkInsertState(state);
}

// --- BRIN ------------------------------------------------------------------------

inline BrinRevmap *brin_revmap_initialize(Relation index, BlockNumber *pages_per_range)
{
#if PG_VERSION_NUM >= 170000
    return brinRevmapInitialize(index, pages_per_range);
#else
    return brinRevmapInitialize(index, pages_per_range, nullptr);
#endif
}

inline BrinTuple *brin_summary_for_block(BrinRevmap *revmap, BlockNumber block, Buffer *buffer,
                                        OffsetNumber *offset, int mode)
{
#if PG_VERSION_NUM >= 170000
    return brinGetTupleForHeapBlock(revmap, block, buffer, offset, nullptr, mode);
#else
    return brinGetTupleForHeapBlock(revmap, block, buffer, offset, nullptr, mode, nullptr);
#endif
}

}  // namespace stratum::pg
