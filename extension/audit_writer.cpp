// The audit log's write path: per-level buffers, the (sub)transaction
// callbacks that flush or drop them, partition routing and the batch insert.
#include "audit_writer.hpp"

#include "audit_index_insert.hpp"
#include "audit_log_tuple.hpp"

namespace stratum::audit {
namespace {

// A batch is written at 1000 rows or 1 MB, whichever comes first: large
// enough that per-batch costs vanish, small enough to bound memory.
constexpr int batch_rows = 1000;
constexpr Size batch_bytes = 1024 * 1024;

// The memory a batch uses is kept from batch to batch and from transaction
// to transaction, in a first block that a typical batch fits in (contexts
// keep their first block when reset). Memory handed back to the C library
// after each batch came back as fresh pages, a page fault each: a fifth of
// the writer's CPU time.
constexpr Size warm_block_bytes = 512 * 1024;

// The rows buffered at one transaction nesting level. A subtransaction gets
// a level of its own so that its rows are written under its own xid (and
// vanish when it rolls back) without touching its parent's rows.
//
// A statement that reads the log while a subtransaction is open must see
// the rows its enclosing levels buffered, but they cannot be written for
// good from in there: they would carry the subtransaction's xid and vanish
// if it rolled back. They are written "on loan" instead: under the inner
// xid, kept in the buffer, and forgotten only once the subtransactions that
// wrote them have committed into their own level (or written again if one
// of them rolled back).
struct Level {
    int nest_level;
    MemoryContext tuples_context;  // the buffered tuples; reset after each write
    Oid log_relid;
    int count;
    Size bytes;
    CommandId command;   // the latest command that buffered a row here
    int loaned_to;       // nest level whose subtransaction holds these rows written, or 0
    Level *outer;
    MinimalTuple tuples[batch_rows];
    TimestampTz logged_at[batch_rows];  // partition key of each tuple
};

MemoryContext audit_context = nullptr;  // levels and their tuples; reset at transaction end
MemoryContext warm_tuples = nullptr;    // tuples of one level (usually the only one); only ever reset
MemoryContext insert_context = nullptr;  // the table AM's copies of one batch's tuples
Level *innermost = nullptr;
bool callbacks_registered = false;
bool writing = false;

// Slots kept from one batch to the next: making a thousand slots per batch
// would cost about as much as filling them. They are over an unpinned copy
// of the partition's descriptor, so dropping them is just freeing memory.
//
// Minimal tuples: storing a formed heap tuple in a slot makes recent
// PostgreSQL releases check it as a composite datum, which costs about as
// much as forming it; the table AM copies a minimal tuple into a heap tuple
// for less.
struct SlotPool {
    TupleDesc desc;
    int made;
    TupleTableSlot *slots[batch_rows];
};

// The same columns, types and places: what the slots depend on
// (equalTupleDescs also compares defaults and constraints, which a copy of
// a descriptor does not keep).
bool same_layout(TupleDesc a, TupleDesc b)
{
    if (a->natts != b->natts)
        return false;
    for (int i = 0; i < a->natts; i++) {
        Form_pg_attribute x = TupleDescAttr(a, i);
        Form_pg_attribute y = TupleDescAttr(b, i);
        if (x->atttypid != y->atttypid || x->attlen != y->attlen || x->attbyval != y->attbyval ||
            x->attalign != y->attalign || x->attisdropped != y->attisdropped)
            return false;
    }
    return true;
}
MemoryContext slot_context = nullptr;
SlotPool *slot_pool = nullptr;

// Forgets the pool without touching the tuples its slots may still point to
// (after an error, their memory is gone already).
void drop_slot_pool()
{
    slot_pool = nullptr;
    if (slot_context != nullptr)
        MemoryContextReset(slot_context);
}

TupleTableSlot **slots_for(TupleDesc desc, int count)
{
    if (slot_pool != nullptr && !same_layout(slot_pool->desc, desc))
        drop_slot_pool();
    if (slot_context == nullptr)
        slot_context = AllocSetContextCreate(TopMemoryContext, "stratum audit log slots",
                                             ALLOCSET_DEFAULT_SIZES);
    MemoryContext old = MemoryContextSwitchTo(slot_context);
    if (slot_pool == nullptr) {
        slot_pool = static_cast<SlotPool *>(palloc0(sizeof(SlotPool)));
        slot_pool->desc = CreateTupleDescCopy(desc);
    }
    while (slot_pool->made < count) {
        slot_pool->slots[slot_pool->made] =
            MakeSingleTupleTableSlot(slot_pool->desc, &TTSOpsMinimalTuple);
        slot_pool->made++;
    }
    MemoryContextSwitchTo(old);
    return slot_pool->slots;
}

struct Route {
    Oid partition;
    bool is_default;
};

// The partition of the log that takes rows logged at `when`: what the
// executor's tuple routing would choose, for a single timestamptz range key.
Route route(Relation log, TimestampTz when)
{
    if (log->rd_rel->relkind != RELKIND_PARTITIONED_TABLE)
        return {RelationGetRelid(log), false};
    PartitionKey key = RelationGetPartitionKey(log);
    PartitionDesc desc = RelationGetPartitionDesc(log, true);
    int index = -1;
    if (desc->nparts > 0 && key->strategy == PARTITION_STRATEGY_RANGE && key->partnatts == 1) {
        PartitionBoundInfo bounds = desc->boundinfo;
        if (bounds->ndatums > 0) {
            Datum value = TimestampTzGetDatum(when);
            bool equal;
            int offset = partition_range_datum_bsearch(key->partsupfunc, key->partcollation,
                                                       bounds, 1, &value, &equal);
            index = bounds->indexes[offset + 1];
        }
        if (index < 0)
            index = bounds->default_index;
    }
    if (index < 0)
        ereport(ERROR,
                (errcode(ERRCODE_CHECK_VIOLATION),
                 errmsg("stratum.audit_log has no partition for entries logged at %s",
                        timestamptz_to_str(when)),
                 errhint("Create one with stratum.create_audit_partitions(), or attach a "
                         "DEFAULT partition to stratum.audit_log again.")));
    return {desc->oids[index], index == desc->boundinfo->default_index};
}

// Inserts tuples (formed for the log's own descriptor) into one partition,
// then their index entries: COPY's multi-insert path, without COPY. With
// keep, the tuples stay the caller's (a loan: they may be written again).
void insert_into_partition(Relation log, Relation partition, MinimalTuple *tuples, int count,
                           EState *estate, CommandId command, bool keep)
{
    TupleDesc partition_desc = RelationGetDescr(partition);
    // A partition attached from elsewhere may lay its columns out differently.
    TupleConversionMap *map = convert_tuples_by_name(RelationGetDescr(log), partition_desc);

    ResultRelInfo *result_rel = makeNode(ResultRelInfo);
    InitResultRelInfo(result_rel, partition, 1, nullptr, 0);
    ExecOpenIndices(result_rel, false);

    TupleTableSlot **slots = slots_for(partition_desc, count);
    for (int i = 0; i < count; i++) {
        if (map != nullptr) {
            HeapTuple converted = execute_attr_map_tuple(heap_tuple_from_minimal_tuple(tuples[i]), map);
            ExecForceStoreHeapTuple(converted, slots[i], true);
            continue;
        }
        // The slot owns the tuple (unless it is on loan); clearing it frees it.
        ExecStoreMinimalTuple(tuples[i], slots[i], !keep);
    }
    // The heap AM makes a heap tuple of each minimal tuple, in the current
    // context; they are garbage once on the page.
    if (insert_context == nullptr)
        insert_context = AllocSetContextCreate(TopMemoryContext, "stratum audit log insert",
                                               warm_block_bytes, warm_block_bytes,
                                               ALLOCSET_DEFAULT_MAXSIZE);
    MemoryContext old = MemoryContextSwitchTo(insert_context);
    // Growing the log in bulk (16 and later) goes with the free space map:
    // the pages a writer extended by beyond its own batch (more when others
    // wait to extend) are found there, not left empty (4 concurrent writers:
    // 3.7% more pages without it). Else the map is skipped: the log is only
    // ever appended to.
    BulkInsertState extension = pg::bulk_extension_state();
    const int options = extension != nullptr ? 0 : TABLE_INSERT_SKIP_FSM;
    table_multi_insert(partition, slots, count, command, options, extension);
    pg::free_bulk_extension_state(extension);
    MemoryContextSwitchTo(old);
    MemoryContextReset(insert_context);
    insert_index_entries(result_rel, slots, count, estate);
    for (int i = 0; i < count; i++)
        ExecClearTuple(slots[i]);
    ExecCloseIndices(result_rel);
}

// Writes a level's buffered rows, grouping consecutive rows that go to the
// same partition (all of them, usually: one statement, one timestamp). A
// loan (see Level) leaves them buffered.
//
// The rows are inserted as of the latest command that buffered one, not the
// command running now: a statement that reads the log and has them written
// first then sees them, as it would have had they been written when made.
void write_level(Level *level, bool loan = false)
{
    if (level->count == 0)
        return;
    if (writing)
        elog(ERROR, "stratum audit log writer re-entered");
    writing = true;
    int count = level->count;
    if (!loan) {
        level->count = 0;
        level->bytes = 0;
    }

    MemoryContext old = MemoryContextSwitchTo(level->tuples_context);
    Relation log = table_open(level->log_relid, RowExclusiveLock);
    EState *estate = CreateExecutorState();
    MemoryContextSwitchTo(estate->es_query_cxt);
    CommandId command = level->command;

    int start = 0;
    while (start < count) {
        Route target = route(log, level->logged_at[start]);
        Relation partition = target.partition == RelationGetRelid(log)
                                 ? log
                                 : table_open(target.partition, RowExclusiveLock);
        if (target.is_default) {
            // A partition attached concurrently may have taken over part of
            // the default's range; locking the default settled that (and
            // processed the invalidation), so route again.
            Route again = route(log, level->logged_at[start]);
            if (again.partition != target.partition) {
                table_close(partition, NoLock);
                continue;
            }
        }
        int end = start + 1;
        while (end < count && (level->logged_at[end] == level->logged_at[start] ||
                               route(log, level->logged_at[end]).partition == target.partition))
            end++;
        insert_into_partition(log, partition, &level->tuples[start], end - start, estate, command,
                              loan);
        if (partition != log)
            table_close(partition, NoLock);
        start = end;
    }

    FreeExecutorState(estate);
    table_close(log, NoLock);
    MemoryContextSwitchTo(old);
    if (!loan)
        MemoryContextReset(level->tuples_context);
    writing = false;
}

// Forgets what a level buffered (it is written for good).
void clear_level(Level *level)
{
    level->count = 0;
    level->bytes = 0;
    level->loaned_to = 0;
    MemoryContextReset(level->tuples_context);
}

void pop_level()
{
    Level *level = innermost;
    innermost = level->outer;
    if (level->tuples_context == warm_tuples) {
        MemoryContextReset(warm_tuples);
    } else {
        MemoryContextDelete(level->tuples_context);
    }
    pfree(level);
}

void forget_all()
{
    innermost = nullptr;
    if (warm_tuples != nullptr)
        MemoryContextReset(warm_tuples);
    if (insert_context != nullptr)
        MemoryContextReset(insert_context);
    if (writing)
        drop_slot_pool();  // an error interrupted a write: slots hold freed tuples
    writing = false;
    if (audit_context != nullptr)
        MemoryContextReset(audit_context);
}

void write_all_levels()
{
    if (innermost == nullptr)
        return;
    // Expression or partial indexes someone added to the log may need a
    // snapshot, and there is none at commit time.
    bool pushed = false;
    if (!ActiveSnapshotSet()) {
        PushActiveSnapshot(GetTransactionSnapshot());
        pushed = true;
    }
    for (Level *level = innermost; level != nullptr; level = level->outer)
        write_level(level);
    if (pushed)
        PopActiveSnapshot();
}

void on_transaction_event(XactEvent event, void *)
{
    switch (event) {
    case XACT_EVENT_PRE_COMMIT:
    case XACT_EVENT_PARALLEL_PRE_COMMIT:
    case XACT_EVENT_PRE_PREPARE:
        write_all_levels();
        break;
    case XACT_EVENT_COMMIT:
    case XACT_EVENT_PARALLEL_COMMIT:
    case XACT_EVENT_ABORT:
    case XACT_EVENT_PARALLEL_ABORT:
    case XACT_EVENT_PREPARE:
        forget_all();
        break;
    }
}

void on_subtransaction_event(SubXactEvent event, SubTransactionId, SubTransactionId, void *)
{
    int nest_level = GetCurrentTransactionNestLevel();
    switch (event) {
    case SUBXACT_EVENT_PRE_COMMIT_SUB:
        while (innermost != nullptr && innermost->nest_level >= nest_level) {
            write_level(innermost);
            pop_level();
        }
        // Rows written on loan by this subtransaction now belong to its
        // parent; to the level that buffered them, they are written.
        for (Level *level = innermost; level != nullptr; level = level->outer) {
            if (level->loaned_to == nest_level) {
                level->loaned_to = nest_level - 1;
                if (level->loaned_to == level->nest_level)
                    clear_level(level);
            }
        }
        break;
    case SUBXACT_EVENT_ABORT_SUB:
        while (innermost != nullptr && innermost->nest_level >= nest_level)
            pop_level();
        // What this subtransaction wrote on loan is gone with it.
        for (Level *level = innermost; level != nullptr; level = level->outer) {
            if (level->loaned_to >= nest_level)
                level->loaned_to = 0;
        }
        if (writing)
            drop_slot_pool();
        writing = false;
        break;
    default:
        break;
    }
}

Level *current_level(Oid log_relid)
{
    if (!callbacks_registered) {
        RegisterXactCallback(on_transaction_event, nullptr);
        RegisterSubXactCallback(on_subtransaction_event, nullptr);
        callbacks_registered = true;
    }
    int nest_level = GetCurrentTransactionNestLevel();
    if (innermost != nullptr && innermost->nest_level == nest_level) {
        // Another log relation (another shard of a distributed log): what
        // was buffered for the previous one goes there first.
        if (innermost->log_relid != log_relid) {
            write_level(innermost);
            innermost->log_relid = log_relid;
        }
        innermost->command = GetCurrentCommandId(true);
        return innermost;
    }
    if (innermost != nullptr && innermost->nest_level > nest_level)
        elog(ERROR, "stratum audit log buffer of nesting level %d outlived its subtransaction",
             innermost->nest_level);
    if (audit_context == nullptr)
        audit_context = AllocSetContextCreate(TopMemoryContext, "stratum audit log buffers",
                                              ALLOCSET_DEFAULT_SIZES);
    auto *level = static_cast<Level *>(MemoryContextAllocZero(audit_context, sizeof(Level)));
    level->nest_level = nest_level;
    if (warm_tuples == nullptr)
        warm_tuples = AllocSetContextCreate(TopMemoryContext, "stratum audit log batch",
                                            warm_block_bytes, warm_block_bytes,
                                            ALLOCSET_DEFAULT_MAXSIZE);
    bool warm_taken = false;
    for (Level *outer = innermost; outer != nullptr; outer = outer->outer)
        warm_taken |= outer->tuples_context == warm_tuples;
    level->tuples_context =
        warm_taken ? AllocSetContextCreate(audit_context, "stratum audit log batch",
                                           ALLOCSET_DEFAULT_SIZES)
                   : warm_tuples;
    level->log_relid = log_relid;
    level->command = GetCurrentCommandId(true);
    level->outer = innermost;
    innermost = level;
    return level;
}

// Ids come from stratum.audit_log_id_seq in blocks: the sequence steps by
// its increment, and this backend hands out the ids up to the next step
// itself (sequence values are never given twice, so neither are these).
int64 next_id = 0;
int64 id_limit = 0;
Oid id_sequence = InvalidOid;

int64 next_log_id(const LogLayout &layout)
{
    if (next_id >= id_limit || id_sequence != layout.sequence_relid) {
        next_id = nextval_internal(layout.sequence_relid, false);
        id_limit = next_id + layout.id_block;
        id_sequence = layout.sequence_relid;
    }
    return next_id++;
}

const char *const column_names[field_count] = {
    "id",         "logged_at", "xact_id",   "tenant_id", "actor",   "db_user",  "table_oid",
    "table_schema", "table_name", "operation", "row_key", "old_row", "new_row", "changed_columns",
};

// With the log distributed by Citus and the change made where no shard of it
// is at hand (a table of the coordinator's own, a TRUNCATE recorded there),
// the entry is inserted through Citus, which routes it by its tenant. As the
// log's owner: the writer needs no INSERT right and no tenant of its own. A
// distribution column holds no NULL: an entry of no tenant carries the nil
// UUID (which no session can set, so only the owner sees it, as before).
void insert_through_citus(const LogLayout &layout, Datum *values, bool *nulls)
{
    static constexpr LogField fields[] = {
        field_logged_at, field_xact_id,  field_tenant_id, field_actor,   field_db_user,
        field_table_oid, field_table_schema, field_table_name, field_operation, field_row_key,
        field_old_row,   field_new_row,  field_changed_columns};
    static constexpr int count = sizeof(fields) / sizeof(fields[0]);
    Oid types[count] = {TIMESTAMPTZOID, XID8OID, UUIDOID,  TEXTOID,  TEXTOID,  OIDOID, TEXTOID,
                        TEXTOID,        TEXTOID, JSONBOID, JSONBOID, JSONBOID, TEXTARRAYOID};
    Datum args[count];
    char arg_nulls[count];
    static pg_uuid_t nil_tenant;  // all zero
    for (int i = 0; i < count; i++) {
        args[i] = values[fields[i]];
        arg_nulls[i] = nulls[fields[i]] ? 'n' : ' ';
    }
    if (nulls[field_tenant_id]) {
        args[2] = UUIDPGetDatum(&nil_tenant);
        arg_nulls[2] = ' ';
    }

    Oid owner = BOOTSTRAP_SUPERUSERID;
    HeapTuple class_tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(layout.relid));
    if (HeapTupleIsValid(class_tuple)) {
        owner = reinterpret_cast<Form_pg_class>(GETSTRUCT(class_tuple))->relowner;
        ReleaseSysCache(class_tuple);
    }
    Oid saved_user;
    int saved_context;
    GetUserIdAndSecContext(&saved_user, &saved_context);
    SetUserIdAndSecContext(owner, saved_context | SECURITY_LOCAL_USERID_CHANGE);
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "SPI_connect failed");
    int result = SPI_execute_with_args(
        "INSERT INTO stratum.audit_log (logged_at, xact_id, tenant_id, actor, db_user, table_oid, "
        "table_schema, table_name, operation, row_key, old_row, new_row, changed_columns) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        count, types, args, arg_nulls, false, 0);
    if (result != SPI_OK_INSERT)
        elog(ERROR, "stratum audit: inserting through Citus failed (%d)", result);
    SPI_finish();
    SetUserIdAndSecContext(saved_user, saved_context);
}

}  // namespace

