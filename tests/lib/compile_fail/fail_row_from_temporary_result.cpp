// A Row is a view into its Result: taken from a temporary, it would dangle.
// expect: deleted
#include <stratum/pool.hpp>

void use(stratum::Pool &pool, const stratum::TenantId &tenant)
{
    auto row = pool.query(tenant, "SELECT body FROM notes LIMIT 1").one_row();
    (void)row["body"];
}
