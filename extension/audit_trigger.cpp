// The audit trail's triggers: stratum.audit_row() (AFTER INSERT/UPDATE/DELETE
// FOR EACH ROW, named stratum_audit) turns each row change into an
// audit_log row, buffered until the log is read or the transaction commits
// (audit_writer.cpp); stratum.audit_truncate() records TRUNCATE.
#include "audit_encode.hpp"
#include "audit_log_tuple.hpp"
#include "audit_scratch.hpp"
#include "audit_table_cache.hpp"
#include "boundary.hpp"
#include "citus.hpp"
#include "tenant_context.hpp"
#include "trigger_support.hpp"

using namespace stratum;
using namespace stratum::audit;

namespace {

// Who acts, looked up once per query and again only when it changes.
struct SessionValues {
    Oid user_id;
    Datum user_name;  // text; 0 until first looked up
    char *actor;      // the actor actor_text was made from
    Datum actor_text;
};

void refresh_user(SessionValues *session, MemoryContext mcxt)
{
    Oid user = GetUserId();
    if (session->user_name != 0 && session->user_id == user)
        return;
    const char *name = GetUserNameFromId(user, true);
    MemoryContext old = MemoryContextSwitchTo(mcxt);
    session->user_id = user;
    session->user_name = PointerGetDatum(cstring_to_text(name != nullptr ? name : "?"));
    MemoryContextSwitchTo(old);
}

// Fills the fields every log row has: time, transaction, actor, user.
void fill_common_fields(SessionValues *session, MemoryContext mcxt, Datum *values, bool *nulls)
{
    values[field_logged_at] = TimestampTzGetDatum(GetCurrentStatementStartTimestamp());
    nulls[field_logged_at] = false;
    values[field_xact_id] = FullTransactionIdGetDatum(GetTopFullTransactionId());
    nulls[field_xact_id] = false;

    const char *actor = actor_of_transaction();
    if (actor == nullptr) {
        nulls[field_actor] = true;
    } else {
        if (session->actor == nullptr || strcmp(session->actor, actor) != 0) {
            MemoryContext old = MemoryContextSwitchTo(mcxt);
            session->actor = pstrdup(actor);
            session->actor_text = PointerGetDatum(cstring_to_text(actor));
            MemoryContextSwitchTo(old);
        }
        values[field_actor] = session->actor_text;
        nulls[field_actor] = false;
    }
    refresh_user(session, mcxt);
    values[field_db_user] = session->user_name;
    nulls[field_db_user] = false;
}

void set_current_tenant(Datum *values, bool *nulls)
{
    const pg_uuid_t *tenant = tenant_of_transaction();
    nulls[field_tenant_id] = tenant == nullptr;
    if (tenant != nullptr)
        values[field_tenant_id] = UUIDPGetDatum(const_cast<pg_uuid_t *>(tenant));
}

// True when an UPDATE left the column as it was (same bytes). Unchanged
// out-of-line values keep their TOAST pointer, so those are compared
// without fetching them.
bool unchanged(const ColumnConverter &c, bool old_null, Datum old_value, bool new_null,
               Datum new_value)
{
    if (old_null || new_null)
        return old_null && new_null;
    // What datum_image_eq decides, without its calls for the common kinds.
    if (c.typbyval)
        return old_value == new_value;
    if (c.typlen > 0)
        return memcmp(DatumGetPointer(old_value), DatumGetPointer(new_value), c.typlen) == 0;
    if (c.typlen == -1) {
        auto *a = reinterpret_cast<struct varlena *>(DatumGetPointer(old_value));
        auto *b = reinterpret_cast<struct varlena *>(DatumGetPointer(new_value));
        if (VARATT_IS_EXTERNAL_ONDISK(a) && VARATT_IS_EXTERNAL_ONDISK(b) &&
            VARSIZE_EXTERNAL(a) == VARSIZE_EXTERNAL(b) &&
            memcmp(a, b, VARSIZE_EXTERNAL(a)) == 0)
            return true;
        // Inline and uncompressed (a 1-byte or a 4-byte header): the data.
        if (!VARATT_IS_EXTERNAL(a) && !VARATT_IS_COMPRESSED(a) && !VARATT_IS_EXTERNAL(b) &&
            !VARATT_IS_COMPRESSED(b))
            return VARSIZE_ANY_EXHDR(a) == VARSIZE_ANY_EXHDR(b) &&
                   memcmp(VARDATA_ANY(a), VARDATA_ANY(b), VARSIZE_ANY_EXHDR(a)) == 0;
    }
    return datum_image_eq(old_value, new_value, c.typbyval, c.typlen);
}

// Marks the audited columns an UPDATE changed; false when it changed none.
bool find_changes(const AuditedTable *table, TupleTableSlot *old_slot, TupleTableSlot *new_slot,
                  bool *changed)
{
    bool any = false;
    for (int i = 0; i < table->column_count; i++) {
        int a = table->columns[i].attnum - 1;
        changed[i] = !unchanged(table->columns[i], old_slot->tts_isnull[a],
                                old_slot->tts_values[a], new_slot->tts_isnull[a],
                                new_slot->tts_values[a]);
        any = any || changed[i];
    }
    return any;
}

// Converts and encodes the logged columns of a row into buffer and
// encoded (one per column), and counts the length of the row's object. With
// `previous` (the old row's values of an UPDATE), a column that did not
// change reuses the previous encoding instead.
ObjectLength encode_row(AuditedTable *table, TupleTableSlot *slot, StringInfo buffer,
                        EncodedValue *encoded, const EncodedValue *previous, const bool *changed)
{
    ObjectLength length(&table->row_keys);
    for (int l = 0; l < table->logged_count; l++) {
        int i = table->logged_columns[l];
        if (previous != nullptr && !changed[i]) {
            encoded[i] = previous[i];
        } else {
            int a = table->columns[i].attnum - 1;
            if (slot->tts_isnull[a])
                encoded[i] = {JENTRY_ISNULL, static_cast<uint32>(buffer->len), 0};
            else
                encode_column(&table->columns[i], slot->tts_values[a], buffer, &encoded[i],
                              table->query_context);
        }
        length.add(encoded[i]);
    }
    return length;
}

// changed_columns: the names of the changed columns, in table order. A bulk
// UPDATE changes the same columns row after row: the array is built once.
Datum changed_column_names(AuditedTable *table, const bool *changed)
{
    int count = table->column_count;
    if (table->last_changed != nullptr && memcmp(table->last_changed, changed, count) == 0)
        return table->last_changed_names;
    auto *names = static_cast<Datum *>(palloc(sizeof(Datum) * (count + 1)));
    int n = 0;
    for (int o = 0; o < count; o++) {
        int i = table->attnum_order[o];
        if (changed[i])
            names[n++] = table->columns[i].name;
    }
    MemoryContext old = MemoryContextSwitchTo(table->query_context);
    if (table->last_changed == nullptr)
        table->last_changed = static_cast<bool *>(palloc(count + 1));
    else
        pfree(DatumGetPointer(table->last_changed_names));
    memcpy(table->last_changed, changed, count);
    table->last_changed_names =
        PointerGetDatum(construct_array(names, n, TEXTOID, -1, false, TYPALIGN_INT));
    MemoryContextSwitchTo(old);
    return table->last_changed_names;
}

void set_field(Datum *values, bool *nulls, LogField field, Datum value)
{
    values[field] = value;
    nulls[field] = false;
}

// The statement's text (operation, table, actor, user) as the trigger's
// previous row stored it, and the values it was made of. Those live at
// least as long as this (the trigger's query: the session values in its
// memory, a table's description until the transaction ends), so the same
// pointers mean the same text.
struct StatementText {
    const AuditedTable *table;
    int operation;
    Datum actor;  // 0: NULL
    Datum user;
    LogRowRun stored;
};

// One row change to one log row (or none, for an UPDATE that changed no
// audited column). Runs in the scratch's row context.
void record_row_change(AuditedTable *table, SessionValues *session, MemoryContext query_context,
                       TriggerData *trigdata, RowScratch *scratch, StatementText *text)
{
    TriggerEvent event = trigdata->tg_event;
    bool is_insert = TRIGGER_FIRED_BY_INSERT(event);
    bool is_update = TRIGGER_FIRED_BY_UPDATE(event);
    TupleTableSlot *old_slot = is_insert ? nullptr : trigdata->tg_trigslot;
    TupleTableSlot *new_slot = is_insert ? trigdata->tg_trigslot
                               : is_update ? trigdata->tg_newslot
                                           : nullptr;
    if (old_slot != nullptr)
        slot_getallattrs(old_slot);
    if (new_slot != nullptr)
        slot_getallattrs(new_slot);

    bool *changed = nullptr;
    if (is_update) {
        changed = scratch->changed;
        if (!find_changes(table, old_slot, new_slot, changed))
            return;
    }

    // Each value is converted and encoded once, into the scratch buffer; the
    // objects below copy the encoded bytes into the log row.
    StringInfo buffer = &scratch->buffer;
    EncodedValue *old_values = nullptr;
    EncodedValue *new_values = nullptr;
    ObjectLength old_length(&table->row_keys), new_length(&table->row_keys);
    if (old_slot != nullptr) {
        old_values = scratch->old_values;
        old_length = encode_row(table, old_slot, buffer, old_values, nullptr, nullptr);
    }
    if (new_slot != nullptr) {
        new_values = scratch->new_values;
        new_length = encode_row(table, new_slot, buffer, new_values, old_values, changed);
    }

    Datum values[field_count];
    bool nulls[field_count];
    for (int f = 0; f < field_count; f++)
        nulls[f] = true;
    fill_common_fields(session, query_context, values, nulls);
    set_field(values, nulls, field_table_oid, ObjectIdGetDatum(table->table_oid));
    set_field(values, nulls, field_table_schema, table->table_schema);
    set_field(values, nulls, field_table_name, table->table_name);
    const int operation = is_insert ? 0 : is_update ? 1 : 2;
    set_field(values, nulls, field_operation, table->operation_names[operation]);
    const Datum actor = nulls[field_actor] ? 0 : values[field_actor];
    if (text->table != table || text->operation != operation || text->actor != actor ||
        text->user != values[field_db_user]) {
        *text = {table, operation, actor, values[field_db_user], {}};  // stored: not valid
    }

    // The row's own tenant (of a tenant-isolated table), else the transaction's.
    TupleTableSlot *current = new_slot != nullptr ? new_slot : old_slot;
    AttrNumber tenant = table->tenant_attnum;
    if (tenant != InvalidAttrNumber && !current->tts_isnull[tenant - 1])
        set_field(values, nulls, field_tenant_id, current->tts_values[tenant - 1]);
    else
        set_current_tenant(values, nulls);

    // The jsonb objects are written straight into the log row.
    PendingObject row_key, old_row, new_row;
    uint32 objects = 0;
    auto set_object = [&](LogField field, PendingObject *object) {
        set_field(values, nulls, field, PointerGetDatum(object));
        objects |= uint32{1} << field;
    };
    // The key of the row as it is after the change (before it, for DELETE).
    const EncodedValue *current_values = new_values != nullptr ? new_values : old_values;
    if (table->key_count > 0) {
        row_key = pending_object(&table->key_keys, current_values, table->key_columns,
                                 buffer->data);
        set_object(field_row_key, &row_key);
    }
    if (old_values != nullptr) {
        old_row = pending_object(&table->row_keys, old_values, table->logged_columns,
                                 buffer->data, old_length);
        set_object(field_old_row, &old_row);
    }
    if (new_values != nullptr) {
        new_row = pending_object(&table->row_keys, new_values, table->logged_columns,
                                 buffer->data, new_length);
        set_object(field_new_row, &new_row);
    }
    if (changed != nullptr)
        set_field(values, nulls, field_changed_columns, changed_column_names(table, changed));
    append_log_row(table->layout, values, nulls, objects, &text->stored);
}

// What a trigger keeps in its FmgrInfo for the rest of the query.
struct TriggerCache {
    Oid relid;
    CachedTable *table;   // row trigger only: the backend's description
    LogLayout layout;     // TRUNCATE trigger only
    SessionValues session;
    StatementText text;   // row trigger only
};

TriggerCache *trigger_cache(FunctionCallInfo fcinfo, Relation rel)
{
    auto *cache = static_cast<TriggerCache *>(fcinfo->flinfo->fn_extra);
    if (cache == nullptr || cache->relid != RelationGetRelid(rel)) {
        cache = static_cast<TriggerCache *>(
            MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(TriggerCache)));
        cache->relid = RelationGetRelid(rel);
        fcinfo->flinfo->fn_extra = cache;
    }
    return cache;
}

}  // namespace

