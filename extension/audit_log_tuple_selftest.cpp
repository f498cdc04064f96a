// stratum._audit_log_tuple_selftest(log): forms rows for the layout of log
// (stratum.audit_log, or a table with its column names laid out otherwise)
// both with form_log_tuple and with heap_form_minimal_tuple, and compares
// their bytes: NULLs in every field alone and at random, varlenas that take
// a 1-byte header, that are too long for one and that already have one,
// and jsonb objects written straight into the row (audit_jsonb.hpp), of
// lengths on both sides of the 1-byte header's limit; each row also formed
// keeping the run of statement text and from the kept run.
// Returns the number of rows compared; a difference is an ERROR.
#include "audit_jsonb.hpp"
#include "audit_log_tuple.hpp"
#include "boundary.hpp"

using namespace stratum;
using namespace stratum::audit;

namespace {

enum class Width { convertible, long_4b, short_1b };

// A value for a column stored as column is: its bytes vary with seed.
Datum make_value(const LogColumn &column, Width width, uint32 seed)
{
    if (column.byval)
        return Int64GetDatum(static_cast<int64>(seed) * 0x9E3779B97F4A7C15LL);
    if (column.attlen > 0) {
        auto *bytes = static_cast<char *>(palloc(column.attlen));
        for (int i = 0; i < column.attlen; i++)
            bytes[i] = static_cast<char>(seed + i);
        return PointerGetDatum(bytes);
    }
    Size payload = width == Width::long_4b ? 200 + seed % 7 : 3 + seed % 5;
    if (width == Width::short_1b) {
        auto *bytes = static_cast<char *>(palloc(payload + 1));
        SET_VARSIZE_SHORT(bytes, payload + 1);
        memset(bytes + 1, 'a' + seed % 26, payload);
        return PointerGetDatum(bytes);
    }
    auto *text = static_cast<struct varlena *>(palloc(payload + VARHDRSZ));
    SET_VARSIZE(text, payload + VARHDRSZ);
    memset(VARDATA(text), 'A' + seed % 26, payload);
    return PointerGetDatum(text);
}

// An object of 1 to 12 keys (k0, k1, ...: already in jsonb's key order)
// whose values are numbers, strings of a length that varies with seed and
// arrays of two strings; wide ones are rarely under 127 bytes, others
// often.
PendingObject *make_object(bool wide, uint32 seed)
{
    int count = 1 + static_cast<int>(seed % (wide ? 12 : 4));
    auto *names = static_cast<JsonbValue *>(palloc0(sizeof(JsonbValue) * count));
    auto *name_pointers = static_cast<const JsonbValue **>(palloc(sizeof(JsonbValue *) * count));
    auto *keys = static_cast<ObjectKeys *>(palloc(sizeof(ObjectKeys)));
    auto *values = static_cast<EncodedValue *>(palloc(sizeof(EncodedValue) * count));
    StringInfoData buffer;
    initStringInfo(&buffer);
    for (int i = 0; i < count; i++) {
        names[i].type = jbvString;
        names[i].val.string.val = psprintf("k%d", i);
        names[i].val.string.len = static_cast<int>(strlen(names[i].val.string.val));
        name_pointers[i] = &names[i];

        JsonbValue value;
        JsonbValue elements[2];
        int text_length = static_cast<int>((seed * 7 + i * 13) % (wide ? 60 : 30));
        char *text = static_cast<char *>(palloc(text_length + 1));
        memset(text, 'a' + i % 26, text_length);
        switch ((seed + i) % 3) {
        case 0:
            value.type = jbvNumeric;
            value.val.numeric = int64_to_numeric(static_cast<int64>(seed) * 1000003 + i);
            break;
        case 1:
            value.type = jbvString;
            value.val.string = {text_length, text};
            break;
        default:
            for (JsonbValue &element : elements) {
                element.type = jbvString;
                element.val.string = {text_length, text};
            }
            value.type = jbvArray;
            value.val.array = {2, elements, false};
            break;
        }
        encode_value(&buffer, &value, &values[i]);
    }
    init_object_keys(keys, name_pointers, count, CurrentMemoryContext);
    auto *object = static_cast<PendingObject *>(palloc(sizeof(PendingObject)));
    *object = pending_object(keys, values, nullptr, buffer.data);
    return object;
}

void expect_same(MinimalTuple planned, MinimalTuple reference, int case_number, const char *how)
{
    if (planned->t_len != reference->t_len)
        ereport(ERROR,
                (errcode(ERRCODE_INTERNAL_ERROR),
                 errmsg("case %d (%s): a log row of %u bytes, heap_form_minimal_tuple makes %u",
                        case_number, how, planned->t_len, reference->t_len)));
    const auto *a = reinterpret_cast<const unsigned char *>(planned);
    const auto *b = reinterpret_cast<const unsigned char *>(reference);
    for (uint32 i = 0; i < planned->t_len; i++) {
        if (a[i] != b[i])
            ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                            errmsg("case %d (%s): the log row differs from "
                                   "heap_form_minimal_tuple's at byte %u of %u (%02x, "
                                   "heap_form_minimal_tuple %02x)",
                                   case_number, how, i, planned->t_len, a[i], b[i])));
    }
    pfree(planned);
}

