// Every tenant's sessions share the application role, so what PostgreSQL
// lets a role do to its own sessions, each tenant can do to the others'.
// Two such channels are statements, and this utility hook refuses them to
// members of the roles registered with stratum.grant_app_role():
//  - LISTEN: every NOTIFY payload reaches every listening session of the
//    database (stratum.app_role_listen = on, set by a superuser, allows it
//    again for applications that keep tenant data out of their payloads);
//  - PREPARE TRANSACTION, COMMIT PREPARED, ROLLBACK PREPARED: a prepared
//    transaction can be finished by any session of the role that made it.
// Superusers and roles that are not application roles are not affected.
#include "app_role_guard.hpp"
#include "boundary.hpp"

namespace stratum {
namespace {

ProcessUtility_hook_type previous_utility = nullptr;
bool app_role_listen = false;

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

const char *refused_statement(Node *statement)
{
    if (IsA(statement, ListenStmt))
        return app_role_listen ? nullptr : "LISTEN";
    if (IsA(statement, TransactionStmt)) {
        switch (castNode(TransactionStmt, statement)->kind) {
        case TRANS_STMT_PREPARE:
            return "PREPARE TRANSACTION";
        case TRANS_STMT_COMMIT_PREPARED:
            return "COMMIT PREPARED";
        case TRANS_STMT_ROLLBACK_PREPARED:
            return "ROLLBACK PREPARED";
        default:
            return nullptr;
        }
    }
    return nullptr;
}

void guard_utility(PlannedStmt *pstmt, const char *query_string, bool read_only_tree,
                   ProcessUtilityContext context, ParamListInfo params,
                   QueryEnvironment *query_env, DestReceiver *dest, QueryCompletion *qc)
{
    const char *refused = refused_statement(pstmt->utilityStmt);
    if (refused != nullptr && IsTransactionState() && acting_as_app_role()) {
        bool listen = IsA(pstmt->utilityStmt, ListenStmt);
        ereport(ERROR,
                (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                 errmsg("%s is not allowed for application roles", refused),
                 listen ? errdetail("Every tenant's sessions share the role: a NOTIFY payload "
                                    "would reach all of them.")
                        : errdetail("Every tenant's sessions share the role: one could finish "
                                    "another's prepared transaction."),
                 listen ? errhint("A superuser can allow it with ALTER ROLE ... SET "
                                  "stratum.app_role_listen = on, for applications that keep "
                                  "tenant data out of NOTIFY payloads.")
                        : 0));
    }
    pg::next_process_utility(previous_utility, pstmt, query_string, read_only_tree, context,
                             params, query_env, dest, qc);
}

}  // namespace

void install_app_role_guard()
{
    DefineCustomBoolVariable(
        "stratum.app_role_listen", "Lets application roles LISTEN.",
        "Off: LISTEN is refused to roles registered with stratum.grant_app_role(), whose "
        "sessions would receive every tenant's NOTIFY payloads.",
        &app_role_listen, false, PGC_SUSET, 0, nullptr, nullptr, nullptr);
    previous_utility = ProcessUtility_hook;
    ProcessUtility_hook = guard_utility;
}

}  // namespace stratum
