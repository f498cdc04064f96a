// Executes migration statements through SPI inside an internal
// subtransaction, and enriches their errors (see ledger_run.hpp).
#include "boundary.hpp"
#include "ledger_lock.hpp"
#include "ledger_run.hpp"


namespace stratum {
namespace {

// What the lock-wait report of log_lock_waits tells us while a migration
// statement waits: the lock it waits for. PostgreSQL forgets it before the
// lock timeout's error is raised, so it is copied here when reported.
struct LockWaitCapture {
    bool armed;        // a migration statement is running
    bool suppress;     // log_lock_waits was off: keep the report out of the server log
    bool captured;
    LOCKTAG tag;
    LOCKMODE mode;
};

LockWaitCapture lock_wait{};
emit_log_hook_type previous_emit_log_hook = nullptr;
bool emit_log_hook_installed = false;

// The reports of log_lock_waits ("process %d still waiting for %s on %s after
// %ld.%03d ms", "... acquired ...", "... avoided deadlock ...", ...), known by
// their untranslated format string.
bool is_lock_wait_report(const ErrorData *edata)
{
    const char *format = edata->message_id;
    return edata->elevel == LOG && format != nullptr && strncmp(format, "process %d ", 11) == 0 &&
           strstr(format, " after %ld.%03d ms") != nullptr;
}

void capture_lock_wait(ErrorData *edata)
{
    if (lock_wait.armed && is_lock_wait_report(edata)) {
        // Still waiting: note the lock. Acquired (no lock awaited any more):
        // forget it, so that a later timeout is not blamed on it.
        lock_wait.captured = MyProc != nullptr && MyProc->waitLock != nullptr;
        if (lock_wait.captured) {
            lock_wait.tag = MyProc->waitLock->tag;
            lock_wait.mode = MyProc->waitLockMode;
        }
        if (lock_wait.suppress)
            edata->output_to_server = false;
    }
    if (previous_emit_log_hook != nullptr)
        previous_emit_log_hook(edata);
}

void install_capture_hook()
{
    if (emit_log_hook_installed)
        return;
    previous_emit_log_hook = emit_log_hook;
    emit_log_hook = capture_lock_wait;
    emit_log_hook_installed = true;
}

void set_local(const char *name, const char *value, GucContext context)
{
    (void) set_config_option(name, value, context, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0,
                             false);
}

// Settings for the statements; the lock-wait report (log_lock_waits) comes
// after deadlock_timeout, so that is brought under the lock timeout.
void apply_settings(const RunSettings &settings)
{
    int timeout = settings.lock_timeout_ms >= 0 ? settings.lock_timeout_ms : LockTimeout;
    if (settings.lock_timeout_ms >= 0)
        set_local("lock_timeout", psprintf("%d", settings.lock_timeout_ms), PGC_USERSET);
    lock_wait.suppress = false;
    if (timeout > 0) {
        if (DeadlockTimeout >= timeout)
            set_local("deadlock_timeout", psprintf("%d", timeout > 1 ? timeout / 2 : 1),
                      PGC_SUSET);
        if (!log_lock_waits) {
            set_local("log_lock_waits", "on", PGC_SUSET);
            lock_wait.suppress = true;
        }
    }
    if (settings.search_path != nullptr)
        set_local("search_path", settings.search_path, PGC_USERSET);
}

void execute_statement(const Script &script, int index)
{
    char *text = statement_text(script, index);
    lock_wait.captured = false;
    int rc = SPI_execute(text, false, 0);
    if (rc < 0)
        elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(rc));
    SPI_freetuptable(SPI_tuptable);
    pfree(text);
}

const char *describe_lock(const LOCKTAG &tag)
{
    if (tag.locktag_type == LOCKTAG_RELATION) {
        Oid relid = tag.locktag_field2;
        char *relname = get_rel_name(relid);
        if (relname != nullptr) {
            char *schema = get_namespace_name(get_rel_namespace(relid));
            return psprintf("relation %s", quote_qualified_identifier(schema, relname));
        }
    }
    StringInfoData buf;
    initStringInfo(&buf);
    DescribeLockTag(&buf, &tag);
    return buf.data;
}

// One line per blocking session, from pg_stat_activity as the caller may see it.
char *describe_blockers(const LOCKTAG &tag, LOCKMODE mode)
{
    int pids[8];
    int count = lock_holder_pids(tag, mode, pids, 8);
    if (count == 0)
        return pstrdup("The session that held the lock has let go of it since.");
    Datum *elements = static_cast<Datum *>(palloc(sizeof(Datum) * count));
    for (int i = 0; i < count; i++)
        elements[i] = Int32GetDatum(pids[i]);
    Datum args[1] = {PointerGetDatum(construct_array(elements, count, INT4OID, 4, true,
                                                     TYPALIGN_INT))};
    Oid types[1] = {INT4ARRAYOID};
    int rc = SPI_execute_with_args(
        "SELECT CASE"
        "  WHEN p.pid OPERATOR(pg_catalog.=) 0 THEN 'a prepared transaction (see pg_prepared_xacts)'"
        "  WHEN a.pid IS NULL THEN pg_catalog.format('pid %s, which has ended since', p.pid)"
        "  WHEN a.state IS NULL THEN pg_catalog.format("
        "      'pid %s (user %s; pg_read_all_stats would show more)', p.pid, a.usename)"
        "  ELSE pg_catalog.format('pid %s (user %s, application %s, %s%s): %s', p.pid, a.usename,"
        "      pg_catalog.quote_literal(a.application_name), a.state,"
        "      ' for ' OPERATOR(pg_catalog.||) pg_catalog.to_char("
        "          pg_catalog.now() OPERATOR(pg_catalog.-) a.xact_start, 'HH24:MI:SS'),"
        "      pg_catalog.left(pg_catalog.regexp_replace(a.query, '\\s+', ' ', 'g'), 200))"
        "  END"
        "  FROM pg_catalog.unnest($1) AS p(pid)"
        "  LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid OPERATOR(pg_catalog.=) p.pid"
        " ORDER BY p.pid",
        1, types, args, nullptr, true, 0);
    StringInfoData buf;
    initStringInfo(&buf);
    appendStringInfoString(&buf, "Blocked by ");
    if (rc == SPI_OK_SELECT) {
        for (uint64 i = 0; i < SPI_processed; i++)
            appendStringInfo(&buf, "%s%s", i == 0 ? "" : "; ",
                             SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
    }
    appendStringInfoChar(&buf, '.');
    return buf.data;
}

// Rewrites the error of statement `index` (the subtransaction is gone by now,
// so the catalogs may be read).
void enrich_error(ErrorData *edata, const Script &script, int index, const RunSettings &settings)
{
    const ScriptStatement &statement = script.statements[index];
    int line = statement.line;
    // A position in the statement itself (not in a query it called) gives
    // the exact line.
    if (edata->internalpos > 0 && edata->internalquery != nullptr &&
        strlen(edata->internalquery) == static_cast<size_t>(statement.length) &&
        strncmp(edata->internalquery, script.sql + statement.offset, statement.length) == 0)
        line = line_of_position(script.sql, statement.offset, edata->internalpos);
    bool lock_timeout = edata->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE && lock_wait.captured;
    if (!lock_timeout) {
        edata->message = psprintf("%s failed at statement %d (line %d, %s): %s", settings.label,
                                  index + 1, line, statement.tag, edata->message);
        return;
    }
    const char *lock = describe_lock(lock_wait.tag);
    const char *mode = GetLockmodeName(DEFAULT_LOCKMETHOD, lock_wait.mode);
    edata->message = psprintf("%s timed out waiting for %s on %s at statement %d (line %d, %s): %s",
                              settings.label, mode, lock, index + 1, line, statement.tag,
                              edata->message);
    char *blockers = describe_blockers(lock_wait.tag, lock_wait.mode);
    edata->detail = edata->detail != nullptr ? psprintf("%s\n%s", edata->detail, blockers)
                                             : blockers;
    edata->hint = pstrdup("Nothing of the migration was kept. Retry later (the stratum runner "
                          "retries with backoff), or end the blocking session.");
}

}  // namespace

void run_script(const Script &script, const RunSettings &settings)
{
    install_capture_hook();
    MemoryContext caller_context = CurrentMemoryContext;
    ResourceOwner caller_owner = CurrentResourceOwner;
    volatile int current = -1;
    ErrorData *volatile failure = nullptr;

    BeginInternalSubTransaction(nullptr);
    MemoryContextSwitchTo(caller_context);
    PG_TRY();
    {
        int nest_level = NewGUCNestLevel();
        apply_settings(settings);
        lock_wait.armed = true;
        for (int i = 0; i < script.count; i++) {
            current = i;
            execute_statement(script, i);
        }
        lock_wait.armed = false;
        AtEOXact_GUC(true, nest_level);
        ReleaseCurrentSubTransaction();
        MemoryContextSwitchTo(caller_context);
        CurrentResourceOwner = caller_owner;
    }
    PG_CATCH();
    {
        lock_wait.armed = false;
        MemoryContextSwitchTo(caller_context);
        failure = CopyErrorData();
        FlushErrorState();
        RollbackAndReleaseCurrentSubTransaction();
        MemoryContextSwitchTo(caller_context);
        CurrentResourceOwner = caller_owner;
    }
    PG_END_TRY();

    if (failure != nullptr) {
        if (current >= 0)
            enrich_error(failure, script, current, settings);
        else
            failure->message = psprintf("%s: %s", settings.label, failure->message);
        throw PgError(failure);
    }
}

}  // namespace stratum
