// Module entry: the magic block and _PG_init.
#include "boundary.hpp"
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
}
