-- Locking: lock_timeout on migration statements (the error names the
-- migration and what blocks it), the scope's migration lock between
-- concurrent migrators, and the session lock of non-transactional migrations.
-- Other sessions are opened with dblink.
CREATE EXTENSION IF NOT EXISTS dblink;
CREATE FUNCTION pg_temp.conninfo(role_name text, app text) RETURNS text LANGUAGE sql AS $$
    SELECT format('host=%s port=%s dbname=%s user=%s application_name=%s',
                  split_part(current_setting('unix_socket_directories'), ',', 1),
                  current_setting('port'), current_database(), role_name, app)
$$;
-- An error's SQLSTATE, message, detail and hint, with pids and durations masked.
CREATE FUNCTION pg_temp.error_of(statement text)
    RETURNS TABLE (sqlstate text, message text, detail text, hint text) LANGUAGE plpgsql AS $$
DECLARE
    s text; m text; d text; h text;
BEGIN
    EXECUTE statement;
    RETURN QUERY SELECT 'no error'::text, NULL::text, NULL::text, NULL::text;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS s = RETURNED_SQLSTATE, m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL,
                            h = PG_EXCEPTION_HINT;
    RETURN QUERY SELECT s, regexp_replace(regexp_replace(m, 'pids? [0-9, ]+', 'pid N', 'g'),
                                          'transaction [0-9]+', 'transaction X', 'g'),
                        regexp_replace(regexp_replace(d, 'pid [0-9]+', 'pid N', 'g'),
                                       ' for [0-9:]+', ' for T', 'g'),
                        h;
