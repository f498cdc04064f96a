// Small helpers shared by stratum's C++ triggers.
#pragma once

#include "pg.hpp"

namespace stratum {

// The TriggerData of a call, after checking the function is called as a
// trigger of the expected kind (raises otherwise).
TriggerData *trigger_data(FunctionCallInfo fcinfo, const char *function_name);

// Attribute number of a column of the trigger's relation, looked up once per
// query and cached in the trigger's FmgrInfo (a table cannot change shape in
// the middle of a statement). Raises when the column is missing or not of
// `type` (the datums are read as that type).
AttrNumber cached_attnum(FunctionCallInfo fcinfo, Relation rel, Oid type, const char *column);

// Like cached_attnum, for two columns of the same type at once.
void cached_attnums(FunctionCallInfo fcinfo, Relation rel, Oid type, const char *first,
                    const char *second, AttrNumber *first_attnum, AttrNumber *second_attnum);

}  // namespace stratum
