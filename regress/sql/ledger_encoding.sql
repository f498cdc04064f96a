-- Migration SQL is UTF-8. In a UTF-8 database the server itself refuses
-- anything else before stratum sees it; in a SQL_ASCII database, which takes
-- any bytes, stratum checks and names the migration, the part and the line.
SELECT stratum.apply_migration('master', 1, 'latin1_file',
    convert_from('\x435245415445205441424c4520742028696420696e74293b0a2d2d20636166e90a'::bytea, 'UTF8'));
SELECT count(*) FROM stratum.schema_migrations;

SELECT current_database() AS regress_database \gset
SELECT stratum.migration_checksum(E'CREATE TABLE enc_t2 (id int);\n-- café\n') AS utf8_checksum \gset
CREATE DATABASE ledger_sql_ascii ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
\c ledger_sql_ascii
CREATE EXTENSION stratum;
SHOW server_encoding;
SELECT stratum.apply_migration('master', 1, 'latin1_file', E'CREATE TABLE enc_t (id int);\n-- caf\xe9\n');
SELECT stratum.apply_migration('master', 1, 'latin1_down', 'CREATE TABLE enc_t (id int);', E'-- \xff\nDROP TABLE enc_t;');
DO $$
BEGIN
    PERFORM stratum.apply_migration('master', 1, 'latin1_file', E'SELECT 1; -- caf\xe9');
EXCEPTION WHEN character_not_in_repertoire THEN
    RAISE NOTICE 'SQLSTATE %', SQLSTATE;
END
$$;
SELECT to_regclass('enc_t') AS enc_t;
-- Valid UTF-8 goes through, with the checksum it has in a UTF-8 database.
SELECT stratum.apply_migration('master', 2, 'utf8_file', E'CREATE TABLE enc_t2 (id int);\n-- café\n');
SELECT version, name, checksum = :'utf8_checksum' AS same_checksum FROM stratum.schema_migrations;
\c :regress_database
DROP DATABASE ledger_sql_ascii;
