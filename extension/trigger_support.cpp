// Trigger call checks and per-query attribute caching.
#include "trigger_support.hpp"

namespace stratum {
namespace {

struct AttnumCache {
    Oid relid;
    AttrNumber attnums[2];
};

AttrNumber find_attnum(Relation rel, const char *column)
{
    AttrNumber attnum = SPI_fnumber(RelationGetDescr(rel), column);
    if (attnum <= 0)
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
                        errmsg("table %s has no column \"%s\"",
                               RelationGetRelationName(rel), column),
                        errhint("Re-run the stratum helper that installed this trigger.")));
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

void cached_attnums(FunctionCallInfo fcinfo, Relation rel, const char *first,
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
        cache->attnums[0] = find_attnum(rel, first);
        cache->attnums[1] = second != nullptr ? find_attnum(rel, second) : InvalidAttrNumber;
        cache->relid = RelationGetRelid(rel);
    }
    *first_attnum = cache->attnums[0];
    if (second_attnum != nullptr)
        *second_attnum = cache->attnums[1];
}

AttrNumber cached_attnum(FunctionCallInfo fcinfo, Relation rel, const char *column)
{
    AttrNumber attnum;
    cached_attnums(fcinfo, rel, column, nullptr, &attnum, nullptr);
    return attnum;
}

}  // namespace stratum
