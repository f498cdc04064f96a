// GUCs stratum.tenant_id and stratum.actor, and the SQL functions that set
// and read them. Both values live for one transaction only: each value is
// stamped with the local transaction id it was set in, and a value from any
// other transaction reads as unset. That is what makes a pooled connection
// (or a PgBouncer server connection) unable to carry a tenant into the next
// transaction, whether the value came from SET, SET LOCAL or set_config.
//
// The stamp is kept in the GUC's stored string ("<value>\x1f<lxid>"; SHOW
// and current_setting() print the value alone), because that string is all
// a parallel worker receives of its leader's settings: a worker takes the
// value as current only when the stamp is the leader's current transaction,
// so it sees exactly what the leader sees.
//
// A tenant set outside a transaction block (a tenant bound as a statement
// parameter, which is how every pool.query sends it) is kept here instead,
// with the same stamp and after the same checks, and not in the GUC: a
// SET LOCAL costs the GUC's bookkeeping, and on PostgreSQL 15 a visit of
// every setting at commit, which was a quarter of the tenant's cost on the
// server. Outside a block no savepoint can roll it back. Whichever of it and
// the GUC was set later in the transaction is the tenant; SHOW and
// current_setting() show that one; a statement that may start parallel
// workers first hands it to the GUC, which is what the workers receive.
#include <array>

#include "boundary.hpp"
#include "citus.hpp"
#include "tenant_context.hpp"
#include "tenant_registry.hpp"

