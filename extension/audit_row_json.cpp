// Column values to JsonbValues, equal to what to_jsonb() makes of them: a
// scalar, an existing container (jbvBinary) or, for arrays, a tree.
#include "audit_row_json.hpp"

#include <algorithm>

namespace stratum::audit {
namespace {

JsonbValue string_value(char *text, int length)
{
    JsonbValue v;
    v.type = jbvString;
    v.val.string.val = text;
    v.val.string.len = length;
    return v;
}

// A jsonb document as a value to nest: its root container as is, or the
// scalar a scalar document holds.
void jsonb_value(Jsonb *document, JsonbValue *out)
{
    if (JB_ROOT_IS_SCALAR(document)) {
        JsonbExtractScalar(&document->root, out);
        return;
    }
    out->type = jbvBinary;
    out->val.binary.data = &document->root;
    out->val.binary.len = static_cast<int>(VARSIZE(document) - VARHDRSZ);
}

// A number printed by its type's output function: a JSON number when it is
// one, a string otherwise (NaN, Infinity), as to_jsonb decides.
void number_text_to_jsonb(char *text, JsonbValue *out)
{
    int length = static_cast<int>(strlen(text));
    if (IsValidJsonNumber(text, length)) {
        out->type = jbvNumeric;
        out->val.numeric = DatumGetNumeric(DirectFunctionCall3(
            numeric_in, CStringGetDatum(text), ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
    } else {
        *out = string_value(text, length);
    }
}

ValueKind kind_of(Oid base_type)
{
    switch (base_type) {
    case BOOLOID:
        return ValueKind::boolean;
    case INT2OID:
    case INT4OID:
    case INT8OID:
        return ValueKind::integer;
    case NUMERICOID:
        return ValueKind::numeric;
    case FLOAT4OID:
    case FLOAT8OID:
        return ValueKind::float_number;
    case TEXTOID:
    case VARCHAROID:
    case BPCHAROID:
        return ValueKind::text;
    case DATEOID:
    case TIMESTAMPOID:
    case TIMESTAMPTZOID:
        return ValueKind::datetime;
    case UUIDOID:
        return ValueKind::uuid;
    case JSONBOID:
        return ValueKind::jsonb;
    case JSONOID:
        return ValueKind::to_jsonb;
    default:
        break;
    }
    if (OidIsValid(get_element_type(base_type)))
        return ValueKind::array;
    // Composites nest, and a user-defined type may have a cast to json that
    // to_jsonb honours: to_jsonb itself handles those.
    if (type_is_rowtype(base_type) || base_type >= FirstNormalObjectId)
        return ValueKind::to_jsonb;
    return ValueKind::output;
}

bool same_datum(const ColumnConverter *c, Datum a, Datum b)
{
    if (c->typbyval)
        return a == b;
    return memcmp(DatumGetPointer(a), DatumGetPointer(b), c->typlen) == 0;
}

// Copies a converted string into memo memory, dropping the previous one.
void remember(ColumnConverter *c, Datum value, const JsonbValue *converted,
              MemoryContext memo_context)
{
    MemoryContext old = MemoryContextSwitchTo(memo_context);
    if (c->memo_valid) {
        if (!c->typbyval)
            pfree(DatumGetPointer(c->memo_datum));
        // The row being converted may hold the string it replaces (an UPDATE
        // whose old value was the memo): free it one replacement later.
        if (c->retired != nullptr)
            pfree(c->retired);
        c->retired = c->memo_value.val.string.val;
    }
    c->memo_datum = datumCopy(value, c->typbyval, c->typlen);
    c->memo_value = string_value(pnstrdup(converted->val.string.val, converted->val.string.len),
                                 converted->val.string.len);
    c->memo_valid = true;
    MemoryContextSwitchTo(old);
}

// uuid_out's format, without the function call and the string buffer.
JsonbValue uuid_value(Datum value)
{
    static constexpr char hex[] = "0123456789abcdef";
    const unsigned char *bytes = DatumGetUUIDP(value)->data;
    char *text = static_cast<char *>(palloc(UUID_LEN * 2 + 5));
    int at = 0;
    for (int i = 0; i < UUID_LEN; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            text[at++] = '-';
        text[at++] = hex[bytes[i] >> 4];
        text[at++] = hex[bytes[i] & 0xf];
    }
    return string_value(text, at);
}

// One dimension of an array as a JSON array, nested as to_jsonb nests them.
JsonbValue array_dimension(ColumnConverter *element, int dimension, int dimensions,
                           const int *sizes, Datum *values, bool *nulls, int *next,
                           MemoryContext memo_context)
{
    JsonbValue out;
    out.type = jbvArray;
    out.val.array.rawScalar = false;
    out.val.array.nElems = sizes[dimension];
    out.val.array.elems =
        static_cast<JsonbValue *>(palloc(sizeof(JsonbValue) * (sizes[dimension] + 1)));
    for (int i = 0; i < sizes[dimension]; i++) {
        JsonbValue *item = &out.val.array.elems[i];
        if (dimension + 1 < dimensions) {
            *item = array_dimension(element, dimension + 1, dimensions, sizes, values, nulls, next,
                                    memo_context);
        } else {
            int at = (*next)++;
            if (nulls[at])
                item->type = jbvNull;
            else
                value_to_jsonb(element, values[at], item, memo_context);
        }
    }
    return out;
}

JsonbValue array_value(ColumnConverter *c, Datum value, MemoryContext memo_context)
{
    ArrayType *array = DatumGetArrayTypeP(value);
    int dimensions = ARR_NDIM(array);
    if (dimensions <= 0 || ArrayGetNItems(dimensions, ARR_DIMS(array)) <= 0) {
        JsonbValue empty;
        empty.type = jbvArray;
        empty.val.array.rawScalar = false;
        empty.val.array.nElems = 0;
        empty.val.array.elems = nullptr;
        return empty;
    }
    Datum *values;
    bool *nulls;
    int count;
    deconstruct_array(array, ARR_ELEMTYPE(array), c->element->typlen, c->element->typbyval,
                      c->element_align, &values, &nulls, &count);
    int next = 0;
    return array_dimension(c->element, 0, dimensions, ARR_DIMS(array), values, nulls, &next,
                           memo_context);
}

void init_type_converter(ColumnConverter *c, Oid type, int32 typmod, Oid collation,
                         MemoryContext mcxt, bool allow_memo)
{
    MemoryContext old = MemoryContextSwitchTo(mcxt);
    c->base_type = getBaseType(type);
    c->kind = kind_of(c->base_type);
    get_typlenbyval(c->base_type, &c->typlen, &c->typbyval);

    if (c->kind == ValueKind::output || c->kind == ValueKind::float_number) {
        Oid output_function;
        bool is_varlena;
        getTypeOutputInfo(c->base_type, &output_function, &is_varlena);
        fmgr_info_cxt(output_function, &c->function, mcxt);
    } else if (c->kind == ValueKind::array) {
        Oid element_type = get_element_type(c->base_type);
        int16 element_length;
        bool element_byval;
        get_typlenbyvalalign(element_type, &element_length, &element_byval, &c->element_align);
        c->element = static_cast<ColumnConverter *>(palloc0(sizeof(ColumnConverter)));
        // Many elements per row: the memo's two generations would not hold.
        init_type_converter(c->element, element_type, -1, collation, mcxt, false);
    } else if (c->kind == ValueKind::to_jsonb) {
        // to_jsonb(anyelement) learns the argument's type from its call
        // expression: give it one that carries the column's type.
        fmgr_info_cxt(F_TO_JSONB, &c->function, mcxt);
        Const *argument = makeNullConst(type, typmod, collation);
        c->function.fn_expr = reinterpret_cast<Node *>(
            makeFuncExpr(F_TO_JSONB, JSONBOID, list_make1(argument), InvalidOid, InvalidOid,
                         COERCE_EXPLICIT_CALL));
    }
    // Formatting dates and uuids costs more than comparing them, and bulk
    // writes often repeat one value (now(), the tenant): remember the last.
    c->memoize = allow_memo &&
                 (c->kind == ValueKind::datetime || c->kind == ValueKind::uuid ||
                  c->kind == ValueKind::output) &&
                 (c->typbyval || c->typlen > 0);
    MemoryContextSwitchTo(old);
}

}  // namespace

void init_column_converter(ColumnConverter *c, TupleDesc tupdesc, AttrNumber attnum,
                           MemoryContext mcxt)
{
    Form_pg_attribute attr = TupleDescAttr(tupdesc, attnum - 1);
    memset(c, 0, sizeof(*c));
    c->attnum = attnum;
    MemoryContext old = MemoryContextSwitchTo(mcxt);
    char *name = pstrdup(NameStr(attr->attname));
    c->key = string_value(name, static_cast<int>(strlen(name)));
    c->name = PointerGetDatum(cstring_to_text(name));
    MemoryContextSwitchTo(old);
    init_type_converter(c, attr->atttypid, attr->atttypmod, attr->attcollation, mcxt, true);
}

void value_to_jsonb(ColumnConverter *c, Datum value, JsonbValue *out, MemoryContext memo_context)
{
    if (c->memoize && c->memo_valid && same_datum(c, value, c->memo_datum)) {
        c->memo_hits++;
        *out = c->memo_value;
        return;
    }
    switch (c->kind) {
    case ValueKind::boolean:
        out->type = jbvBool;
        out->val.boolean = DatumGetBool(value);
        return;
    case ValueKind::integer: {
        int64 number = c->base_type == INT2OID   ? DatumGetInt16(value)
                       : c->base_type == INT4OID ? DatumGetInt32(value)
                                                 : DatumGetInt64(value);
        out->type = jbvNumeric;
        out->val.numeric = int64_to_numeric(number);
        return;
    }
    case ValueKind::numeric: {
        Numeric number = DatumGetNumeric(value);
        if (numeric_is_nan(number) || numeric_is_inf(number)) {
            char *text = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(number)));
            *out = string_value(text, static_cast<int>(strlen(text)));
        } else {
            out->type = jbvNumeric;
            out->val.numeric = number;
        }
        return;
    }
    case ValueKind::float_number:
        number_text_to_jsonb(OutputFunctionCall(&c->function, value), out);
        return;
    case ValueKind::text: {
        struct varlena *text = pg_detoast_datum_packed(reinterpret_cast<struct varlena *>(
            DatumGetPointer(value)));
        *out = string_value(VARDATA_ANY(text), static_cast<int>(VARSIZE_ANY_EXHDR(text)));
        return;
    }
    case ValueKind::datetime: {
        char *text = JsonEncodeDateTime(nullptr, value, c->base_type, nullptr);
        *out = string_value(text, static_cast<int>(strlen(text)));
        break;
    }
    case ValueKind::uuid:
        *out = uuid_value(value);
        break;
    case ValueKind::jsonb:
        jsonb_value(DatumGetJsonbP(value), out);
        return;
    case ValueKind::array:
        *out = array_value(c, value, memo_context);
        return;
    case ValueKind::output: {
        char *text = OutputFunctionCall(&c->function, value);
        *out = string_value(text, static_cast<int>(strlen(text)));
        break;
    }
    case ValueKind::to_jsonb:
        jsonb_value(DatumGetJsonbP(FunctionCall1(&c->function, value)), out);
        return;
    }
    if (c->memoize) {
        // A key or a random id never repeats: after a run of misses with no
        // hit, stop paying for the copy.
        if (++c->memo_misses >= 16 && c->memo_hits == 0)
            c->memoize = false;
        else
            remember(c, value, out, memo_context);
    }
}

void sort_in_key_order(ColumnConverter *converters, int count)
{
    auto key_order = [](const ColumnConverter &a, const ColumnConverter &b) {
        if (a.key.val.string.len != b.key.val.string.len)
            return a.key.val.string.len < b.key.val.string.len;
        return memcmp(a.key.val.string.val, b.key.val.string.val, a.key.val.string.len) < 0;
    };
    std::sort(converters, converters + count, key_order);
}

}  // namespace stratum::audit
