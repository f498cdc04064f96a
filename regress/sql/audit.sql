-- The audit trail: what enable_audit records for every kind of table and
-- column, and how it is switched on, changed and off.
\set a '''aaaaaaaa-0000-4000-8000-000000000001'''
\set b '''bbbbbbbb-0000-4000-8000-000000000002'''

-- Entries written since a mark, without the columns that change per run
-- (id, time, transaction); tenants by name.
CREATE FUNCTION audit_since(mark bigint)
    RETURNS TABLE (op text, tenant text, actor text, db_user text, tab text, row_key jsonb,
                   old_row jsonb, new_row jsonb, changed_columns text[])
    LANGUAGE sql AS $$
    SELECT l.operation,
           CASE l.tenant_id WHEN 'aaaaaaaa-0000-4000-8000-000000000001' THEN 'acme'
                            WHEN 'bbbbbbbb-0000-4000-8000-000000000002' THEN 'globex'
                            ELSE l.tenant_id::text END,
           l.actor, l.db_user, l.table_schema || '.' || l.table_name,
           l.row_key, l.old_row, l.new_row, l.changed_columns
      FROM stratum.audit_log l WHERE l.id > mark ORDER BY l.id
$$;
CREATE FUNCTION audit_mark() RETURNS bigint LANGUAGE sql
    AS $$ SELECT coalesce(max(id), 0) FROM stratum.audit_log $$;

-- A tenant table with a column the audit must never see.
SET ROLE regress_owner;
CREATE TABLE accounts_audited (id int PRIMARY KEY, email text NOT NULL, password_hash text,
                               balance numeric(12, 2) NOT NULL DEFAULT 0);
SELECT stratum.enable_tenancy('accounts_audited');
SELECT stratum.enable_audit('accounts_audited', exclude_columns => '{password_hash}');
-- Idempotent: the same call again changes nothing.
SELECT stratum.enable_audit('accounts_audited', '{password_hash}');
SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger
 WHERE tgrelid = 'accounts_audited'::regclass AND tgname LIKE 'stratum_audit%' ORDER BY tgname;
SELECT * FROM stratum.audited_tables();
RESET ROLE;
SELECT stratum.grant_app_role('regress_app');

-- INSERT, UPDATE and DELETE by the application, through row level security.
SELECT audit_mark() AS mark \gset
SET ROLE regress_app;
BEGIN;
SELECT stratum.set_tenant(:a);
SELECT stratum.set_actor('user:alice');
INSERT INTO accounts_audited (id, email, password_hash) VALUES
    (1, 'alice@acme.test', 'hash-1'), (2, 'bob@acme.test', 'hash-2');
UPDATE accounts_audited SET balance = 10.50 WHERE id = 1;
-- Changes nothing: not recorded.
UPDATE accounts_audited SET email = email WHERE id = 1;
-- Changes only an excluded column: not recorded either.
UPDATE accounts_audited SET password_hash = 'hash-1b' WHERE id = 1;
UPDATE accounts_audited SET email = 'robert@acme.test', balance = 1 WHERE id = 2;
DELETE FROM accounts_audited WHERE id = 2;
COMMIT;
BEGIN;
SELECT stratum.set_tenant(:b);
INSERT INTO accounts_audited (id, email, password_hash) VALUES (3, 'carol@globex.test', 'hash-3');
COMMIT;
RESET ROLE;
SELECT * FROM audit_since(:mark);
-- Excluded columns appear nowhere, not even as a changed column.
SELECT count(*) AS mentions_of_password_hash FROM stratum.audit_log
 WHERE old_row ? 'password_hash' OR new_row ? 'password_hash'
    OR 'password_hash' = ANY (changed_columns);

