// Builds the per-query description of an audited relation.
#include "audit_table.hpp"
#include "citus.hpp"
#include "isolation.hpp"

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

// The trigger's arguments are the excluded columns (enable_audit's
// exclude_columns), then an empty marker, then the withheld columns: those
// a registered application role may not read, whose values are not written
// (stratum._audit_withheld, kept in step with GRANT and REVOKE).
enum class ColumnRule { audited, excluded, withheld };

ColumnRule column_rule(const Trigger *trigger, const char *column)
{
    bool after_marker = false;
    for (int i = 0; i < trigger->tgnargs; i++) {
        if (trigger->tgargs[i][0] == '\0')
            after_marker = true;
        else if (strcmp(trigger->tgargs[i], column) == 0)
            return after_marker ? ColumnRule::withheld : ColumnRule::excluded;
    }
    return ColumnRule::audited;
}

// Columns of the primary key (deferrable or not), or of the replica identity
// index when there is no primary key; empty when there is neither.
Bitmapset *key_attributes(Relation rel)
{
    Oid pkey = pg::primary_key_index(rel);
    if (!OidIsValid(pkey))
        return RelationGetIndexAttrBitmap(rel, INDEX_ATTR_BITMAP_IDENTITY_KEY);
    Relation index = index_open(pkey, AccessShareLock);
    Bitmapset *key = nullptr;
    for (int i = 0; i < index->rd_index->indnkeyatts; i++)
        key = bms_add_member(key, index->rd_index->indkey.values[i] -
                                      FirstLowInvalidHeapAttributeNumber);
    index_close(index, AccessShareLock);
    return key;
}

}  // namespace

AuditedTable *describe_audited_table(Relation rel, const Trigger *trigger, MemoryContext mcxt)
{
    auto *table = static_cast<AuditedTable *>(MemoryContextAllocZero(mcxt, sizeof(AuditedTable)));
    table->relid = RelationGetRelid(rel);
    table->query_context = mcxt;

    table->table_oid = audited_relation(table->relid, trigger);
    // On a Citus worker the trigger fires on a shard: entries name the
    // logical table and go to the shard of the (distributed) log that holds
    // the same tenants, on this node. Elsewhere, with the log distributed,
    // they go through Citus.
    Oid log_relid = InvalidOid;
    bool through_citus = false;
    int64 shardid;
    Oid logical;
    if (citus::loaded()) {
        if (citus::is_worker() && citus::shard_of(table->table_oid, &shardid, &logical)) {
            table->table_oid = logical;
            log_relid = citus::colocated_shard(audit_log_relid(), shardid);
            if (!OidIsValid(log_relid))
                ereport(ERROR,
                        (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                         errmsg("stratum.audit_log has no shard on this node for the tenants of %s",
                                get_rel_name(logical)),
                         errhint("Distribute audited tables with stratum.distribute_table(), "
                                 "which colocates them with the audit log.")));
        } else {
            through_citus = citus::is_distributed(audit_log_relid());
        }
    }
    load_log_layout(&table->layout, mcxt, log_relid, through_citus);
    MemoryContext old = MemoryContextSwitchTo(mcxt);
    char *schema = get_namespace_name(get_rel_namespace(table->table_oid));
    char *name = get_rel_name(table->table_oid);
    table->table_schema = PointerGetDatum(cstring_to_text(schema != nullptr ? schema : ""));
    table->table_name = PointerGetDatum(cstring_to_text(name != nullptr ? name : ""));
    table->operation_names[0] = PointerGetDatum(cstring_to_text("INSERT"));
    table->operation_names[1] = PointerGetDatum(cstring_to_text("UPDATE"));
    table->operation_names[2] = PointerGetDatum(cstring_to_text("DELETE"));

    TupleDesc tupdesc = RelationGetDescr(rel);
    // A row's own tenant_id names the trail it goes to only where row level
    // security made the writer keep to its tenant (or the writer bypasses
    // it); elsewhere a writer could name any tenant, and the transaction's
    // tenant is used instead.
    bool isolated = has_isolation_policy(rel);
    table->columns =
        static_cast<ColumnConverter *>(palloc0(sizeof(ColumnConverter) * tupdesc->natts));
    for (int i = 0; i < tupdesc->natts; i++) {
        Form_pg_attribute attr = TupleDescAttr(tupdesc, i);
        if (attr->attisdropped)
            continue;
        if (isolated && strcmp(NameStr(attr->attname), "tenant_id") == 0 &&
            attr->atttypid == UUIDOID)
            table->tenant_attnum = attr->attnum;
        if (column_rule(trigger, NameStr(attr->attname)) == ColumnRule::excluded)
            continue;
        init_column_converter(&table->columns[table->column_count++], tupdesc, attr->attnum, mcxt);
    }
    sort_in_key_order(table->columns, table->column_count);

    table->withheld = static_cast<bool *>(palloc0(sizeof(bool) * (table->column_count + 1)));
    table->logged_columns = static_cast<int *>(palloc(sizeof(int) * (table->column_count + 1)));
    for (int c = 0; c < table->column_count; c++) {
        const char *name = NameStr(TupleDescAttr(tupdesc, table->columns[c].attnum - 1)->attname);
        table->withheld[c] = column_rule(trigger, name) == ColumnRule::withheld;
        if (!table->withheld[c])
            table->logged_columns[table->logged_count++] = c;
    }

    // changed_columns lists columns in table order.
    table->attnum_order = static_cast<int *>(palloc(sizeof(int) * (table->column_count + 1)));
    int ordered = 0;
    for (int i = 0; i < tupdesc->natts; i++)
        for (int c = 0; c < table->column_count; c++)
            if (table->columns[c].attnum == i + 1)
                table->attnum_order[ordered++] = c;

    // Key columns in the same (key) order as the row objects; an excluded
    // or withheld key column is left out, never written.
    Bitmapset *key = key_attributes(rel);
    table->key_columns = static_cast<int *>(palloc(sizeof(int) * (table->column_count + 1)));
    for (int c = 0; c < table->column_count; c++)
        if (!table->withheld[c] &&
            bms_is_member(table->columns[c].attnum - FirstLowInvalidHeapAttributeNumber, key))
            table->key_columns[table->key_count++] = c;

    auto **names = static_cast<const JsonbValue **>(
        palloc(sizeof(JsonbValue *) * (table->column_count + 1)));
    for (int l = 0; l < table->logged_count; l++)
        names[l] = &table->columns[table->logged_columns[l]].key;
    init_object_keys(&table->row_keys, names, table->logged_count, mcxt);
    for (int k = 0; k < table->key_count; k++)
        names[k] = &table->columns[table->key_columns[k]].key;
    init_object_keys(&table->key_keys, names, table->key_count, mcxt);
    MemoryContextSwitchTo(old);
    return table;
}

}  // namespace stratum::audit
