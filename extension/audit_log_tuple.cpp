// Forms stratum.audit_log rows from the trigger's fields (see the header).
// The two passes mirror heap_compute_data_size and heap_fill_tuple for the
// kinds of column the log has: by-value, fixed-length by-reference and
// varlena. A varlena that is a TOAST pointer or an expanded object (never
// made by the trigger) takes the generic path, which flattens it.
#include "audit_log_tuple.hpp"

#include "audit_jsonb.hpp"

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

// How pass 1 found a value to be stored, for pass 2.
enum class Storage : uint8 {
    by_value,
    by_reference,
    short_as_is,
    made_short,
    aligned_varlena,
    object_short,    // a PendingObject behind a 1-byte header
    object_aligned,  // ... behind a 4-byte one
};

inline bool is_object(uint32 objects, int field)
{
    return (objects & (uint32{1} << field)) != 0;
}

inline const PendingObject &object_of(Datum value)
{
    return *reinterpret_cast<const PendingObject *>(DatumGetPointer(value));
}

// Writes a varlena stored with a 1-byte header (short_as_is or made_short)
// at `at`; returns its size.
inline Size write_short(char *at, Storage how, Datum value)
{
    auto *varlena = reinterpret_cast<struct varlena *>(DatumGetPointer(value));
    if (how == Storage::short_as_is) {
        memcpy(at, varlena, VARSIZE_SHORT(varlena));
        return VARSIZE_SHORT(varlena);
    }
    Size size = VARATT_CONVERTED_SHORT_SIZE(varlena);
    SET_VARSIZE_SHORT(at, size);
    memcpy(at + VARHDRSZ_SHORT, VARDATA(varlena), size - VARHDRSZ_SHORT);
    return size;
}

// The plan covers logs of up to 64 columns (the present columns are a
// 64-bit mask); wider ones take the generic path.
constexpr int max_planned_columns = 64;

}  // namespace

void plan_log_tuple(LogLayout *layout, MemoryContext mcxt)
{
    layout->columns = nullptr;
    layout->run_first = 0;
    layout->run_count = 0;
    TupleDesc desc = layout->tupdesc;
    if (desc->natts > max_planned_columns)
        return;
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
    // The longest run of statement text columns that may take 1-byte
    // headers (two at least: one alone gains nothing).
    for (int i = 0; i < desc->natts;) {
        int end = i;
        while (end < desc->natts && columns[end].field >= 0 &&
               is_statement_text(columns[end].field) && columns[end].packable &&
               !TupleDescAttr(desc, end)->attisdropped)
            end++;
        if (end - i >= 2 && end - i > layout->run_count) {
            layout->run_first = i;
            layout->run_count = end - i;
        }
        i = end + 1;
    }
    layout->columns = columns;
}

namespace {

// Keeps the run's columns of a row as they were stored, if every one that
// has a value took a 1-byte header (else the run stays not valid).
void keep_run(const LogLayout &layout, const Datum *values, const bool *nulls,
              const Storage *how, LogRowRun *run)
{
    run->valid = false;
    uint64 run_present = 0;
    uint32 length = 0;
    for (int i = layout.run_first; i < layout.run_first + layout.run_count; i++) {
        if (nulls[layout.columns[i].field])
            continue;
        run_present |= uint64{1} << i;
        if (how[i] != Storage::short_as_is && how[i] != Storage::made_short)
            return;
        length += write_short(run->bytes + length, how[i], values[layout.columns[i].field]);
    }
    run->present = run_present;
    run->length = length;
    run->valid = true;
}

}  // namespace

void build_objects(Datum *values, const bool *nulls, uint32 objects)
{
    for (int field = 0; field < field_count; field++) {
        if (!nulls[field] && is_object(objects, field))
            values[field] = JsonbPGetDatum(build_object(object_of(values[field])));
    }
}