namespace stratum {
namespace {

constexpr size_t max_actor_length = 256;
constexpr size_t uuid_text_length = 36;

// Between a value and its stamp. A control character: set_tenant and
// set_actor refuse them, so user input can never forge a stamp.
constexpr char stamp_separator = '\x1f';

// The parsed form of a GUC value, kept by the GUC machinery as its "extra".
struct ScopedValue {
    bool is_set;
    LocalTransactionId set_in;  // InvalidLocalTransactionId: outside any transaction
    bool from_parallel_leader;  // restored in a worker, current in the leader
    TenantState refused;        // in a worker: why the leader's tenant was not taken
    uint64 sequence;            // order of setting within the backend: the later wins
    pg_uuid_t tenant;
    char actor[max_actor_length + 1];
};

char *tenant_id_guc = nullptr;
char *actor_guc = nullptr;
char *allowed_tenants_guc = nullptr;
ScopedValue tenant_value{};
ScopedValue actor_value{};
ScopedValue bound_tenant{};  // set outside a transaction block, not in the GUC
uint64 last_sequence = 0;
ExecutorStart_hook_type previous_executor_start = nullptr;
ProcessUtility_hook_type previous_utility = nullptr;

// stratum.allowed_tenants, parsed: the tenants a session may set, when its
// role is confined to some (a superuser's ALTER ROLE ... SET; the session
// itself cannot change it). Text that does not parse allows no tenant.
struct AllowedTenants {
    int count;        // 0: no confinement
    bool deny_all;    // the setting could not be read
    pg_uuid_t tenants[FLEXIBLE_ARRAY_MEMBER];
};
const AllowedTenants *allowed_tenants = nullptr;

// True while _PG_init defines the GUCs. A value PostgreSQL re-applies then
// was SET before the library loaded (kept as a placeholder), possibly in an
// earlier transaction it cannot tell us: it is given no transaction, so it
// reads as unset instead of being taken for the current transaction's.
bool defining_gucs = false;

ScopedValue scoped_value()
{
    ScopedValue value{};
    value.refused = TenantState::active;
    value.sequence = ++last_sequence;
    value.set_in = MyProc != nullptr && !defining_gucs ? pg::local_transaction_id(MyProc)
                                                       : InvalidLocalTransactionId;
    return value;
}

// A GUC string split into the value and, when present, its stamp.
struct StoredText {
    const char *value;  // not NUL-terminated when stamped: use length
    size_t length;
    bool stamped;
    LocalTransactionId stamp;
};

StoredText split_stamp(const char *text)
{
    StoredText stored{text, strlen(text), false, InvalidLocalTransactionId};
    const char *separator = strchr(text, stamp_separator);
    if (separator != nullptr) {
        stored.length = static_cast<size_t>(separator - text);
        stored.stamped = true;
        char *end = nullptr;
        unsigned long stamp = strtoul(separator + 1, &end, 10);
        stored.stamp = end != separator + 1 && *end == '\0' ? static_cast<LocalTransactionId>(stamp)
                                                            : InvalidLocalTransactionId;
    }
    return stored;
}

// In a parallel worker: whether the leader's value was set in the
// transaction the leader is in now (the worker runs inside it).
bool current_in_leader(const StoredText &stored)
{
    PGPROC *leader = MyProc != nullptr ? MyProc->lockGroupLeader : nullptr;
    return stored.stamped && stored.stamp != InvalidLocalTransactionId && leader != nullptr &&
           leader != MyProc && stored.stamp == pg::local_transaction_id(leader);
}

// Replaces *newval with "<value>\x1f<stamp>" and hands the parsed value to
// the GUC machinery as its extra. Everything is allocated first and handed
// over only once nothing can fail, so a refusal leaks nothing.
bool keep(char **newval, void **extra, const ScopedValue &value, const char *text, size_t length)
{
    auto *copy = static_cast<ScopedValue *>(pg::guc_alloc(sizeof(ScopedValue)));
    if (copy == nullptr)
        return false;
    char *stamped = nullptr;
    if (length > 0) {
        // The separator and the transaction number (pg_ultoa_n: snprintf
        // was a tenth of a set_tenant's validation).
        char stamp[16];
        stamp[0] = stamp_separator;
        int stamp_length = 1 + pg_ultoa_n(value.set_in, stamp + 1);
        stamp[stamp_length] = '\0';
        stamped = static_cast<char *>(pg::guc_alloc(length + stamp_length + 1));
        if (stamped == nullptr) {
            pg::guc_release(copy);
            return false;
        }
        memcpy(stamped, text, length);
        memcpy(stamped + length, stamp, stamp_length + 1);
    }
    *copy = value;
    *extra = copy;
    if (stamped != nullptr) {
        pg::guc_release(*newval);
        *newval = stamped;
    }
    return true;
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

// The SQLSTATE of the last refusal (the GUC keeps its own to itself), for
// bind_tenant to raise the GUC's error itself.
int refusal_code = ERRCODE_INVALID_PARAMETER_VALUE;

void refuse_with(int sqlerrcode)
{
    refusal_code = sqlerrcode;
    GUC_check_errcode(sqlerrcode);
}

// Refuses a tenant that is not registered and active (when a transaction can
// read the registry). Parallel workers check again: what a worker serves
// must be a tenant the registry allows now, whatever the leader was told.
bool validate_registered(const pg_uuid_t *tenant, GucSource source)
{
    if (!IsTransactionState() || source == PGC_S_DEFAULT || defining_gucs)
        return true;
    char text[uuid_text_length + 1];  // filled only to refuse
    switch (lookup_tenant_state(tenant)) {
    case TenantState::no_registry:
    case TenantState::active:
        return true;
    case TenantState::unknown:
        refuse_with(ERRCODE_UNDEFINED_OBJECT);
        format_uuid(tenant, text);
        GUC_check_errmsg("tenant %s is not registered", text);
        GUC_check_errhint("Create it with stratum.create_tenant(slug, name).");
        return false;
    case TenantState::inactive:
        refuse_with(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE);
        format_uuid(tenant, text);
        GUC_check_errmsg("tenant %s is not active", text);
        GUC_check_errdetail("Only tenants with status 'active' can be set; "
                            "see stratum.tenants.");
        return false;
    case TenantState::registry_missing:
        refuse_with(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE);
        GUC_check_errmsg("this Citus node has no copy of the tenant registry");
        GUC_check_errhint("On the coordinator: SELECT stratum.sync_citus();");
        return false;
    }
    return false;
}

}  // namespace

bool tenant_allowed(const pg_uuid_t *tenant)
{
    if (allowed_tenants == nullptr || (allowed_tenants->count == 0 && !allowed_tenants->deny_all))
        return true;
    for (int i = 0; i < allowed_tenants->count; i++)
        if (memcmp(&allowed_tenants->tenants[i], tenant, sizeof(pg_uuid_t)) == 0)
            return true;
    return false;
}

namespace {

// The checks of a tenant about to be set, reported the GUC's way
// (GUC_check_*): allowed in this session, registered and active.
bool may_set(const pg_uuid_t *tenant, GucSource source)
{
    if (!defining_gucs && !tenant_allowed(tenant)) {
        char canonical[uuid_text_length + 1];
        format_uuid(tenant, canonical);
        refuse_with(ERRCODE_INSUFFICIENT_PRIVILEGE);
        GUC_check_errmsg("tenant %s is not allowed in this session", canonical);
        GUC_check_errdetail("The session's role is confined to the tenants in "
                            "stratum.allowed_tenants.");
        return false;
    }
    return validate_registered(tenant, source);
}

bool check_tenant_id(char **newval, void **extra, GucSource source)
{
    ScopedValue value = scoped_value();
    const char *text = *newval;
    if (text == nullptr || text[0] == '\0')
        return keep(newval, extra, value, "", 0);

    StoredText stored = split_stamp(text);
    char uuid_text[uuid_text_length + 1] = "";
    if (stored.length == uuid_text_length) {
        memcpy(uuid_text, stored.value, uuid_text_length);
        uuid_text[uuid_text_length] = '\0';
    }
    // Only a parallel worker receives stamped values (from its leader).
    if ((stored.stamped && !IsParallelWorker()) || !parse_uuid(uuid_text, &value.tenant)) {
        GUC_check_errcode(ERRCODE_INVALID_TEXT_REPRESENTATION);
        GUC_check_errmsg("invalid tenant id \"%s\"", stored.stamped ? "?" : text);
        GUC_check_errdetail("stratum.tenant_id takes a UUID such as "
                            "'0a3c6e0e-6b4e-4c7e-9d55-3f1f4f6a2b10'.");
        return false;
    }
    if (refuse_outside_transaction_scope(source, "stratum.tenant_id"))
        return false;
    char canonical[uuid_text_length + 1];
    format_uuid(&value.tenant, canonical);

    if (IsParallelWorker()) {
        // The leader's tenant, if it is current there and the registry
        // still allows it; otherwise none (the statement guard then says
        // why). Refusing the setting here would fail the worker's start
        // with the GUC's internal form in the message.
        if (!current_in_leader(stored))
            return keep(newval, extra, value, "", 0);
        TenantState state = IsTransactionState() ? lookup_tenant_state(&value.tenant)
                                                 : TenantState::no_registry;
        if (state == TenantState::unknown || state == TenantState::inactive ||
            state == TenantState::registry_missing) {
            if (state == TenantState::registry_missing)
                state = TenantState::unknown;
            value.refused = state;
            return keep(newval, extra, value, "", 0);
        }
        value.from_parallel_leader = true;
        value.set_in = stored.stamp;
    } else {
        if (!may_set(&value.tenant, source))
            return false;
    }
    value.is_set = true;
    return keep(newval, extra, value, canonical, uuid_text_length);
}

// stratum.allowed_tenants: UUIDs separated by commas (and spaces).
bool check_allowed_tenants(char **newval, void **extra, GucSource)
{
    const char *text = *newval != nullptr ? *newval : "";
    int capacity = 1;
    for (const char *c = text; *c != '\0'; c++)
        capacity += *c == ',';
    auto *parsed = static_cast<AllowedTenants *>(
        pg::guc_alloc(offsetof(AllowedTenants, tenants) + sizeof(pg_uuid_t) * capacity));
    if (parsed == nullptr)
        return false;
    parsed->count = 0;
    parsed->deny_all = false;
    const char *at = text;
    while (*at != '\0') {
        while (*at == ' ' || *at == ',')
            at++;
        if (*at == '\0')
            break;
        char item[uuid_text_length + 1];
        size_t length = strcspn(at, ", ");
        if (length != uuid_text_length) {
            parsed->deny_all = true;
        } else {
            memcpy(item, at, length);
            item[length] = '\0';
            if (!parse_uuid(item, &parsed->tenants[parsed->count]))
                parsed->deny_all = true;
            else
                parsed->count++;
        }
        at += length;
    }
    *extra = parsed;
    return true;
}

void assign_allowed_tenants(const char *, void *extra)
{
    allowed_tenants = static_cast<const AllowedTenants *>(extra);
}

bool check_actor(char **newval, void **extra, GucSource source)
{
    const char *text = *newval != nullptr ? *newval : "";
    StoredText stored = split_stamp(text);
    bool from_leader = stored.stamped && IsParallelWorker();
    if (stored.length > max_actor_length) {
        GUC_check_errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION);
        GUC_check_errmsg("actor is longer than %zu bytes", max_actor_length);
        return false;
    }
    for (size_t i = 0; i < (from_leader ? stored.length : strlen(text)); i++) {
        if (static_cast<unsigned char>(text[i]) < 0x20) {
            GUC_check_errcode(ERRCODE_INVALID_PARAMETER_VALUE);
            GUC_check_errmsg("actor must not contain control characters");
            return false;
        }
    }
    if (stored.length > 0 && refuse_outside_transaction_scope(source, "stratum.actor"))
        return false;
    ScopedValue value = scoped_value();
    if (IsParallelWorker()) {
        if (!current_in_leader(stored))
            return keep(newval, extra, value, "", 0);
        value.from_parallel_leader = true;
        value.set_in = stored.stamp;
    }
    value.is_set = stored.length > 0;
    memcpy(value.actor, stored.value, stored.length);
    value.actor[stored.length] = '\0';
    return keep(newval, extra, value, stored.value, stored.length);
}

void assign_tenant_id(const char *, void *extra)
{
    tenant_value = *static_cast<ScopedValue *>(extra);
}

void assign_actor(const char *, void *extra)
{
    actor_value = *static_cast<ScopedValue *>(extra);
}

// SHOW and current_setting(): the value without its stamp.
const char *show_unstamped(const char *stored, char *buffer, size_t size)
{
    if (stored == nullptr)
        return "";
    StoredText text = split_stamp(stored);
    size_t length = std::min(text.length, size - 1);
    memcpy(buffer, text.value, length);
    buffer[length] = '\0';
    return buffer;
}

const ScopedValue *tenant_in_force();

const char *show_tenant_id()
{
    static char shown[uuid_text_length + 1];
    if (tenant_in_force() == &bound_tenant) {
        format_uuid(&bound_tenant.tenant, shown);
        return shown;
    }
    return show_unstamped(tenant_id_guc, shown, sizeof(shown));
}

const char *show_actor()
{
    static char shown[max_actor_length + 1];
    return show_unstamped(actor_guc, shown, sizeof(shown));
}

// Set in this transaction: to a value, or to none (SET LOCAL ... = '').
bool set_in_this_transaction(const ScopedValue &value)
{
    if (value.from_parallel_leader)
        return true;
    return value.set_in != InvalidLocalTransactionId && MyProc != nullptr &&
           value.set_in == pg::local_transaction_id(MyProc);
}

bool is_current(const ScopedValue &value)
{
    return value.is_set && set_in_this_transaction(value);
}

// The tenant in force in this transaction, or nullptr: the bound one,
// unless the GUC was set after it in this transaction (a SET LOCAL, or a
// set_tenant in a subtransaction; when that is rolled back, the bound tenant
// is in force again).
const ScopedValue *tenant_in_force()
{
    const bool guc_set_here = set_in_this_transaction(tenant_value);
    if (is_current(bound_tenant) &&
        !(guc_set_here && tenant_value.sequence > bound_tenant.sequence))
        return &bound_tenant;
    return guc_set_here && tenant_value.is_set ? &tenant_value : nullptr;
}

// Hex digit values by byte, -1 for anything else: parse_uuid is on every
// bound tenant's path (twice: the parameter and the setting's check), where
// a branch per character cost more than the rest of the parse.
constexpr std::array<signed char, 256> hex_values = [] {
    std::array<signed char, 256> values{};
    for (int c = 0; c < 256; c++)
        values[c] = static_cast<signed char>(c >= '0' && c <= '9'   ? c - '0'
                                             : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                             : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                                    : -1);
    return values;
}();

// Sets a GUC for the rest of the current transaction, like SET LOCAL. With
// Citus, as a SET LOCAL statement handed to ProcessUtility: Citus passes
// those on to every node the transaction uses (when
// citus.propagate_set_commands is 'local', which is set for the transaction
// too); a setting made from C it never sees. It does so in a transaction
// block (BEGIN ... COMMIT) only: elsewhere the workers get no tenant, and
// refuse the statement.
void set_transaction_local(const char *name, const char *value)
{
    if (!citus::loaded()) {
        (void) set_config_option(name, value, PGC_USERSET, PGC_S_SESSION, GUC_ACTION_LOCAL,
                                 true, 0, false);
        return;
    }
    // Citus reads the switch when it sees the statement, so the switch is
    // set from C; as a statement of its own it cost a second pass through
    // Citus's utility hook on every set_tenant.
    const char *propagation = GetConfigOption("citus.propagate_set_commands", true, false);
    if (propagation == nullptr || strcmp(propagation, "local") != 0)
        (void) set_config_option("citus.propagate_set_commands", "local", PGC_USERSET,
                                 PGC_S_SESSION, GUC_ACTION_LOCAL, true, 0, false);
    // The statement as the parser would build it, and its text, which
    // Citus sends on; built here rather than parsed through SPI, which
    // doubled the cost of a set_tenant on the coordinator.
    auto *literal = makeNode(A_Const);
    literal->val.sval.type = T_String;
    literal->val.sval.sval = pstrdup(value);
    literal->location = -1;
    auto *set = makeNode(VariableSetStmt);
    set->kind = VAR_SET_VALUE;
    set->name = pstrdup(name);
    set->args = list_make1(literal);
    set->is_local = true;
    auto *wrapper = makeNode(PlannedStmt);
    wrapper->commandType = CMD_UTILITY;
    wrapper->utilityStmt = reinterpret_cast<Node *>(set);
    wrapper->stmt_location = -1;
    char *text = psprintf("SET LOCAL %s = %s", name, quote_literal_cstr(value));
    ProcessUtility(wrapper, text, false, PROCESS_UTILITY_QUERY, nullptr, nullptr, None_Receiver,
                   nullptr);
    pfree(text);
}

}  // namespace

bool parse_uuid(const char *text, pg_uuid_t *out)
{
    // 8-4-4-4-12 hex digits: the form uuid::text prints. Where each byte's
    // two digits start, the hyphens between the groups skipped.
    static constexpr unsigned char digits_at[UUID_LEN] = {0,  2,  4,  6,  9,  11, 14, 16,
                                                          19, 21, 24, 26, 28, 30, 32, 34};
    if (strnlen(text, uuid_text_length + 1) != uuid_text_length || text[8] != '-' ||
        text[13] != '-' || text[18] != '-' || text[23] != '-')
        return false;
    int invalid = 0;
    for (int i = 0; i < UUID_LEN; i++) {
        int hi = hex_values[static_cast<unsigned char>(text[digits_at[i]])];
        int lo = hex_values[static_cast<unsigned char>(text[digits_at[i] + 1])];
        invalid |= hi | lo;  // negative when either is not a hex digit
        out->data[i] = static_cast<unsigned char>((hi & 0x0f) << 4 | (lo & 0x0f));
    }
    return invalid >= 0;
}

void format_uuid(const pg_uuid_t *uuid, char *out)
{
    static constexpr char digits[] = "0123456789abcdef";
    char *at = out;
    for (int i = 0; i < UUID_LEN; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *at++ = '-';
        at[0] = digits[uuid->data[i] >> 4];
        at[1] = digits[uuid->data[i] & 0x0f];
        at += 2;
    }
    *at = '\0';
}

void define_context_gucs()
{
    DefineCustomStringVariable(
        "stratum.allowed_tenants",
        "The tenants this session may set (UUIDs separated by commas); empty: any.",
        "Confines a role to its tenants: ALTER ROLE ... SET stratum.allowed_tenants, by a "
        "superuser (stratum.allow_tenants does it).",
        &allowed_tenants_guc, "", PGC_SUSET, GUC_NOT_IN_SAMPLE | GUC_LIST_INPUT,
        check_allowed_tenants, assign_allowed_tenants, nullptr);
    defining_gucs = true;
    DefineCustomStringVariable(
        "stratum.tenant_id", "Tenant of the current transaction (a registered tenant's UUID).",
        "Set it with stratum.set_tenant(uuid); it lasts until the transaction ends.",
        &tenant_id_guc, "", PGC_USERSET, GUC_NOT_IN_SAMPLE | GUC_DISALLOW_IN_FILE,
        check_tenant_id, assign_tenant_id, show_tenant_id);
    DefineCustomStringVariable(
        "stratum.actor", "Who acts in the current transaction, as recorded by the audit trail.",
        "Set it with stratum.set_actor(text); it lasts until the transaction ends.", &actor_guc,
        "", PGC_USERSET, GUC_NOT_IN_SAMPLE | GUC_DISALLOW_IN_FILE, check_actor, assign_actor,
        show_actor);
    defining_gucs = false;
}

const pg_uuid_t *tenant_of_transaction()
{
    const ScopedValue *tenant = tenant_in_force();
    return tenant != nullptr ? &tenant->tenant : nullptr;
}

void raise_no_tenant(const char *relation)
{
    if (tenant_value.refused != TenantState::active) {
        char text[uuid_text_length + 1];
        format_uuid(&tenant_value.tenant, text);
        bool unknown = tenant_value.refused == TenantState::unknown;
        ereport(ERROR,
                (errcode(unknown ? ERRCODE_UNDEFINED_OBJECT
                                 : ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                 errmsg(unknown ? "tenant %s is not registered" : "tenant %s is not active", text),
                 errdetail("The tenant of the transaction was refused in a parallel worker: "
                           "the registry no longer allows it.")));
    }
    bool stale = tenant_value.is_set && !is_current(tenant_value);
    ereport(ERROR,
            (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
             errmsg("no tenant context is set for this transaction"),
             relation != nullptr
                 ? errdetail("The statement reads or writes the tenant-isolated relation %s.%s",
                             relation,
                             stale ? " stratum.tenant_id was set in an earlier transaction; "
                                     "tenant context lasts for one transaction only."
                                   : "")
             : stale ? errdetail("stratum.tenant_id was set in an earlier transaction; "
                                 "tenant context lasts for one transaction only.")
                     : 0,
             errhint("Call stratum.set_tenant('<tenant uuid>') inside the transaction, "
                     "or SET LOCAL stratum.tenant_id = '<tenant uuid>'.")));
    pg_unreachable();
}

const pg_uuid_t *require_tenant()
{
    const pg_uuid_t *tenant = tenant_of_transaction();
    if (tenant == nullptr)
        raise_no_tenant(nullptr);
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

// stratum.current_tenant(): the tenant of the transaction, or 42501.
STRATUM_FUNCTION(stratum_current_tenant)
{
    return uuid_datum(require_tenant());
}

// stratum.current_tenant_or_null(): the isolation policy's hot path. It never
// raises: refusing a statement without a tenant is the statement guard's job,
// done before any row is read (isolation.cpp).
//
// The policy calls it for every row a scan filters, so the value is returned
// in a buffer of the call site (fn_extra, freed with the expression) rather
// than a palloc per row: the per-tuple allocation and its reset cost five
// times the lookup. The buffer is rewritten only by this call site's next
// call, after whoever used the previous value has copied it or let it go,
// like any per-tuple value.
STRATUM_FUNCTION(stratum_current_tenant_or_null)
{
    const pg_uuid_t *tenant = tenant_of_transaction();
    if (tenant == nullptr)
        PG_RETURN_NULL();
    if (fcinfo->flinfo == nullptr)  // a direct call from C: no call site to keep it
        return uuid_datum(tenant);
    auto *returned = static_cast<pg_uuid_t *>(fcinfo->flinfo->fn_extra);
    if (returned == nullptr) {
        returned = static_cast<pg_uuid_t *>(
            MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(pg_uuid_t)));
        fcinfo->flinfo->fn_extra = returned;
    }
    *returned = *tenant;
    return UUIDPGetDatum(returned);
}

// stratum._on_citus_worker(): true on a Citus worker node (the DDL event
// triggers leave the shells and shards Citus makes there to Citus).
STRATUM_FUNCTION(stratum_on_citus_worker)
{
    PG_RETURN_BOOL(citus::is_worker());
}

// stratum._is_distributed(regclass): a Citus table (distributed, reference
// or Citus local).
STRATUM_FUNCTION(stratum_is_distributed)
{
    PG_RETURN_BOOL(citus::is_distributed(PG_GETARG_OID(0)));
}

// stratum._citus_registry_here(): this node holds its own copy of the
// tenant registry (what set_tenant reads on a worker).
STRATUM_FUNCTION(stratum_citus_registry_here)
{
    Oid schema = get_namespace_oid("stratum", true);
    Oid copy = OidIsValid(schema) ? get_relname_relid("tenant_registry", schema) : InvalidOid;
    PG_RETURN_BOOL(OidIsValid(copy) && OidIsValid(citus::reference_shard(copy)));
}

// stratum._citus_shard(regclass): a shard of a Citus table, on this node.
STRATUM_FUNCTION(stratum_citus_shard)
{
    int64 shardid;
    Oid logical;
    PG_RETURN_BOOL(citus::shard_of(PG_GETARG_OID(0), &shardid, &logical));
}

// stratum._citus_table_kind(regclass): 'distributed', 'reference', 'local'
// or NULL.
STRATUM_FUNCTION(stratum_citus_table_kind)
{
    switch (citus::table_kind(PG_GETARG_OID(0))) {
    case 'd':
        PG_RETURN_TEXT_P(cstring_to_text("distributed"));
    case 'r':
        PG_RETURN_TEXT_P(cstring_to_text("reference"));
    case 'l':
        PG_RETURN_TEXT_P(cstring_to_text("local"));
    default:
        PG_RETURN_NULL();
    }
}

// stratum._tenant_visible(uuid): the registry's row policy. A session
// confined by stratum.allowed_tenants sees only its tenants' rows of
// stratum.tenants; any other session sees them all. Never raises.
STRATUM_FUNCTION(stratum_tenant_visible)
{
    if (PG_ARGISNULL(0))
        PG_RETURN_BOOL(false);
    PG_RETURN_BOOL(tenant_allowed(DatumGetUUIDP(PG_GETARG_DATUM(0))));
}

namespace {

// Whether a tenant set now can stay out of the GUC: outside a transaction
// block and below no subtransaction, nothing but the transaction's end (which
// the stamp covers) can undo it; not in parallel mode, where the GUC refuses
// any change and so does this; not with Citus, which passes SET LOCAL
// statements on to its workers.
bool can_bind_outside_guc()
{
    return IsTransactionState() && !IsTransactionBlock() &&
           GetCurrentTransactionNestLevel() == 1 && !IsInParallelMode() && MyProc != nullptr &&
           !citus::loaded();
}

// Sets the bound tenant after the GUC's own checks, refused with the error
// the GUC would raise (every refusal in may_set says why).
void bind_tenant(const pg_uuid_t *tenant)
{
    refusal_code = ERRCODE_INVALID_PARAMETER_VALUE;
    GUC_check_errmsg_string = nullptr;
    GUC_check_errdetail_string = nullptr;
    GUC_check_errhint_string = nullptr;
    if (!may_set(tenant, PGC_S_SESSION))
        ereport(ERROR,
                (errcode(refusal_code), errmsg_internal("%s", GUC_check_errmsg_string),
                 GUC_check_errdetail_string != nullptr
                     ? errdetail_internal("%s", GUC_check_errdetail_string)
                     : 0,
                 GUC_check_errhint_string != nullptr ? errhint("%s", GUC_check_errhint_string)
                                                     : 0));
    ScopedValue value = scoped_value();
    value.tenant = *tenant;
    value.is_set = true;
    bound_tenant = value;
}

// A statement that may start parallel workers gets a bound tenant in the GUC
// first: workers receive their leader's settings, not its variables. (The
// statement enters parallel mode later, when it runs.)
void hand_bound_tenant_to_workers(QueryDesc *query, int eflags)
{
    if (query->plannedstmt->parallelModeNeeded && !IsInParallelMode() &&
        tenant_in_force() == &bound_tenant) {
        char text[uuid_text_length + 1];
        format_uuid(&bound_tenant.tenant, text);
        set_transaction_local("stratum.tenant_id", text);
    }
    (previous_executor_start != nullptr ? previous_executor_start : standard_ExecutorStart)(query,
                                                                                          eflags);
}

// RESET stratum.tenant_id (SET ... TO DEFAULT, RESET ALL, DISCARD ALL)
// clears a bound tenant as it clears a SET LOCAL: the GUC's reset value
// reaches the assign hook looking like any value restored, so the statement
// itself is what tells. (set_config(name, NULL, ...) does not clear it; an
// empty value does. A RESET rolled back with its subtransaction leaves no
// tenant rather than the bound one: closed, not open.)
bool resets_tenant(const Node *statement)
{
    if (IsA(statement, DiscardStmt))
        return reinterpret_cast<const DiscardStmt *>(statement)->target == DISCARD_ALL;
    if (!IsA(statement, VariableSetStmt))
        return false;
    const auto *set = reinterpret_cast<const VariableSetStmt *>(statement);
    return set->kind == VAR_RESET_ALL ||
           ((set->kind == VAR_RESET || set->kind == VAR_SET_DEFAULT) && set->name != nullptr &&
            pg_strcasecmp(set->name, "stratum.tenant_id") == 0);
}

void reset_bound_tenant(PlannedStmt *pstmt, const char *query_string, bool read_only_tree,
                        ProcessUtilityContext context, ParamListInfo params,
                        QueryEnvironment *query_env, DestReceiver *dest, QueryCompletion *qc)
{
    if (resets_tenant(pstmt->utilityStmt))
        bound_tenant.is_set = false;
    pg::next_process_utility(previous_utility, pstmt, query_string, read_only_tree, context,
                             params, query_env, dest, qc);
}

}  // namespace

void stratum::set_tenant_of_transaction(const pg_uuid_t *tenant)
{
    if (can_bind_outside_guc()) {
        bind_tenant(tenant);
        return;
    }
    char text[uuid_text_length + 1];
    format_uuid(tenant, text);
    set_transaction_local("stratum.tenant_id", text);
}

void stratum::install_parallel_handover()
{
    previous_executor_start = ExecutorStart_hook;
    ExecutorStart_hook = hand_bound_tenant_to_workers;
    previous_utility = ProcessUtility_hook;
    ProcessUtility_hook = reset_bound_tenant;
}

STRATUM_FUNCTION(stratum_set_tenant)
{
    if (PG_ARGISNULL(0))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("tenant id must not be null")));
    stratum::set_tenant_of_transaction(DatumGetUUIDP(PG_GETARG_DATUM(0)));
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
