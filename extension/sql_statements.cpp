// stratum._statement_tags(sql): the command tag of each statement in a SQL
// string, from PostgreSQL's own parser. Used to check that text spliced into
// DDL is exactly one statement of the expected kind.
#include "boundary.hpp"


STRATUM_FUNCTION(stratum_statement_tags)
{
    char *sql = text_to_cstring(PG_GETARG_TEXT_PP(0));
    List *statements = raw_parser(sql, RAW_PARSE_DEFAULT);
    int count = list_length(statements);
    Datum *tags = static_cast<Datum *>(palloc(sizeof(Datum) * (count > 0 ? count : 1)));
    int i = 0;
    ListCell *cell;
    foreach (cell, statements) {
        RawStmt *statement = lfirst_node(RawStmt, cell);
        tags[i++] = CStringGetTextDatum(GetCommandTagName(CreateCommandTag(statement->stmt)));
    }
    PG_RETURN_ARRAYTYPE_P(construct_array(tags, count, TEXTOID, -1, false, TYPALIGN_INT));
}
