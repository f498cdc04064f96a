// stratum._boundary_selftest(scenario): drives both directions of the error
// boundary so the regression suite can prove them (see regress/sql/boundary.sql).
#include <stdexcept>
#include <string>

#include "boundary.hpp"

using namespace stratum;

namespace {

int destructors_run = 0;

// An object whose destructor must run even when PostgreSQL raises an ERROR
// while it is alive.
struct DestructorProbe {
    std::string payload{"allocated on the C++ heap to make the destructor non-trivial"};
    ~DestructorProbe() { destructors_run++; }
};

Datum divide_by_zero() noexcept
{
    return DirectFunctionCall2(int4div, Int32GetDatum(1), Int32GetDatum(0));
}

}  // namespace

STRATUM_FUNCTION(stratum_boundary_selftest)
{
    char *scenario = text_to_cstring(PG_GETARG_TEXT_PP(0));
    if (strcmp(scenario, "pg_error") == 0) {
        // A PostgreSQL ERROR under a live C++ object: it must come back out
        // with its SQLSTATE (22012) after the probe's destructor has run.
        DestructorProbe probe;
        (void) pg_call(divide_by_zero);
    } else if (strcmp(scenario, "cpp_exception") == 0) {
        DestructorProbe probe;
        throw std::runtime_error("a C++ exception reached the boundary");
    } else if (strcmp(scenario, "bad_alloc") == 0) {
        throw std::bad_alloc();
    } else if (strcmp(scenario, "sql_error") == 0) {
        throw SqlError(ERRCODE_INVALID_PARAMETER_VALUE, "a C++ validation error",
                       "carried with its own SQLSTATE and hint");
    } else if (strcmp(scenario, "unknown_exception") == 0) {
        throw 42;  // not a std::exception
    } else if (strcmp(scenario, "destructors") == 0) {
        PG_RETURN_INT32(destructors_run);
    } else {
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("unknown scenario \"%s\"", scenario)));
    }
    PG_RETURN_INT32(-1);
}
