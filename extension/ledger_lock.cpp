// Advisory locks per migration scope (the protocol is in ledger_lock.hpp).
#include "boundary.hpp"
#include "ledger_lock.hpp"


namespace stratum {
namespace {

LOCKTAG scope_tag(uint32 lock_class, const char *scope)
{
    LOCKTAG tag;
    SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, lock_class, migration_lock_objid(scope), 2);
    return tag;
}

// "pid 123" or "pids 123, 456" of the holders, for messages.
char *describe_holders(const LOCKTAG &tag, LOCKMODE mode)
{
    int pids[8];
    int count = lock_holder_pids(tag, mode, pids, 8);
    if (count == 0)
        return pstrdup("a session that has since let go");
    StringInfoData buf;
    initStringInfo(&buf);
    appendStringInfoString(&buf, count == 1 ? "pid " : "pids ");
    for (int i = 0; i < count && i < 8; i++)
        appendStringInfo(&buf, i == 0 ? "%d" : ", %d", pids[i]);
    return buf.data;
}

}  // namespace

uint32 migration_lock_objid(const char *scope)
{
    uint32 hash = 2166136261u;
    for (const unsigned char *p = reinterpret_cast<const unsigned char *>(scope); *p; p++) {
        hash ^= *p;
        hash *= 16777619u;
    }
    return hash;
}

int lock_holder_pids(const LOCKTAG &tag, LOCKMODE mode, int *pids, int max_pids)
{
    LockData *locks = GetLockStatusData();
    int found = 0;
    for (int i = 0; i < locks->nelements; i++) {
        const LockInstanceData &instance = locks->locks[i];
        if (memcmp(&instance.locktag, &tag, sizeof(LOCKTAG)) != 0 || instance.pid == MyProcPid)
            continue;
        bool conflicts = false;
        for (LOCKMODE held = 1; held <= MaxLockMode; held++) {
            if ((instance.holdMask & LOCKBIT_ON(held)) && DoLockModesConflict(held, mode))
                conflicts = true;
        }
        if (!conflicts)
            continue;
        bool seen = false;
        for (int j = 0; j < found && j < max_pids; j++)
            seen |= pids[j] == instance.pid;
        if (!seen) {
            if (found < max_pids)
                pids[found] = instance.pid;
            found++;
        }
    }
    return found < max_pids ? found : max_pids;
}

void lock_scope_for_transaction(const char *scope, const char *label)
{
    LOCKTAG migration = scope_tag(migration_lock_class, scope);
    if (LockAcquire(&migration, ExclusiveLock, false, true) != LOCKACQUIRE_NOT_AVAIL)
        return;

    LOCKTAG nontransactional = scope_tag(nontransactional_lock_class, scope);
    if (LockAcquire(&nontransactional, ShareLock, false, true) == LOCKACQUIRE_NOT_AVAIL) {
        char *holders = describe_holders(nontransactional, ShareLock);
        ereport(ERROR,
                (errcode(ERRCODE_LOCK_NOT_AVAILABLE),
                 errmsg("%s: a non-transactional migration of scope %s is running (%s)", label,
                        scope, holders),
                 errdetail("Waiting for it inside a transaction could deadlock with its "
                           "CREATE INDEX CONCURRENTLY."),
                 errhint("Retry when it has finished; the stratum runner retries with "
                         "backoff.")));
    }

    // Only transactional migrators hold it now: wait, within lock_timeout.
    char *holders = describe_holders(migration, ExclusiveLock);
    ErrorData *wait_error = nullptr;
    try {
        pg_call([&]() noexcept { (void) LockAcquire(&migration, ExclusiveLock, false, false); });
    } catch (const PgError &e) {
        wait_error = e.error_data();
    }
    if (wait_error != nullptr) {
        wait_error->message =
            psprintf("%s: while waiting for the migration lock of scope %s (held by %s): %s",
                     label, scope, holders, wait_error->message);
        throw PgError(wait_error);
    }
}

bool try_lock_scope_for_session(const char *scope)
{
    if (holds_session_lock(scope))
        return true;
    LOCKTAG nontransactional = scope_tag(nontransactional_lock_class, scope);
    if (LockAcquire(&nontransactional, ExclusiveLock, true, true) == LOCKACQUIRE_NOT_AVAIL)
        return false;
    LOCKTAG migration = scope_tag(migration_lock_class, scope);
    if (LockAcquire(&migration, ExclusiveLock, true, true) == LOCKACQUIRE_NOT_AVAIL) {
        LockRelease(&nontransactional, ExclusiveLock, true);
        return false;
    }
    return true;
}

bool unlock_scope_for_session(const char *scope)
{
    if (!holds_session_lock(scope))
        return false;
    LOCKTAG migration = scope_tag(migration_lock_class, scope);
    LOCKTAG nontransactional = scope_tag(nontransactional_lock_class, scope);
    LockRelease(&migration, ExclusiveLock, true);
    LockRelease(&nontransactional, ExclusiveLock, true);
    return true;
}

bool holds_session_lock(const char *scope)
{
    // The non-transactional lock is taken in exclusive mode only at session
    // level, so holding it so means holding the session pair.
    LOCKTAG nontransactional = scope_tag(nontransactional_lock_class, scope);
    LOCKTAG migration = scope_tag(migration_lock_class, scope);
    return pg::lock_held_by_me(&nontransactional, ExclusiveLock) &&
           pg::lock_held_by_me(&migration, ExclusiveLock);
}

}  // namespace stratum
