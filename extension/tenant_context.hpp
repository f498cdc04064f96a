// Transaction-scoped session state: the current tenant and actor.
#pragma once

#include "pg.hpp"

namespace stratum {

// Registers the GUCs stratum.tenant_id and stratum.actor (from _PG_init).
void define_context_gucs();

// The tenant set in this transaction, or nullptr. A value left over from an
// earlier transaction (a session-level SET) counts as no tenant.
const pg_uuid_t *tenant_of_transaction();

// Sets the tenant for the rest of the transaction, as stratum.set_tenant()
// does: validated by the GUC's check (registered, active, allowed). Outside
// a transaction block it is kept beside the GUC rather than in it
// (tenant_context.cpp says why).
void set_tenant_of_transaction(const pg_uuid_t *tenant);

// Hands a tenant kept beside the GUC to the GUC before a statement that may
// start parallel workers, and clears it on RESET (from _PG_init).
void install_parallel_handover();

// Like tenant_of_transaction(), but raises SQLSTATE 42501 with a hint on how
// to set one.
const pg_uuid_t *require_tenant();

// Raises SQLSTATE 42501 "no tenant context", naming the tenant-isolated
// relation the statement touches when one is given.
[[noreturn]] void raise_no_tenant(const char *relation);

// False when the session is confined (stratum.allowed_tenants) to other tenants.
bool tenant_allowed(const pg_uuid_t *tenant);

// The actor set in this transaction, or nullptr.
const char *actor_of_transaction();

// Parses the canonical 8-4-4-4-12 hex form; never raises.
bool parse_uuid(const char *text, pg_uuid_t *out);

// Writes the canonical lower-case form (36 characters and a NUL) to out.
void format_uuid(const pg_uuid_t *uuid, char *out);

}  // namespace stratum