// Each row formed three ways: alone, keeping the run of statement text,
// and from the run kept (when it could be: all its values short). True
// when it was formed from the run.
bool compare(const LogLayout &layout, const Datum *values, const bool *nulls, int case_number,
             uint32 objects = 0)
{
    MinimalTuple reference = form_log_tuple_generic(layout, values, nulls, objects);
    expect_same(form_log_tuple(layout, values, nulls, objects), reference, case_number, "alone");
    LogRowRun run;
    run.valid = false;
    expect_same(form_log_tuple(layout, values, nulls, objects, &run), reference, case_number,
                "keeping the run");
    bool reused = run.valid;
    if (reused)
        expect_same(form_log_tuple(layout, values, nulls, objects, &run), reference, case_number,
                    "from the run");
    pfree(reference);
    return reused;
}

}  // namespace

STRATUM_FUNCTION(stratum_audit_log_tuple_selftest)
{
    LogLayout layout;
    load_log_layout(&layout, CurrentMemoryContext, PG_GETARG_OID(0), false);
    int runs_reused = 0;
    if (layout.columns == nullptr)
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("the log's layout is formed by the generic path only")));

    // The column kind each field is stored as (a field without a column
    // gets a by-value datum it never uses).
    LogColumn kind[field_count];
    for (int field = 0; field < field_count; field++)
        kind[field] = {8, 8, true, false, static_cast<int8>(field)};
    for (int i = 0; i < layout.tupdesc->natts; i++) {
        if (layout.columns[i].field >= 0)
            kind[layout.columns[i].field] = layout.columns[i];
    }

    Datum values[field_count];
    bool nulls[field_count];
    int cases = 0;
    auto fill = [&](Width width, uint32 seed, auto is_null) {
        for (int field = 0; field < field_count; field++) {
            nulls[field] = is_null(field);
            values[field] = make_value(kind[field], width, seed + field);
        }
        runs_reused += compare(layout, values, nulls, ++cases);
    };
    for (Width width : {Width::convertible, Width::long_4b, Width::short_1b}) {
        fill(width, 1, [](int) { return false; });
        fill(width, 2, [](int) { return true; });
        for (int alone = 0; alone < field_count; alone++)
            fill(width, 3 + alone, [alone](int field) { return field == alone; });
    }
    // Mixed widths and NULLs, from a fixed pseudo-random sequence.
    uint32 state = 12345;
    auto next = [&state] {
        state = state * 1103515245u + 12345u;
        return state >> 16;
    };
    for (int round = 0; round < 500; round++) {
        for (int field = 0; field < field_count; field++) {
            nulls[field] = next() % 3 == 0;
            values[field] = make_value(kind[field], static_cast<Width>(next() % 3), next());
        }
        runs_reused += compare(layout, values, nulls, ++cases);
    }
    // The jsonb fields as objects written into the row, the others as above.
    for (int round = 0; round < 300; round++) {
        uint32 objects = 0;
        for (int field = 0; field < field_count; field++) {
            nulls[field] = next() % 4 == 0;
            bool jsonb = field == field_row_key || field == field_old_row || field == field_new_row;
            if (jsonb && kind[field].attlen == -1 && next() % 4 != 0) {
                values[field] = PointerGetDatum(make_object(next() % 2 == 0, next()));
                objects |= uint32{1} << field;
            } else {
                values[field] = make_value(kind[field], static_cast<Width>(next() % 3), next());
            }
        }
        runs_reused += compare(layout, values, nulls, ++cases, objects);
    }
    if (layout.run_count > 0 && runs_reused == 0)
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                        errmsg("no row was formed from a kept run of statement text")));
    PG_RETURN_INT32(cases);
}
