// stratum.maintain_timestamps(): a BEFORE UPDATE row trigger that stamps
// updated_at with the transaction time (like now()) and keeps created_at as
// it was. Inserts rely on the columns' DEFAULT now().
#include "boundary.hpp"
#include "trigger_support.hpp"

using namespace stratum;

STRATUM_FUNCTION(stratum_maintain_timestamps)
{
    TriggerData *trigdata = trigger_data(fcinfo, "stratum.maintain_timestamps");
    if (!TRIGGER_FIRED_BEFORE(trigdata->tg_event) || !TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
        !TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
        ereport(ERROR,
                (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                 errmsg("stratum.maintain_timestamps() must be a BEFORE UPDATE row trigger")));

    Relation rel = trigdata->tg_relation;
    TupleDesc tupdesc = RelationGetDescr(rel);
    AttrNumber created_attnum, updated_attnum;
    cached_attnums(fcinfo, rel, TIMESTAMPTZOID, "created_at", "updated_at", &created_attnum, &updated_attnum);

    bool created_null;
    Datum created = heap_getattr(trigdata->tg_trigtuple, created_attnum, tupdesc, &created_null);

    int columns[2] = {created_attnum, updated_attnum};
    Datum values[2] = {created, TimestampTzGetDatum(GetCurrentTransactionStartTimestamp())};
    bool nulls[2] = {created_null, false};
    HeapTuple stamped =
        heap_modify_tuple_by_cols(trigdata->tg_newtuple, tupdesc, 2, columns, values, nulls);
    return PointerGetDatum(stamped);
}
