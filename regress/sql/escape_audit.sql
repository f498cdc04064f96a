-- Audit log tampering by the application role, beyond what audit_security
-- covers: switching the trail off, rewriting it through side doors, forging
-- entries through stratum's own trigger functions. Every attempt is refused
-- and the trail still holds every change.
\set a '''aaaaaaaa-0000-4000-8000-000000000001'''

SET ROLE regress_owner;
CREATE TABLE esc_ledger (id int PRIMARY KEY, amount int NOT NULL);
SELECT stratum.enable_tenancy('esc_ledger');
SELECT stratum.enable_audit('esc_ledger');
RESET ROLE;
SELECT stratum.grant_app_role('regress_app');
SET ROLE regress_app;
BEGIN;
SELECT stratum.set_tenant(:a);
INSERT INTO esc_ledger VALUES (1, 100);
COMMIT;

BEGIN;
SELECT stratum.set_tenant(:a);
-- Switching the trail off.
SELECT sqlstate_of('SET session_replication_role = replica') AS replica_role;
SELECT sqlstate_of('ALTER TABLE esc_ledger DISABLE TRIGGER stratum_audit') AS disable_trigger;
SELECT sqlstate_of('ALTER TABLE esc_ledger DISABLE TRIGGER ALL') AS disable_all;
SELECT sqlstate_of('DROP TRIGGER stratum_audit ON esc_ledger') AS drop_trigger;
SELECT sqlstate_of('SELECT stratum.disable_audit(''esc_ledger'')') AS disable_audit;
SELECT sqlstate_of('SELECT stratum.enable_audit(''esc_ledger'', ''{amount}'')') AS exclude_columns;
-- Changing the log's shape or ownership.
SELECT sqlstate_of('ALTER TABLE stratum.audit_log DISABLE TRIGGER ALL') AS log_triggers;
SELECT sqlstate_of('ALTER TABLE stratum.audit_log OWNER TO regress_app') AS log_owner;
SELECT sqlstate_of('DROP TABLE stratum.audit_log') AS drop_log;
SELECT sqlstate_of('ALTER TABLE stratum.audit_log DETACH PARTITION stratum.audit_log_default') AS detach;
SELECT sqlstate_of('CREATE RULE esc_r AS ON INSERT TO stratum.audit_log DO INSTEAD NOTHING') AS rule;
SELECT sqlstate_of('CREATE TRIGGER esc_t BEFORE INSERT ON stratum.audit_log FOR EACH ROW EXECUTE FUNCTION stratum.tenant_guard()') AS trigger;
SELECT sqlstate_of('SELECT stratum.disable_tenancy(''stratum.audit_log'')') AS disable_log_tenancy;
-- Rewriting entries through side doors.
SELECT sqlstate_of('WITH d AS (DELETE FROM stratum.audit_log RETURNING 1) SELECT count(*) FROM d') AS cte_delete;
SELECT sqlstate_of('UPDATE stratum.audit_log_default SET new_row = ''{}''') AS partition_update;
SELECT sqlstate_of('INSERT INTO stratum.audit_log_default SELECT * FROM stratum.audit_log LIMIT 1') AS partition_insert;
SELECT sqlstate_of('SELECT 1 FROM stratum.audit_log FOR UPDATE') AS row_lock;
SELECT sqlstate_of('LOCK TABLE stratum.audit_log IN ACCESS EXCLUSIVE MODE') AS table_lock;
-- Forging entries through stratum's own trigger functions.
CREATE TEMP TABLE esc_fake (id int PRIMARY KEY, tenant_id uuid) ON COMMIT DROP;
SELECT sqlstate_of('CREATE TRIGGER stratum_audit AFTER INSERT ON esc_fake FOR EACH ROW EXECUTE FUNCTION stratum.audit_row()') AS forged_trigger;
SELECT sqlstate_of('SELECT stratum._audit_log_append_only()') AS call_append_only;
COMMIT;
-- COPY into the log, straight from the client.
\copy stratum.audit_log (operation) from program 'trap "" PIPE; echo DELETE 2>/dev/null; exit 0'
-- After all these attempts the trail holds every change, and only them.
BEGIN;
SELECT stratum.set_tenant(:a);
UPDATE esc_ledger SET amount = 90 WHERE id = 1;
SELECT operation, old_row ->> 'amount' AS old_amount, new_row ->> 'amount' AS new_amount
  FROM stratum.audit_log WHERE table_oid = 'esc_ledger'::regclass ORDER BY id;
COMMIT;
RESET ROLE;
SELECT current_setting('session_replication_role') AS replication_role;
DROP TABLE esc_ledger;
