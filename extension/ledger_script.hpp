// Migration SQL split into statements by PostgreSQL's own parser, each
// classified by whether it may run inside a transaction block.
#pragma once

#include "pg.hpp"

namespace stratum {

enum class StatementClass {
    transactional,         // runs in the migration's transaction
    no_transaction,        // CREATE INDEX CONCURRENTLY, VACUUM, ...: outside any transaction
    transaction_control,   // BEGIN, COMMIT, SAVEPOINT, ...: never in a migration
    client_copy,           // COPY FROM STDIN / TO STDOUT: needs psql, not the server
};

struct ScriptStatement {
    int offset;           // byte offset of the statement's first token
    int length;           // bytes, up to but not including its ';'
    int line;             // 1-based line of its first token
    const char *tag;      // command tag, e.g. "CREATE INDEX CONCURRENTLY" (static or palloc'd)
    StatementClass kind;
};

struct Script {
    const char *sql;
    int count;
    ScriptStatement *statements;  // palloc'd, count entries
};

// Parses sql (which must stay allocated as long as the Script). A syntax
// error, an unterminated quote, dollar quote or comment is re-raised as
// SQLSTATE 42601 with `label` and the line it is on, e.g.
//   migration master/7 (add_users): up SQL does not parse at line 3: ...
Script parse_script(const char *sql, const char *label, const char *part);

// The statement's text, palloc'd.
char *statement_text(const Script &script, int index);

// 1-based line of the character position (1-based, as in ErrorData
// internalpos) counted from a byte offset of the script.
int line_of_position(const char *sql, int from_offset, int char_position);

// The first statement of a class, or -1.
int first_statement_of(const Script &script, StatementClass kind);

}  // namespace stratum
