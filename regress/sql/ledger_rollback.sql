-- stratum.rollback_migration: runs the down SQL stored in the ledger, in the
-- caller's transaction; a down that fails leaves schema and ledger as they were.
SET ROLE regress_owner;

CREATE TEMP VIEW rb_schema AS
SELECT c.relname, string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum) AS columns
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE c.relname LIKE 'rb\_%' AND c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace
 GROUP BY c.relname;
CREATE TEMP VIEW rb_ledger AS
SELECT version, name, status, rolled_back_by FROM stratum.schema_migrations ORDER BY version;

SELECT stratum.apply_migration('master', 1, 'create_rb_accounts',
    'CREATE TABLE rb_accounts (id bigint PRIMARY KEY, email text NOT NULL UNIQUE);',
    'DROP TABLE rb_accounts;');
SELECT stratum.apply_migration('master', 2, 'create_rb_invoices',
    'CREATE TABLE rb_invoices (id bigint PRIMARY KEY, account_id bigint NOT NULL REFERENCES rb_accounts (id));',
    'DROP TABLE rb_invoices;', depends_on => '{1}');

-- A migration others depend on is not rolled back before them.
SELECT stratum.rollback_migration('master', 1);
SELECT sqlstate_of($$SELECT stratum.rollback_migration('master', 1)$$);

-- Rollback needs only scope and version: the down SQL comes from the ledger,
-- so it works with the migration files gone.
SELECT stratum.rollback_migration('master', 2);
SELECT * FROM rb_schema;
SELECT * FROM rb_ledger;
-- Rolled back already: skipped (a second runner does no harm).
SELECT stratum.rollback_migration('master', 2);

-- A rolled-back migration may be applied again, changed or not: its row is
-- updated, and the log keeps every step.
SELECT stratum.apply_migration('master', 2, 'create_rb_invoices',
    'CREATE TABLE rb_invoices (id bigint PRIMARY KEY, account_id bigint NOT NULL REFERENCES rb_accounts (id), total numeric);',
    'DROP TABLE rb_invoices;', depends_on => '{1}');
SELECT * FROM rb_ledger;
SELECT version, action, checksum = (SELECT checksum FROM stratum.schema_migrations m WHERE m.version = l.version) AS current_checksum
  FROM stratum.schema_migration_log l ORDER BY id;

-- Not in the ledger (SM004); no down SQL (SM005).
SELECT stratum.rollback_migration('master', 99);
SELECT stratum.apply_migration('master', 3, 'irreversible', 'CREATE TABLE rb_forever (id int);');
SELECT stratum.rollback_migration('master', 3);
SELECT sqlstate_of($$SELECT stratum.rollback_migration('master', 3)$$);
SELECT sqlstate_of($$SELECT stratum.rollback_migration('master', 99)$$);

-- 15,000 rows, then a migration whose down SQL fails at its third statement:
-- the first two (a data change and a DROP COLUMN) are undone with it.
INSERT INTO rb_accounts SELECT g, 'User' || g || '@Example.com' FROM generate_series(1, 15000) g;
CREATE TEMP TABLE rb_digest AS
SELECT 'start' AS at, md5(string_agg(id || ':' || email, ',' ORDER BY id)) AS digest FROM rb_accounts;
SELECT stratum.apply_migration('master', 4, 'add_domain',
    $$ALTER TABLE rb_accounts ADD COLUMN domain text;
UPDATE rb_accounts SET domain = split_part(email, '@', 2);$$,
    $$UPDATE rb_accounts SET email = email || '.old';
ALTER TABLE rb_accounts DROP COLUMN domain;
ALTER TABLE rb_nosuch DROP COLUMN domain;$$);
CREATE TEMP TABLE rb_before AS SELECT * FROM rb_schema;
SELECT stratum.rollback_migration('master', 4);
SELECT (SELECT string_agg(s::text, '; ' ORDER BY s.relname) FROM rb_schema s)
     = (SELECT string_agg(b::text, '; ' ORDER BY b.relname) FROM rb_before b) AS schema_unchanged;
SELECT md5(string_agg(id || ':' || email, ',' ORDER BY id)) = (SELECT digest FROM rb_digest WHERE at = 'start') AS data_unchanged,
       count(*) FILTER (WHERE domain IS NULL) AS rows_without_domain
  FROM rb_accounts;
SELECT * FROM rb_ledger WHERE version = 4;
SELECT count(*) FILTER (WHERE action = 'rolled_back') AS rollbacks_logged FROM stratum.schema_migration_log WHERE version = 4;

-- A data transformation over 15,000 rows whose down fails midway (at the
-- row with id 7000) leaves every row as the up left it.
SELECT stratum.apply_migration('master', 5, 'upper_emails',
    'UPDATE rb_accounts SET email = upper(email);',
    'UPDATE rb_accounts SET email = lower(email) WHERE 1 / (id - 7000) IS NOT NULL;');