-- Changing the exclusions: calling enable_audit again with another list.
SET ROLE regress_owner;
SELECT stratum.enable_audit('accounts_audited', '{password_hash, email}');
SELECT * FROM stratum.audited_tables();
RESET ROLE;
SELECT audit_mark() AS mark \gset
BEGIN;
SELECT stratum.set_tenant(:a);
UPDATE accounts_audited SET email = 'alice@new.test', balance = 11 WHERE id = 1;
COMMIT;
SELECT op, row_key, old_row, new_row, changed_columns FROM audit_since(:mark);
SET ROLE regress_owner;
SELECT stratum.enable_audit('accounts_audited', '{password_hash}');
RESET ROLE;

-- Bad arguments get clear errors and change nothing.
SET ROLE regress_owner;
SELECT stratum.enable_audit('accounts_audited', '{no_such_column}');
SELECT stratum.enable_audit('accounts_audited', '{id}');
SELECT stratum.enable_audit('accounts_audited', NULL);
SELECT stratum.enable_audit('accounts_audited', '{NULL}');
SELECT stratum.enable_audit(NULL);
SELECT stratum.enable_audit('no_such_table');
CREATE VIEW accounts_view AS SELECT id FROM accounts_audited;
SELECT stratum.enable_audit('accounts_view');
DROP VIEW accounts_view;
SELECT stratum.enable_audit('stratum.tenants');
SELECT * FROM stratum.audited_tables();
RESET ROLE;
SELECT stratum.audit_row();

-- Every kind of column comes out exactly as to_jsonb() would write it.
CREATE TYPE audit_mood AS ENUM ('calm', 'upset');
CREATE TYPE audit_pair AS (n int, label text);
CREATE DOMAIN audit_positive AS int CHECK (VALUE > 0);
CREATE TABLE kinds (
    id bigint PRIMARY KEY, flag boolean, small smallint, big bigint, amount numeric,
    ratio double precision, single real, body text, code char(4), label varchar(20),
    day date, moment timestamptz, local_time timestamp, clock timetz, span interval,
    ref uuid, doc jsonb, raw_json json, ints int[], grid int[][], words text[], bytes bytea,
    mood audit_mood, pair audit_pair, pairs audit_pair[], positive audit_positive,
    net inet, num_range int4range, name_col name, xml_col xml);
SELECT stratum.enable_audit('kinds');
SET TIME ZONE 'UTC';
INSERT INTO kinds VALUES
    (1, true, -7, 9223372036854775807, 123.4500, 1.5, 0.25, E'tab\there "quoted" \\ ✓', 'ab',
     'varying', '2024-02-29', '2024-02-29 12:34:56.789+02', '2024-02-29 12:34:56', '10:00+02',
     '1 day 2 hours', 'aaaaaaaa-0000-4000-8000-000000000001', '{"nested": [1, {"x": null}], "s": "v"}',
     '{"b": 1, "a": [true]}', '{1,NULL,3}', '{{1,2},{3,4}}', '{"a b",NULL,""}', '\x00ff',
     'upset', '(1,"one")', ARRAY[(2, 'two')::audit_pair, NULL], 5, '10.0.0.1/8', '[1,10)',
     'a name', '<a>1</a>'),
    (2, NULL, NULL, NULL, 'NaN', 'Infinity', '-Infinity', NULL, NULL, NULL, 'infinity',
     '-infinity', NULL, NULL, NULL, NULL, 'null', 'null', '{}', '{}', '{}', NULL, NULL, NULL,
     '{}', NULL, NULL, 'empty', NULL, NULL);
SELECT k.id, l.new_row = to_jsonb(k) AS same_as_to_jsonb
  FROM stratum.audit_log l JOIN kinds k ON l.table_oid = 'kinds'::regclass
                                       AND l.row_key = jsonb_build_object('id', k.id)
 ORDER BY k.id;
SELECT new_row FROM stratum.audit_log WHERE table_oid = 'kinds'::regclass ORDER BY id;
RESET TIME ZONE;

