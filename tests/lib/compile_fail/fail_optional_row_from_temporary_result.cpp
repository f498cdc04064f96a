// optional_row() on a temporary Result.
// expect: deleted
#include <stratum/tx.hpp>

void use(stratum::Tx &tx)
{
    auto row = tx.exec("SELECT body FROM notes WHERE id = $1", 1).optional_row();
    (void)row;
}
