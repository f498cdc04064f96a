// Column values straight to jsonb bytes: the types most rows are made of
// (integers, numeric, text, booleans and one-dimensional arrays of them)
// are written without building a JsonbValue first; every other type goes
// through value_to_jsonb and encode_value. The bytes are what to_jsonb()
// would store.
#pragma once

#include "audit_jsonb.hpp"
#include "audit_row_json.hpp"

namespace stratum::audit {

// Appends one non-null value of converter's column to buffer. Scratch memory
// comes from CurrentMemoryContext; memoized strings live in memo_context.
void encode_column(ColumnConverter *converter, Datum value, StringInfo buffer, EncodedValue *out,
                   MemoryContext memo_context);

}  // namespace stratum::audit