-- The types written without a detour (integers, numeric, text, booleans and
-- flat arrays of them) are byte for byte what to_jsonb() stores: same size,
-- same text, same numbers when read back as numeric. (Sizes compare where
-- the log keeps its copy uncompressed: bodies under 2 kB.)
CREATE TABLE numbers (id int PRIMARY KEY, small smallint, whole int, big bigint, amount numeric,
                      flags boolean[], amounts numeric[], bigs bigint[], words text[], body text);
SELECT stratum.enable_audit('numbers');
INSERT INTO numbers
SELECT row_number() OVER (), v.small, v.whole, v.big, v.amount, v.flags, v.amounts, v.bigs, v.words, v.body
  FROM (VALUES
    (0::smallint, 0, 0::bigint, 0::numeric, '{}'::boolean[], '{}'::numeric[], '{}'::bigint[], '{}'::text[], ''),
    (-32768, -2147483648, -9223372036854775808, -0.000001, '{true,false,NULL}', '{1.5,NaN,-Infinity,NULL}',
     '{10000,-10000,100000000}', '{"", NULL, "x"}', 'short'),
    (32767, 2147483647, 9223372036854775807, 123456789012345678901234567890.123456789,
     '{false}', '{0,-0.0,1e-20,1e20}', '{9999,10001,1}', '{"é", "tab\there"}', 'é'),
    (1, 10000, 100000000, 10000000000000000, NULL, NULL, NULL, NULL, NULL),
    (-1, -9999, -10000, -100000000, '{}', '{Infinity}', '{-1}', '{}', 'x'),
    (2, 2, 2, 2.5, '{true}', '{2}', '{2}', '{two}', (SELECT string_agg(md5(i::text), ' ') FROM generate_series(1, 40) i)),
    (3, 3, 3, 3, NULL, NULL, NULL, NULL, repeat('long text ', 400)),
    (4, 4, 4, 4, NULL, NULL, NULL, NULL, lpad('', 3000, 'abc') || md5('x'))
  ) AS v (small, whole, big, amount, flags, amounts, bigs, words, body);
SELECT n.id, l.new_row = to_jsonb(n) AS same, l.new_row::text = to_jsonb(n)::text AS same_text,
       CASE WHEN coalesce(length(n.body), 0) < 2000 THEN pg_column_size(l.new_row) = pg_column_size(to_jsonb(n)) END AS same_size,
       (l.new_row -> 'big')::numeric IS NOT DISTINCT FROM n.big::numeric
       AND (l.new_row -> 'whole')::numeric IS NOT DISTINCT FROM n.whole::numeric
       AND (l.new_row -> 'small')::numeric + 1 IS NOT DISTINCT FROM n.small::numeric + 1
       AND (l.new_row -> 'amount')::numeric * 2 IS NOT DISTINCT FROM n.amount * 2 AS same_numbers
  FROM stratum.audit_log l JOIN numbers n ON l.table_oid = 'numbers'::regclass
                                         AND l.row_key = jsonb_build_object('id', n.id)
 ORDER BY n.id;

-- No primary key: no row key, unless a replica identity index names the row.
CREATE TABLE no_key (a int, b text);
SELECT stratum.enable_audit('no_key');
SELECT audit_mark() AS mark \gset
INSERT INTO no_key VALUES (1, 'x');
CREATE UNIQUE INDEX no_key_a ON no_key (a);
ALTER TABLE no_key ALTER COLUMN a SET NOT NULL, REPLICA IDENTITY USING INDEX no_key_a;
UPDATE no_key SET b = 'y';
DELETE FROM no_key;
SELECT op, row_key, old_row, new_row, changed_columns FROM audit_since(:mark);

-- Composite keys, generated columns, NULLs, TOAST-sized values.
CREATE TABLE composite (region text, seq int, amount int, doubled int GENERATED ALWAYS AS (amount * 2) STORED,
                        note text, PRIMARY KEY (region, seq));
