-- Audit entries are buffered per statement and written in batches: they
-- must vanish with whatever rolls back, and be there for the next statement.
\set a '''aaaaaaaa-0000-4000-8000-000000000001'''

CREATE TABLE ledger (id int PRIMARY KEY, amount int NOT NULL);
SELECT stratum.enable_audit('ledger');
CREATE FUNCTION ledger_entries() RETURNS TABLE (op text, ids bigint, first_id int, last_id int)
    LANGUAGE sql AS $$
    SELECT operation, count(*), min((coalesce(new_row, old_row) ->> 'id')::int),
           max((coalesce(new_row, old_row) ->> 'id')::int)
      FROM stratum.audit_log WHERE table_oid = 'ledger'::regclass GROUP BY operation ORDER BY operation
$$;

-- A statement that fails midway, after more rows than one batch holds:
-- nothing of it is recorded.
INSERT INTO ledger SELECT g, 100 / (2400 - g) FROM generate_series(1, 2500) g;
SELECT * FROM ledger_entries();
-- The next statement's entries are exactly its own.
INSERT INTO ledger SELECT g, g FROM generate_series(1, 2500) g;
SELECT * FROM ledger_entries();

-- Inside a transaction: each statement's entries are visible to the next.
BEGIN;
UPDATE ledger SET amount = amount + 1 WHERE id <= 1500;
SELECT * FROM ledger_entries();
-- Rolling back to a savepoint takes the entries written since along, and
-- only those.
SAVEPOINT before_delete;
DELETE FROM ledger WHERE id > 2000;
SELECT * FROM ledger_entries();
ROLLBACK TO SAVEPOINT before_delete;
SELECT * FROM ledger_entries();
SAVEPOINT bad_update;
UPDATE ledger SET amount = 1 / (id - 2300) WHERE id > 2200;
ROLLBACK TO SAVEPOINT bad_update;
DELETE FROM ledger WHERE id = 2500;
RELEASE SAVEPOINT bad_update;
COMMIT;
SELECT * FROM ledger_entries();

-- A transaction that rolls back leaves no entries.
BEGIN;
INSERT INTO ledger VALUES (3000, 1);
DELETE FROM ledger WHERE id <= 10;
ROLLBACK;
SELECT * FROM ledger_entries();

-- An error caught inside PL/pgSQL: the caught block's entries vanish, the
-- ones around it stay.
DO $$
BEGIN
    INSERT INTO ledger VALUES (4001, 1);
    BEGIN
        INSERT INTO ledger VALUES (4002, 1);
        INSERT INTO ledger SELECT g, 0 FROM generate_series(4003, 5500) g;
        PERFORM 1 / 0;
    EXCEPTION WHEN division_by_zero THEN
        NULL;
    END;
    INSERT INTO ledger VALUES (4003, 1);
END
$$;
SELECT (new_row ->> 'id')::int AS id FROM stratum.audit_log
 WHERE table_oid = 'ledger'::regclass AND (new_row ->> 'id')::int > 4000 ORDER BY id;

-- Nested statements: a trigger on one audited table writing another.
CREATE TABLE ledger_totals (id int PRIMARY KEY, total bigint NOT NULL);
SELECT stratum.enable_audit('ledger_totals');
INSERT INTO ledger_totals VALUES (1, 0);
CREATE FUNCTION ledger_total() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE ledger_totals SET total = total + (SELECT sum(amount) FROM new_rows) WHERE id = 1;
    -- The nested statement's entries are already readable here.
    RAISE NOTICE 'totals audited so far: %',
        (SELECT count(*) FROM stratum.audit_log WHERE table_oid = 'ledger_totals'::regclass);
    RETURN NULL;
END
$$;
CREATE TRIGGER ledger_total AFTER INSERT ON ledger REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_total();
CREATE FUNCTION ledger_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE ledger_totals SET total = total + 1000000 WHERE id = 1;
    RETURN NEW;
END
$$;
CREATE TRIGGER ledger_touch BEFORE INSERT ON ledger FOR EACH ROW
    WHEN (NEW.id = 6002) EXECUTE FUNCTION ledger_touch();
INSERT INTO ledger VALUES (6001, 5), (6002, 7);
SELECT operation, table_name, row_key, old_row, new_row, changed_columns FROM stratum.audit_log
 WHERE table_oid IN ('ledger'::regclass, 'ledger_totals'::regclass)
   AND (table_name = 'ledger_totals' OR (new_row ->> 'id')::int > 6000)
 ORDER BY id;

-- Foreign-key cascades run as nested statements with deferred triggers.
CREATE TABLE ledger_notes (id int PRIMARY KEY, ledger_id int REFERENCES ledger ON DELETE CASCADE);
SELECT stratum.enable_audit('ledger_notes');
INSERT INTO ledger_notes VALUES (1, 6001), (2, 6002);
DELETE FROM ledger WHERE id >= 6001;
SELECT operation, table_name, row_key FROM stratum.audit_log
 WHERE (table_name = 'ledger_notes' OR (table_name = 'ledger' AND (old_row ->> 'id')::int > 6000))
   AND operation = 'DELETE'
 ORDER BY table_name, row_key;

-- COPY goes through the same triggers.
COPY ledger (id, amount) FROM STDIN;
8001	1
8002	2
\.
SELECT count(*) AS copied FROM stratum.audit_log
 WHERE table_oid = 'ledger'::regclass AND (new_row ->> 'id')::int BETWEEN 8001 AND 8002;

