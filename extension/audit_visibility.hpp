// Which audit entries a reader may see (the audit log's column policy).
#pragma once

#include "pg.hpp"

namespace stratum {

// Forgets the cached privileges of readers (after any relcache invalidation,
// and when roles or memberships change).
void forget_audit_readers();

}  // namespace stratum
