// Forms stratum.audit_log rows from the trigger's fields.
//
// heap_form_minimal_tuple takes the row in column order and walks a generic
// tuple descriptor twice (to size the row, then to fill it), calling a
// function per column: with the remapping of fields to columns, a fifth of
// the writer's own work on an audited INSERT (callgrind). The log's layout is
// known once per session, so the same two passes run here over a plan made
// from it, straight from the fields. The bytes are heap_form_minimal_tuple's
// (stratum._audit_log_tuple_selftest compares them in the audit suite).
#pragma once

#include "audit_writer.hpp"

namespace stratum::audit {

// How one column of the log is stored, and which field fills it.
struct LogColumn {
    int16 attlen;
    uint8 align;    // 1, 2, 4 or 8
    bool byval;
    bool packable;  // a varlena that may take a 1-byte header
    int8 field;     // a LogField, or -1: always NULL (dropped or not stratum's)
};

// Makes layout->columns in mcxt, or leaves it nullptr when a column is
// stored in a way the plan does not cover (then the generic path forms rows).
void plan_log_tuple(LogLayout *layout, MemoryContext mcxt);

// The log row for values and nulls (indexed by LogField), in the current
// memory context. A field whose bit is set in `objects` (1 << LogField)
// holds a pointer to a PendingObject, written straight into the row as a
// jsonb value.
MinimalTuple form_log_tuple(const LogLayout &layout, const Datum *values, const bool *nulls,
                            uint32 objects = 0);

// The same row formed by heap_form_minimal_tuple (the reference), from
// objects built first.
MinimalTuple form_log_tuple_generic(const LogLayout &layout, const Datum *values,
                                    const bool *nulls, uint32 objects = 0);

}  // namespace stratum::audit
