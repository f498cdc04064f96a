-- stratum.apply_migration: apply, skip, drift, repair, dependencies, seeds;
-- a failing migration leaves nothing, in the schema or in the ledger.
SET ROLE regress_owner;

-- A migration runs as the caller (not as the extension owner) and is
-- recorded with its SQL and checksums.
SELECT stratum.apply_migration('master', 1, 'create_mig_users',
    E'CREATE TABLE mig_users (\n    id bigint PRIMARY KEY,\n    email text NOT NULL\n);\n',
    E'DROP TABLE mig_users;\n');
SELECT tableowner FROM pg_tables WHERE tablename = 'mig_users';
SELECT scope, kind, environment, version, name, status, transactional, depends_on,
       applied_by, actor, lock_timeout, duration IS NOT NULL AS timed,
       checksum = stratum.migration_checksum(up_sql) AS checksum_of_up,
       down_checksum = stratum.migration_checksum(down_sql) AS checksum_of_down
  FROM stratum.schema_migrations;

-- Applied again with the same SQL: skipped, whoever runs it and however often.
SELECT stratum.apply_migration('master', 1, 'create_mig_users',
    E'CREATE TABLE mig_users (\n    id bigint PRIMARY KEY,\n    email text NOT NULL\n);\n',
    E'DROP TABLE mig_users;\n');
-- The same file checked out with Windows line endings is the same migration.
SELECT stratum.apply_migration('master', 1, 'create_mig_users',
    E'CREATE TABLE mig_users (\r\n    id bigint PRIMARY KEY,\r\n    email text NOT NULL\r\n);\r\n',
    E'DROP TABLE mig_users;\r\n');

-- Any other change is drift: refused with SQLSTATE SM001, nothing run.
SELECT stratum.apply_migration('master', 1, 'create_mig_users',
    E'CREATE TABLE mig_users (\n    id bigint PRIMARY KEY,\n    email text NOT NULL,\n    name text\n);\n',
    E'DROP TABLE mig_users;\n');
SELECT sqlstate_of($$SELECT stratum.apply_migration('master', 1, 'create_mig_users', 'CREATE TABLE mig_users (id int)')$$);
SELECT count(*) AS name_column FROM pg_attribute
 WHERE attrelid = 'mig_users'::regclass AND attname = 'name';

-- Repair records the new content without running it (the schema was fixed by
-- hand); a second repair with the same content is a no-op.
SELECT stratum.apply_migration('master', 1, 'create_mig_users',
    E'CREATE TABLE mig_users (\n    id bigint PRIMARY KEY,\n    email text NOT NULL\n);\n-- reviewed\n',
    E'DROP TABLE mig_users;\n', repair => true);
SELECT stratum.apply_migration('master', 1, 'create_mig_users',
    E'CREATE TABLE mig_users (\n    id bigint PRIMARY KEY,\n    email text NOT NULL\n);\n-- reviewed\n',
    E'DROP TABLE mig_users;\n', repair => true);
-- Repair also replaces a changed down SQL whose up SQL did not change.
SELECT stratum.apply_migration('master', 1, 'create_mig_users',
    E'CREATE TABLE mig_users (\n    id bigint PRIMARY KEY,\n    email text NOT NULL\n);\n-- reviewed\n',
    E'DROP TABLE IF EXISTS mig_users;\n', repair => true);
SELECT down_sql FROM stratum.schema_migrations WHERE version = 1;
SELECT version, action, done_by FROM stratum.schema_migration_log ORDER BY id;

-- The ledger is written only through these functions, even by the migrator.
UPDATE stratum.schema_migrations SET checksum = checksum;
DELETE FROM stratum.schema_migration_log;

