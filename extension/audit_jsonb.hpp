// Writes jsonb documents in PostgreSQL's on-disk format straight from
// converted column values: each value is encoded once into a scratch buffer
// and then copied into every object that holds it (the old row, the new row,
// the row key), next to keys laid out once per query.
#pragma once

#include "pg.hpp"

namespace stratum::audit {

// One encoded value: its JEntry type bits and where its bytes are.
struct EncodedValue {
    uint32 type;    // JENTRY_IS* bits
    uint32 offset;  // in the scratch buffer; 4-byte aligned for numbers and containers
    uint32 length;
};

// The keys of an object, encoded once: the object's keys are known (a
// table's columns) and sorted the way jsonb sorts them.
struct ObjectKeys {
    int count;
    JEntry *entries;   // the keys' JEntries, as they go into every object
    char *bytes;       // the keys' text, concatenated
    uint32 bytes_length;
};

// Lays out keys (already in jsonb key order) in mcxt.
void init_object_keys(ObjectKeys *keys, const JsonbValue *const *names, int count,
                      MemoryContext mcxt);

// Encodes a scalar, jbvBinary (an existing container) or jbvArray/jbvObject
// tree into buffer.
void encode_value(StringInfo buffer, const JsonbValue *value, EncodedValue *out);

// An object of keys->count pairs whose i-th value is values[positions[i]]
// (positions may be null: the identity).
Jsonb *build_object(const ObjectKeys *keys, const EncodedValue *values, const int *positions,
                    const char *buffer);

}  // namespace stratum::audit