SELECT stratum.enable_audit('composite');
SELECT audit_mark() AS mark \gset
INSERT INTO composite (region, seq, amount, note) VALUES ('eu', 1, 5, NULL), ('us', 1, NULL, repeat('x', 100000));
UPDATE composite SET amount = 6 WHERE region = 'eu';
UPDATE composite SET note = repeat('y', 100000) WHERE region = 'us';
-- An unchanged TOAST value is compared without being fetched, and stays out of changed_columns.
UPDATE composite SET amount = 1 WHERE region = 'us';
SELECT op, row_key, old_row - 'note' AS old_row, new_row - 'note' AS new_row, changed_columns,
       length(old_row ->> 'note') AS old_note_length, length(new_row ->> 'note') AS new_note_length,
       left(new_row ->> 'note', 3) AS new_note_starts
  FROM audit_since(:mark);
SELECT row_key FROM stratum.audit_log WHERE table_oid = 'composite'::regclass AND operation = 'UPDATE'
   AND new_row ->> 'note' = repeat('y', 100000);

-- Columns added and dropped after enable_audit.
CREATE TABLE evolving (id int PRIMARY KEY, a text);
SELECT stratum.enable_audit('evolving');
INSERT INTO evolving VALUES (1, 'before');
ALTER TABLE evolving ADD COLUMN added int DEFAULT 42;
SELECT audit_mark() AS mark \gset
UPDATE evolving SET a = 'after add';
ALTER TABLE evolving DROP COLUMN a;
INSERT INTO evolving VALUES (2, 7);
UPDATE evolving SET added = 43 WHERE id = 1;
SELECT op, row_key, old_row, new_row, changed_columns FROM audit_since(:mark);

-- A session keeps the description of an audited table from one statement to
-- the next: a column's new type, the table's new name and its schema's new
-- name show in the next entry all the same.
CREATE SCHEMA audit_moving;
CREATE TABLE audit_moving.t (id int PRIMARY KEY, v int);
SELECT stratum.enable_audit('audit_moving.t');
INSERT INTO audit_moving.t VALUES (1, 1);
ALTER TABLE audit_moving.t ALTER COLUMN v TYPE text;
INSERT INTO audit_moving.t VALUES (2, 'two');
ALTER TABLE audit_moving.t RENAME TO moved;
INSERT INTO audit_moving.moved VALUES (3, 'three');
ALTER SCHEMA audit_moving RENAME TO audit_moved;
INSERT INTO audit_moved.moved VALUES (4, 'four');
SELECT table_schema, table_name, new_row FROM stratum.audit_log
 WHERE table_oid = 'audit_moved.moved'::regclass ORDER BY id;
DROP SCHEMA audit_moved CASCADE;

-- An excluded column stays excluded when renamed; a dropped one is forgotten.
CREATE TABLE people (id int PRIMARY KEY, ssn text, pin text, nick text);
SELECT stratum.enable_audit('people', '{ssn, pin}');
ALTER TABLE people RENAME COLUMN ssn TO national_id;
ALTER TABLE people RENAME COLUMN nick TO nickname;
SELECT * FROM stratum.audited_tables() WHERE relation = 'people'::regclass;
ALTER TABLE people DROP COLUMN pin;
SELECT * FROM stratum.audited_tables() WHERE relation = 'people'::regclass;
SELECT audit_mark() AS mark \gset
INSERT INTO people VALUES (1, '123-45', 'ace');
SELECT op, new_row FROM audit_since(:mark);

-- TRUNCATE is recorded (the application role has no TRUNCATE right).
SELECT audit_mark() AS mark \gset
BEGIN;
SELECT stratum.set_tenant(:a);
TRUNCATE people;
COMMIT;
SELECT op, tenant, tab, row_key, old_row, new_row FROM audit_since(:mark);

