-- Reading the ledger: migration_status, migration_plan (one round trip to
-- compare the files on disk with the ledger) and verify_ledger (tampering).
SET ROLE regress_owner;

-- The ledger: 1, 2, 3, 5, 7 and 10 applied, 6 applied and rolled back.
SELECT v, stratum.apply_migration('master', v, 'step_' || v, format('CREATE TABLE pl_%s (id int);', v),
                                  format('DROP TABLE pl_%s;', v))
  FROM unnest(ARRAY[1, 2, 3, 5, 6, 7, 10]) AS v;
SELECT stratum.rollback_migration('master', 6);
SELECT version, name, status, transactional, depends_on, reversible, applied_by,
       rolled_back_by IS NOT NULL AS rolled_back
  FROM stratum.migration_status('master');
SELECT count(*) FROM stratum.migration_status();
SELECT count(*) FROM stratum.migration_status('tenant_nobody');

-- The files: 1, 2 and 7 as applied, 3 edited since, 4, 6, 8, 9, 20 and 100
-- not applied, 5 and 10 deleted. 4 to 9 are older than 10, which is applied:
-- applying them now would be out of order. Versions sort as numbers.
CREATE TEMP TABLE pl_files AS
SELECT v AS version,
       stratum.migration_checksum(CASE WHEN v = 3 THEN 'CREATE TABLE pl_3 (id bigint);'
                                       ELSE format('CREATE TABLE pl_%s (id int);', v) END) AS checksum
  FROM unnest(ARRAY[100, 20, 9, 8, 7, 6, 4, 3, 2, 1]) AS v;
SELECT version, state, name, file_checksum IS NOT NULL AS on_disk, ledger_checksum IS NOT NULL AS in_ledger,
       applied_at IS NOT NULL AS applied
  FROM stratum.migration_plan('master', (SELECT array_agg(version) FROM pl_files),
                              (SELECT array_agg(checksum ORDER BY version DESC) FROM pl_files));

-- Seeds are planned per environment.
SELECT stratum.apply_migration('master', 1, 'seed_one', 'SELECT 1', kind => 'seed', environment => 'test');
SELECT version, state FROM stratum.migration_plan('master', '{1, 2}',
    ARRAY[stratum.migration_checksum('SELECT 1'), stratum.migration_checksum('SELECT 2')], 'seed', 'test');
SELECT version, state FROM stratum.migration_plan('master', '{1}',
    ARRAY[stratum.migration_checksum('SELECT 1')], 'seed', 'development');

-- Nothing on disk, or an empty ledger.
SELECT version, state FROM stratum.migration_plan('master', '{}', '{}');
SELECT version, state FROM stratum.migration_plan('tenant_nobody', '{2, 1}',
    ARRAY[stratum.migration_checksum('a'), stratum.migration_checksum('b')]);

-- Bad input is refused clearly.
\set VERBOSITY terse
SELECT * FROM stratum.migration_plan('master', '{1, 2}', ARRAY[stratum.migration_checksum('a')]);
SELECT * FROM stratum.migration_plan('master', '{1, NULL}', ARRAY[stratum.migration_checksum('a'), stratum.migration_checksum('b')]);
SELECT * FROM stratum.migration_plan('master', '{1}', '{not-a-checksum}');
SELECT * FROM stratum.migration_plan('master', '{1}', ARRAY[upper(stratum.migration_checksum('a'))]);
SELECT * FROM stratum.migration_plan('master', '{3, 1, 3}', ARRAY[stratum.migration_checksum('a'), stratum.migration_checksum('b'), stratum.migration_checksum('c')]);
SELECT * FROM stratum.migration_plan('master', NULL, '{}');
SELECT * FROM stratum.migration_plan('master', '{}', '{}', 'patch');

\set VERBOSITY default

-- verify_ledger: a consistent ledger has no problems.
SELECT * FROM stratum.verify_ledger();
RESET ROLE;

-- Someone with the rights to do so changes the ledger behind stratum's back.
UPDATE stratum.schema_migrations SET checksum = stratum.migration_checksum('CREATE TABLE pl_1 (id bigint);')
 WHERE version = 1 AND kind = 'migration';
UPDATE stratum.schema_migrations SET down_sql = 'SELECT 1;' WHERE version = 2;
UPDATE stratum.schema_migrations SET up_sql = 'CREATE TABLE pl_3 (id bigint);',
                                     checksum = stratum.migration_checksum('CREATE TABLE pl_3 (id bigint);')
 WHERE version = 3;
UPDATE stratum.schema_migrations SET status = 'applied', rolled_back_at = NULL, rolled_back_by = NULL WHERE version = 6;
UPDATE stratum.schema_migrations SET depends_on = '{4}' WHERE version = 10;
DELETE FROM stratum.schema_migrations WHERE version = 7;

SET ROLE regress_owner;
SELECT scope, kind, version, problem FROM stratum.verify_ledger();
SELECT detail FROM stratum.verify_ledger('master') WHERE version = 2;
SELECT detail FROM stratum.verify_ledger('master') WHERE version = 10;
SELECT count(*) FROM stratum.verify_ledger('tenant_nobody');
-- The tampered checksum of 1 also shows as drift against the unchanged file.
SELECT version, state FROM stratum.migration_plan('master', '{1}',
    ARRAY[stratum.migration_checksum('CREATE TABLE pl_1 (id int);')])
 WHERE version = 1;
RESET ROLE;

DROP TABLE pl_1, pl_2, pl_3, pl_5, pl_7, pl_10;
TRUNCATE stratum.schema_migrations, stratum.schema_migration_log;
