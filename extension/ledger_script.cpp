// Splits migration SQL into statements with the server's raw parser and
// classifies each one; parse errors come back naming the migration and line.
#include "boundary.hpp"
#include "ledger_script.hpp"


namespace stratum {
namespace {

bool has_option(List *options, const char *name)
{
    ListCell *cell;
    foreach (cell, options) {
        DefElem *option = lfirst_node(DefElem, cell);
        if (strcmp(option->defname, name) == 0)
            return true;
    }
    return false;
}

// Statements PostgreSQL runs only outside a transaction block (those that
// call PreventInTransactionBlock), judged from the raw parse tree.
bool needs_no_transaction(Node *stmt, const char **tag)
{
    switch (nodeTag(stmt)) {
    case T_IndexStmt:
        if (castNode(IndexStmt, stmt)->concurrent) {
            *tag = "CREATE INDEX CONCURRENTLY";
            return true;
        }
        return false;
    case T_DropStmt:
        if (castNode(DropStmt, stmt)->concurrent) {
            *tag = "DROP INDEX CONCURRENTLY";
            return true;
        }
        return false;
    case T_ReindexStmt: {
        ReindexStmt *reindex = castNode(ReindexStmt, stmt);
        if (has_option(reindex->params, "concurrently")) {
            *tag = "REINDEX CONCURRENTLY";
            return true;
        }
        return reindex->kind == REINDEX_OBJECT_SCHEMA || reindex->kind == REINDEX_OBJECT_SYSTEM ||
               reindex->kind == REINDEX_OBJECT_DATABASE;
    }
    case T_VacuumStmt:
        return castNode(VacuumStmt, stmt)->is_vacuumcmd;
    case T_ClusterStmt:
        return castNode(ClusterStmt, stmt)->relation == nullptr;
    case T_AlterTableStmt: {
        ListCell *cell;
        foreach (cell, castNode(AlterTableStmt, stmt)->cmds) {
            AlterTableCmd *cmd = lfirst_node(AlterTableCmd, cell);
            if (cmd->subtype == AT_DetachPartition && cmd->def != nullptr &&
                castNode(PartitionCmd, cmd->def)->concurrent) {
                *tag = "ALTER TABLE DETACH PARTITION CONCURRENTLY";
                return true;
            }
        }
        return false;
    }
    case T_AlterDatabaseStmt:
        return has_option(castNode(AlterDatabaseStmt, stmt)->options, "tablespace");
    case T_CreatedbStmt:
    case T_DropdbStmt:
    case T_CreateTableSpaceStmt:
    case T_DropTableSpaceStmt:
    case T_AlterSystemStmt:
    case T_CreateSubscriptionStmt:
    case T_AlterSubscriptionStmt:
    case T_DropSubscriptionStmt:
        return true;
    case T_DiscardStmt:
        return castNode(DiscardStmt, stmt)->target == DISCARD_ALL;
    default:
        return false;
    }
}

StatementClass classify(Node *stmt, const char **tag)
{
    if (IsA(stmt, TransactionStmt))
        return StatementClass::transaction_control;
    if (IsA(stmt, CopyStmt)) {
        CopyStmt *copy = castNode(CopyStmt, stmt);
        if (copy->filename == nullptr && !copy->is_program)
            return StatementClass::client_copy;
    }
    return needs_no_transaction(stmt, tag) ? StatementClass::no_transaction
                                           : StatementClass::transactional;
}

// First byte at or after pos that is not blank or inside a comment.
int skip_blanks(const char *sql, int pos, int end)
{
    while (pos < end) {
        char c = sql[pos];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
            pos++;
        } else if (c == '-' && pos + 1 < end && sql[pos + 1] == '-') {
            while (pos < end && sql[pos] != '\n')
                pos++;
        } else if (c == '/' && pos + 1 < end && sql[pos + 1] == '*') {
            int depth = 1;  // PostgreSQL's block comments nest
            pos += 2;
            while (pos < end && depth > 0) {
                if (sql[pos] == '/' && pos + 1 < end && sql[pos + 1] == '*') {
                    depth++;
                    pos += 2;
                } else if (sql[pos] == '*' && pos + 1 < end && sql[pos + 1] == '/') {
                    depth--;
                    pos += 2;
                } else {
                    pos++;
                }
            }
        } else {
            break;
        }
    }
    return pos;
}

int count_newlines(const char *from, const char *to)
{
    int lines = 0;
    for (const char *p = from; p < to; p++)
        lines += *p == '\n';
    return lines;
}

struct ParseArgs {
    const char *sql;
};

// Moves a syntax error's position from the caller's query (where ereport
// would put it) into the migration SQL, as SPI does for its statements.
void parse_error_callback(void *arg)
{
    auto *args = static_cast<ParseArgs *>(arg);
    int position = geterrposition();
    if (position > 0) {
        errposition(0);
        internalerrposition(position);
        internalerrquery(args->sql);
    }
}

List *raw_parse_with_position(const char *sql)
{
    ParseArgs args{sql};
    ErrorContextCallback callback;
    callback.callback = parse_error_callback;
    callback.arg = &args;
    callback.previous = error_context_stack;
    error_context_stack = &callback;
    List *statements = raw_parser(sql, RAW_PARSE_DEFAULT);
    error_context_stack = callback.previous;
    return statements;
}

}  // namespace

