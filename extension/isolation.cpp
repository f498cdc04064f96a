// The statement guard: fail closed, and before any row.
//
// When PostgreSQL has checked a statement's privileges (at executor start,
// for every statement, in every plan: top level, SQL and PL/pgSQL function
// bodies, cursors, prepared generic plans, parallel workers), a statement
// that reads or writes a tenant-isolated relation under row level security
// is refused with 42501 if the transaction has no tenant. Views, CTEs and
// partitions are covered because the relations they read are in the same
// list, checked as the role that reads them.
//
// The isolation policy itself compares with current_tenant_or_null(), which
// never raises: were it the policy that raised, as soon as a row reached it,
// predicates PostgreSQL evaluates first (index conditions, leakproof
// operators) would decide whether that happens, and "error or no rows" would
// answer them over every tenant's rows.
#include "boundary.hpp"
#include "isolation.hpp"
#include "tenant_context.hpp"

namespace stratum {
namespace {

ExecutorCheckPerms_hook_type previous_check_perms = nullptr;

bool applies_rls(Oid relid, Oid check_as_user)
{
    return check_enable_rls(relid, check_as_user, true) == RLS_ENABLED;
}

bool is_isolated(Oid relid)
{
    Relation rel = RelationIdGetRelation(relid);
    if (rel == nullptr)
        return false;
    bool isolated = has_isolation_policy(rel);
    RelationClose(rel);
    return isolated;
}

// The first tenant-isolated relation of the statement that row level
// security applies to, or InvalidOid. Only asked when no tenant is in force
// (or for a foreign key check), so it may take its time: one relcache lookup
// per relation of the statement.
Oid isolated_relation(STRATUM_CHECK_PERMS_PARAMS)
{
    Oid found = InvalidOid;
    pg::for_each_checked_relation(STRATUM_CHECK_PERMS_ARGS, [&found](Oid relid, Oid check_as_user) {
        if (is_isolated(relid) && applies_rls(relid, check_as_user)) {
            found = relid;
            return false;
        }
        return true;
    });
    return found;
}

bool check_statement(STRATUM_CHECK_PERMS_PARAMS)
{
    if (previous_check_perms != nullptr && !previous_check_perms(STRATUM_CHECK_PERMS_ARGS))
        return false;
    if (!ereport_on_violation) {
        // Only the validation of a new foreign key asks without raising,
        // before it reads both tables in one query as their owner. Under
        // forced row level security that query would see some rows only
        // (or be refused below); told no, PostgreSQL checks the rows one by
        // one through the foreign key's triggers instead, which see them all.
        return !OidIsValid(isolated_relation(STRATUM_CHECK_PERMS_ARGS));
    }
    if (tenant_of_transaction() == nullptr) {
        Oid relid = isolated_relation(STRATUM_CHECK_PERMS_ARGS);
        if (OidIsValid(relid)) {
            const char *name = get_rel_name(relid);
            raise_no_tenant(name != nullptr ? quote_identifier(name) : "?");
        }
    }
    return true;
}

}  // namespace

bool has_isolation_policy(Relation rel)
{
    if (!rel->rd_rel->relrowsecurity || rel->rd_rsdesc == nullptr)
        return false;
    ListCell *cell;
    foreach (cell, rel->rd_rsdesc->policies) {
        auto *policy = static_cast<RowSecurityPolicy *>(lfirst(cell));
        if (strcmp(policy->policy_name, isolation_policy_name) == 0)
            return true;
    }
    return false;
}

void install_statement_guard()
{
    previous_check_perms = ExecutorCheckPerms_hook;
    ExecutorCheckPerms_hook = check_statement;
}

}  // namespace stratum

// stratum._load_support(internal): the planner support function of the
// context functions. It offers no rewrite; its point is that the planner
// calls it (and so loads this library, installing the statement guard) while
// planning any statement whose policy or default uses them, before the
// executor checks the statement, also without shared_preload_libraries.
STRATUM_FUNCTION(stratum_load_support)
{
    PG_RETURN_POINTER(nullptr);
}