-- A migration that fails leaves nothing: its earlier statements are undone,
-- the ledger has no row. The error names the migration, the statement and its
-- line, and keeps the server's message and SQLSTATE.
SELECT stratum.apply_migration('master', 2, 'create_mig_orders',
    E'CREATE TABLE mig_orders (id bigint PRIMARY KEY);\n' ||
    E'INSERT INTO mig_orders VALUES (1);\n' ||
    E'\n' ||
    E'ALTER TABLE mig_orders\n    ADD COLUMN user_id bigint REFERENCES mig_nosuch (id);\n',
    'DROP TABLE mig_orders;');
SELECT sqlstate_of($$SELECT stratum.apply_migration('master', 2, 'x', 'SELECT 1; SELECT nosuch FROM mig_users;')$$);
-- The line is that of the error within a statement spanning several.
SELECT stratum.apply_migration('master', 2, 'create_mig_report',
    E'CREATE TABLE mig_report (id int);\n\nCREATE VIEW mig_report_v AS\n  SELECT id,\n         nosuch\n    FROM mig_report;\n');
SELECT to_regclass('mig_orders') AS mig_orders;
SELECT count(*) FROM stratum.schema_migrations WHERE version = 2;

-- Inside the caller's transaction, a savepoint keeps the rest of it.
BEGIN;
SAVEPOINT before_migration;
SELECT stratum.apply_migration('master', 2, 'create_mig_orders',
    'CREATE TABLE mig_orders (id bigint PRIMARY KEY); SELECT 1 / 0;');
ROLLBACK TO SAVEPOINT before_migration;
SELECT to_regclass('mig_orders') AS mig_orders;
COMMIT;

-- A data transformation over 20,000 rows that fails midway leaves every row
-- as it was.
INSERT INTO mig_users SELECT g, 'user' || g || '@example.com' FROM generate_series(1, 20000) g;
CREATE TEMP TABLE mig_users_before AS SELECT md5(string_agg(id || ':' || email, ',' ORDER BY id)) AS digest FROM mig_users;
SELECT stratum.apply_migration('master', 2, 'normalise_emails',
    E'UPDATE mig_users SET email = upper(email);\n' ||
    E'UPDATE mig_users SET email = email || (1 / (id - 12345))::text;\n',
    E'UPDATE mig_users SET email = lower(email);\n');
SELECT md5(string_agg(id || ':' || email, ',' ORDER BY id)) = (SELECT digest FROM mig_users_before) AS unchanged
  FROM mig_users;
SELECT count(*) FROM stratum.schema_migrations WHERE version = 2;

-- Dependencies are checked before anything runs (SQLSTATE SM002).
SELECT stratum.apply_migration('master', 3, 'create_mig_items',
    'CREATE TABLE mig_items (id bigint PRIMARY KEY, order_id bigint REFERENCES mig_orders (id));',
    'DROP TABLE mig_items;', depends_on => '{2}');
SELECT sqlstate_of($$SELECT stratum.apply_migration('master', 3, 'x', 'SELECT 1', depends_on => '{2, 1, 99}')$$);
SELECT stratum.apply_migration('master', 2, 'create_mig_orders',
    'CREATE TABLE mig_orders (id bigint PRIMARY KEY, user_id bigint REFERENCES mig_users (id));',
    'DROP TABLE mig_orders;', depends_on => '{1}');
SELECT stratum.apply_migration('master', 3, 'create_mig_items',
    'CREATE TABLE mig_items (id bigint PRIMARY KEY, order_id bigint REFERENCES mig_orders (id));',
    'DROP TABLE mig_items;', depends_on => '{2}');

-- Several migrations in one transaction: a later one sees the earlier ones,
-- and the scope's migration lock is held until the transaction ends.
BEGIN;
SELECT stratum.set_actor('deploy-bot');
SELECT stratum.apply_migration('master', 10, 'create_mig_tags', 'CREATE TABLE mig_tags (id int);',
                               'DROP TABLE mig_tags;', metadata => '{"file": "master/010_create_mig_tags.up.sql"}');
SELECT stratum.apply_migration('master', 11, 'index_mig_tags', 'CREATE INDEX mig_tags_id ON mig_tags (id);',
                               'DROP INDEX mig_tags_id;', depends_on => '{10}');