INSERT INTO rb_digest SELECT 'upper', md5(string_agg(id || ':' || email, ',' ORDER BY id)) FROM rb_accounts;
SELECT stratum.rollback_migration('master', 5);
SELECT md5(string_agg(id || ':' || email, ',' ORDER BY id)) = (SELECT digest FROM rb_digest WHERE at = 'upper') AS still_upper
  FROM rb_accounts;
SELECT * FROM rb_ledger WHERE version = 5;

-- With the down SQL repaired (same up SQL, new down), the rollback restores
-- the data, but not the original case: the round trip is only as good as the
-- down SQL.
SELECT stratum.apply_migration('master', 5, 'upper_emails',
    'UPDATE rb_accounts SET email = upper(email);',
    'UPDATE rb_accounts SET email = lower(email);', repair => true);
SELECT stratum.rollback_migration('master', 5);
SELECT count(*) FILTER (WHERE email = lower(email)) AS lower_case_rows FROM rb_accounts;

-- Data-dependent constraints: the down SQL restores a UNIQUE constraint that
-- rows added since violate; the error keeps its SQLSTATE (23505) and detail.
SELECT stratum.apply_migration('master', 6, 'drop_email_unique',
    'ALTER TABLE rb_accounts DROP CONSTRAINT rb_accounts_email_key;',
    'ALTER TABLE rb_accounts ADD CONSTRAINT rb_accounts_email_key UNIQUE (email);');
INSERT INTO rb_accounts VALUES (15001, 'user1@example.com');
SELECT stratum.rollback_migration('master', 6);
SELECT sqlstate_of($$SELECT stratum.rollback_migration('master', 6)$$);
SELECT * FROM rb_ledger WHERE version = 6;
DELETE FROM rb_accounts WHERE id = 15001;
SELECT stratum.rollback_migration('master', 6);
SELECT conname FROM pg_constraint WHERE conrelid = 'rb_accounts'::regclass AND contype = 'u';

-- A table dropped and recreated: rows move out and back, identical.
INSERT INTO rb_invoices SELECT g, g, g * 1.25 FROM generate_series(1, 500) g;
INSERT INTO rb_digest SELECT 'invoices', md5(string_agg(id || ':' || account_id || ':' || total, ',' ORDER BY id)) FROM rb_invoices;
SELECT stratum.apply_migration('master', 7, 'rebuild_invoices',
    $$CREATE TABLE rb_invoices_old AS SELECT * FROM rb_invoices;
DROP TABLE rb_invoices;
CREATE TABLE rb_invoices (id bigint PRIMARY KEY, account_id bigint NOT NULL REFERENCES rb_accounts (id), total numeric(12, 2) NOT NULL);
INSERT INTO rb_invoices SELECT id, account_id, total FROM rb_invoices_old;
DROP TABLE rb_invoices_old;$$,
    $$ALTER TABLE rb_invoices ALTER COLUMN total TYPE numeric, ALTER COLUMN total DROP NOT NULL;$$);
SELECT stratum.rollback_migration('master', 7);
SELECT md5(string_agg(id || ':' || account_id || ':' || total, ',' ORDER BY id)) = (SELECT digest FROM rb_digest WHERE at = 'invoices') AS invoices_identical
  FROM rb_invoices;

-- A stored down SQL changed behind stratum's back is not run (SM003).
SELECT stratum.apply_migration('master', 8, 'create_rb_notes', 'CREATE TABLE rb_notes (id int);', 'DROP TABLE rb_notes;');
RESET ROLE;
UPDATE stratum.schema_migrations SET down_sql = 'DROP TABLE rb_accounts CASCADE;' WHERE version = 8;
SET ROLE regress_owner;
SELECT stratum.rollback_migration('master', 8);
SELECT sqlstate_of($$SELECT stratum.rollback_migration('master', 8)$$);
SELECT to_regclass('rb_accounts') AS rb_accounts;

-- A down SQL that cannot run in a transaction is left to the runner.
SELECT stratum.apply_migration('master', 9, 'index_emails', 'CREATE INDEX rb_accounts_email ON rb_accounts (email);',
                               'DROP INDEX CONCURRENTLY rb_accounts_email;');
SELECT stratum.rollback_migration('master', 9);
SELECT stratum.check_rollback('master', 9);

-- Rollbacks in one transaction, newest first, undo together or not at all.
BEGIN;
SELECT stratum.rollback_migration('master', 2);
SELECT stratum.rollback_migration('master', 1);
SELECT to_regclass('rb_accounts') AS rb_accounts, to_regclass('rb_invoices') AS rb_invoices;
ROLLBACK;
SELECT * FROM rb_ledger WHERE version IN (1, 2);
RESET ROLE;

DROP TABLE rb_invoices, rb_accounts, rb_forever, rb_notes;
TRUNCATE stratum.schema_migrations, stratum.schema_migration_log;
