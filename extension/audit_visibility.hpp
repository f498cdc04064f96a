// Which audit entries a reader may see (the audit log's column policy).
#pragma once

#include "pg.hpp"

namespace stratum {

// Registers the cache invalidation of the readers' privileges (from _PG_init).
void register_audit_visibility_invalidation();

}  // namespace stratum
