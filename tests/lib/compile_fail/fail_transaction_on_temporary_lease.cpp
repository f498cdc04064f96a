// A Tx on the connection of a temporary Lease would use a connection already
// given back to the pool.
// expect: deleted
#include <stratum/pool.hpp>

void use(stratum::Pool &pool, const stratum::TenantId &tenant)
{
    stratum::Tx tx(*pool.acquire(), tenant);
    (void)tx;
}
