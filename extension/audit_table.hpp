// What the audit trigger knows about one audited relation: its audited
// columns and how to convert them, its key, its tenant column, and the names
// it is logged under. Built on the first row, kept per backend until the
// relation, its log or a type changes (audit_table_cache.cpp).
#pragma once

#include "audit_jsonb.hpp"
#include "audit_row_json.hpp"
#include "audit_writer.hpp"

namespace stratum::audit {

struct AuditedTable {
    Oid relid;                   // the trigger's relation (a partition, perhaps)
    LogLayout layout;            // where the log row's fields go
    Oid table_oid;               // the relation audit was enabled on (the root)
    Datum table_schema;          // ... its schema and name, as text
    Datum table_name;
    Datum operation_names[3];    // 'INSERT', 'UPDATE', 'DELETE' as text
    AttrNumber tenant_attnum;    // tenant_id of a tenant-isolated relation, or 0
    int column_count;            // audited columns: not dropped, not excluded
    ColumnConverter *columns;    // ... in jsonb key order
    bool *withheld;              // per column: changes named, value not written
    int logged_count;            // columns whose values are written
    int *logged_columns;         // ... as positions in columns, in key order
    int *attnum_order;           // positions in columns, in table order
    int key_count;               // written primary key (or replica identity) columns
    int *key_columns;            // ... as positions in columns, in key order
    ObjectKeys row_keys;         // the keys of old_row and new_row (logged columns)
    ObjectKeys key_keys;         // the keys of row_key
    MemoryContext query_context; // where this lives (the cache entry's memory)
    bool *last_changed;          // the columns the previous UPDATE changed, or null
    Datum last_changed_names;    // ... and their names as text[] (query memory)
};

// Describes rel, whose row trigger is `trigger`; everything is allocated in
// mcxt.
AuditedTable *describe_audited_table(Relation rel, const Trigger *trigger, MemoryContext mcxt);

}  // namespace stratum::audit