-- Partitioned tables: audited through the parent, whichever relation is written.
SET ROLE regress_owner;
CREATE TABLE orders (id int, placed date NOT NULL, total int, PRIMARY KEY (id, placed))
    PARTITION BY RANGE (placed);
CREATE TABLE orders_2025 PARTITION OF orders FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
SELECT stratum.enable_tenancy('orders');
SELECT stratum.enable_audit('orders');
-- A partition created later gets the audit too.
CREATE TABLE orders_2026 PARTITION OF orders FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE orders_2027 (LIKE orders);
ALTER TABLE orders ATTACH PARTITION orders_2027 FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');
SELECT c.relname, t.tgname, t.tgparentid <> 0 AS cloned FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relname LIKE 'orders%' AND t.tgname LIKE 'stratum_audit%' ORDER BY 1, 2;
-- A partition is audited with its parent, not on its own.
SELECT stratum.enable_audit('orders_2025');
SELECT stratum.disable_audit('orders_2025');
RESET ROLE;
GRANT SELECT, INSERT, UPDATE, DELETE ON orders_2026 TO regress_app;
SELECT audit_mark() AS mark \gset
SET ROLE regress_app;
BEGIN;
SELECT stratum.set_tenant(:a);
INSERT INTO orders (id, placed, total) VALUES (1, '2025-06-01', 10), (2, '2026-06-01', 20);
-- Moving a row to another partition is a DELETE and an INSERT.
UPDATE orders SET placed = '2027-06-01' WHERE id = 1;
-- Written through a partition directly: still recorded, under the parent.
UPDATE orders_2026 SET total = 21 WHERE id = 2;
-- The statement's entries are there for the next statement to read.
SELECT count(*) AS visible_in_transaction FROM stratum.audit_log WHERE table_oid = 'orders'::regclass;
COMMIT;
RESET ROLE;
SELECT op, tenant, tab, row_key, old_row - 'tenant_id' AS old_row, new_row - 'tenant_id' AS new_row,
       changed_columns
  FROM audit_since(:mark);
SELECT audit_mark() AS mark \gset
TRUNCATE orders_2026;
TRUNCATE orders;
SELECT op, tab FROM audit_since(:mark);

-- Hostile identifiers: schema, table and column names are data, never SQL.
SET ROLE regress_owner;
CREATE SCHEMA "odd ""schema""; DROP TABLE orders";
CREATE TABLE "odd ""schema""; DROP TABLE orders"."Tab'le; --" (
    "Key ""1""" int PRIMARY KEY, "sec'ret" text, "with space" text, "back\slash" text);
SELECT stratum.enable_audit('"odd ""schema""; DROP TABLE orders"."Tab''le; --"',
                            ARRAY['sec''ret', 'back\slash']);
SELECT relation, exclude_columns FROM stratum.audited_tables()
 WHERE relation::text LIKE '%odd%';
RESET ROLE;
SELECT audit_mark() AS mark \gset
INSERT INTO "odd ""schema""; DROP TABLE orders"."Tab'le; --" VALUES (1, 'hidden', 'shown', 'hidden');
SELECT op, tab, row_key, new_row FROM audit_since(:mark);
SELECT to_regclass('orders') IS NOT NULL AS orders_still_there;

-- Rows written by a superuser and by the table owner are audited too.
SELECT audit_mark() AS mark \gset
INSERT INTO accounts_audited (id, email, tenant_id) VALUES (10, 'root@acme.test', :a);
SET ROLE regress_owner;
BEGIN;
SELECT stratum.set_tenant(:b);
UPDATE accounts_audited SET balance = 5 WHERE id = 3;
COMMIT;
RESET ROLE;
SELECT op, tenant, actor, db_user, row_key FROM audit_since(:mark);

-- A shared table (no tenant_id): entries carry the transaction's tenant, if any.
CREATE TABLE currencies (code text PRIMARY KEY, name text);
SELECT stratum.enable_audit('currencies');
SELECT audit_mark() AS mark \gset
INSERT INTO currencies VALUES ('EUR', 'Euro');
BEGIN;
SELECT stratum.set_tenant(:b);
UPDATE currencies SET name = 'euro';
COMMIT;
SELECT op, tenant, row_key FROM audit_since(:mark);