STRATUM_FUNCTION(stratum_audit_row)
{
    TriggerData *trigdata = trigger_data(fcinfo, "stratum.audit_row");
    TriggerEvent event = trigdata->tg_event;
    if (!TRIGGER_FIRED_AFTER(event) || !TRIGGER_FIRED_FOR_ROW(event) ||
        TRIGGER_FIRED_BY_TRUNCATE(event))
        ereport(ERROR,
                (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                 errmsg("stratum.audit_row() must be an AFTER INSERT, UPDATE or DELETE row "
                        "trigger"),
                 errhint("Install it with stratum.enable_audit(table).")));

    TriggerCache *cache = trigger_cache(fcinfo, trigdata->tg_relation);
    AuditedTable *table =
        cached_audited_table(trigdata->tg_relation, trigdata->tg_trigger, &cache->table);

    RowScratch own;
    RowScratch *scratch = take_scratch(&own, table->column_count);
    MemoryContext old = MemoryContextSwitchTo(scratch->row);
    record_row_change(table, &cache->session, fcinfo->flinfo->fn_mcxt, trigdata, scratch,
                      &cache->text);
    MemoryContextSwitchTo(old);
    release_scratch(scratch);
    return PointerGetDatum(nullptr);
}

// One log row per TRUNCATE of the relation that carries the trigger.
STRATUM_FUNCTION(stratum_audit_truncate)
{
    TriggerData *trigdata = trigger_data(fcinfo, "stratum.audit_truncate");
    if (!TRIGGER_FIRED_AFTER(trigdata->tg_event) || !TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
        ereport(ERROR,
                (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                 errmsg("stratum.audit_truncate() must be an AFTER TRUNCATE trigger"),
                 errhint("Install it with stratum.enable_audit(table).")));

    Relation rel = trigdata->tg_relation;
    // Citus: a distributed table's TRUNCATE is not recorded. Its shards
    // hold no one tenant's rows to file it under, and an entry routed
    // through Citus as the log's owner would touch shards the truncating
    // role just touched, which Citus refuses (docs/scale-out.md).
    int64 shardid;
    Oid logical;
    if (citus::loaded() &&
        (citus::table_kind(RelationGetRelid(rel)) == 'd' ||
         (citus::is_worker() && citus::shard_of(RelationGetRelid(rel), &shardid, &logical))))
        return PointerGetDatum(nullptr);
    MemoryContext mcxt = fcinfo->flinfo->fn_mcxt;
    TriggerCache *cache = trigger_cache(fcinfo, rel);
    if (cache->layout.tupdesc == nullptr)
        load_log_layout(&cache->layout, mcxt, InvalidOid,
                        citus::loaded() && citus::is_distributed(audit_log_relid()));

    Datum values[field_count];
    bool nulls[field_count];
    for (int f = 0; f < field_count; f++)
        nulls[f] = true;
    fill_common_fields(&cache->session, mcxt, values, nulls);
    set_current_tenant(values, nulls);
    values[field_table_oid] = ObjectIdGetDatum(RelationGetRelid(rel));
    values[field_table_schema] =
        CStringGetTextDatum(get_namespace_name(RelationGetNamespace(rel)));
    values[field_table_name] = CStringGetTextDatum(RelationGetRelationName(rel));
    values[field_operation] = CStringGetTextDatum("TRUNCATE");
    nulls[field_table_oid] = nulls[field_table_schema] = nulls[field_table_name] = false;
    nulls[field_operation] = false;
    append_log_row(cache->layout, values, nulls);
    return PointerGetDatum(nullptr);
}
