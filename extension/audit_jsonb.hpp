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

// The JEntry of a container's index-th child, given its length (with the
// padding before it) and the end offset of its data in the container.
inline JEntry child_entry(uint32 type, int index, uint32 length, uint32 end_offset)
{
    if (index % JB_OFFSET_STRIDE == 0)
        return type | end_offset | JENTRY_HAS_OFF;
    return type | length;
}

// Raises the error of a container that jsonb's offsets cannot address.
void check_length(uint64 length);

// Pads buffer with zero bytes to a multiple of 4 (numbers and containers
// start 4-byte aligned): one 4-byte store of zeros, of which the value
// that follows overwrites what is not padding.
inline void pad_to_int(StringInfo buffer)
{
    if (unlikely(buffer->len + static_cast<int>(sizeof(uint32)) + 1 > buffer->maxlen))
        enlargeStringInfo(buffer, sizeof(uint32));
    const uint32 zeros = 0;
    memcpy(buffer->data + buffer->len, &zeros, sizeof(zeros));
    buffer->len += -buffer->len & (sizeof(uint32) - 1);
}

// Lays out keys (already in jsonb key order) in mcxt.
void init_object_keys(ObjectKeys *keys, const JsonbValue *const *names, int count,
                      MemoryContext mcxt);

// Encodes a scalar, jbvBinary (an existing container) or jbvArray/jbvObject
// tree into buffer.
void encode_value(StringInfo buffer, const JsonbValue *value, EncodedValue *out);

// An object of keys->count pairs whose i-th value is values[positions[i]]
// (positions may be null: the identity), its values' bytes in buffer. It is
// written where it is stored (a log row is formed around it), not built
// first and copied there.
struct PendingObject {
    const ObjectKeys *keys;
    const EncodedValue *values;
    const int *positions;
    const char *buffer;
    uint32 length;  // of the container, without a varlena header
};

// The length of an object's container, counted value by value in key
// order (numbers and containers start 4-byte aligned in it).
struct ObjectLength {
    uint64 bytes;
    explicit ObjectLength(const ObjectKeys *keys)
        : bytes(sizeof(uint32) + sizeof(JEntry) * 2 * keys->count + keys->bytes_length)
    {
    }
    void add(const EncodedValue &value)
    {
        if (value.type == JENTRY_ISNUMERIC || value.type == JENTRY_ISCONTAINER)
            bytes = TYPEALIGN(sizeof(uint32), bytes);
        bytes += value.length;
    }
};

// The object over these values, its length counted here or, when the
// caller has counted it already, given (too long an object is an ERROR).
PendingObject pending_object(const ObjectKeys *keys, const EncodedValue *values,
                             const int *positions, const char *buffer);
PendingObject pending_object(const ObjectKeys *keys, const EncodedValue *values,
                             const int *positions, const char *buffer, const ObjectLength &length);

// Writes the object's container (header, entries, keys, values) at `at`,
// object.length bytes. Alignment inside it is relative to `at`, so it may
// follow a 1-byte or a 4-byte varlena header.
void write_object(const PendingObject &object, char *at);

// The object as a jsonb datum of its own, in the current memory context.
Jsonb *build_object(const PendingObject &object);

}  // namespace stratum::audit
