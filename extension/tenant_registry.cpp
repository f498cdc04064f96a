// Tenant validation against stratum.tenants, with a per-backend cache.
//
// A pooled service sets the tenant in every transaction, so the lookup is on
// the hot path. Tenants found active are remembered in a hash set; any change
// to stratum.tenants (its trigger stratum_tenants_changed) queues a relcache
// invalidation of the table, which every backend receives at its next
// transaction start (and this one at once), and which empties the set. So a
// suspension takes effect in every transaction that starts after it commits.
#include "boundary.hpp"
#include "tenant_registry.hpp"

extern "C" {
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
}

namespace stratum {
namespace {

constexpr long max_cached_tenants = 65536;

HTAB *active_tenants = nullptr;     // keys: pg_uuid_t
Oid cached_tenants_relid = InvalidOid;

void forget_tenants(Datum, Oid relid)
{
    if (relid != InvalidOid && relid != cached_tenants_relid)
        return;
    cached_tenants_relid = InvalidOid;
    if (active_tenants != nullptr) {
        hash_destroy(active_tenants);
        active_tenants = nullptr;
    }
}

void remember_active(const pg_uuid_t *tenant_id)
{
    if (active_tenants != nullptr && hash_get_num_entries(active_tenants) >= max_cached_tenants) {
        hash_destroy(active_tenants);
        active_tenants = nullptr;
    }
    if (active_tenants == nullptr) {
        HASHCTL ctl;
        memset(&ctl, 0, sizeof(ctl));
        ctl.keysize = sizeof(pg_uuid_t);
        ctl.entrysize = sizeof(pg_uuid_t);
        ctl.hcxt = TopMemoryContext;
        active_tenants = hash_create("stratum active tenants", 256, &ctl,
                                     HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
    }
    (void) hash_search(active_tenants, tenant_id, HASH_ENTER, nullptr);
}

Oid tenants_relid()
{
    if (OidIsValid(cached_tenants_relid))
        return cached_tenants_relid;
    Oid schema = get_namespace_oid("stratum", true);
    if (!OidIsValid(schema))
        return InvalidOid;
    cached_tenants_relid = get_relname_relid("tenants", schema);
    return cached_tenants_relid;
}

TenantState scan_registry(Oid relid, const pg_uuid_t *tenant_id, bool *committed)
{
    Relation rel = table_open(relid, AccessShareLock);
    Oid pkey = RelationGetPrimaryKeyIndex(rel);
    AttrNumber status_attnum = get_attnum(relid, "status");
    if (!OidIsValid(pkey) || status_attnum == InvalidAttrNumber) {
        table_close(rel, AccessShareLock);
        elog(ERROR, "stratum.tenants has lost its primary key or status column");
    }

    ScanKeyData key;
    ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_UUID_EQ, UUIDPGetDatum(tenant_id));
    // The latest snapshot: SET runs without one, and a tenant created earlier
    // in this transaction must be found.
    Snapshot snapshot = RegisterSnapshot(GetLatestSnapshot());
    SysScanDesc scan = systable_beginscan(rel, pkey, true, snapshot, 1, &key);

    TenantState state = TenantState::unknown;
    *committed = false;
    HeapTuple tuple = systable_getnext(scan);
    if (HeapTupleIsValid(tuple)) {
        // Written by this transaction: it may still roll back.
        *committed = !TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetXmin(tuple->t_data));
        bool isnull;
        Datum status = heap_getattr(tuple, status_attnum, RelationGetDescr(rel), &isnull);
        state = TenantState::inactive;
        if (!isnull) {
            text *status_text = DatumGetTextPP(status);
            if (VARSIZE_ANY_EXHDR(status_text) == 6 &&
                memcmp(VARDATA_ANY(status_text), "active", 6) == 0)
                state = TenantState::active;
        }
    }

    systable_endscan(scan);
    UnregisterSnapshot(snapshot);
    table_close(rel, AccessShareLock);
    return state;
}

}  // namespace

void register_tenant_cache_invalidation()
{
    CacheRegisterRelcacheCallback(forget_tenants, (Datum) 0);
}

TenantState lookup_tenant_state(const pg_uuid_t *tenant_id)
{
    Oid relid = tenants_relid();
    if (!OidIsValid(relid))
        return TenantState::no_registry;
    if (active_tenants != nullptr && hash_search(active_tenants, tenant_id, HASH_FIND, nullptr))
        return TenantState::active;
    bool committed;
    TenantState state = scan_registry(relid, tenant_id, &committed);
    if (state == TenantState::active && committed)
        remember_active(tenant_id);
    return state;
}

}  // namespace stratum

// stratum._tenants_changed(): statement trigger on stratum.tenants that makes
// every backend forget the tenants it validated.
STRATUM_FUNCTION(stratum_tenants_changed)
{
    if (!CALLED_AS_TRIGGER(fcinfo))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("stratum._tenants_changed() can only be called as a trigger")));
    auto *trigdata = reinterpret_cast<TriggerData *>(fcinfo->context);
    CacheInvalidateRelcacheByRelid(RelationGetRelid(trigdata->tg_relation));
    return PointerGetDatum(nullptr);
}
