// Builds the per-query description of an audited relation.
#include "audit_table.hpp"

namespace stratum::audit {
namespace {

// The relation audit was enabled on. A partition's row trigger is a clone of
// its parent's; follow the clones up to the trigger enable_audit created.
Oid audited_relation(Oid relid, const Trigger *trigger)
{
    if (!trigger->tgisclone)
        return relid;
    Relation catalog = table_open(TriggerRelationId, AccessShareLock);
    Oid trigger_oid = trigger->tgoid;
    Oid result = relid;
    for (;;) {
        ScanKeyData key;
        ScanKeyInit(&key, Anum_pg_trigger_oid, BTEqualStrategyNumber, F_OIDEQ,
                    ObjectIdGetDatum(trigger_oid));
        SysScanDesc scan = systable_beginscan(catalog, TriggerOidIndexId, true, nullptr, 1, &key);
        HeapTuple tuple = systable_getnext(scan);
        Oid parent = InvalidOid;
        if (HeapTupleIsValid(tuple)) {
            auto *row = reinterpret_cast<Form_pg_trigger>(GETSTRUCT(tuple));
            result = row->tgrelid;
            parent = row->tgparentid;
        }
        systable_endscan(scan);
        if (!OidIsValid(parent))
            break;
        trigger_oid = parent;
    }
    table_close(catalog, AccessShareLock);
    return result;
}

bool is_excluded(const Trigger *trigger, const char *column)
{
    for (int i = 0; i < trigger->tgnargs; i++)
        if (strcmp(trigger->tgargs[i], column) == 0)
            return true;
    return false;
}

// Columns of the primary key, or of the replica identity index when there
// is no primary key; empty when there is neither.
Bitmapset *key_attributes(Relation rel)
{
    Bitmapset *key = RelationGetIndexAttrBitmap(rel, INDEX_ATTR_BITMAP_PRIMARY_KEY);
    if (bms_is_empty(key))
        key = RelationGetIndexAttrBitmap(rel, INDEX_ATTR_BITMAP_IDENTITY_KEY);
    return key;
}

}  // namespace

AuditedTable *describe_audited_table(Relation rel, const Trigger *trigger, MemoryContext mcxt)
{
    auto *table = static_cast<AuditedTable *>(MemoryContextAllocZero(mcxt, sizeof(AuditedTable)));
    table->relid = RelationGetRelid(rel);
    table->query_context = mcxt;
    table->row_context =
        AllocSetContextCreate(mcxt, "stratum audit row", ALLOCSET_DEFAULT_SIZES);
    load_log_layout(&table->layout, mcxt);

    table->table_oid = audited_relation(table->relid, trigger);
    MemoryContext old = MemoryContextSwitchTo(mcxt);
    char *schema = get_namespace_name(get_rel_namespace(table->table_oid));
    char *name = get_rel_name(table->table_oid);
    table->table_schema = PointerGetDatum(cstring_to_text(schema != nullptr ? schema : ""));
    table->table_name = PointerGetDatum(cstring_to_text(name != nullptr ? name : ""));
    table->operation_names[0] = PointerGetDatum(cstring_to_text("INSERT"));
    table->operation_names[1] = PointerGetDatum(cstring_to_text("UPDATE"));
    table->operation_names[2] = PointerGetDatum(cstring_to_text("DELETE"));

    TupleDesc tupdesc = RelationGetDescr(rel);
    table->columns =
        static_cast<ColumnConverter *>(palloc0(sizeof(ColumnConverter) * tupdesc->natts));
    for (int i = 0; i < tupdesc->natts; i++) {
        Form_pg_attribute attr = TupleDescAttr(tupdesc, i);
        if (attr->attisdropped)
            continue;
        if (strcmp(NameStr(attr->attname), "tenant_id") == 0 && attr->atttypid == UUIDOID)
            table->tenant_attnum = attr->attnum;
        if (is_excluded(trigger, NameStr(attr->attname)))
            continue;
        init_column_converter(&table->columns[table->column_count++], tupdesc, attr->attnum, mcxt);
    }
    sort_in_key_order(table->columns, table->column_count);

    // changed_columns lists columns in table order.
    table->attnum_order = static_cast<int *>(palloc(sizeof(int) * (table->column_count + 1)));
    int ordered = 0;
    for (int i = 0; i < tupdesc->natts; i++)
        for (int c = 0; c < table->column_count; c++)
            if (table->columns[c].attnum == i + 1)
                table->attnum_order[ordered++] = c;

    // Key columns in the same (key) order as the row objects; an excluded
    // key column is left out, never written.
    Bitmapset *key = key_attributes(rel);
    table->key_columns = static_cast<int *>(palloc(sizeof(int) * (table->column_count + 1)));
    for (int c = 0; c < table->column_count; c++)
        if (bms_is_member(table->columns[c].attnum - FirstLowInvalidHeapAttributeNumber, key))
            table->key_columns[table->key_count++] = c;

    auto **names = static_cast<const JsonbValue **>(
        palloc(sizeof(JsonbValue *) * (table->column_count + 1)));
    for (int c = 0; c < table->column_count; c++)
        names[c] = &table->columns[c].key;
    init_object_keys(&table->row_keys, names, table->column_count, mcxt);
    for (int k = 0; k < table->key_count; k++)
        names[k] = &table->columns[table->key_columns[k]].key;
    init_object_keys(&table->key_keys, names, table->key_count, mcxt);
    MemoryContextSwitchTo(old);
    return table;
}

}  // namespace stratum::audit
