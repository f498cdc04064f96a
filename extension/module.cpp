// Module entry: the magic block and _PG_init.
#include "app_role_guard.hpp"
#include "audit_read_barrier.hpp"
#include "audit_visibility.hpp"
#include "boundary.hpp"
#include "citus.hpp"
#include "isolation.hpp"
#include "tenant_context.hpp"
#include "tenant_registry.hpp"

extern "C" {
PG_MODULE_MAGIC;

void _PG_init(void);
}

void _PG_init(void)
{
    stratum::define_context_gucs();
    stratum::register_tenant_cache_invalidation();
    stratum::install_statement_guard();
    stratum::register_audit_visibility_invalidation();
    stratum::install_app_role_guard();
    stratum::install_audit_read_barrier();
    stratum::citus::register_cache_invalidation();
    // After every stratum.* GUC is defined: a mistyped one is an error.
    MarkGUCPrefixReserved("stratum");
}
