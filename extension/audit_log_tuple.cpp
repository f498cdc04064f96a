// Forms stratum.audit_log rows from the trigger's fields (see the header).
// The two passes mirror heap_compute_data_size and heap_fill_tuple for the
// kinds of column the log has: by-value, fixed-length by-reference and
// varlena. A varlena that is a TOAST pointer or an expanded object (never
// made by the trigger) takes the generic path, which flattens it.
#include "audit_log_tuple.hpp"

namespace stratum::audit {
namespace {

uint8 alignment_of(char attalign)
{
    switch (attalign) {
    case TYPALIGN_DOUBLE:
        return ALIGNOF_DOUBLE;
    case TYPALIGN_INT:
        return ALIGNOF_INT;
    case TYPALIGN_SHORT:
        return ALIGNOF_SHORT;
    default:
        return 1;
    }
}

inline Size align_to(Size offset, uint8 align)
{
    return TYPEALIGN(align, offset);
}

// The column's value, or nullptr when it is NULL.
inline const Datum *value_of(const LogColumn &column, const Datum *values, const bool *nulls)
{
    if (column.field < 0 || nulls[column.field])
        return nullptr;
    return &values[column.field];
}

}  // namespace

void plan_log_tuple(LogLayout *layout, MemoryContext mcxt)
{
    layout->columns = nullptr;
    TupleDesc desc = layout->tupdesc;
    auto *columns =
        static_cast<LogColumn *>(MemoryContextAlloc(mcxt, sizeof(LogColumn) * (desc->natts + 1)));
    for (int i = 0; i < desc->natts; i++) {
        Form_pg_attribute attr = TupleDescAttr(desc, i);
        LogColumn &column = columns[i];
        column.attlen = attr->attlen;
        column.align = alignment_of(attr->attalign);
        column.byval = attr->attbyval;
        column.packable = attr->attlen == -1 && attr->attstorage != TYPSTORAGE_PLAIN;
        column.field = -1;
        for (int field = 0; field < field_count; field++) {
            if (layout->attnum[field] == attr->attnum)
                column.field = static_cast<int8>(field);
        }
        if (attr->attisdropped || column.field < 0)
            continue;
        bool covered = attr->attbyval ? (attr->attlen == 1 || attr->attlen == 2 ||
                                         attr->attlen == 4 || attr->attlen == 8)
                                      : (attr->attlen > 0 || attr->attlen == -1);
        if (!covered) {
            pfree(columns);
            return;
        }
    }
    layout->columns = columns;
}

MinimalTuple form_log_tuple_generic(const LogLayout &layout, const Datum *values,
                                    const bool *nulls)
{
    int natts = layout.tupdesc->natts;
    auto *row_values = static_cast<Datum *>(palloc(sizeof(Datum) * natts));
    auto *row_nulls = static_cast<bool *>(palloc(sizeof(bool) * natts));
    for (int i = 0; i < natts; i++)
        row_nulls[i] = true;
    for (int field = 0; field < field_count; field++) {
        AttrNumber attnum = layout.attnum[field];
        if (attnum != InvalidAttrNumber) {
            row_values[attnum - 1] = values[field];
            row_nulls[attnum - 1] = nulls[field];
        }
    }
    MinimalTuple tuple = pg::form_minimal_tuple(layout.tupdesc, row_values, row_nulls);
    pfree(row_values);
    pfree(row_nulls);
    return tuple;
}

MinimalTuple form_log_tuple(const LogLayout &layout, const Datum *values, const bool *nulls)
{
    if (layout.columns == nullptr)
        return form_log_tuple_generic(layout, values, nulls);
    const int natts = layout.tupdesc->natts;

    // Pass 1: the size of the data (heap_compute_data_size).
    bool has_null = false;
    Size data_length = 0;
    for (int i = 0; i < natts; i++) {
        const LogColumn &column = layout.columns[i];
        const Datum *value = value_of(column, values, nulls);
        if (value == nullptr) {
            has_null = true;
            continue;
        }
        if (column.attlen != -1) {
            data_length = align_to(data_length, column.align) + column.attlen;
            continue;
        }
        auto *varlena = reinterpret_cast<struct varlena *>(DatumGetPointer(*value));
        if (VARATT_IS_EXTERNAL(varlena))
            return form_log_tuple_generic(layout, values, nulls);
        if (VARATT_IS_SHORT(varlena))
            data_length += VARSIZE_SHORT(varlena);
        else if (column.packable && VARATT_CAN_MAKE_SHORT(varlena))
            data_length += VARATT_CONVERTED_SHORT_SIZE(varlena);
        else
            data_length = align_to(data_length, column.align) + VARSIZE(varlena);
    }

    // The header (heap_form_minimal_tuple).
    Size header = SizeofMinimalTupleHeader;
    if (has_null)
        header += BITMAPLEN(natts);
    header = MAXALIGN(header);
    Size length = header + data_length;
    auto tuple = static_cast<MinimalTuple>(palloc0(length));
    tuple->t_len = length;
    HeapTupleHeaderSetNatts(tuple, natts);
    tuple->t_hoff = header + MINIMAL_TUPLE_OFFSET;

    // Pass 2: the null bitmap and the data (heap_fill_tuple).
    char *start = reinterpret_cast<char *>(tuple) + header;
    Size offset = 0;
    uint16 infomask = has_null ? HEAP_HASNULL : 0;
    bits8 *bits = has_null ? tuple->t_bits : nullptr;
    for (int i = 0; i < natts; i++) {
        const LogColumn &column = layout.columns[i];
        const Datum *value = value_of(column, values, nulls);
        if (value == nullptr)
            continue;  // its bit stays 0
        if (bits != nullptr)
            bits[i >> 3] |= static_cast<bits8>(1 << (i & 7));
        if (column.byval) {
            offset = align_to(offset, column.align);
            char *data = start + offset;
            switch (column.attlen) {
            case 1:
                *data = DatumGetChar(*value);
                break;
            case 2:
                *reinterpret_cast<int16 *>(data) = DatumGetInt16(*value);
                break;
            case 4:
                *reinterpret_cast<int32 *>(data) = DatumGetInt32(*value);
                break;
            default:
                *reinterpret_cast<Datum *>(data) = *value;
                break;
            }
            offset += column.attlen;
        } else if (column.attlen > 0) {
            offset = align_to(offset, column.align);
            memcpy(start + offset, DatumGetPointer(*value), column.attlen);
            offset += column.attlen;
        } else {
            infomask |= HEAP_HASVARWIDTH;
            auto *varlena = reinterpret_cast<struct varlena *>(DatumGetPointer(*value));
            if (VARATT_IS_SHORT(varlena)) {
                memcpy(start + offset, varlena, VARSIZE_SHORT(varlena));
                offset += VARSIZE_SHORT(varlena);
            } else if (column.packable && VARATT_CAN_MAKE_SHORT(varlena)) {
                Size size = VARATT_CONVERTED_SHORT_SIZE(varlena);
                SET_VARSIZE_SHORT(start + offset, size);
                memcpy(start + offset + 1, VARDATA(varlena), size - 1);
                offset += size;
            } else {
                offset = align_to(offset, column.align);
                memcpy(start + offset, varlena, VARSIZE(varlena));
                offset += VARSIZE(varlena);
            }
        }
    }
    Assert(offset == data_length);
    tuple->t_infomask = infomask;
    return tuple;
}

}  // namespace stratum::audit
