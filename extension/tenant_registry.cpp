// Tenant validation against stratum.tenants, with a per-backend cache.
//
// A pooled service sets the tenant in every transaction, so the lookup is on
// the hot path. For each tenant found active the cache keeps where its
// registry row is (TID) and which row version it was (raw xmin). A later
// lookup re-reads that one heap tuple under the latest snapshot instead of
// searching the index, from the shared buffer it was last read from when
// that buffer still holds its block (then without opening the registry): if
// the version is no longer visible, someone updated or deleted the tenant,
// and the registry is searched again. Nothing here
// depends on a trigger firing, so a suspension written with triggers off
// (session_replication_role = replica, a logical replication apply, a
// restore) takes effect in every backend at its next lookup.
#include "boundary.hpp"
#include "citus.hpp"
#include "tenant_registry.hpp"

namespace stratum {
namespace {

constexpr long max_cached_tenants = 65536;

struct CachedTenant {
    pg_uuid_t id;           // hash key
    ItemPointerData tid;    // the registry row found active
    TransactionId xmin;     // ... and its version
    Buffer buffer;          // the shared buffer its block was last read from
};

HTAB *active_tenants = nullptr;
Oid cached_tenants_relid = InvalidOid;
pg::RelationFile cached_tenants_file;  // the registry's file, when cached_file_known
bool cached_file_known = false;
AttrNumber cached_status_attnum = InvalidAttrNumber;

void remember_active(const pg_uuid_t *tenant_id, const HeapTupleData &tuple)
{
    if (active_tenants != nullptr && hash_get_num_entries(active_tenants) >= max_cached_tenants) {
        hash_destroy(active_tenants);
        active_tenants = nullptr;
    }
    if (active_tenants == nullptr) {
        HASHCTL ctl;
        memset(&ctl, 0, sizeof(ctl));
        ctl.keysize = sizeof(pg_uuid_t);
        ctl.entrysize = sizeof(CachedTenant);
        ctl.hcxt = TopMemoryContext;
        active_tenants = hash_create("stratum active tenants", 256, &ctl,
                                     HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
    }
    auto *entry =
        static_cast<CachedTenant *>(hash_search(active_tenants, tenant_id, HASH_ENTER, nullptr));
    entry->tid = tuple.t_self;
    entry->xmin = HeapTupleHeaderGetRawXmin(tuple.t_data);
    entry->buffer = InvalidBuffer;
}

// The registry this node reads: stratum.tenants, or on a Citus worker the
// local copy of stratum.tenant_registry (a reference table the coordinator
// keeps in step with its stratum.tenants; see sql/parts/75_citus.sql).
// *missing: a worker without that copy, which must refuse every tenant.
Oid tenants_relid(bool *missing)
{
    *missing = false;
    if (OidIsValid(cached_tenants_relid))
        return cached_tenants_relid;
    Oid schema = get_namespace_oid("stratum", true);
    if (!OidIsValid(schema))
        return InvalidOid;
    if (citus::is_worker()) {
        Oid copy = get_relname_relid("tenant_registry", schema);
        Oid shard = OidIsValid(copy) ? citus::reference_shard(copy) : InvalidOid;
        *missing = !OidIsValid(shard);
        cached_tenants_relid = shard;
    } else {
        cached_tenants_relid = get_relname_relid("tenants", schema);
    }
    return cached_tenants_relid;
}

bool has_active_status(Relation rel, const HeapTupleData &tuple)
{
    bool isnull;
    Datum status = heap_getattr(const_cast<HeapTuple>(&tuple), cached_status_attnum,
                                RelationGetDescr(rel), &isnull);
    if (isnull)
        return false;
    text *status_text = DatumGetTextPP(status);
    return VARSIZE_ANY_EXHDR(status_text) == 6 &&
           memcmp(VARDATA_ANY(status_text), "active", 6) == 0;
}

// The cached version is still on its page, still this tenant's, and still
// visible as it stands now (SnapshotSelf: committed changes and this
// transaction's own, none of anyone's in progress); `buffer` holds its
// block, pinned. A heap row never changes in place: a change to its status
// is a new version, with another xmin, and this one stops being visible.
bool is_cached_version(const CachedTenant *entry, Buffer buffer)
{
    LockBuffer(buffer, BUFFER_LOCK_SHARE);
    Page page = BufferGetPage(buffer);
    OffsetNumber offset = ItemPointerGetOffsetNumber(&entry->tid);
    bool same = false;
    if (offset >= FirstOffsetNumber && offset <= PageGetMaxOffsetNumber(page)) {
        ItemId item = PageGetItemId(page, offset);
        if (ItemIdIsNormal(item)) {
            HeapTupleData tuple;
            tuple.t_data = reinterpret_cast<HeapTupleHeader>(PageGetItem(page, item));
            tuple.t_len = ItemIdGetLength(item);
            tuple.t_tableOid = cached_tenants_relid;
            tuple.t_self = entry->tid;
            // The id is the first column, a uuid (checked when the registry
            // was first opened), and the primary key: never NULL, so it
            // starts the tuple's data.
            const char *id = reinterpret_cast<const char *>(tuple.t_data) + tuple.t_data->t_hoff;
            same = HeapTupleHeaderGetRawXmin(tuple.t_data) == entry->xmin &&
                   tuple.t_len >= static_cast<uint32>(tuple.t_data->t_hoff + UUID_LEN) &&
                   !(HeapTupleHasNulls(&tuple) && att_isnull(0, tuple.t_data->t_bits)) &&
                   memcmp(id, &entry->id, UUID_LEN) == 0 &&
                   HeapTupleSatisfiesVisibility(&tuple, SnapshotSelf, buffer);
        }
    }
    LockBuffer(buffer, BUFFER_LOCK_UNLOCK);
    return same;
}

// Pins the cached version's block from the buffer it was last read from,
// if that buffer still holds it: this needs the registry's file, not the
// registry, so the cache answers without opening it (no relation lock, no
// relcache lookup, which were most of a lookup's cost). That answer is as
// of now, as the locked path's is: the lock only keeps the table's
// definition from changing under a reader, and the version's page is all
// this reads. A rewritten registry (VACUUM FULL, TRUNCATE) has a new file:
// the old one's buffers are gone, and its invalidation empties the cache.
bool pin_recent_buffer(const CachedTenant *entry)
{
    return cached_file_known && BufferIsValid(entry->buffer) &&
           pg::read_recent_buffer(cached_tenants_file, ItemPointerGetBlockNumber(&entry->tid),
                                  entry->buffer);
}

// The same through the buffer manager (the block left the buffer it was
// read from, or was never read since the row was cached). False for a
// block past the table's end (VACUUM truncated it).
bool still_active(Relation rel, CachedTenant *entry)
{
    BlockNumber block = ItemPointerGetBlockNumber(&entry->tid);
    if (block >= RelationGetNumberOfBlocks(rel))
        return false;
    Buffer buffer = ReadBuffer(rel, block);
    entry->buffer = buffer;
    bool active = is_cached_version(entry, buffer);
    ReleaseBuffer(buffer);
    return active;
}

CachedTenant *find_cached(const pg_uuid_t *tenant_id)
{
    if (active_tenants == nullptr)
        return nullptr;
    return static_cast<CachedTenant *>(hash_search(active_tenants, tenant_id, HASH_FIND, nullptr));
}

void forget_cached(const pg_uuid_t *tenant_id)
{
    (void) hash_search(active_tenants, tenant_id, HASH_REMOVE, nullptr);
}

TenantState scan_registry(Relation rel, const pg_uuid_t *tenant_id, Snapshot snapshot)
{
    Oid pkey = pg::primary_key_index(rel);
    if (!OidIsValid(pkey))
        elog(ERROR, "the tenant registry has lost its primary key");

    ScanKeyData key;
    ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_UUID_EQ, UUIDPGetDatum(tenant_id));
    SysScanDesc scan = systable_beginscan(rel, pkey, true, snapshot, 1, &key);

    TenantState state = TenantState::unknown;
    HeapTuple tuple = systable_getnext(scan);
    if (HeapTupleIsValid(tuple)) {
        state = has_active_status(rel, *tuple) ? TenantState::active : TenantState::inactive;
        // A row written by this transaction may still roll back: not cached.
        bool committed =
            !TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetXmin(tuple->t_data));
        if (state == TenantState::active && committed)
            remember_active(tenant_id, *tuple);
    }
    systable_endscan(scan);
    return state;
}

}  // namespace

