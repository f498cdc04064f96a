// A row change's working memory for the audit trigger, kept from row to
// row: allocating it afresh for every row was a twentieth of the trigger's
// own work. One set serves the session. A trigger that fires while it is in
// use (inside a conversion: a cast to json that writes to an audited table)
// gets a set of its own, so neither frees or overwrites what the other
// still reads.
#pragma once

#include "audit_jsonb.hpp"

namespace stratum::audit {

struct RowScratch {
    MemoryContext memory;  // the arrays and the buffer; nullptr until made
    MemoryContext row;     // anything else a row allocates; reset after each
    int capacity;          // columns the arrays hold
    EncodedValue *old_values;
    EncodedValue *new_values;
    bool *changed;
    StringInfoData buffer;  // the row's encoded values
};

// Working memory for a row of `columns` audited columns, its buffer empty:
// the session's, or when a trigger further out is using that, `own`, made
// here.
RowScratch *take_scratch(RowScratch *own, int columns);

// The row is done: what it allocated goes, and the session's set is free
// again.
void release_scratch(RowScratch *scratch);

}  // namespace stratum::audit
