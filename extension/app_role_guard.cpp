// Every tenant's sessions share the application role, so what PostgreSQL
// lets a role do to its own sessions, each tenant can do to the others'.
// This utility hook refuses such statements to members of the roles
// registered with stratum.grant_app_role():
//  - LISTEN: every NOTIFY payload reaches every listening session of the
//    database (stratum.app_role_listen = on, set by a superuser, allows it
//    again for applications that keep tenant data out of their payloads);
//  - PREPARE TRANSACTION, COMMIT PREPARED, ROLLBACK PREPARED: a prepared
//    transaction can be finished by any session of the role that made it;
//  - a temporary table that keeps its rows past the transaction (without
//    ON COMMIT DROP or ON COMMIT DELETE ROWS), and DECLARE ... WITH HOLD:
//    the tenant lasts one transaction, a pooled connection serves the next
//    transaction of any tenant, and rows one transaction read would wait on
//    the connection for it, outside row level security
//    (stratum.app_role_keep_rows = on allows them again).
// Superusers and roles that are not application roles are not affected.
#include "app_role_guard.hpp"
#include "boundary.hpp"

#include <optional>

namespace stratum {
namespace {

ProcessUtility_hook_type previous_utility = nullptr;
bool app_role_listen = false;
bool app_role_keep_rows = false;
// Loaded from shared_preload_libraries: every session has this hook from its
// first statement. Otherwise a session gets it when it loads the library.
bool preloaded_for_server = false;

// Is the current user one of the registered application roles, or a member
// of one? Read from stratum.app_roles on each refused kind of statement only.
bool acting_as_app_role()
{
    Oid schema = get_namespace_oid("stratum", true);
    Oid relid = OidIsValid(schema) ? get_relname_relid("app_roles", schema) : InvalidOid;
    if (!OidIsValid(relid) || superuser())
        return false;
    Relation rel = table_open(relid, AccessShareLock);
    SysScanDesc scan = systable_beginscan(rel, InvalidOid, false, nullptr, 0, nullptr);
    bool member = false;
    HeapTuple tuple;
    while (!member && HeapTupleIsValid(tuple = systable_getnext(scan))) {
        bool isnull;
        Datum name = heap_getattr(tuple, 1, RelationGetDescr(rel), &isnull);
        if (isnull)
            continue;
        Oid role = get_role_oid(NameStr(*DatumGetName(name)), true);
        member = OidIsValid(role) && is_member_of_role_nosuper(GetUserId(), role);
    }
    systable_endscan(scan);
    table_close(rel, AccessShareLock);
    return member;
}

// What is refused, why, and how to do without it.
struct Refusal {
    const char *statement;
    const char *detail;
    const char *hint;
};

constexpr const char *shared_transactions =
    "Every tenant's sessions share the role: one could finish another's prepared transaction.";
constexpr const char *kept_rows =
    "The tenant lasts one transaction, and the next transaction on this connection may be "
    "another tenant's: rows kept past the commit would wait for it outside row level security.";

// A temporary table whose rows outlive the transaction (pg_temp.name is one
// too, whatever the statement says).
bool temporary_keeping_rows(const RangeVar *relation, OnCommitAction on_commit)
{
    const bool temporary =
        relation->relpersistence == RELPERSISTENCE_TEMP ||
        (relation->schemaname != nullptr && strncmp(relation->schemaname, "pg_temp", 7) == 0);
    return temporary && on_commit != ONCOMMIT_DROP && on_commit != ONCOMMIT_DELETE_ROWS;
}

// A statement that would keep rows on the connection past the commit.
std::optional<Refusal> kept_rows_refusal(Node *statement)
{
    if (app_role_keep_rows)
        return std::nullopt;
    const Refusal temporary_table{
        "a temporary table that keeps its rows past the transaction", kept_rows,
        "Add ON COMMIT DROP or ON COMMIT DELETE ROWS. A superuser can allow it with ALTER ROLE "
        "... SET stratum.app_role_keep_rows = on."};
    if (IsA(statement, CreateStmt)) {
        auto *create = castNode(CreateStmt, statement);
        if (temporary_keeping_rows(create->relation, create->oncommit))
            return temporary_table;
    } else if (IsA(statement, CreateTableAsStmt)) {
        IntoClause *into = castNode(CreateTableAsStmt, statement)->into;
        if (into != nullptr && temporary_keeping_rows(into->rel, into->onCommit))
            return temporary_table;
    } else if (IsA(statement, DeclareCursorStmt) &&
               (castNode(DeclareCursorStmt, statement)->options & CURSOR_OPT_HOLD) != 0) {
        return Refusal{"DECLARE ... WITH HOLD", kept_rows,
                       "Read the cursor inside its transaction. A superuser can allow it with "
                       "ALTER ROLE ... SET stratum.app_role_keep_rows = on."};
    }
    return std::nullopt;
}

std::optional<Refusal> refusal_of(Node *statement)
{
    if (IsA(statement, ListenStmt)) {
        if (app_role_listen)
            return std::nullopt;
        return Refusal{"LISTEN",
                       "Every tenant's sessions share the role: a NOTIFY payload would reach all "
                       "of them.",
                       "A superuser can allow it with ALTER ROLE ... SET stratum.app_role_listen "
                       "= on, for applications that keep tenant data out of NOTIFY payloads."};
    }
    if (IsA(statement, TransactionStmt)) {
        switch (castNode(TransactionStmt, statement)->kind) {
        case TRANS_STMT_PREPARE:
            return Refusal{"PREPARE TRANSACTION", shared_transactions, nullptr};
        case TRANS_STMT_COMMIT_PREPARED:
            return Refusal{"COMMIT PREPARED", shared_transactions, nullptr};
        case TRANS_STMT_ROLLBACK_PREPARED:
            return Refusal{"ROLLBACK PREPARED", shared_transactions, nullptr};
        default:
            return std::nullopt;
        }
    }
    return kept_rows_refusal(statement);
}

void guard_utility(PlannedStmt *pstmt, const char *query_string, bool read_only_tree,
                   ProcessUtilityContext context, ParamListInfo params,
                   QueryEnvironment *query_env, DestReceiver *dest, QueryCompletion *qc)
{
    const std::optional<Refusal> refused = refusal_of(pstmt->utilityStmt);
    if (refused && IsTransactionState() && acting_as_app_role())
        ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                        errmsg("%s is not allowed for application roles", refused->statement),
                        errdetail("%s", refused->detail),
                        refused->hint != nullptr ? errhint("%s", refused->hint) : 0));
    pg::next_process_utility(previous_utility, pstmt, query_string, read_only_tree, context,
                             params, query_env, dest, qc);
}

}  // namespace

void install_app_role_guard()
{
    preloaded_for_server = process_shared_preload_libraries_in_progress;
    DefineCustomBoolVariable(
        "stratum.app_role_listen", "Lets application roles LISTEN.",
        "Off: LISTEN is refused to roles registered with stratum.grant_app_role(), whose "
        "sessions would receive every tenant's NOTIFY payloads.",
        &app_role_listen, false, PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomBoolVariable(
        "stratum.app_role_keep_rows",
        "Lets application roles keep rows past a transaction.",
        "Off: temporary tables without ON COMMIT DROP or ON COMMIT DELETE ROWS, and WITH HOLD "
        "cursors, are refused to roles registered with stratum.grant_app_role(): the next "
        "transaction on the connection may be another tenant's.",
        &app_role_keep_rows, false, PGC_SUSET, 0, nullptr, nullptr, nullptr);
    previous_utility = ProcessUtility_hook;
    ProcessUtility_hook = guard_utility;
}

}  // namespace stratum

// stratum._preloaded_for_server(): whether the server preloads the library
// (isolation_risks() warns when application roles' sessions may start without
// it).
STRATUM_FUNCTION(stratum_preloaded_for_server)
{
    PG_RETURN_BOOL(stratum::preloaded_for_server);
}