int line_of_position(const char *sql, int from_offset, int char_position)
{
    const char *p = sql + from_offset;
    int line = 1 + count_newlines(sql, p);
    for (int i = 1; i < char_position && *p != '\0'; i++) {
        if (*p == '\n')
            line++;
        p += pg_mblen(p);
    }
    return line;
}

Script parse_script(const char *sql, const char *label, const char *part)
{
    List *statements = nullptr;
    ErrorData *parse_error = nullptr;
    try {
        pg_call([&]() noexcept { statements = raw_parse_with_position(sql); });
    } catch (const PgError &e) {
        parse_error = e.error_data();
    }
    if (parse_error != nullptr) {
        // Only memory was touched by the raw parser: re-raising a reworded
        // copy of its error right away is safe.
        int position = parse_error->internalpos;
        int line = position > 0 ? line_of_position(sql, 0, position) : 0;
        parse_error->message =
            line > 0 ? psprintf("%s: %s does not parse at line %d: %s", label, part, line,
                                parse_error->message)
                     : psprintf("%s: %s does not parse: %s", label, part, parse_error->message);
        throw PgError(parse_error);
    }

    Script script{sql, list_length(statements), nullptr};
    script.statements = static_cast<ScriptStatement *>(
        palloc0(sizeof(ScriptStatement) * (script.count > 0 ? script.count : 1)));
    int total = static_cast<int>(strlen(sql));
    int counted_to = 0;  // lines are counted incrementally: statements come in order
    int line = 1;
    int i = 0;
    ListCell *cell;
    foreach (cell, statements) {
        RawStmt *raw = lfirst_node(RawStmt, cell);
        ScriptStatement &statement = script.statements[i++];
        // The parser's statement starts after the previous ';'; ours starts
        // at its first token, so that comments and blank lines before it
        // stay out of its text and its line is where it visibly begins.
        int start = raw->stmt_location >= 0 ? raw->stmt_location : 0;
        int end = raw->stmt_len > 0 ? start + raw->stmt_len : total;
        statement.offset = skip_blanks(sql, start, end);
        statement.length = end - statement.offset;
        line += count_newlines(sql + counted_to, sql + statement.offset);
        counted_to = statement.offset;
        statement.line = line;
        statement.tag = GetCommandTagName(CreateCommandTag(raw->stmt));
        statement.kind = classify(raw->stmt, &statement.tag);
    }
    return script;
}

char *statement_text(const Script &script, int index)
{
    const ScriptStatement &statement = script.statements[index];
    return pnstrdup(script.sql + statement.offset, statement.length);
}

int first_statement_of(const Script &script, StatementClass kind)
{
    for (int i = 0; i < script.count; i++) {
        if (script.statements[i].kind == kind)
            return i;
    }
    return -1;
}

}  // namespace stratum
