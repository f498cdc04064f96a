-- Checksums of migration SQL, statement splitting and lock keys: the pure
-- functions of the migration ledger.

-- The checksum is SHA-256 of the SQL as UTF-8, with CR LF read as LF.
SELECT stratum.migration_checksum('CREATE TABLE t (id int);' || E'\n')
     = encode(sha256(convert_to('CREATE TABLE t (id int);' || E'\n', 'UTF8')), 'hex') AS is_sha256;
SELECT stratum.migration_checksum(E'CREATE TABLE t (\r\n  id int\r\n);\r\n')
     = stratum.migration_checksum(E'CREATE TABLE t (\n  id int\n);\n') AS crlf_equals_lf;
SELECT stratum.migration_checksum(E'a\r\nb\nc\r\n')
     = stratum.migration_checksum(E'a\nb\r\nc\n') AS mixed_endings_equal;
SELECT stratum.migration_checksum(E'\r\n\r\n\r\n') = stratum.migration_checksum(E'\n\n\n') AS only_newlines;
SELECT stratum.migration_checksum(E'x\r') <> stratum.migration_checksum(E'x\r\n') AS lone_cr_at_end_differs;

-- Every other change is drift: a lone CR, blanks, a final newline, case, a
-- byte-order mark, a comment.
WITH variants(what, sql) AS (VALUES
    ('lone CR',        E'CREATE TABLE t (id int);\r'),
    ('trailing blank', E'CREATE TABLE t (id int); \n'),
    ('no final LF',    E'CREATE TABLE t (id int);'),
    ('two final LFs',  E'CREATE TABLE t (id int);\n\n'),
    ('upper case',     E'CREATE TABLE T (id int);\n'),
    ('tab for space',  E'CREATE TABLE\tt (id int);\n'),
    ('byte-order mark', E'\uFEFFCREATE TABLE t (id int);\n'),
    ('comment',        E'-- t\nCREATE TABLE t (id int);\n'))
SELECT what, stratum.migration_checksum(sql) <> stratum.migration_checksum(E'CREATE TABLE t (id int);\n') AS drifts
  FROM variants;

SELECT stratum.migration_checksum('');
SELECT stratum.migration_checksum(NULL) IS NULL AS strict;
SELECT length(stratum.migration_checksum(repeat(E'SELECT 1;\r\n', 100000))) AS long_input;

-- Statements, split by the server's own parser: line of the first token,
-- command tag, and whether it can run inside a transaction block.
SELECT statement_no, line, command_tag, kind, statement
  FROM stratum.split_migration($sql$-- header comment
CREATE TABLE t (id int, body text DEFAULT 'a;b');

/* a block comment /* nested */ ; still comment */
CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$;
CREATE INDEX CONCURRENTLY t_id ON t (id);
DROP INDEX CONCURRENTLY IF EXISTS t_id;
REINDEX (CONCURRENTLY) TABLE t;
REINDEX TABLE t;
ALTER TABLE t DETACH PARTITION t_1 CONCURRENTLY;
VACUUM t;
ANALYZE t;
BEGIN;
SAVEPOINT s;
COMMIT;
COPY t FROM STDIN;
COPY t FROM '/tmp/t.csv';
ALTER TYPE e ADD VALUE 'x';
SELECT 1$sql$);

SELECT count(*) FROM stratum.split_migration('');
SELECT count(*) FROM stratum.split_migration(E'-- only a comment\n;;\n');

-- Unterminated quotes, dollar quotes and comments are parse errors that say
-- on which line.
SELECT * FROM stratum.split_migration(E'SELECT 1;\nSELECT ''abc;\n');
SELECT * FROM stratum.split_migration(E'SELECT 1;\n\nCREATE FUNCTION f() RETURNS int AS $$ SELECT 1;\n');
SELECT * FROM stratum.split_migration(E'SELECT 1; /* never closed\nSELECT 2;');
SELECT * FROM stratum.split_migration(E'CREATE TABLE t (id int;\n');

-- The advisory lock of a scope: stratum's own class id, objid = FNV-1a of the
-- scope, stable across servers (the runner and monitoring can rely on it).
SELECT scope, (stratum.migration_lock_key(scope)).*
  FROM unnest(ARRAY['master', 'tenant_acme', 'tenant_globex']) AS scope;
