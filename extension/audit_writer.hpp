// Buffers stratum.audit_log rows per (sub)transaction level and writes them
// in batches, as COPY does: one multi-insert per batch, then the indexes.
//
// Rows are written directly (not through the caller's privileges or row
// level security), so an application role needs no INSERT right on the log.
// A batch is written when it fills, when its subtransaction commits, before
// the transaction commits or prepares, and before any statement that reads
// the log or runs a utility command (audit_read_barrier.cpp): a transaction
// of many small statements writes its entries in a few batches, and still
// reads its own entries. A (sub)transaction that aborts drops what it
// buffered, and what it had written is invisible with it.
#pragma once

#include "pg.hpp"

namespace stratum::audit {

// The fields of an audit_log row, in the order the trigger fills them.
enum LogField : int {
    field_id,
    field_logged_at,
    field_xact_id,
    field_tenant_id,
    field_actor,
    field_db_user,
    field_table_oid,
    field_table_schema,
    field_table_name,
    field_operation,
    field_row_key,
    field_old_row,
    field_new_row,
    field_changed_columns,
    field_count
};

struct LogColumn;

// Where stratum.audit_log keeps each field, looked up once per query.
struct LogLayout {
    Oid relid;                       // stratum.audit_log (or its shard on a Citus worker)
    bool through_citus;              // the log is distributed and relid is not a shard of it
    Oid sequence_relid;              // stratum.audit_log_id_seq
    int64 id_block;                  // ids handed out per sequence call (its increment)
    TupleDesc tupdesc;               // a copy, in the query's memory
    AttrNumber attnum[field_count];  // 0 when a column is missing
    const LogColumn *columns;        // how rows are formed (audit_log_tuple.hpp), or nullptr
    int run_first;                   // the statement's text columns (audit_log_tuple.hpp)
    int run_count;                   // ... how many; 0: none
};

struct LogRowRun;

// stratum.audit_log.
Oid audit_log_relid();

// Fills layout (memory from mcxt) and locks the log for writing. log_relid:
// the relation entries go to (InvalidOid: stratum.audit_log); through_citus:
// insert them through Citus instead (see audit_writer.cpp).
void load_log_layout(LogLayout *layout, MemoryContext mcxt, Oid log_relid, bool through_citus);

// Appends one row; id is assigned here. values and nulls are indexed by
// LogField; the datums are copied. A field whose bit (1 << LogField) is set
// in `objects` holds a pointer to a PendingObject (audit_jsonb.hpp); `run`,
// the caller's copy of the statement's text as the previous row stored it
// (audit_log_tuple.hpp).
void append_log_row(const LogLayout &layout, Datum *values, bool *nulls, uint32 objects = 0,
                    LogRowRun *run = nullptr);

// True when rows wait in a buffer (cheap: asked before every statement).
bool log_rows_buffered();

// True when relid is a log that rows are buffered for, or a partition of one.
bool is_buffered_log(Oid relid);

// Writes every buffered row so that the statement about to run sees it
// (rows of enclosing levels on loan, see audit_writer.cpp).
void write_buffered_log_rows();

}  // namespace stratum::audit
