// Index entries for a batch of log tuples just inserted into one partition.
#pragma once

#include "pg.hpp"

namespace stratum::audit {

// Inserts the index entries of the tuples in slots (already in the heap,
// their TIDs set) into every index of result_rel, which ExecOpenIndices has
// opened. BRIN indexes are visited range by range: a tuple in a block range
// the index has not summarized yet needs no entry (summarization will read
// it from the heap), and the log grows at its end, where ranges are not
// summarized, so most batches ask the BRIN index once instead of per row.
void insert_index_entries(ResultRelInfo *result_rel, TupleTableSlot **slots, int count,
                          EState *estate);

}  // namespace stratum::audit