void forget_cached_tenants(Oid relid)
{
    if (relid != InvalidOid && relid != cached_tenants_relid)
        return;
    cached_tenants_relid = InvalidOid;
    cached_file_known = false;
    cached_status_attnum = InvalidAttrNumber;
    if (active_tenants != nullptr) {
        hash_destroy(active_tenants);
        active_tenants = nullptr;
    }
}

TenantState lookup_tenant_state(const pg_uuid_t *tenant_id)
{
    bool missing;
    Oid relid = tenants_relid(&missing);
    if (missing)
        return TenantState::registry_missing;
    if (!OidIsValid(relid))
        return TenantState::no_registry;

    if (CachedTenant *entry = find_cached(tenant_id); entry != nullptr && pin_recent_buffer(entry)) {
        bool active = is_cached_version(entry, entry->buffer);
        ReleaseBuffer(entry->buffer);
        if (active)
            return TenantState::active;
        forget_cached(tenant_id);  // another version now: the registry is searched
    }

    Relation rel = table_open(relid, AccessShareLock);
    cached_tenants_file = pg::relation_file(rel);
    cached_file_known = true;
    if (cached_status_attnum == InvalidAttrNumber) {
        cached_status_attnum = get_attnum(relid, "status");
        if (cached_status_attnum == InvalidAttrNumber ||
            TupleDescAttr(RelationGetDescr(rel), 0)->atttypid != UUIDOID)
            elog(ERROR, "the tenant registry has lost its id or status column");
    }
    // The cached row version is checked as it stands now, which needs no
    // snapshot (is_cached_version). The registry is searched under a
    // fresh snapshot of its own: SET runs without one, a tenant created
    // earlier in this transaction must be found, and taking the
    // transaction's snapshot here would fix it too early (SET TRANSACTION
    // ISOLATION LEVEL after set_tenant would fail; so would the settings a
    // parallel worker restores after this one). The lock, when the cache
    // could not answer, is kept until the transaction ends, as a
    // statement's would be.
    //
    // Looked up only now: opening the registry takes in the invalidations
    // sent since, and one for the registry empties the cache.
    TenantState state;
    CachedTenant *entry = find_cached(tenant_id);
    if (entry != nullptr && still_active(rel, entry)) {
        state = TenantState::active;
    } else {
        if (entry != nullptr)
            forget_cached(tenant_id);
        InvalidateCatalogSnapshot();
        Snapshot snapshot = RegisterSnapshot(GetCatalogSnapshot(relid));
        state = scan_registry(rel, tenant_id, snapshot);
        UnregisterSnapshot(snapshot);
    }
    table_close(rel, NoLock);
    return state;
}

}  // namespace stratum
