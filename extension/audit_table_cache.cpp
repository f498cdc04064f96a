// See audit_table_cache.hpp. An entry is marked stale by invalidation
// callbacks (which may run at any time) and rebuilt at its next use. The
// description it replaces may still be in use further up the stack (a
// trigger that fires inside another's conversion), so it is not freed then:
// its memory moves under the transaction's and goes at transaction end. A
// description is built in transaction memory and kept only once complete,
// so an error halfway leaves nothing behind.
#include "audit_table_cache.hpp"

namespace stratum::audit {

struct CacheKey {
    Oid relid;
    Oid trigger;
};

struct CachedTable {
    CacheKey key;  // first: the hash key
    AuditedTable *table;
    MemoryContext context;
    bool valid;
};

namespace {

HTAB *cache = nullptr;

bool depends_on(const CachedTable *entry, Oid relid)
{
    const AuditedTable *table = entry->table;
    return entry->key.relid == relid ||
           (table != nullptr && (table->table_oid == relid || table->layout.relid == relid ||
                                 table->layout.sequence_relid == relid));
}

}  // namespace

void forget_audited_tables(Oid relid)
{
    if (cache == nullptr)
        return;
    HASH_SEQ_STATUS scan;
    hash_seq_init(&scan, cache);
    for (auto *entry = static_cast<CachedTable *>(hash_seq_search(&scan)); entry != nullptr;
         entry = static_cast<CachedTable *>(hash_seq_search(&scan))) {
        if (!OidIsValid(relid) || depends_on(entry, relid))
            entry->valid = false;
    }
}

namespace {

void create_cache()
{
    HASHCTL info;
    memset(&info, 0, sizeof(info));
    info.keysize = sizeof(CacheKey);
    info.entrysize = sizeof(CachedTable);
    info.hcxt = CacheMemoryContext;
    cache = hash_create("stratum audited tables", 64, &info, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

void rebuild(CachedTable *entry, Relation rel, const Trigger *trigger)
{
    if (entry->context != nullptr)
        MemoryContextSetParent(entry->context, TopTransactionContext);
    entry->table = nullptr;
    entry->context = nullptr;
    entry->valid = false;
    MemoryContext context =
        AllocSetContextCreate(CurTransactionContext, "stratum audited table", ALLOCSET_SMALL_SIZES);
    AuditedTable *table = describe_audited_table(rel, trigger, context);
    MemoryContextSetParent(context, CacheMemoryContext);
    entry->table = table;
    entry->context = context;
    entry->valid = true;
}

}  // namespace

AuditedTable *cached_audited_table(Relation rel, const Trigger *trigger, CachedTable **hint)
{
    CachedTable *entry = *hint;
    if (entry != nullptr && entry->valid && entry->key.relid == RelationGetRelid(rel) &&
        entry->key.trigger == trigger->tgoid)
        return entry->table;
    if (cache == nullptr)
        create_cache();
    CacheKey key = {RelationGetRelid(rel), trigger->tgoid};
    bool found;
    entry = static_cast<CachedTable *>(hash_search(cache, &key, HASH_ENTER, &found));
    if (!found) {
        entry->table = nullptr;
        entry->context = nullptr;
        entry->valid = false;
    }
    if (!entry->valid)
        rebuild(entry, rel, trigger);
    *hint = entry;
    return entry->table;
}

}  // namespace stratum::audit
