// jsonb's container format, written directly (see utils/jsonb.h): a header
// word (count and kind), one JEntry per child (type bits, and the child's
// length, or every JB_OFFSET_STRIDE-th child the end offset of its data),
// then the children's data; numbers and nested containers start 4-byte
// aligned, and the padding before them counts as part of their length. An
// object stores its keys first, then its values, keys sorted by length and
// then bytes. This is what convertToJsonb produces from a JsonbValue tree.
#include "audit_jsonb.hpp"

namespace stratum::audit {

void check_length(uint64 length)
{
    if (length > JENTRY_OFFLENMASK)
        ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                        errmsg("audit entry too large: a jsonb container cannot exceed %u bytes",
                               JENTRY_OFFLENMASK)));
}

namespace {


// Appends a container to buffer, which must be 4-byte aligned where the
// container starts (alignment inside it is relative to that start).
void encode_container(StringInfo buffer, const JsonbValue *value)
{
    if (value->type == jbvBinary) {
        appendBinaryStringInfo(buffer, reinterpret_cast<const char *>(value->val.binary.data),
                               value->val.binary.len);
        return;
    }
    bool is_array = value->type == jbvArray;
    int count = is_array ? value->val.array.nElems : value->val.object.nPairs;
    int children = is_array ? count : count * 2;
    uint32 header = static_cast<uint32>(count) | (is_array ? JB_FARRAY : JB_FOBJECT);
    appendBinaryStringInfo(buffer, reinterpret_cast<const char *>(&header), sizeof(header));
    int entries_at = buffer->len;
    enlargeStringInfo(buffer, static_cast<int>(sizeof(JEntry)) * children);
    buffer->len += static_cast<int>(sizeof(JEntry)) * children;
    int data_at = buffer->len;

    for (int i = 0; i < children; i++) {
        const JsonbValue *child = is_array   ? &value->val.array.elems[i]
                                  : i < count ? &value->val.object.pairs[i].key
                                              : &value->val.object.pairs[i - count].value;
        int start = buffer->len;
        EncodedValue encoded;
        encode_value(buffer, child, &encoded);
        uint32 length = static_cast<uint32>(buffer->len - start);
        uint32 end_offset = static_cast<uint32>(buffer->len - data_at);
        check_length(end_offset);
        JEntry entry = child_entry(encoded.type, i, length, end_offset);
        memcpy(buffer->data + entries_at + i * sizeof(JEntry), &entry, sizeof(JEntry));
    }
}

}  // namespace

void init_object_keys(ObjectKeys *keys, const JsonbValue *const *names, int count,
                      MemoryContext mcxt)
{
    MemoryContext old = MemoryContextSwitchTo(mcxt);
    keys->count = count;
    keys->entries = static_cast<JEntry *>(palloc(sizeof(JEntry) * (count + 1)));
    uint32 total = 0;
    for (int i = 0; i < count; i++)
        total += names[i]->val.string.len;
    keys->bytes = static_cast<char *>(palloc(total + 1));
    keys->bytes_length = total;
    uint32 at = 0;
    for (int i = 0; i < count; i++) {
        uint32 length = names[i]->val.string.len;
        memcpy(keys->bytes + at, names[i]->val.string.val, length);
        at += length;
        keys->entries[i] = child_entry(JENTRY_ISSTRING, i, length, at);
    }
    MemoryContextSwitchTo(old);
}

void encode_value(StringInfo buffer, const JsonbValue *value, EncodedValue *out)
{
    switch (value->type) {
    case jbvNull:
        *out = {JENTRY_ISNULL, static_cast<uint32>(buffer->len), 0};
        return;
    case jbvBool:
        *out = {static_cast<uint32>(value->val.boolean ? JENTRY_ISBOOL_TRUE : JENTRY_ISBOOL_FALSE),
                static_cast<uint32>(buffer->len), 0};
        return;
    case jbvString:
        out->type = JENTRY_ISSTRING;
        out->offset = static_cast<uint32>(buffer->len);
        appendBinaryStringInfo(buffer, value->val.string.val, value->val.string.len);
        break;
    case jbvNumeric:
        pad_to_int(buffer);
        out->type = JENTRY_ISNUMERIC;
        out->offset = static_cast<uint32>(buffer->len);
        appendBinaryStringInfo(buffer, reinterpret_cast<const char *>(value->val.numeric),
                               static_cast<int>(VARSIZE_ANY(value->val.numeric)));
        break;
    case jbvArray:
    case jbvObject:
    case jbvBinary:
        pad_to_int(buffer);
        out->type = JENTRY_ISCONTAINER;
        out->offset = static_cast<uint32>(buffer->len);
        encode_container(buffer, value);
        break;
    default:
        elog(ERROR, "stratum audit: unexpected jsonb value type %d", static_cast<int>(value->type));
    }
    out->length = static_cast<uint32>(buffer->len) - out->offset;
}

PendingObject pending_object(const ObjectKeys *keys, const EncodedValue *values,
                             const int *positions, const char *buffer)
{
    ObjectLength length(keys);
    for (int i = 0; i < keys->count; i++)
        length.add(values[positions != nullptr ? positions[i] : i]);
    return pending_object(keys, values, positions, buffer, length);
}

PendingObject pending_object(const ObjectKeys *keys, const EncodedValue *values,
                             const int *positions, const char *buffer, const ObjectLength &length)
{
    check_length(length.bytes + VARHDRSZ);
    return {keys, values, positions, buffer, static_cast<uint32>(length.bytes)};
}

void write_object(const PendingObject &object, char *out)
{
    const int count = object.keys->count;
    uint32 header = static_cast<uint32>(count) | JB_FOBJECT;
    char *at = out;
    memcpy(at, &header, sizeof(header));
    at += sizeof(header);
    auto *entries = reinterpret_cast<JEntry *>(at);
    memcpy(entries, object.keys->entries, sizeof(JEntry) * count);
    at += sizeof(JEntry) * 2 * count;
    char *data = at;
    memcpy(at, object.keys->bytes, object.keys->bytes_length);
    at += object.keys->bytes_length;

    for (int i = 0; i < count; i++) {
        const EncodedValue &value =
            object.values[object.positions != nullptr ? object.positions[i] : i];
        char *start = at;
        if (value.type == JENTRY_ISNUMERIC || value.type == JENTRY_ISCONTAINER) {
            // Up to 3 bytes of padding: one 4-byte store of zeros, the rest
            // overwritten by the value (at least 4 bytes: a length word or
            // a container header).
            const uint32 zeros = 0;
            memcpy(at, &zeros, sizeof(zeros));
            at += static_cast<std::size_t>(-(at - out)) & (sizeof(uint32) - 1);
        }
        memcpy(at, object.buffer + value.offset, value.length);
        at += value.length;
        entries[count + i] = child_entry(value.type, count + i, static_cast<uint32>(at - start),
                                         static_cast<uint32>(at - data));
    }
    Assert(static_cast<uint32>(at - out) == object.length);
}

Jsonb *build_object(const PendingObject &object)
{
    char *out = static_cast<char *>(palloc(VARHDRSZ + object.length));
    SET_VARSIZE(out, VARHDRSZ + object.length);
    write_object(object, out + VARHDRSZ);
    return reinterpret_cast<Jsonb *>(out);
}

}  // namespace stratum::audit