SELECT stratum.apply_migration('master', 10, 'create_mig_tags', 'CREATE TABLE mig_tags (id int);',
                               'DROP TABLE mig_tags;');
SELECT l.mode, l.granted
  FROM pg_locks l, stratum.migration_lock_key('master') k
 WHERE l.locktype = 'advisory' AND l.classid = k.classid AND l.objid = k.objid
   AND l.objsubid = 2 AND l.pid = pg_backend_pid();
COMMIT;
SELECT count(*) AS lock_rows
  FROM pg_locks l, stratum.migration_lock_key('master') k
 WHERE l.locktype = 'advisory' AND l.classid = k.classid AND l.objid = k.objid;
SELECT version, actor, metadata FROM stratum.schema_migrations WHERE version IN (10, 11) ORDER BY version;

-- Statements that cannot be part of a migration's transaction are refused
-- before anything runs.
SELECT stratum.apply_migration('master', 20, 'index_concurrently',
    E'CREATE TABLE mig_cic (id int);\nCREATE INDEX CONCURRENTLY mig_cic_id ON mig_cic (id);');
SELECT to_regclass('mig_cic') AS mig_cic;
SELECT stratum.apply_migration('master', 20, 'own_transaction',
    E'BEGIN;\nCREATE TABLE mig_tx (id int);\nCOMMIT;\n');
SELECT stratum.apply_migration('master', 20, 'psql_copy',
    E'CREATE TABLE mig_copy (id int);\nCOPY mig_copy FROM stdin;\n');
SELECT stratum.apply_migration('master', 20, 'vacuum', 'SELECT 1', E'VACUUM mig_users;\nROLLBACK;');

-- Unterminated statements, in the up or the down SQL, are refused naming the
-- line; so is SQL that does not parse.
SELECT stratum.apply_migration('master', 20, 'unterminated_quote',
    E'CREATE TABLE mig_q (id int);\nINSERT INTO mig_q VALUES (1), (''2);\n');
SELECT stratum.apply_migration('master', 20, 'unterminated_function',
    E'CREATE FUNCTION mig_f() RETURNS int\nLANGUAGE plpgsql AS $$\nBEGIN\n    RETURN 1;\nEND;\n');
SELECT stratum.apply_migration('master', 20, 'unterminated_down',
    'CREATE TABLE mig_d (id int);', E'DROP TABLE mig_d;\n/* forgot to close\n');
SELECT stratum.apply_migration('master', 20, 'typo', E'CREATE TABLE mig_t (id int);\nCRATE TABLE mig_t2 (id int);');
SELECT sqlstate_of($$SELECT stratum.apply_migration('master', 20, 'x', 'SELECT ''a')$$);
SELECT to_regclass('mig_q') AS mig_q, to_regclass('mig_d') AS mig_d, to_regclass('mig_t') AS mig_t;

-- Arguments are checked.
SELECT stratum.apply_migration(NULL, 30, 'x', 'SELECT 1');
SELECT stratum.apply_migration('master', NULL, 'x', 'SELECT 1');
SELECT stratum.apply_migration('master', -1, 'x', 'SELECT 1');
SELECT stratum.apply_migration('master', 30, '', 'SELECT 1');
SELECT stratum.apply_migration('master', 30, 'x', NULL);
SELECT stratum.apply_migration('master', 30, 'x', 'SELECT 1', kind => 'patch');
SELECT stratum.apply_migration('master', 30, 'x', 'SELECT 1', environment => 'test');
SELECT stratum.apply_migration('master', 30, 'x', 'SELECT 1', kind => 'seed');
SELECT stratum.apply_migration('master', 30, 'x', 'SELECT 1', kind => 'seed', environment => 'bad env');
SELECT stratum.apply_migration('master', 30, 'x', 'SELECT 1', depends_on => '{30}');
SELECT stratum.apply_migration('master', 30, 'x', 'SELECT 1', depends_on => '{1, NULL}');
SELECT stratum.apply_migration('master', 30, 'x', 'SELECT 1', lock_timeout => '-1s');
SELECT stratum.apply_migration('nosuch', 30, 'x', 'SELECT 1');
SELECT stratum.apply_migration('', 30, 'x', 'SELECT 1');