Oid audit_log_relid()
{
    Oid schema = get_namespace_oid("stratum", false);
    return get_relname_relid("audit_log", schema);
}

void load_log_layout(LogLayout *layout, MemoryContext mcxt, Oid log_relid, bool through_citus)
{
    Oid schema = get_namespace_oid("stratum", false);
    layout->relid = OidIsValid(log_relid) ? log_relid : audit_log_relid();
    layout->through_citus = through_citus;
    layout->sequence_relid = get_relname_relid("audit_log_id_seq", schema);
    if (!OidIsValid(layout->relid) || !OidIsValid(layout->sequence_relid))
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE),
                        errmsg("stratum.audit_log or its sequence is missing"),
                        errhint("Reinstall the stratum extension.")));
    // A block of ids is the sequence's increment (a negative or unit step
    // hands out one id per call).
    HeapTuple sequence = SearchSysCache1(SEQRELID, ObjectIdGetDatum(layout->sequence_relid));
    if (!HeapTupleIsValid(sequence))
        elog(ERROR, "cache lookup failed for sequence %u", layout->sequence_relid);
    int64 increment = reinterpret_cast<Form_pg_sequence>(GETSTRUCT(sequence))->seqincrement;
    ReleaseSysCache(sequence);
    layout->id_block = increment > 1 ? increment : 1;

    Relation log = table_open(layout->relid, RowExclusiveLock);
    MemoryContext old = MemoryContextSwitchTo(mcxt);
    layout->tupdesc = CreateTupleDescCopy(RelationGetDescr(log));
    MemoryContextSwitchTo(old);
    for (int field = 0; field < field_count; field++) {
        AttrNumber attnum = InvalidAttrNumber;
        for (int i = 0; i < layout->tupdesc->natts; i++) {
            Form_pg_attribute attr = TupleDescAttr(layout->tupdesc, i);
            if (!attr->attisdropped && strcmp(NameStr(attr->attname), column_names[field]) == 0)
                attnum = attr->attnum;
        }
        layout->attnum[field] = attnum;
    }
    if (layout->attnum[field_logged_at] == InvalidAttrNumber)
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
                        errmsg("stratum.audit_log has no column logged_at"),
                        errhint("Reinstall the stratum extension.")));
    plan_log_tuple(layout, mcxt);
    table_close(log, NoLock);
}

