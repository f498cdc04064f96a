// stratum.tenant_guard(): a BEFORE UPDATE row trigger that refuses to move a
// row to another tenant. RLS WITH CHECK already stops a tenant from doing it;
// this also stops roles that bypass RLS (owners without FORCE, superusers).
#include "boundary.hpp"
#include "trigger_support.hpp"

using namespace stratum;

STRATUM_FUNCTION(stratum_tenant_guard)
{
    TriggerData *trigdata = trigger_data(fcinfo, "stratum.tenant_guard");
    if (!TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) || !TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("stratum.tenant_guard() must be a row-level UPDATE trigger")));

    Relation rel = trigdata->tg_relation;
    TupleDesc tupdesc = RelationGetDescr(rel);
    AttrNumber attnum = cached_attnum(fcinfo, rel, UUIDOID, "tenant_id");

    bool old_null, new_null;
    Datum old_tenant = heap_getattr(trigdata->tg_trigtuple, attnum, tupdesc, &old_null);
    Datum new_tenant = heap_getattr(trigdata->tg_newtuple, attnum, tupdesc, &new_null);
    bool same = old_null == new_null &&
                (old_null || memcmp(DatumGetUUIDP(old_tenant), DatumGetUUIDP(new_tenant),
                                    UUID_LEN) == 0);
    if (!same)
        ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                        errmsg("tenant_id of a row in %s cannot be changed",
                               quote_identifier(RelationGetRelationName(rel))),
                        errhint("Insert the row for the other tenant and delete this one.")));
    return PointerGetDatum(trigdata->tg_newtuple);
}
