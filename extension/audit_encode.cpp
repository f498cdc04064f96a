// See audit_encode.hpp. Numbers are stored in jsonb as numeric datums with
// a 4-byte length word, 4-byte aligned (the padding is not part of the
// value here; build_object and containers account for it).
#include "audit_encode.hpp"

namespace stratum::audit {
namespace {

// numeric's on-disk "short" header (utils/adt/numeric.c): the form every
// integer takes.
constexpr uint16 numeric_short = 0x8000;
constexpr uint16 numeric_short_negative = 0x2000;
constexpr uint16 numeric_short_weight_mask = 0x003F;
constexpr uint16 numeric_special_mask = 0xC000;
constexpr int numeric_base = 10000;

char *claim(StringInfo buffer, int length)
{
    // enlargeStringInfo's own test, without the call: a row's values
    // nearly always fit in the buffer it starts with.
    if (unlikely(buffer->len + length + 1 > buffer->maxlen))
        enlargeStringInfo(buffer, length);
    char *at = buffer->data + buffer->len;
    buffer->len += length;
    return at;
}

// The bytes int64_to_numeric() makes of value: base-10000 digits, most
// significant first, trailing zero digits dropped (the weight keeps the
// magnitude), zero as no digits at all.
void encode_integer(StringInfo buffer, int64 value, EncodedValue *out)
{
    uint64 magnitude = value < 0 ? -static_cast<uint64>(value) : static_cast<uint64>(value);
    int16 digits[5];  // least significant first; 2^63 has five
    int count = 0;
    while (magnitude != 0) {
        digits[count++] = static_cast<int16>(magnitude % numeric_base);
        magnitude /= numeric_base;
    }
    int lowest = 0;
    while (lowest < count && digits[lowest] == 0)
        lowest++;
    uint16 header = numeric_short;
    if (count > 0) {
        header |= static_cast<uint16>((count - 1) & numeric_short_weight_mask);
        if (value < 0)
            header |= numeric_short_negative;
    }
    int size = VARHDRSZ + static_cast<int>(sizeof(header)) +
               (count - lowest) * static_cast<int>(sizeof(int16));

    pad_to_int(buffer);
    out->type = JENTRY_ISNUMERIC;
    out->offset = static_cast<uint32>(buffer->len);
    out->length = static_cast<uint32>(size);
    char *at = claim(buffer, size);
    SET_VARSIZE(at, size);
    memcpy(at + VARHDRSZ, &header, sizeof(header));
    at += VARHDRSZ + sizeof(header);
    for (int i = count - 1; i >= lowest; i--, at += sizeof(int16))
        memcpy(at, &digits[i], sizeof(int16));
}

// A finite numeric as stored, re-headed with a 4-byte length word (as
// DatumGetNumeric would have it). False for NaN and the infinities, which
// to_jsonb writes as strings.
bool encode_numeric(StringInfo buffer, Datum value, EncodedValue *out)
{
    auto *raw = reinterpret_cast<struct varlena *>(DatumGetPointer(value));
    raw = pg_detoast_datum_packed(raw);
    const char *data = VARDATA_ANY(raw);
    uint16 header;
    memcpy(&header, data, sizeof(header));
    if ((header & numeric_special_mask) == numeric_special_mask)
        return false;
    int data_length = static_cast<int>(VARSIZE_ANY_EXHDR(raw));
    int size = VARHDRSZ + data_length;
    pad_to_int(buffer);
    out->type = JENTRY_ISNUMERIC;
    out->offset = static_cast<uint32>(buffer->len);
    out->length = static_cast<uint32>(size);
    char *at = claim(buffer, size);
    SET_VARSIZE(at, size);
    memcpy(at + VARHDRSZ, data, data_length);
    return true;
}

void encode_text(StringInfo buffer, Datum value, EncodedValue *out)
{
    auto *text = pg_detoast_datum_packed(reinterpret_cast<struct varlena *>(DatumGetPointer(value)));
    int length = static_cast<int>(VARSIZE_ANY_EXHDR(text));
    out->type = JENTRY_ISSTRING;
    out->offset = static_cast<uint32>(buffer->len);
    out->length = static_cast<uint32>(length);
    memcpy(claim(buffer, length), VARDATA_ANY(text), length);
}

bool directly_encoded(ValueKind kind)
{
    return kind == ValueKind::integer || kind == ValueKind::numeric || kind == ValueKind::text ||
           kind == ValueKind::boolean;
}

// A one-dimensional array whose elements are encoded directly: the JSON
// array container, its JEntries filled in as the elements are appended.
// False for other arrays (more dimensions, other element types).
bool encode_flat_array(ColumnConverter *c, Datum value, StringInfo buffer, EncodedValue *out,
                       MemoryContext memo_context)
{
    ColumnConverter *element = c->element;
    if (!directly_encoded(element->kind))
        return false;
    // A small array is stored with a 1-byte header, unaligned, and
    // DatumGetArrayTypeP would palloc an aligned copy of it for every row:
    // it is copied to the stack instead (its elements are encoded, so
    // copied, before this returns).
    alignas(MAXIMUM_ALIGNOF) char aligned[VARHDRSZ + VARATT_SHORT_MAX];
    auto *raw = reinterpret_cast<struct varlena *>(DatumGetPointer(value));
    ArrayType *array;
    if (VARATT_IS_SHORT(raw)) {
        Size data_length = VARSIZE_SHORT(raw) - VARHDRSZ_SHORT;
        SET_VARSIZE(aligned, VARHDRSZ + data_length);
        memcpy(aligned + VARHDRSZ, VARDATA_SHORT(raw), data_length);
        array = reinterpret_cast<ArrayType *>(aligned);
    } else {
        array = DatumGetArrayTypeP(value);
    }
    int dimensions = ARR_NDIM(array);
    if (dimensions > 1)
        return false;
    int count = dimensions == 0 ? 0 : ArrayGetNItems(dimensions, ARR_DIMS(array));

    pad_to_int(buffer);
    int start = buffer->len;
    uint32 header = static_cast<uint32>(count) | JB_FARRAY;
    memcpy(claim(buffer, sizeof(header)), &header, sizeof(header));
    int entries_at = buffer->len;
    claim(buffer, static_cast<int>(sizeof(JEntry)) * count);
    int data_at = buffer->len;

    array_iter iter;
    array_iter_setup(&iter, reinterpret_cast<AnyArrayType *>(array));
    for (int i = 0; i < count; i++) {
        bool isnull;
        Datum item = array_iter_next(&iter, &isnull, i, element->typlen, element->typbyval,
                                     c->element_align);
        int child_start = buffer->len;
        EncodedValue encoded;
        if (isnull)
            encoded = {JENTRY_ISNULL, static_cast<uint32>(buffer->len), 0};
        else
            encode_column(element, item, buffer, &encoded, memo_context);
        uint32 end_offset = static_cast<uint32>(buffer->len - data_at);
        check_length(end_offset);
        JEntry entry = child_entry(encoded.type, i, static_cast<uint32>(buffer->len - child_start),
                                   end_offset);
        memcpy(buffer->data + entries_at + i * sizeof(JEntry), &entry, sizeof(JEntry));
    }
    out->type = JENTRY_ISCONTAINER;
    out->offset = static_cast<uint32>(start);
    out->length = static_cast<uint32>(buffer->len - start);
    return true;
}

}  // namespace

void encode_column(ColumnConverter *c, Datum value, StringInfo buffer, EncodedValue *out,
                   MemoryContext memo_context)
{
    switch (c->kind) {
    case ValueKind::boolean:
        *out = {static_cast<uint32>(DatumGetBool(value) ? JENTRY_ISBOOL_TRUE : JENTRY_ISBOOL_FALSE),
                static_cast<uint32>(buffer->len), 0};
        return;
    case ValueKind::integer:
        encode_integer(buffer,
                       c->base_type == INT2OID   ? DatumGetInt16(value)
                       : c->base_type == INT4OID ? DatumGetInt32(value)
                                                 : DatumGetInt64(value),
                       out);
        return;
    case ValueKind::numeric:
        if (encode_numeric(buffer, value, out))
            return;
        break;
    case ValueKind::text:
        encode_text(buffer, value, out);
        return;
    case ValueKind::array:
        if (encode_flat_array(c, value, buffer, out, memo_context))
            return;
        break;
    default:
        break;
    }
    JsonbValue converted;
    value_to_jsonb(c, value, &converted, memo_context);
    encode_value(buffer, &converted, out);
}

}  // namespace stratum::audit