-- Seeds: the same ledger, once per environment; they may depend on migrations.
CREATE TABLE mig_countries (code text PRIMARY KEY);
SELECT stratum.apply_migration('master', 1, 'countries',
                               $$INSERT INTO mig_countries VALUES ('fr'), ('de') ON CONFLICT DO NOTHING;$$,
                               kind => 'seed', environment => 'development', depends_on => '{1}');
SELECT stratum.apply_migration('master', 1, 'countries',
                               $$INSERT INTO mig_countries VALUES ('fr'), ('de') ON CONFLICT DO NOTHING;$$,
                               kind => 'seed', environment => 'development', depends_on => '{1}');
SELECT stratum.apply_migration('master', 1, 'countries',
                               $$INSERT INTO mig_countries VALUES ('fr'), ('de') ON CONFLICT DO NOTHING;$$,
                               kind => 'seed', environment => 'test', depends_on => '{1}');
SELECT stratum.apply_migration('master', 2, 'more_countries', $$INSERT INTO mig_countries VALUES ('it');$$,
                               kind => 'seed', environment => 'development', depends_on => '{99}');
SELECT count(*) FROM mig_countries;
SELECT kind, environment, version, name, status FROM stratum.schema_migrations
 WHERE kind = 'seed' ORDER BY environment, version;

-- The migration sees the caller's search_path; the ledger's own statements
-- do not: an operator planted in the path does not fool them.
CREATE SCHEMA mig_other;
CREATE FUNCTION mig_other.always(text, text) RETURNS boolean LANGUAGE sql AS 'SELECT true';
CREATE OPERATOR mig_other.= (LEFTARG = text, RIGHTARG = text, FUNCTION = mig_other.always);
SET search_path = mig_other, pg_catalog, public;
SELECT 'a' = 'b' AS planted_operator_works;
SELECT stratum.apply_migration('master', 40, 'in_search_path', 'CREATE TABLE mig_in_path (id int);',
                               'DROP TABLE mig_in_path;');
SELECT stratum.apply_migration('master', 41, 'also_in_search_path', 'CREATE TABLE mig_in_path2 (id int);',
                               'DROP TABLE mig_in_path2;');
SHOW search_path;
RESET search_path;
SELECT to_regclass('mig_other.mig_in_path') AS in_path, to_regclass('mig_other.mig_in_path2') AS in_path2;
SELECT version, name FROM stratum.schema_migrations WHERE version IN (40, 41) ORDER BY version;

-- Settings made by a migration with SET LOCAL end with it, as in a function
-- with a SET clause; the lock_timeout apply uses is its own.
SET lock_timeout = '42s';
SELECT stratum.apply_migration('master', 42, 'set_local', E'SET LOCAL work_mem = ''77MB'';\nCREATE TABLE mig_wm (id int);',
                               'DROP TABLE mig_wm;');
SHOW work_mem;
SHOW lock_timeout;
RESET lock_timeout;
SELECT version, lock_timeout FROM stratum.schema_migrations
 WHERE kind = 'migration' AND version IN (1, 42) ORDER BY version;
RESET ROLE;

-- Application roles get nothing of the ledger.
SET ROLE regress_app;
SELECT stratum.apply_migration('master', 50, 'x', 'SELECT 1');
SELECT count(*) FROM stratum.schema_migrations;
RESET ROLE;

-- Leave an empty ledger and no objects to the next test.
DROP TABLE mig_items, mig_orders, mig_users, mig_tags, mig_countries, mig_wm;
DROP SCHEMA mig_other CASCADE;
TRUNCATE stratum.schema_migrations, stratum.schema_migration_log;