END
$$;
-- Tries to take the session lock of a scope for up to 5 s.
CREATE FUNCTION pg_temp.try_lock_within(scope text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..500 LOOP
        IF stratum.try_migration_lock(scope) THEN
            RETURN true;
        END IF;
        PERFORM pg_sleep(0.01);
    END LOOP;
    RETURN false;
END
$$;
-- Waits until a session with the given application_name waits for a lock.
CREATE FUNCTION pg_temp.await_lock_wait(app text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..500 LOOP
        IF EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = app
                                                    AND wait_event_type = 'Lock') THEN
            RETURN true;
        END IF;
        PERFORM pg_sleep(0.01);
    END LOOP;
    RETURN false;
END
$$;

SET ROLE regress_owner;
SELECT stratum.apply_migration('master', 1, 'create_lk_items', 'CREATE TABLE lk_items (id int);', 'DROP TABLE lk_items;');
GRANT SELECT, UPDATE ON lk_items TO regress_app;
RESET ROLE;

-- 1. A long transaction of the application holds a lock the migration needs:
-- the migration gives up after its lock_timeout, leaves nothing, and the
-- error names the migration, the lock, and the session that blocks it (as
-- much of it as the migrator may see in pg_stat_activity).
SELECT dblink_connect('app', pg_temp.conninfo('regress_app', 'lk_app'));
SELECT dblink_exec('app', 'BEGIN');
SELECT dblink_exec('app', 'LOCK TABLE lk_items IN ACCESS SHARE MODE');
SET ROLE regress_owner;
SELECT * FROM pg_temp.error_of($$SELECT stratum.apply_migration('master', 2, 'add_note',
    E'ALTER TABLE lk_items ADD COLUMN note text;\n', 'ALTER TABLE lk_items DROP COLUMN note;',
    lock_timeout => '300ms')$$);
SELECT count(*) AS note_column FROM pg_attribute WHERE attrelid = 'lk_items'::regclass AND attname = 'note';
SELECT count(*) AS recorded FROM stratum.schema_migrations WHERE version = 2;
-- The caller's settings are back as they were.
SHOW lock_timeout;
SHOW deadlock_timeout;
SHOW log_lock_waits;
-- A row lock is named by the transaction that holds it; with
-- pg_read_all_stats the migrator sees what that session does.
RESET ROLE;
GRANT pg_read_all_stats TO regress_owner;
SELECT dblink_exec('app', 'ROLLBACK');
INSERT INTO lk_items VALUES (1);
SELECT dblink_exec('app', 'BEGIN');
SELECT dblink_exec('app', 'UPDATE lk_items SET id = 2');
SET ROLE regress_owner;
SELECT * FROM pg_temp.error_of($$SELECT stratum.apply_migration('master', 2, 'renumber',
    'UPDATE lk_items SET id = id + 100;', 'UPDATE lk_items SET id = id - 100;', lock_timeout => '300ms')$$);
-- Rollbacks are held to their lock_timeout the same way.
RESET ROLE;
SELECT dblink_exec('app', 'ROLLBACK');
SELECT dblink_exec('app', 'BEGIN');
SELECT dblink_exec('app', 'LOCK TABLE lk_items IN ACCESS SHARE MODE');
SET ROLE regress_owner;
SELECT * FROM pg_temp.error_of($$SELECT stratum.rollback_migration('master', 1, lock_timeout => '200ms')$$);
SELECT status FROM stratum.schema_migrations WHERE version = 1;
RESET ROLE;
SELECT dblink_exec('app', 'ROLLBACK');
REVOKE pg_read_all_stats FROM regress_owner;

-- With the application gone, the same migration goes through.
SET ROLE regress_owner;
SELECT stratum.apply_migration('master', 2, 'add_note', E'ALTER TABLE lk_items ADD COLUMN note text;\n',
                               'ALTER TABLE lk_items DROP COLUMN note;', lock_timeout => '300ms');
RESET ROLE;

-- 2. Two migrators apply the same migration: the second waits for the
-- first's transaction and then skips it; the migration ran exactly once.
SELECT dblink_connect('migrator', pg_temp.conninfo('regress_owner', 'lk_migrator'));
SET ROLE regress_owner;
BEGIN;
SELECT stratum.apply_migration('master', 3, 'create_lk_tags', 'CREATE TABLE lk_tags (id int);', 'DROP TABLE lk_tags;');
SELECT dblink_send_query('migrator', $$SELECT stratum.apply_migration('master', 3, 'create_lk_tags',
    'CREATE TABLE lk_tags (id int);', 'DROP TABLE lk_tags;')$$);
SELECT pg_temp.await_lock_wait('lk_migrator') AS second_migrator_waits;
-- While it waits, stratum.migration_waits() says who waits for what, and on whom.
RESET ROLE;
SELECT scope, waiting_for, blocked_by = pg_backend_pid() AS blocked_by_us, blocker_state, blocker_query
  FROM stratum.migration_waits();
SET ROLE regress_owner;
COMMIT;
SELECT * FROM dblink_get_result('migrator') AS r(outcome text);
SELECT * FROM dblink_get_result('migrator') AS r(outcome text);
SELECT version, action FROM stratum.schema_migration_log WHERE version = 3;

-- A migrator that cannot wait (lock_timeout of its own) gets SQLSTATE 55P03,
-- which the runner retries.
SELECT dblink_exec('migrator', 'BEGIN');
SELECT * FROM dblink('migrator', $$SELECT stratum.apply_migration('master', 4, 'create_lk_more', 'CREATE TABLE lk_more (id int);')$$) AS r(outcome text);
SET lock_timeout = '100ms';
SELECT * FROM pg_temp.error_of($$SELECT stratum.apply_migration('master', 4, 'create_lk_more', 'CREATE TABLE lk_more (id int);')$$);
RESET lock_timeout;
SELECT dblink_exec('migrator', 'COMMIT');
SELECT stratum.apply_migration('master', 4, 'create_lk_more', 'CREATE TABLE lk_more (id int);');

-- 3. Non-transactional migrations: a session lock taken without waiting.
SELECT * FROM dblink('migrator', $$SELECT stratum.try_migration_lock('master')$$) AS r(locked boolean);
SELECT stratum.try_migration_lock('master') AS we_locked;
-- Meanwhile a transactional migrator does not wait (it could deadlock with a
-- CREATE INDEX CONCURRENTLY, which waits for every transaction): it fails at
-- once with 55P03.
SELECT * FROM pg_temp.error_of($$SELECT stratum.apply_migration('master', 5, 'x', 'SELECT 1')$$);
SELECT * FROM dblink('migrator', $$SELECT stratum.release_migration_lock('master')$$) AS r(released boolean);

-- The runner's steps for a non-transactional migration: lock, check, run the
-- statements one by one outside a transaction, record, unlock.
SELECT stratum.record_migration('master', 5, 'index_lk_items', 'CREATE INDEX CONCURRENTLY lk_items_id ON lk_items (id);');
SELECT stratum.try_migration_lock('master') AS locked;
SELECT stratum.try_migration_lock('master') AS locked_again;
SELECT stratum.check_migration('master', 5, 'index_lk_items',
    E'CREATE INDEX CONCURRENTLY lk_items_id ON lk_items (id);\nCREATE INDEX CONCURRENTLY lk_items_note ON lk_items (note);\n',
    E'DROP INDEX CONCURRENTLY lk_items_note;\nDROP INDEX CONCURRENTLY lk_items_id;\n', transactional => false);
SELECT stratum.check_migration('master', 5, 'index_lk_items', 'CREATE INDEX CONCURRENTLY lk_items_id ON lk_items (id);');
SELECT statement FROM stratum.split_migration(
    E'CREATE INDEX CONCURRENTLY lk_items_id ON lk_items (id);\nCREATE INDEX CONCURRENTLY lk_items_note ON lk_items (note);\n') \gexec
SELECT stratum.record_migration('master', 5, 'index_lk_items',
    E'CREATE INDEX CONCURRENTLY lk_items_id ON lk_items (id);\nCREATE INDEX CONCURRENTLY lk_items_note ON lk_items (note);\n',
    E'DROP INDEX CONCURRENTLY lk_items_note;\nDROP INDEX CONCURRENTLY lk_items_id;\n', duration => '1.5s');
SELECT stratum.record_migration('master', 5, 'index_lk_items',
    E'CREATE INDEX CONCURRENTLY lk_items_id ON lk_items (id);\nCREATE INDEX CONCURRENTLY lk_items_note ON lk_items (note);\n',
    E'DROP INDEX CONCURRENTLY lk_items_note;\nDROP INDEX CONCURRENTLY lk_items_id;\n', duration => '1.5s');
SELECT stratum.release_migration_lock('master');
SELECT stratum.release_migration_lock('master');
SELECT indexrelid::regclass, indisvalid FROM pg_index WHERE indrelid = 'lk_items'::regclass ORDER BY 1;
SELECT version, transactional, duration FROM stratum.schema_migrations WHERE version = 5;

-- Its rollback, the same way.
SELECT stratum.record_rollback('master', 5);
SELECT stratum.try_migration_lock('master') AS locked;
SELECT stratum.check_rollback('master', 5);
SELECT s.statement FROM stratum.schema_migrations m, stratum.split_migration(m.down_sql) s
 WHERE m.version = 5 ORDER BY s.statement_no \gexec
SELECT stratum.record_rollback('master', 5, duration => '0.5s');
SELECT stratum.record_rollback('master', 5);
SELECT stratum.release_migration_lock('master');
SELECT count(*) AS indexes FROM pg_index WHERE indrelid = 'lk_items'::regclass;
SELECT version, status FROM stratum.schema_migrations WHERE version = 5;

-- A session lock dies with its session: no lock row can outlive a killed migrator.
SELECT * FROM dblink('migrator', $$SELECT stratum.try_migration_lock('master')$$) AS r(locked boolean);
SELECT stratum.try_migration_lock('master') AS while_held;
SELECT dblink_disconnect('migrator');
SELECT pg_temp.try_lock_within('master') AS after_disconnect;
SELECT stratum.release_migration_lock('master');
RESET ROLE;

SELECT dblink_disconnect('app');
REVOKE ALL ON lk_items FROM regress_app;
DROP TABLE lk_items, lk_tags, lk_more;
TRUNCATE stratum.schema_migrations, stratum.schema_migration_log;
DROP EXTENSION dblink;
