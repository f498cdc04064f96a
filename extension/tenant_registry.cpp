// Tenant validation against stratum.tenants by primary-key index scan.
#include "tenant_registry.hpp"

namespace stratum {

TenantState lookup_tenant_state(const pg_uuid_t *tenant_id)
{
    Oid schema = get_namespace_oid("stratum", true);
    if (!OidIsValid(schema))
        return TenantState::no_registry;
    Oid relid = get_relname_relid("tenants", schema);
    if (!OidIsValid(relid))
        return TenantState::no_registry;

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
    HeapTuple tuple = systable_getnext(scan);
    if (HeapTupleIsValid(tuple)) {
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

}  // namespace stratum