void append_log_row(const LogLayout &layout, Datum *values, bool *nulls, uint32 objects,
                    LogRowRun *run)
{
    if (layout.through_citus) {
        build_objects(values, nulls, objects);
        insert_through_citus(layout, values, nulls);
        return;
    }
    Level *level = current_level(layout.relid);
    values[field_id] = Int64GetDatum(next_log_id(layout));
    nulls[field_id] = false;

    MemoryContext old = MemoryContextSwitchTo(level->tuples_context);
    MinimalTuple tuple = form_log_tuple(layout, values, nulls, objects, run);
    MemoryContextSwitchTo(old);

    level->tuples[level->count] = tuple;
    level->logged_at[level->count] = DatumGetTimestampTz(values[field_logged_at]);
    level->count++;
    level->bytes += tuple->t_len;
    if (level->count == batch_rows || level->bytes >= batch_bytes)
        write_level(level);
}

bool log_rows_buffered()
{
    for (Level *level = innermost; level != nullptr; level = level->outer) {
        if (level->count > 0 && level->loaned_to == 0)
            return true;
    }
    return false;
}

bool is_buffered_log(Oid relid)
{
    auto buffered_for = [](Oid candidate) {
        for (Level *level = innermost; level != nullptr; level = level->outer) {
            if (level->log_relid == candidate)
                return true;
        }
        return false;
    };
    if (buffered_for(relid))
        return true;
    if (!get_rel_relispartition(relid))
        return false;
    // A partition of the log (monthly, or attached from elsewhere).
    List *ancestors = get_partition_ancestors(relid);
    bool found = false;
    ListCell *cell;
    foreach (cell, ancestors) {
        if (buffered_for(lfirst_oid(cell))) {
            found = true;
            break;
        }
    }
    list_free(ancestors);
    return found;
}

void write_buffered_log_rows()
{
    if (writing || innermost == nullptr)
        return;
    int nest_level = GetCurrentTransactionNestLevel();
    for (Level *level = innermost; level != nullptr; level = level->outer) {
        if (level->count == 0 || level->loaned_to != 0)
            continue;
        if (level->nest_level == nest_level) {
            write_level(level);
        } else {
            write_level(level, true);
            level->loaned_to = nest_level;
        }
    }
}

}  // namespace stratum::audit