MinimalTuple form_log_tuple_generic(const LogLayout &layout, const Datum *fields,
                                    const bool *nulls, uint32 objects)
{
    Datum values[field_count];
    memcpy(values, fields, sizeof(values));
    build_objects(values, nulls, objects);
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

MinimalTuple form_log_tuple(const LogLayout &layout, const Datum *values, const bool *nulls,
                            uint32 objects, LogRowRun *run)
{
    if (layout.columns == nullptr)
        return form_log_tuple_generic(layout, values, nulls, objects);
    const int natts = layout.tupdesc->natts;  // at most max_planned_columns

    // The run of statement text columns: the previous row's bytes, if the
    // caller still holds them valid (only keep_run makes them so).
    const int run_end = layout.run_first + layout.run_count;
    const bool reuse_run = run != nullptr && run->valid;
    const uint64 run_present = reuse_run ? run->present : 0;

    // Pass 1: which columns have a value, how each is stored and the size
    // of the data (heap_compute_data_size).
    uint64 present = 0;
    Storage how[max_planned_columns];
    Size data_length = 0;
    for (int i = 0; i < natts; i++) {
        if (reuse_run && i == layout.run_first) {
            present |= run_present;
            data_length += run->length;  // no alignment: 1-byte headers
            i = run_end - 1;
            continue;
        }
        const LogColumn &column = layout.columns[i];
        if (column.field < 0 || nulls[column.field])
            continue;
        present |= uint64{1} << i;
        if (is_object(objects, column.field)) {
            // Stored as heap_form_minimal_tuple would store it built.
            if (column.attlen != -1)
                return form_log_tuple_generic(layout, values, nulls, objects);
            Size length = object_of(values[column.field]).length;
            if (column.packable && length + VARHDRSZ_SHORT <= VARATT_SHORT_MAX) {
                how[i] = Storage::object_short;
                data_length += VARHDRSZ_SHORT + length;
            } else {
                how[i] = Storage::object_aligned;
                data_length = align_to(data_length, column.align) + VARHDRSZ + length;
            }
            continue;
        }
        if (column.attlen != -1) {
            how[i] = column.byval ? Storage::by_value : Storage::by_reference;
            data_length = align_to(data_length, column.align) + column.attlen;
            continue;
        }
        auto *varlena = reinterpret_cast<struct varlena *>(DatumGetPointer(values[column.field]));
        if (VARATT_IS_EXTERNAL(varlena))
            return form_log_tuple_generic(layout, values, nulls, objects);
        if (VARATT_IS_SHORT(varlena)) {
            how[i] = Storage::short_as_is;
            data_length += VARSIZE_SHORT(varlena);
        } else if (column.packable && VARATT_CAN_MAKE_SHORT(varlena)) {
            how[i] = Storage::made_short;
            data_length += VARATT_CONVERTED_SHORT_SIZE(varlena);
        } else {
            how[i] = Storage::aligned_varlena;
            data_length = align_to(data_length, column.align) + VARSIZE(varlena);
        }
    }
    const bool has_null = present != (natts == 64 ? ~uint64{0} : (uint64{1} << natts) - 1);

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

    // Pass 2: the null bitmap (bit i of byte i / 8 set for a value) and the
    // data of the columns that have one (heap_fill_tuple).
    uint16 infomask = 0;
    if (has_null) {
        infomask |= HEAP_HASNULL;
        for (int b = 0; b < BITMAPLEN(natts); b++)
            tuple->t_bits[b] = static_cast<bits8>(present >> (8 * b));
    }
    char *start = reinterpret_cast<char *>(tuple) + header;
    Size offset = 0;
    bool run_due = reuse_run;
    auto place_run = [&] {
        memcpy(start + offset, run->bytes, run->length);
        offset += run->length;
        if (run_present != 0)
            infomask |= HEAP_HASVARWIDTH;
        run_due = false;
    };
    for (uint64 left = reuse_run ? present & ~run_present : present; left != 0;
         left &= left - 1) {
        const int i = __builtin_ctzll(left);
        if (run_due && i >= run_end)
            place_run();
        const LogColumn &column = layout.columns[i];
        const Datum value = values[column.field];
        switch (how[i]) {
        case Storage::by_value: {
            offset = align_to(offset, column.align);
            char *data = start + offset;
            switch (column.attlen) {
            case 1:
                *data = DatumGetChar(value);
                break;
            case 2:
                *reinterpret_cast<int16 *>(data) = DatumGetInt16(value);
                break;
            case 4:
                *reinterpret_cast<int32 *>(data) = DatumGetInt32(value);
                break;
            default:
                *reinterpret_cast<Datum *>(data) = value;
                break;
            }
            offset += column.attlen;
            break;
        }
        case Storage::by_reference:
            offset = align_to(offset, column.align);
            memcpy(start + offset, DatumGetPointer(value), column.attlen);
            offset += column.attlen;
            break;
        case Storage::short_as_is:
        case Storage::made_short:
            offset += write_short(start + offset, how[i], value);
            break;
        case Storage::aligned_varlena: {
            auto *varlena = reinterpret_cast<struct varlena *>(DatumGetPointer(value));
            offset = align_to(offset, column.align);
            memcpy(start + offset, varlena, VARSIZE(varlena));
            offset += VARSIZE(varlena);
            break;
        }
        case Storage::object_short: {
            const PendingObject &object = object_of(value);
            SET_VARSIZE_SHORT(start + offset, VARHDRSZ_SHORT + object.length);
            write_object(object, start + offset + VARHDRSZ_SHORT);
            offset += VARHDRSZ_SHORT + object.length;
            break;
        }
        case Storage::object_aligned: {
            const PendingObject &object = object_of(value);
            offset = align_to(offset, column.align);
            SET_VARSIZE(start + offset, VARHDRSZ + object.length);
            write_object(object, start + offset + VARHDRSZ);
            offset += VARHDRSZ + object.length;
            break;
        }
        }
        if (column.attlen == -1)
            infomask |= HEAP_HASVARWIDTH;
    }
    if (run_due)
        place_run();
    Assert(offset == data_length);
    tuple->t_infomask = infomask;
    if (run != nullptr && !reuse_run && layout.run_count > 0)
        keep_run(layout, values, nulls, how, run);
    return tuple;
}

}  // namespace stratum::audit
