// Citus awareness from Citus's catalogs (pg_dist_partition, pg_dist_shard,
// pg_dist_local_group). Everything here is a plain catalog read: with Citus
// absent, every answer is "no" at the cost of a settings lookup.
#include "citus.hpp"

namespace stratum::citus {
namespace {

// -1: not known yet; relcache invalidations reset it (Citus invalidates the
// relcache of its catalogs' rows when they change).
int cached_worker = -1;

// Columns of Citus's catalogs, by name: their numbers depend on the
// upgrade history of the installation (columns were added and dropped).
constexpr const char *dist_partition_logicalrelid = "logicalrelid";
constexpr const char *dist_partition_partmethod = "partmethod";
constexpr const char *dist_partition_repmodel = "repmodel";
constexpr const char *dist_shard_logicalrelid = "logicalrelid";
constexpr const char *dist_shard_shardid = "shardid";
constexpr const char *dist_shard_minvalue = "shardminvalue";

Oid catalog_relid(const char *name)
{
    return get_relname_relid(name, PG_CATALOG_NAMESPACE);
}

// The first tuple of an index scan of catalog `table` by `index`, where the
// table's `column` equals key; the caller reads it (and the next ones) and
// ends the scan.
struct CatalogRow {
    Relation rel;
    SysScanDesc scan;
    HeapTuple tuple;
};

CatalogRow open_row(const char *table, const char *index, const char *column, Oid eq_proc,
                    Datum key)
{
    CatalogRow row{nullptr, nullptr, nullptr};
    Oid table_relid = catalog_relid(table);
    Oid index_relid = catalog_relid(index);
    if (!OidIsValid(table_relid) || !OidIsValid(index_relid))
        return row;
    AttrNumber attnum = get_attnum(table_relid, column);
    if (attnum == InvalidAttrNumber)
        return row;
    ScanKeyData scan_key;
    ScanKeyInit(&scan_key, attnum, BTEqualStrategyNumber, eq_proc, key);
    row.rel = table_open(table_relid, AccessShareLock);
    row.scan = systable_beginscan(row.rel, index_relid, true, nullptr, 1, &scan_key);
    row.tuple = systable_getnext(row.scan);
    return row;
}

void close_row(CatalogRow &row)
{
    if (row.scan != nullptr)
        systable_endscan(row.scan);
    if (row.rel != nullptr)
        table_close(row.rel, AccessShareLock);
}

Datum column(const CatalogRow &row, const char *name, bool *isnull)
{
    AttrNumber attnum = get_attnum(RelationGetRelid(row.rel), name);
    if (attnum == InvalidAttrNumber) {
        *isnull = true;
        return (Datum) 0;
    }
    return heap_getattr(row.tuple, attnum, RelationGetDescr(row.rel), isnull);
}

// A shard's relation on this node: "<table>_<shardid>" in the table's schema.
Oid shard_relation(Oid logical, int64 shardid)
{
    char *name = get_rel_name(logical);
    if (name == nullptr)
        return InvalidOid;
    char shard_name[NAMEDATALEN * 2];
    snprintf(shard_name, sizeof(shard_name), "%s_" INT64_FORMAT, name, shardid);
    return get_relname_relid(shard_name, get_rel_namespace(logical));
}

}  // namespace

bool loaded()
{
    // Citus is loaded from shared_preload_libraries only (it refuses any
    // other way), possibly after stratum: a yes is kept at once, a no once
    // those libraries are all loaded. Asked on every bound tenant, where
    // looking the setting up each time cost a tenth of the binding.
    static bool seen = false;
    static bool settled = false;
    if (!settled) {
        seen = GetConfigOption("citus.propagate_set_commands", true, false) != nullptr;
        settled = seen || process_shared_preload_libraries_done;
    }
    return seen;
}

void define_transaction_block_report()
{
    static bool needs_block;
    needs_block = loaded();
    DefineCustomBoolVariable(
        "stratum.context_needs_transaction_block",
        "Whether the tenant context reaches every node only inside a transaction block.",
        "On when Citus is loaded: set_tenant's SET LOCAL is passed to the workers in a "
        "transaction block only. Reported to clients at connection start.",
        &needs_block, needs_block, PGC_INTERNAL, GUC_REPORT | GUC_NOT_IN_SAMPLE, nullptr, nullptr,
        nullptr);
}

bool is_worker()
{
    if (!loaded())
        return false;
    if (cached_worker < 0) {
        Oid relid = catalog_relid("pg_dist_local_group");
        int group = 0;
        if (OidIsValid(relid)) {
            Relation rel = table_open(relid, AccessShareLock);
            SysScanDesc scan = systable_beginscan(rel, InvalidOid, false, nullptr, 0, nullptr);
            HeapTuple tuple = systable_getnext(scan);
            bool isnull = true;
            if (HeapTupleIsValid(tuple)) {
                Datum value = heap_getattr(tuple, 1, RelationGetDescr(rel), &isnull);
                group = isnull ? 0 : DatumGetInt32(value);
            }
            systable_endscan(scan);
            table_close(rel, AccessShareLock);
        }
        cached_worker = group != 0;
    }
    return cached_worker == 1;
}

bool is_distributed(Oid relid)
{
    return table_kind(relid) != 0;
}

char table_kind(Oid relid)
{
    if (!loaded())
        return 0;
    CatalogRow row = open_row("pg_dist_partition", "pg_dist_partition_logical_relid_index",
                              dist_partition_logicalrelid, F_OIDEQ, ObjectIdGetDatum(relid));
    char kind = 0;
    if (row.tuple != nullptr && HeapTupleIsValid(row.tuple)) {
        // partmethod 'h': hash-distributed; 'n' with repmodel 't': a
        // reference table, else a Citus local table.
        bool method_null, model_null;
        char method = DatumGetChar(column(row, dist_partition_partmethod, &method_null));
        char model = DatumGetChar(column(row, dist_partition_repmodel, &model_null));
        kind = method == 'n' ? (model == 't' ? 'r' : 'l') : 'd';
    }
    close_row(row);
    return kind;
}

bool shard_of(Oid relid, int64 *shardid, Oid *logical)
{
    if (!loaded())
        return false;
    // A shard's name ends in _<shard id>.
    char *name = get_rel_name(relid);
    const char *underscore = name != nullptr ? strrchr(name, '_') : nullptr;
    if (underscore == nullptr || underscore[1] == '\0')
        return false;
    char *end = nullptr;
    int64 id = strtoll(underscore + 1, &end, 10);
    if (*end != '\0' || id <= 0)
        return false;

    CatalogRow row = open_row("pg_dist_shard", "pg_dist_shard_shardid_index", dist_shard_shardid,
                              F_INT8EQ, Int64GetDatum(id));
    Oid table = InvalidOid;
    if (row.tuple != nullptr && HeapTupleIsValid(row.tuple)) {
        bool isnull;
        Datum value = column(row, dist_shard_logicalrelid, &isnull);
        table = isnull ? InvalidOid : DatumGetObjectId(value);
    }
    close_row(row);
    // It is that table's shard only if the names agree (a table may just
    // happen to end in digits).
    if (!OidIsValid(table) || shard_relation(table, id) != relid)
        return false;
    *shardid = id;
    *logical = table;
    return true;
}

Oid colocated_shard(Oid logical, int64 shardid)
{
    if (!loaded())
        return InvalidOid;
    // The hash range of the given shard ...
    CatalogRow row = open_row("pg_dist_shard", "pg_dist_shard_shardid_index", dist_shard_shardid,
                              F_INT8EQ, Int64GetDatum(shardid));
    char *min_value = nullptr;
    if (row.tuple != nullptr && HeapTupleIsValid(row.tuple)) {
        bool isnull;
        Datum value = column(row, dist_shard_minvalue, &isnull);
        if (!isnull)
            min_value = TextDatumGetCString(value);
    }
    close_row(row);

    // ... and the shard of `logical` that starts where it starts.
    CatalogRow shards = open_row("pg_dist_shard", "pg_dist_shard_logical_relid_index",
                                 dist_shard_logicalrelid, F_OIDEQ, ObjectIdGetDatum(logical));
    int64 found = 0;
    for (HeapTuple tuple = shards.tuple; tuple != nullptr && HeapTupleIsValid(tuple);
         tuple = systable_getnext(shards.scan)) {
        shards.tuple = tuple;
        bool min_null, id_null;
        Datum id = column(shards, dist_shard_shardid, &id_null);
        Datum min = column(shards, dist_shard_minvalue, &min_null);
        bool matches = min_null ? min_value == nullptr
                                : min_value != nullptr &&
                                      strcmp(TextDatumGetCString(min), min_value) == 0;
        if (!id_null && matches) {
            found = DatumGetInt64(id);
            break;
        }
    }
    close_row(shards);
    return found != 0 ? shard_relation(logical, found) : InvalidOid;
}

Oid reference_shard(Oid logical)
{
    if (!loaded())
        return InvalidOid;
    CatalogRow shards = open_row("pg_dist_shard", "pg_dist_shard_logical_relid_index",
                                 dist_shard_logicalrelid, F_OIDEQ, ObjectIdGetDatum(logical));
    int64 found = 0;
    if (shards.tuple != nullptr && HeapTupleIsValid(shards.tuple)) {
        bool isnull;
        Datum id = column(shards, dist_shard_shardid, &isnull);
        found = isnull ? 0 : DatumGetInt64(id);
    }
    close_row(shards);
    return found != 0 ? shard_relation(logical, found) : InvalidOid;
}

void forget_cached_facts()
{
    cached_worker = -1;
}

}  // namespace stratum::citus
