// Module entry: the magic block and _PG_init.
#include "app_role_guard.hpp"
#include "audit_read_barrier.hpp"
#include "boundary.hpp"
#include "citus.hpp"
#include "invalidation.hpp"
#include "isolation.hpp"
#include "tenant_context.hpp"

extern "C" {
PG_MODULE_MAGIC;

void _PG_init(void);
}

void _PG_init(void)
{
    stratum::define_context_gucs();
    stratum::install_parallel_handover();
    stratum::citus::define_transaction_block_report();
    stratum::register_invalidation_callbacks();
    stratum::install_statement_guard();
    stratum::install_app_role_guard();
    stratum::install_audit_read_barrier();
    // After every stratum.* GUC is defined: a mistyped one is an error.
    MarkGUCPrefixReserved("stratum");
}
