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

// The log's text fields that stay the same from row to row of a statement
// (one operation on one table, by one actor and one user).
inline bool is_statement_text(int field)
{
    return field == field_operation || field == field_actor || field == field_db_user ||
           field == field_table_schema || field == field_table_name;
}

// The bytes of a run of consecutive log columns that hold statement text
// (all of them in stratum.audit_log's own layout), as the previous row had
// them: the same values stored with 1-byte headers need no alignment, so
// their bytes are the same wherever the row puts them. The caller keeps it,
// and sets valid to false whenever one of those values, or whether it is
// NULL, may have changed; form_log_tuple fills it when it is not valid.
struct LogRowRun {
    bool valid;
    uint64 present;  // the run's columns that have a value (bits of the row's columns)
    uint32 length;
    char bytes[5 * VARATT_SHORT_MAX];  // five fields at most, each a short varlena
};

// Makes layout->columns in mcxt, or leaves it nullptr when a column is
// stored in a way the plan does not cover (then the generic path forms rows);
// finds the run of statement text columns (layout->run_first, run_count).
void plan_log_tuple(LogLayout *layout, MemoryContext mcxt);

// The log row for values and nulls (indexed by LogField), in the current
// memory context. A field whose bit is set in `objects` (1 << LogField)
// holds a pointer to a PendingObject, written straight into the row as a
// jsonb value.
MinimalTuple form_log_tuple(const LogLayout &layout, const Datum *values, const bool *nulls,
                            uint32 objects = 0, LogRowRun *run = nullptr);

// Replaces each PendingObject among values (bits of `objects`) by the
// jsonb datum it describes, in the current memory context.
void build_objects(Datum *values, const bool *nulls, uint32 objects);

// The same row formed by heap_form_minimal_tuple (the reference), from
// objects built first.
MinimalTuple form_log_tuple_generic(const LogLayout &layout, const Datum *values,
                                    const bool *nulls, uint32 objects = 0);

}  // namespace stratum::audit
