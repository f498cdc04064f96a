// GUCs stratum.tenant_id and stratum.actor, and the SQL functions that set
// and read them. Both values live for one transaction only: each parsed value
// carries the local transaction id it was set in, and a value from any other
// transaction reads as unset. That is what makes a pooled connection (or a
// PgBouncer server connection) unable to carry a tenant into the next
// transaction, whether the value came from SET, SET LOCAL or set_config.
#include "boundary.hpp"
#include "tenant_context.hpp"
#include "tenant_registry.hpp"

namespace stratum {
namespace {

constexpr size_t max_actor_length = 256;

// The parsed form of a GUC value, kept by the GUC machinery as its "extra"
// (malloc'd: the GUC machinery frees it with free()).
struct ScopedValue {
    bool is_set;
    LocalTransactionId set_in;  // InvalidLocalTransactionId: outside any transaction
    bool from_parallel_leader;  // restored in a worker: the leader checked it
    pg_uuid_t tenant;
    char actor[max_actor_length + 1];
};

char *tenant_id_guc = nullptr;
char *actor_guc = nullptr;
ScopedValue tenant_value{};
ScopedValue actor_value{};

// True while _PG_init defines the GUCs. A value PostgreSQL re-applies then
// was SET before the library loaded (kept as a placeholder), possibly in an
// earlier transaction it cannot tell us: it is given no transaction, so it
// reads as unset instead of being taken for the current transaction's.
bool defining_gucs = false;

ScopedValue scoped_value()
{
    ScopedValue value{};
    value.set_in = MyProc != nullptr && !defining_gucs ? MyProc->lxid : InvalidLocalTransactionId;
    value.from_parallel_leader = IsParallelWorker();
    return value;
}

// The GUC machinery keeps (and frees) a malloc'd copy as the value's extra.
// Made last, once nothing can raise an ERROR, so that a refused value leaks
// nothing.
bool keep_as_extra(const ScopedValue &value, void **extra)
{
    auto *copy = static_cast<ScopedValue *>(malloc(sizeof(ScopedValue)));
    if (copy == nullptr)
        return false;
    *copy = value;
    *extra = copy;
    return true;
}

bool is_current(const ScopedValue &value)
{
    if (!value.is_set)
        return false;
    if (value.from_parallel_leader)
        return true;
    return value.set_in != InvalidLocalTransactionId && MyProc != nullptr &&
           value.set_in == MyProc->lxid;
}

// Configuration files, role and database defaults and connection options
// would hand every transaction of a session the same tenant: refused.
bool refuse_outside_transaction_scope(GucSource source, const char *name)
{
    bool scoped = source == PGC_S_DEFAULT || source == PGC_S_OVERRIDE ||
                  source == PGC_S_INTERACTIVE || source == PGC_S_SESSION;
    if (scoped)
        return false;
    GUC_check_errcode(ERRCODE_INVALID_PARAMETER_VALUE);
    GUC_check_errmsg("%s can only be set inside a transaction", name);
    GUC_check_errhint("Call stratum.set_tenant() or stratum.set_actor() in the transaction "
                      "that needs it; defaults in configuration, roles, databases or "
                      "connection options are not allowed.");
    return true;
}

bool check_tenant_id(char **newval, void **extra, GucSource source)
{
    ScopedValue value = scoped_value();
    const char *text = *newval;
    if (text == nullptr || text[0] == '\0')
        return keep_as_extra(value, extra);
    if (!parse_uuid(text, &value.tenant)) {
        GUC_check_errcode(ERRCODE_INVALID_TEXT_REPRESENTATION);
        GUC_check_errmsg("invalid tenant id \"%s\"", text);
        GUC_check_errdetail("stratum.tenant_id takes a UUID such as "
                            "'0a3c6e0e-6b4e-4c7e-9d55-3f1f4f6a2b10'.");
        return false;
    }
    if (refuse_outside_transaction_scope(source, "stratum.tenant_id"))
        return false;
    // Validate against the registry when a transaction can read it. Parallel
    // workers inherit a value their leader has already checked.
    if (IsTransactionState() && !IsParallelWorker() && source != PGC_S_DEFAULT) {
        switch (lookup_tenant_state(&value.tenant)) {
        case TenantState::no_registry:
        case TenantState::active:
            break;
        case TenantState::unknown:
            GUC_check_errcode(ERRCODE_UNDEFINED_OBJECT);
            GUC_check_errmsg("tenant %s is not registered", text);
            GUC_check_errhint("Create it with stratum.create_tenant(slug, name).");
            return false;
        case TenantState::inactive:
            GUC_check_errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE);
            GUC_check_errmsg("tenant %s is not active", text);
            GUC_check_errdetail("Only tenants with status 'active' can be set; "
                                "see stratum.tenants.");
            return false;
        }
    }
    value.is_set = true;
    return keep_as_extra(value, extra);
}

bool check_actor(char **newval, void **extra, GucSource source)
{
    const char *text = *newval;
    size_t length = text != nullptr ? strlen(text) : 0;
    if (length > max_actor_length) {
        GUC_check_errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION);
        GUC_check_errmsg("actor is longer than %zu bytes", max_actor_length);
        return false;
    }
    for (size_t i = 0; i < length; i++) {
        if (static_cast<unsigned char>(text[i]) < 0x20) {
            GUC_check_errcode(ERRCODE_INVALID_PARAMETER_VALUE);
            GUC_check_errmsg("actor must not contain control characters");
            return false;
        }
    }
    if (length > 0 && refuse_outside_transaction_scope(source, "stratum.actor"))
        return false;
    ScopedValue value = scoped_value();
    value.is_set = length > 0;
    memcpy(value.actor, text != nullptr ? text : "", length + 1);
    return keep_as_extra(value, extra);
}

