-- The C++/PostgreSQL error boundary, both directions.

-- A PostgreSQL ERROR raised while a C++ object is alive comes back out with
-- its own SQLSTATE (22012), and the object's destructor has run.
SELECT stratum._boundary_selftest('destructors') AS destructors_before \gset
SELECT stratum._boundary_selftest('pg_error');
SELECT sqlstate_of($$SELECT stratum._boundary_selftest('pg_error')$$);
SELECT stratum._boundary_selftest('destructors') - :destructors_before AS destructors_run;

-- A C++ exception becomes an ERROR (XX000), again after unwinding.
SELECT stratum._boundary_selftest('cpp_exception');
SELECT sqlstate_of($$SELECT stratum._boundary_selftest('cpp_exception')$$);
SELECT stratum._boundary_selftest('destructors') - :destructors_before AS destructors_run;

-- std::bad_alloc maps to out_of_memory; a C++ SqlError keeps its SQLSTATE and hint.
SELECT sqlstate_of($$SELECT stratum._boundary_selftest('bad_alloc')$$);
SELECT stratum._boundary_selftest('sql_error');
SELECT sqlstate_of($$SELECT stratum._boundary_selftest('sql_error')$$);

-- What the boundary caught is kept until it is raised, then forgotten: the
-- next error carries no hint of the last, and anything thrown is an ERROR.
SELECT stratum._boundary_selftest('cpp_exception');
SELECT stratum._boundary_selftest('unknown_exception');

-- The session is healthy afterwards: errors were re-thrown, not swallowed.
BEGIN;
SAVEPOINT s;
SELECT stratum._boundary_selftest('pg_error');
ROLLBACK TO SAVEPOINT s;
SELECT 1 AS still_usable;
COMMIT;
