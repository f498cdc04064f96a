// Audit entries are buffered across statements (audit_writer.cpp) and so
// must be written before a statement could miss them. Every statement that
// reads the log — directly, through a view, a function, a cursor or COPY —
// has its privileges checked on it first, in ExecutorCheckPerms_hook; a
// utility command (TRUNCATE or DDL on the log, EXPLAIN ANALYZE, CALL, ...)
// gets them written before it runs. Statements that read nothing of the log
// pay one test of a pointer.
#include "audit_read_barrier.hpp"

#include "audit_writer.hpp"

namespace stratum {
namespace {

ExecutorCheckPerms_hook_type previous_check_perms = nullptr;
ProcessUtility_hook_type previous_utility = nullptr;

bool write_before_reading(STRATUM_CHECK_PERMS_PARAMS)
{
    if (previous_check_perms != nullptr && !previous_check_perms(STRATUM_CHECK_PERMS_ARGS))
        return false;
    if (!audit::log_rows_buffered())
        return true;
    bool reads_log = false;
    pg::for_each_checked_relation(STRATUM_CHECK_PERMS_ARGS, [&reads_log](Oid relid, Oid) {
        reads_log = audit::is_buffered_log(relid);
        return !reads_log;
    });
    if (reads_log)
        audit::write_buffered_log_rows();
    return true;
}

void write_before_utility(PlannedStmt *pstmt, const char *query_string, bool read_only_tree,
                          ProcessUtilityContext context, ParamListInfo params,
                          QueryEnvironment *query_env, DestReceiver *dest, QueryCompletion *qc)
{
    // Transaction statements write or drop the buffers in their callbacks.
    if (!IsA(pstmt->utilityStmt, TransactionStmt) && IsTransactionState() &&
        audit::log_rows_buffered())
        audit::write_buffered_log_rows();
    pg::next_process_utility(previous_utility, pstmt, query_string, read_only_tree, context,
                             params, query_env, dest, qc);
}

}  // namespace

void install_audit_read_barrier()
{
    previous_check_perms = ExecutorCheckPerms_hook;
    ExecutorCheckPerms_hook = write_before_reading;
    previous_utility = ProcessUtility_hook;
    ProcessUtility_hook = write_before_utility;
}

}  // namespace stratum
