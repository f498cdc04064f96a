// Index maintenance for the audit log's batches: what brininsert would do
// per tuple, done once per block range; everything else through the
// executor's ExecInsertIndexTuples, as COPY does.
#include "audit_index_insert.hpp"

namespace stratum::audit {
namespace {

// A BRIN index this file maintains itself: no predicate to evaluate, and no
// autosummarize (which brininsert would have to request).
bool handled_here(Relation index, IndexInfo *info)
{
    return index->rd_rel->relam == BRIN_AM_OID && info->ii_Predicate == NIL &&
           info->ii_ReadyForInserts && !BrinGetAutoSummarize(index);
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

void insert_into_brin(Relation heap, Relation index, IndexInfo *info, TupleTableSlot **slots,
                      int count, EState *estate)
{
    BlockNumber pages_per_range;
    BrinRevmap *revmap = pg::brin_revmap_initialize(index, &pages_per_range);
    Buffer buffer = InvalidBuffer;
    BlockNumber checked_range = InvalidBlockNumber;
    bool summarized = false;
    ExprContext *econtext = GetPerTupleExprContext(estate);
    Datum values[INDEX_MAX_KEYS];
    bool nulls[INDEX_MAX_KEYS];

    for (int i = 0; i < count; i++) {
        BlockNumber block = ItemPointerGetBlockNumber(&slots[i]->tts_tid);
        BlockNumber range = block / pages_per_range * pages_per_range;
        if (range != checked_range) {
            summarized = range_summarized(revmap, range, &buffer);
            checked_range = range;
        }
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
