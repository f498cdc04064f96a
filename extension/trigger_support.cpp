// Trigger call checks and per-query attribute caching.
#include "trigger_support.hpp"

namespace stratum {
namespace {

struct AttnumCache {
    Oid relid;
    AttrNumber attnums[2];
};

// The column's number, checked to be of `type`: the trigger reads its datums
// as that type, and the column may have been altered since the trigger was
// installed (ALTER COLUMN ... TYPE text would otherwise be read as a pointer).
AttrNumber find_attnum(Relation rel, const char *column, Oid type)
{
    AttrNumber attnum = SPI_fnumber(RelationGetDescr(rel), column);
    if (attnum <= 0)
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
                        errmsg("table %s has no column \"%s\"",
                               RelationGetRelationName(rel), column),
                        errhint("Re-run the stratum helper that installed this trigger.")));
    if (TupleDescAttr(RelationGetDescr(rel), attnum - 1)->atttypid != type)
        ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
                        errmsg("column \"%s\" of table %s must be of type %s", column,
                               RelationGetRelationName(rel), format_type_be(type)),
                        errhint("Change the column back to %s.", format_type_be(type))));
    return attnum;
}

}  // namespace

TriggerData *trigger_data(FunctionCallInfo fcinfo, const char *function_name)
{
    if (!CALLED_AS_TRIGGER(fcinfo))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("%s() can only be called as a trigger", function_name)));
    return reinterpret_cast<TriggerData *>(fcinfo->context);
}

void cached_attnums(FunctionCallInfo fcinfo, Relation rel, Oid type, const char *first,
                    const char *second, AttrNumber *first_attnum, AttrNumber *second_attnum)
{
    auto *cache = static_cast<AttnumCache *>(fcinfo->flinfo->fn_extra);
    if (cache == nullptr || cache->relid != RelationGetRelid(rel)) {
        if (cache == nullptr) {
            cache = static_cast<AttnumCache *>(
                MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(AttnumCache)));
            fcinfo->flinfo->fn_extra = cache;
        }
        cache->relid = InvalidOid;
        cache->attnums[0] = find_attnum(rel, first, type);
        cache->attnums[1] = second != nullptr ? find_attnum(rel, second, type) : InvalidAttrNumber;
        cache->relid = RelationGetRelid(rel);
    }
    *first_attnum = cache->attnums[0];
    if (second_attnum != nullptr)
        *second_attnum = cache->attnums[1];
}

AttrNumber cached_attnum(FunctionCallInfo fcinfo, Relation rel, Oid type, const char *column)
{
    AttrNumber attnum;
    cached_attnums(fcinfo, rel, type, column, nullptr, &attnum, nullptr);
    return attnum;
}

}  // namespace stratum