-- Every way of writing a row goes through the same trigger: upserts, MERGE,
-- and an UPDATE that changes the key (row_key is the key after the change).
DROP TRIGGER ledger_total ON ledger;
INSERT INTO ledger VALUES (9001, 1) ON CONFLICT (id) DO UPDATE SET amount = excluded.amount;
INSERT INTO ledger VALUES (9001, 2) ON CONFLICT (id) DO UPDATE SET amount = excluded.amount;
INSERT INTO ledger VALUES (9001, 2) ON CONFLICT (id) DO NOTHING;
MERGE INTO ledger l USING (VALUES (9001, 3), (9002, 4)) AS v (id, amount) ON l.id = v.id
    WHEN MATCHED THEN UPDATE SET amount = v.amount
    WHEN NOT MATCHED THEN INSERT VALUES (v.id, v.amount);
UPDATE ledger SET id = 9003 WHERE id = 9002;
MERGE INTO ledger l USING (VALUES (9003)) AS v (id) ON l.id = v.id WHEN MATCHED THEN DELETE;
SELECT operation, row_key, old_row, new_row, changed_columns FROM stratum.audit_log
 WHERE table_oid = 'ledger'::regclass AND (coalesce(new_row, old_row) ->> 'id')::int > 9000
 ORDER BY id;

-- Entries wait in a buffer across statements and are written at commit, or
-- as soon as something reads the log: a statement, a function, a view or a
-- cursor sees every entry made before it. Inside savepoints, the entries of
-- the enclosing levels are written "on loan" and written again if the
-- savepoint that held them rolls back: each entry lands exactly once.
CREATE TABLE unflushed (id int PRIMARY KEY);
SELECT stratum.enable_audit('unflushed');
CREATE FUNCTION unflushed_entries() RETURNS bigint LANGUAGE sql
    AS $$ SELECT count(*) FROM stratum.audit_log WHERE table_oid = 'unflushed'::regclass $$;
CREATE VIEW unflushed_view AS
    SELECT new_row FROM stratum.audit_log WHERE table_oid = 'unflushed'::regclass;
BEGIN;
INSERT INTO unflushed VALUES (1);
SELECT count(*) AS seen_by_next_statement FROM stratum.audit_log
 WHERE table_oid = 'unflushed'::regclass;
INSERT INTO unflushed VALUES (2);
SELECT unflushed_entries() AS seen_by_a_function;
INSERT INTO unflushed VALUES (3);
SELECT count(*) AS seen_through_a_view FROM unflushed_view;
INSERT INTO unflushed VALUES (4);
SAVEPOINT a;
SAVEPOINT b;
SELECT unflushed_entries() AS outer_entries_seen_in_a_savepoint;
RELEASE SAVEPOINT b;
SELECT unflushed_entries() AS after_release;
ROLLBACK TO SAVEPOINT a;
SELECT unflushed_entries() AS after_rollback_to, count(DISTINCT id) AS distinct_ids
  FROM stratum.audit_log WHERE table_oid = 'unflushed'::regclass;
INSERT INTO unflushed VALUES (5);
SAVEPOINT c;
INSERT INTO unflushed VALUES (6);
ROLLBACK TO SAVEPOINT c;
RELEASE SAVEPOINT a;
INSERT INTO unflushed VALUES (7);
COMMIT;
SELECT array_agg((new_row ->> 'id')::int ORDER BY id) AS ids, count(*) = count(DISTINCT id) AS each_once
  FROM stratum.audit_log WHERE table_oid = 'unflushed'::regclass;
BEGIN;
INSERT INTO unflushed VALUES (8);
SELECT unflushed_entries() AS seen_then_rolled_back;
ROLLBACK;
SELECT unflushed_entries() AS after_rollback;

-- A PL/pgSQL block that reads the log and then fails: the entries made
-- before it, written on loan inside the block, are written again after it.
DO $$
BEGIN
    INSERT INTO unflushed VALUES (9);
    BEGIN
        PERFORM unflushed_entries();
        RAISE EXCEPTION 'undo the block';
    EXCEPTION WHEN raise_exception THEN
        NULL;
    END;
    INSERT INTO unflushed VALUES (10);
END
$$;
SELECT array_agg((new_row ->> 'id')::int ORDER BY id) AS ids, count(*) = count(DISTINCT id) AS each_once
  FROM stratum.audit_log WHERE table_oid = 'unflushed'::regclass;

-- A statement trigger of the audited table that reads the log sees the
-- statement's own entries; a cursor sees those made before it was opened.
CREATE TABLE unflushed_seen (seen bigint);
CREATE FUNCTION unflushed_count_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO unflushed_seen SELECT unflushed_entries();
    RETURN NULL;
END
$$;
CREATE TRIGGER a_count AFTER INSERT ON unflushed
    FOR EACH STATEMENT EXECUTE FUNCTION unflushed_count_trigger();
INSERT INTO unflushed VALUES (11), (12);
SELECT seen AS seen_by_statement_trigger FROM unflushed_seen;
DROP TRIGGER a_count ON unflushed;
BEGIN;
INSERT INTO unflushed VALUES (13);
DECLARE entries CURSOR FOR
    SELECT (new_row ->> 'id')::int AS id FROM stratum.audit_log
     WHERE table_oid = 'unflushed'::regclass ORDER BY id DESC;
INSERT INTO unflushed VALUES (14);
FETCH 1 FROM entries;
CLOSE entries;
COMMIT;
SELECT max((new_row ->> 'id')::int) AS last_id FROM stratum.audit_log
 WHERE table_oid = 'unflushed'::regclass;