-- The history of one row, oldest first; a bare value works for a one-column key.
SELECT operation, changed_columns, new_row ->> 'balance' AS balance
  FROM stratum.row_history('accounts_audited', '{"id": 1}');
SELECT count(*) FROM stratum.row_history('accounts_audited', '1');
SELECT operation, row_key FROM stratum.row_history('composite', '{"seq": 1, "region": "eu"}');
SELECT count(*) FROM stratum.row_history('composite', '1');
SELECT count(*) FROM stratum.row_history('accounts_audited', NULL);
-- The row history is served by an index.
SET enable_seqscan = off;
SELECT plan_shape($$SELECT * FROM stratum.audit_log WHERE row_key = '{"id": 1}'$$);
RESET enable_seqscan;

-- create_base_table audits what it creates.
SET ROLE regress_owner;
SELECT stratum.create_base_table('invoices_audited', 'amount int');
SELECT relation, audited, verdict FROM stratum.isolation_report()
 WHERE relation::text IN ('invoices_audited', 'accounts_audited', 'orders', 'orders_2026',
                          'stratum.audit_log', 'stratum.audit_log_default')
 ORDER BY relation::text;

RESET ROLE;

-- disable_audit stops recording and keeps the entries; it is idempotent.
SELECT count(*) > 0 AS has_entries FROM stratum.row_history('accounts_audited', '1');
SET ROLE regress_owner;
SELECT stratum.disable_audit('accounts_audited');
SELECT stratum.disable_audit('accounts_audited');
SELECT stratum.disable_audit('orders');
SELECT count(*) AS audit_triggers_left FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relname IN ('accounts_audited', 'orders', 'orders_2025', 'orders_2026', 'orders_2027')
   AND t.tgname LIKE 'stratum_audit%';
RESET ROLE;
SELECT audit_mark() AS mark \gset
BEGIN;
SELECT stratum.set_tenant(:a);
UPDATE accounts_audited SET balance = 99 WHERE id = 1;
COMMIT;
SELECT count(*) AS new_entries FROM audit_since(:mark);
SELECT count(*) > 0 AS entries_kept FROM stratum.row_history('accounts_audited', '1');

-- Log rows are formed from a plan of the log's layout (audit_log_tuple.cpp):
-- byte for byte what heap_form_minimal_tuple makes, for the log itself and
-- for a table with its column names laid out otherwise (reordered, other
-- widths, a dropped column, columns of its own, a varlena stored PLAIN).
SELECT stratum._audit_log_tuple_selftest('stratum.audit_log') AS log_rows_compared;
CREATE TABLE log_layout_other (
    note text, changed_columns text[], gone int, new_row jsonb, id bigint, operation "char",
    table_oid int2, tenant_id uuid, extra int, logged_at timestamptz, row_key jsonb,
    old_row jsonb, xact_id xid8, actor text, db_user text, table_schema text, table_name text,
    flag boolean);
ALTER TABLE log_layout_other DROP COLUMN gone;
ALTER TABLE log_layout_other ALTER COLUMN actor SET STORAGE PLAIN;
ALTER TABLE log_layout_other ALTER COLUMN old_row SET STORAGE PLAIN;
SELECT stratum._audit_log_tuple_selftest('log_layout_other') AS other_rows_compared;
DROP TABLE log_layout_other;
-- A log wider than the plan covers (64 columns) keeps the generic path.
DO $$
BEGIN
    EXECUTE 'CREATE TABLE log_layout_wide (id bigint, logged_at timestamptz, xact_id xid8, '
         || 'table_oid oid, operation text, db_user text, table_schema text, table_name text, '
         || (SELECT string_agg(format('c%s int', g), ', ') FROM generate_series(1, 60) g) || ')';
