-- Retention without rewriting: the log is partitioned by month, old months
-- are detached or dropped whole, and nothing is lost on the way.
CREATE FUNCTION audit_layout()
    RETURNS TABLE (part text, has_entries boolean, guarded boolean, isolated boolean)
    LANGUAGE sql AS $$
    SELECT regexp_replace(p::text, '\d{4}_\d{2}$', 'YYYY_MM'),
           EXISTS (SELECT 1 FROM stratum.audit_log l WHERE l.tableoid = p),
           EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = p AND tgname = 'stratum_append_only'),
           stratum._has_isolation_policy(p)
      FROM stratum._relation_tree('stratum.audit_log') AS p
     WHERE p <> 'stratum.audit_log'::regclass
     ORDER BY p::text
$$;
SELECT count(*) AS entries_before FROM stratum.audit_log \gset
SELECT * FROM audit_layout();

-- The first call makes this month's partition (and the next ones) and moves
-- the waiting entries out of the DEFAULT partition. Each month takes the
-- DEFAULT partition's indexes: here stratum's BRIN index and an exact one on
-- row_key that a DBA added.
CREATE INDEX audit_log_default_row_key_exact ON stratum.audit_log_default USING hash (row_key);
SELECT regexp_replace(p::text, '\d{4}_\d{2}$', 'YYYY_MM') AS created
  FROM stratum.create_audit_partitions(months_ahead => 2) AS p;
SELECT * FROM audit_layout();
SELECT DISTINCT regexp_replace(c.relname, '\d{4}_\d{2}$', 'YYYY_MM') AS part,
       (SELECT string_agg(am.amname, ', ' ORDER BY am.amname)
          FROM pg_index x JOIN pg_class ic ON ic.oid = x.indexrelid JOIN pg_am am ON am.oid = ic.relam
         WHERE x.indrelid = c.oid) AS indexes
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
 WHERE i.inhparent = 'stratum.audit_log'::regclass ORDER BY 1;
DROP INDEX stratum.audit_log_default_row_key_exact;
SELECT count(*) = :entries_before AS nothing_lost FROM stratum.audit_log;
-- Idempotent.
SELECT count(*) AS created_again FROM stratum.create_audit_partitions(2);
SELECT stratum.create_audit_partitions(-1);

-- New entries are routed to their month; the new partitions are as isolated as the log.
CREATE TABLE routed (id int PRIMARY KEY);
SELECT stratum.enable_audit('routed');
INSERT INTO routed SELECT g FROM generate_series(1, 1500) g;
SELECT tableoid::regclass = 'stratum.audit_log_default'::regclass AS in_default, count(*)
  FROM stratum.audit_log WHERE table_oid = 'routed'::regclass GROUP BY 1;
SELECT relation, verdict FROM stratum.isolation_report()
 WHERE relation::text LIKE 'stratum.audit_log%' AND verdict <> 'ok';

-- Only the owner removes entries: the migrator is refused.
SET ROLE regress_owner;
SELECT stratum.drop_audit_partitions(now() + interval '10 years');
RESET ROLE;

-- Nothing is older than a year ago yet: nothing goes.
SELECT count(*) AS dropped FROM stratum.drop_audit_partitions(now() - interval '1 year');
-- Archiving: detach the months that ended before the given time, keep the tables.
SELECT regexp_replace(p, '\d{4}_\d{2}$', 'YYYY_MM') AS detached
  FROM stratum.drop_audit_partitions(date_trunc('month', now()) + interval '2 months', detach_only => true) AS p;
SELECT * FROM audit_layout();
SELECT count(*) AS detached_tables_kept FROM pg_class
 WHERE relnamespace = 'stratum'::regnamespace AND relname ~ '^audit_log_\d{4}_\d{2}$' AND NOT relispartition;
-- A detached partition stays append-only for everyone else.
SELECT c.oid::regclass AS detached FROM pg_class c
 WHERE c.relnamespace = 'stratum'::regnamespace AND c.relname ~ '^audit_log_\d{4}_\d{2}$' AND NOT c.relispartition
 ORDER BY c.relname LIMIT 1 \gset
GRANT DELETE ON :detached TO regress_owner;
SET ROLE regress_owner;
SELECT regexp_replace(sqlstate_of(format('DELETE FROM %s', :'detached')), '\d{4}_\d{2}', 'YYYY_MM') AS delete_detached;
RESET ROLE;
-- Dropping: attached months go whole; detached ones are plain tables to drop.
SELECT count(*) AS dropped FROM stratum.drop_audit_partitions('infinity');
SELECT * FROM audit_layout();
DO $$
DECLARE t regclass;
BEGIN
    FOR t IN SELECT oid FROM pg_class WHERE relnamespace = 'stratum'::regnamespace
                AND relname ~ '^audit_log_\d{4}_\d{2}$' AND NOT relispartition LOOP
        EXECUTE format('DROP TABLE %s', t);
    END LOOP;
END
$$;
-- The DEFAULT partition is never dropped, so a write always has a place to go.
INSERT INTO routed VALUES (1501);
SELECT tableoid::regclass AS latest_in, new_row FROM stratum.audit_log
 WHERE table_oid = 'routed'::regclass AND new_row = '{"id": 1501}';
