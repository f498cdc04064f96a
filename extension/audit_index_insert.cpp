// Index maintenance for the audit log's batches: what brininsert would do
// per tuple (nothing, in a range not summarized yet: the log's ranges are
// summarized after they fill), asked once per block range; everything else
// through the executor's ExecInsertIndexTuples, as COPY does.
#include "audit_index_insert.hpp"

namespace stratum::audit {
namespace {

// A BRIN index this file maintains itself: no predicate to evaluate.
bool handled_here(Relation index, IndexInfo *info)
{
    return index->rd_rel->relam == BRIN_AM_OID && info->ii_Predicate == NIL &&
           info->ii_ReadyForInserts;
}

// With autosummarize, the first tuple of a range asks autovacuum to
// summarize the range before it, as brininsert does. A full work-item queue
// is not worth a LOG line per range here: VACUUM summarizes what is left.
void request_summary_of_previous_range(Relation index, BrinRevmap *revmap, BlockNumber block,
                                       Buffer *buffer)
{
    OffsetNumber offset;
    BrinTuple *summary =
        pg::brin_summary_for_block(revmap, block - 1, buffer, &offset, BUFFER_LOCK_SHARE);
    if (summary != nullptr) {
        LockBuffer(*buffer, BUFFER_LOCK_UNLOCK);
        return;
    }
    if (!AutoVacuumRequestWork(AVW_BRINSummarizeRange, RelationGetRelid(index), block - 1))
        elog(DEBUG1, "stratum audit: no room to request the summary of range %u of index %s",
             block - 1, RelationGetRelationName(index));
}

// True when the range starting at range_start has a summary: only then must
// each tuple in it be added. Asked after the heap insert, like brininsert
// does, so a summarization that starts later reads our tuples from the heap
// and one that started earlier has left its placeholder for us to find.
bool range_summarized(BrinRevmap *revmap, BlockNumber range_start, Buffer *buffer)
{
    OffsetNumber offset;
    BrinTuple *summary =
        pg::brin_summary_for_block(revmap, range_start, buffer, &offset, BUFFER_LOCK_SHARE);
    if (summary == nullptr)
        return false;
    LockBuffer(*buffer, BUFFER_LOCK_UNLOCK);
    return true;
}

// Adding a tuple to a range's summary rewrites (and WAL-logs) the whole
// summary tuple, a bloom filter of a kilobyte here: for a run of tuples,
// forgetting the summary costs less. The range is then scanned whole until
// autosummarize makes it again, once it has filled. Only with the index's
// summarization lock at hand right away (VACUUM does not take it; a running
// summarization does, and then the tuples are added one by one).
constexpr int desummarize_run = 8;

bool forget_summary(Relation index, BlockNumber range)
{
    if (!ConditionalLockRelationOid(RelationGetRelid(index), ShareUpdateExclusiveLock))
        return false;
    while (!brinRevmapDesummarizeRange(index, range)) {
    }
    return true;
}

int run_in_range(TupleTableSlot **slots, int from, int count, BlockNumber range,
                 BlockNumber pages_per_range)
{
    int end = from;
    while (end < count &&
           ItemPointerGetBlockNumber(&slots[end]->tts_tid) / pages_per_range * pages_per_range ==
               range)
        end++;
    return end - from;
}

void insert_into_brin(Relation heap, Relation index, IndexInfo *info, TupleTableSlot **slots,
                      int count, EState *estate)
{
    BlockNumber pages_per_range;
    BrinRevmap *revmap = pg::brin_revmap_initialize(index, &pages_per_range);
    Buffer buffer = InvalidBuffer;
    BlockNumber checked_range = InvalidBlockNumber;
    bool summarized = false;
    bool autosummarize = BrinGetAutoSummarize(index);
    ExprContext *econtext = GetPerTupleExprContext(estate);
    Datum values[INDEX_MAX_KEYS];
    bool nulls[INDEX_MAX_KEYS];

    for (int i = 0; i < count; i++) {
        BlockNumber block = ItemPointerGetBlockNumber(&slots[i]->tts_tid);
        BlockNumber range = block / pages_per_range * pages_per_range;
        if (range != checked_range) {
            summarized = range_summarized(revmap, range, &buffer);
            if (summarized &&
                run_in_range(slots, i, count, range, pages_per_range) >= desummarize_run &&
                forget_summary(index, range))
                summarized = false;
            checked_range = range;
        }
        if (autosummarize && block == range && block > 0 &&
            ItemPointerGetOffsetNumber(&slots[i]->tts_tid) == FirstOffsetNumber)
            request_summary_of_previous_range(index, revmap, block, &buffer);
        if (!summarized)
            continue;
        econtext->ecxt_scantuple = slots[i];
        FormIndexDatum(info, slots[i], estate, values, nulls);
        index_insert(index, values, nulls, &slots[i]->tts_tid, heap, UNIQUE_CHECK_NO, false,
                     info);
        ResetPerTupleExprContext(estate);
    }
    if (BufferIsValid(buffer))
        ReleaseBuffer(buffer);
    brinRevmapTerminate(revmap);
}

}  // namespace

void insert_index_entries(ResultRelInfo *result_rel, TupleTableSlot **slots, int count,
                          EState *estate)
{
    int total = result_rel->ri_NumIndices;
    if (total == 0)
        return;
    // Move the BRIN indexes handled here behind the others, and let the
    // executor see only the others.
    RelationPtr indexes = result_rel->ri_IndexRelationDescs;
    IndexInfo **infos = result_rel->ri_IndexRelationInfo;
    int others = 0;
    for (int i = 0; i < total; i++) {
        if (!handled_here(indexes[i], infos[i])) {
            std::swap(indexes[i], indexes[others]);
            std::swap(infos[i], infos[others]);
            others++;
        }
    }

    if (others > 0) {
        result_rel->ri_NumIndices = others;
        for (int i = 0; i < count; i++) {
            pg::insert_index_tuples(result_rel, slots[i], estate);
            ResetPerTupleExprContext(estate);
        }
        result_rel->ri_NumIndices = total;
    }
    for (int b = others; b < total; b++)
        insert_into_brin(result_rel->ri_RelationDesc, indexes[b], infos[b], slots, count, estate);
}

}  // namespace stratum::audit
