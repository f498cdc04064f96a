// stratum._audit_entry_readable(table_oid, old_row, new_row): the audit log's
// column policy. An entry holding a column its reader may not SELECT on the
// audited table is not shown to that reader, so no value is readable through
// the log that is not readable on the table, whatever GRANT and REVOKE did
// since the entry was written. (Entries written while an application role
// could not read a column do not hold it: those values are withheld at
// write time, see audit_table.cpp, so such a role still sees the entries.)
#include "audit_visibility.hpp"
#include "boundary.hpp"

namespace stratum {
namespace {

// Per backend: may this user SELECT the whole table? The usual answer, yes,
// costs one hash lookup per entry read.
struct ReaderKey {
    Oid table;
    Oid user;
};

struct ReaderEntry {
    ReaderKey key;
    bool whole_table;
};

HTAB *readers = nullptr;

bool may_read_whole_table(Oid table, Oid user)
{
    if (readers == nullptr) {
        HASHCTL ctl;
        memset(&ctl, 0, sizeof(ctl));
        ctl.keysize = sizeof(ReaderKey);
        ctl.entrysize = sizeof(ReaderEntry);
        ctl.hcxt = TopMemoryContext;
        readers = hash_create("stratum audit readers", 64, &ctl,
                              HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
    }
    ReaderKey key{table, user};
    bool found;
    auto *entry = static_cast<ReaderEntry *>(hash_search(readers, &key, HASH_ENTER, &found));
    if (!found) {
        bool missing = false;
        // A table dropped since: its entries are history of nothing left to protect.
        entry->whole_table = pg_class_aclcheck_ext(table, user, ACL_SELECT, &missing) == ACLCHECK_OK ||
                             missing;
    }
    return entry->whole_table;
}

// Every key of the row object names a column the user may read. A key that
// names no column (renamed since) cannot be judged and counts as unreadable.
bool keys_readable(Oid table, Oid user, Jsonb *row)
{
    if (!JB_ROOT_IS_OBJECT(row))
        return true;
    JsonbIterator *it = JsonbIteratorInit(&row->root);
    JsonbValue value;
    JsonbIteratorToken token;
    bool readable = true;
    while (readable && (token = JsonbIteratorNext(&it, &value, true)) != WJB_DONE) {
        if (token != WJB_KEY)
            continue;
        char *name = pnstrdup(value.val.string.val, value.val.string.len);
        AttrNumber attnum = get_attnum(table, name);
        readable = attnum != InvalidAttrNumber &&
                   pg_attribute_aclcheck(table, attnum, user, ACL_SELECT) == ACLCHECK_OK;
        pfree(name);
    }
    return readable;
}

}  // namespace

// Privileges live in pg_class, pg_attribute and the role catalogs; any
// change there may change an answer.
void forget_audit_readers()
{
    if (readers != nullptr) {
        hash_destroy(readers);
        readers = nullptr;
    }
}

}  // namespace stratum

using namespace stratum;

STRATUM_FUNCTION(stratum_audit_entry_readable)
{
    if (PG_ARGISNULL(0))
        PG_RETURN_BOOL(true);
    Oid table = PG_GETARG_OID(0);
    Oid user = GetUserId();
    if (may_read_whole_table(table, user))
        PG_RETURN_BOOL(true);
    for (int arg = 1; arg <= 2; arg++) {
        if (!PG_ARGISNULL(arg) && !keys_readable(table, user, PG_GETARG_JSONB_P(arg)))
            PG_RETURN_BOOL(false);
    }
    PG_RETURN_BOOL(true);
}
