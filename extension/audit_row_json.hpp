// Turns column values into jsonb values the way to_jsonb(row) does, but
// straight from the tuple's datums: the type of each column is examined once
// per query, and no value goes through text unless to_jsonb's would.
#pragma once

#include "pg.hpp"

namespace stratum::audit {

// How one column's value becomes a JsonbValue (to_jsonb's type categories).
enum class ValueKind : uint8_t {
    boolean,       // true / false
    integer,       // int2, int4, int8: a number, converted without text
    numeric,       // numeric: the datum itself (NaN and infinities as strings)
    float_number,  // float4, float8: through text, as to_jsonb does
    text,          // text, varchar, bpchar: the bytes, no copy
    datetime,      // date, timestamp, timestamptz: ISO 8601 strings
    uuid,          // uuid: formatted here
    jsonb,         // jsonb: embedded
    array,         // arrays of any of these: nested JSON arrays per dimension
    output,        // other built-in scalars: the type's output function
    to_jsonb,      // composites, json and user-defined types
};

// One audited column: its jsonb key and how to convert its values.
struct ColumnConverter {
    AttrNumber attnum;      // in the audited relation (or partition)
    JsonbValue key;         // the column name as a jsonb string
    Datum name;             // the column name as text (for changed_columns)
    ValueKind kind;
    Oid base_type;          // after looking through domains
    int16 typlen;
    bool typbyval;
    bool memoize;           // repeated values reuse the previous conversion
    bool memo_valid;
    uint32 memo_hits;       // a column whose values never repeat stops memoizing
    uint32 memo_misses;
    Datum memo_datum;       // the previous value (a copy for by-reference types)
    JsonbValue memo_value;  // ... and its conversion, in the query's memory
    char *retired;          // the conversion before that: the current row may still use it
    FmgrInfo function;      // output function or to_jsonb, when needed
    ColumnConverter *element;  // arrays: how to convert an element
    char element_align;
};

// Prepares the converter for column attnum of tupdesc; memory lives in mcxt.
void init_column_converter(ColumnConverter *converter, TupleDesc tupdesc, AttrNumber attnum,
                           MemoryContext mcxt);

// Converts one non-null value. Scratch memory comes from CurrentMemoryContext
// (the caller resets it per row); memoized strings live in memo_context.
void value_to_jsonb(ColumnConverter *converter, Datum value, JsonbValue *out,
                    MemoryContext memo_context);

// Sorts converters into jsonb key order (length, then bytes), so objects can
// be built without sorting per row.
void sort_in_key_order(ColumnConverter *converters, int count);

}  // namespace stratum::audit