void assign_tenant_id(const char *, void *extra)
{
    tenant_value = *static_cast<ScopedValue *>(extra);
}

void assign_actor(const char *, void *extra)
{
    actor_value = *static_cast<ScopedValue *>(extra);
}

int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

// Sets a GUC for the rest of the current transaction, like SET LOCAL.
void set_transaction_local(const char *name, const char *value)
{
    (void) set_config_option(name, value, PGC_USERSET, PGC_S_SESSION, GUC_ACTION_LOCAL,
                             true, 0, false);
}

}  // namespace

bool parse_uuid(const char *text, pg_uuid_t *out)
{
    // 8-4-4-4-12 hex digits: the form uuid::text prints.
    static constexpr int hyphen_at[] = {8, 13, 18, 23};
    if (strlen(text) != 36)
        return false;
    int byte = 0;
    for (int i = 0; i < 36;) {
        if (i == hyphen_at[0] || i == hyphen_at[1] || i == hyphen_at[2] || i == hyphen_at[3]) {
            if (text[i] != '-')
                return false;
            i++;
            continue;
        }
        int hi = hex_value(text[i]);
        int lo = hex_value(text[i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out->data[byte++] = static_cast<unsigned char>(hi << 4 | lo);
        i += 2;
    }
    return byte == UUID_LEN;
}

void define_context_gucs()
{
    defining_gucs = true;
    DefineCustomStringVariable(
        "stratum.tenant_id", "Tenant of the current transaction (a registered tenant's UUID).",
        "Set it with stratum.set_tenant(uuid); it lasts until the transaction ends.",
        &tenant_id_guc, "", PGC_USERSET, GUC_NOT_IN_SAMPLE | GUC_DISALLOW_IN_FILE,
        check_tenant_id, assign_tenant_id, nullptr);
    DefineCustomStringVariable(
        "stratum.actor", "Who acts in the current transaction, as recorded by the audit trail.",
        "Set it with stratum.set_actor(text); it lasts until the transaction ends.", &actor_guc,
        "", PGC_USERSET, GUC_NOT_IN_SAMPLE | GUC_DISALLOW_IN_FILE, check_actor, assign_actor,
        nullptr);
    defining_gucs = false;
    MarkGUCPrefixReserved("stratum");
}

const pg_uuid_t *tenant_of_transaction()
{
    return is_current(tenant_value) ? &tenant_value.tenant : nullptr;
}

const pg_uuid_t *require_tenant()
{
    const pg_uuid_t *tenant = tenant_of_transaction();
    if (tenant == nullptr) {
        bool stale = tenant_value.is_set;
        ereport(ERROR,
                (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                 errmsg("no tenant context is set for this transaction"),
                 stale ? errdetail("stratum.tenant_id was set in an earlier transaction; "
                                   "tenant context lasts for one transaction only.")
                       : 0,
                 errhint("Call stratum.set_tenant('<tenant uuid>') inside the transaction, "
                         "or SET LOCAL stratum.tenant_id = '<tenant uuid>'.")));
    }
    return tenant;
}

const char *actor_of_transaction()
{
    return is_current(actor_value) ? actor_value.actor : nullptr;
}

}  // namespace stratum

using namespace stratum;

namespace {

Datum uuid_datum(const pg_uuid_t *tenant)
{
    auto *copy = static_cast<pg_uuid_t *>(palloc(sizeof(pg_uuid_t)));
    *copy = *tenant;
    return UUIDPGetDatum(copy);
}

}  // namespace

// stratum.current_tenant(): the hot path of every RLS policy and DEFAULT.
STRATUM_FUNCTION(stratum_current_tenant)
{
    return uuid_datum(require_tenant());
}

STRATUM_FUNCTION(stratum_current_tenant_or_null)
{
    const pg_uuid_t *tenant = tenant_of_transaction();
    if (tenant == nullptr)
        PG_RETURN_NULL();
    return uuid_datum(tenant);
}

STRATUM_FUNCTION(stratum_set_tenant)
{
    if (PG_ARGISNULL(0))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("tenant id must not be null")));
    char *tenant = DatumGetCString(DirectFunctionCall1(uuid_out, PG_GETARG_DATUM(0)));
    set_transaction_local("stratum.tenant_id", tenant);
    PG_RETURN_VOID();
}

STRATUM_FUNCTION(stratum_set_actor)
{
    if (PG_ARGISNULL(0))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("actor must not be null")));
    char *actor = text_to_cstring(PG_GETARG_TEXT_PP(0));
    if (actor[0] == '\0')
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("actor must not be empty")));
    set_transaction_local("stratum.actor", actor);
    PG_RETURN_VOID();
}

STRATUM_FUNCTION(stratum_current_actor)
{
    const char *actor = actor_of_transaction();
    if (actor == nullptr)
        PG_RETURN_NULL();
    PG_RETURN_TEXT_P(cstring_to_text(actor));
}