END
$$;
SELECT sqlstate_of($$SELECT stratum._audit_log_tuple_selftest('log_layout_wide')$$);
DROP TABLE log_layout_wide;

-- A trigger that fires inside another's conversion: the cast to json of a
-- column writes rows to the same audited table. The outer row's values,
-- encoded before that column, must survive the inner rows' recording: one
-- whose recording fails (its own conversion raises, caught in a block),
-- then one that is written.
RESET ROLE;
CREATE TYPE mood AS ENUM ('calm', 'loud', 'angry');
CREATE TABLE moods (id int PRIMARY KEY, a text, mood_value mood);
SELECT stratum.enable_audit('moods');
CREATE FUNCTION mood_json(m mood) RETURNS json LANGUAGE plpgsql AS $$
BEGIN
    IF m = 'angry' THEN
        RAISE EXCEPTION 'no angry moods';
    END IF;
    IF m = 'loud' THEN
        BEGIN
            INSERT INTO moods VALUES (200, 'never recorded', 'angry');
        EXCEPTION WHEN raise_exception THEN
            NULL;
        END;
        INSERT INTO moods VALUES (100, 'written inside the conversion', 'calm');
    END IF;
    RETURN to_json(m::text);
END
$$;
CREATE CAST (mood AS json) WITH FUNCTION mood_json(mood);
SELECT audit_mark() AS mark \gset
INSERT INTO moods VALUES (1, repeat('outer ', 20), 'loud');
SELECT op, row_key, new_row FROM audit_since(:mark) ORDER BY row_key;
SELECT count(*) AS entries_matching_rows
  FROM stratum.audit_log l JOIN moods m ON l.row_key = jsonb_build_object('id', m.id)
 WHERE l.table_name = 'moods'
   AND l.new_row = jsonb_build_object('a', m.a, 'id', m.id, 'mood_value', m.mood_value::text);
-- A conversion that fails inside a block that catches the error: the row
-- after it is recorded whole.
SELECT audit_mark() AS mark \gset
DO $$
BEGIN
    BEGIN
        INSERT INTO moods VALUES (2, 'refused', 'angry');
    EXCEPTION WHEN raise_exception THEN
        RAISE NOTICE 'caught: %', SQLERRM;
    END;
    INSERT INTO moods VALUES (3, repeat('after ', 20), 'calm');
END
$$;
SELECT op, row_key, new_row FROM audit_since(:mark);
DROP TABLE moods;
DROP CAST (mood AS json);
DROP FUNCTION mood_json(mood);
DROP TYPE mood;

-- The statement's text (operation, actor, user, table) is copied from the
-- previous row of the same trigger while none of it changed. One statement
-- that both inserts and updates, and an actor that an earlier trigger sets
-- row by row, are still recorded row by row.
CREATE TABLE upserts (id int PRIMARY KEY, n int);
SELECT stratum.enable_audit('upserts');
INSERT INTO upserts VALUES (2, 0);
SELECT audit_mark() AS mark \gset
INSERT INTO upserts SELECT g, g FROM generate_series(1, 4) g
    ON CONFLICT (id) DO UPDATE SET n = excluded.n;
SELECT op, row_key FROM audit_since(:mark);
CREATE FUNCTION actor_per_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM stratum.set_actor('row ' || NEW.id);
    RETURN NULL;
END
$$;
-- AFTER row triggers fire in name order for each row: this one first.
CREATE TRIGGER a_actor_per_row AFTER INSERT ON upserts
    FOR EACH ROW EXECUTE FUNCTION actor_per_row();
SELECT audit_mark() AS mark \gset
INSERT INTO upserts SELECT g, g FROM generate_series(5, 7) g;
SELECT op, actor, row_key FROM audit_since(:mark);
DROP TABLE upserts;
DROP FUNCTION actor_per_row();
