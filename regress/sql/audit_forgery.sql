-- Nothing the application role writes can appear in another tenant's audit
-- trail, and no column is readable through the trail by a role that cannot
-- read it on the table.
\set a '''aaaaaaaa-0000-4000-8000-000000000001'''
\set b '''bbbbbbbb-0000-4000-8000-000000000002'''
SELECT stratum.grant_app_role('regress_app');
GRANT CREATE ON SCHEMA public TO regress_app;

-- 1. A table of the application role's own, with a trigger merely named
-- stratum_audit: the DDL event trigger (which runs as the extension owner)
-- must not put stratum's audit trigger on it when a column changes.
SET ROLE regress_app;
CREATE FUNCTION forge_noop() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NULL; END';
-- (Its arguments look like exclusions, which the event trigger follows when
-- a column is dropped or renamed.)
CREATE TEMP TABLE forged (id int, tenant_id uuid, note text, extra int) ON COMMIT DELETE ROWS;
CREATE TRIGGER stratum_audit AFTER INSERT ON forged FOR EACH ROW EXECUTE FUNCTION forge_noop('extra', 'note');
ALTER TABLE forged DROP COLUMN extra;
ALTER TABLE forged RENAME COLUMN note TO remark;
CREATE TABLE forged_kept (id int, tenant_id uuid);
CREATE TRIGGER stratum_audit AFTER INSERT ON forged_kept FOR EACH ROW EXECUTE FUNCTION forge_noop('gone');
ALTER TABLE forged_kept ADD COLUMN remark text;
BEGIN;
SELECT stratum.set_tenant(:a);
INSERT INTO forged VALUES (1, :b, 'forged for globex');
INSERT INTO forged_kept VALUES (1, :b, 'forged for globex');
TRUNCATE forged_kept;
COMMIT;
-- Nor can it name stratum's trigger functions itself.
CREATE TRIGGER stratum_audit2 AFTER INSERT ON forged FOR EACH ROW EXECUTE FUNCTION stratum.audit_row();
CREATE TRIGGER stratum_audit3 AFTER TRUNCATE ON forged_kept FOR EACH STATEMENT EXECUTE FUNCTION stratum.audit_truncate();
SELECT stratum.enable_audit('forged_kept');
RESET ROLE;
SELECT tgrelid::regclass AS relation, tgname, tgfoid::regproc AS function
  FROM pg_trigger WHERE tgrelid IN ('forged_kept'::regclass) ORDER BY tgname;
SELECT count(*) AS forged_entries FROM stratum.audit_log
 WHERE table_name IN ('forged', 'forged_kept');

-- 2. An audited table that is not tenant-isolated: whatever tenant_id a row
-- names, its entry belongs to the tenant of the transaction that wrote it.
SET ROLE regress_owner;
CREATE TABLE shared_notes (id int PRIMARY KEY, tenant_id uuid, body text);
SELECT stratum.enable_audit('shared_notes');
RESET ROLE;
GRANT SELECT, INSERT, UPDATE, DELETE ON shared_notes TO regress_app;
SET ROLE regress_app;
BEGIN;
SELECT stratum.set_tenant(:a);
INSERT INTO shared_notes VALUES (1, :b, 'acme writes as globex');
UPDATE shared_notes SET body = 'again' WHERE id = 1;
DELETE FROM shared_notes WHERE id = 1;
COMMIT;
BEGIN;
SELECT stratum.set_tenant(:b);
SELECT count(*) AS in_globex_trail FROM stratum.audit_log WHERE table_name = 'shared_notes';
COMMIT;
BEGIN;
SELECT stratum.set_tenant(:a);
SELECT operation, new_row->>'tenant_id' = :b AS row_names_globex FROM stratum.audit_log
 WHERE table_name = 'shared_notes' ORDER BY id;
COMMIT;
RESET ROLE;
-- A tenant-isolated table: the row's tenant is the entry's (row level
-- security made the writer keep to it; a superuser writes where it says).
SET ROLE regress_owner;
CREATE TABLE isolated_notes (id int PRIMARY KEY, body text);
SELECT stratum.enable_tenancy('isolated_notes');
SELECT stratum.enable_audit('isolated_notes');
RESET ROLE;
INSERT INTO isolated_notes (id, tenant_id, body) VALUES (1, :b, 'written by the superuser');
SELECT tenant_id = :b AS entry_is_globex FROM stratum.audit_log WHERE table_name = 'isolated_notes';

-- 3. Column privileges: a column the application role may not read is not
-- readable through the trail. Its value is withheld from the entries (its
-- change is still named), in step with GRANT and REVOKE; entries written
-- while it could be read are hidden from it once it no longer can.
SET ROLE regress_owner;
CREATE TABLE staff (id int PRIMARY KEY, name text NOT NULL, salary int NOT NULL);
SELECT stratum.enable_tenancy('staff');
SELECT stratum.enable_audit('staff');
REVOKE SELECT ON staff FROM regress_app;
GRANT SELECT (id, tenant_id, name) ON staff TO regress_app;
GRANT UPDATE (salary) ON staff TO regress_app;
RESET ROLE;
SELECT relation, exclude_columns, withheld_columns FROM stratum.audited_tables() WHERE relation = 'staff'::regclass;
SET ROLE regress_app;
BEGIN;
SELECT stratum.set_tenant(:a);
INSERT INTO staff (id, name, salary) VALUES (1, 'ann', 5000);
UPDATE staff SET salary = 6000 WHERE id = 1;
SELECT sqlstate_of('SELECT salary FROM staff') AS reading_salary;
SELECT operation, old_row, new_row, changed_columns FROM stratum.audit_log
 WHERE table_name = 'staff' ORDER BY id;
SELECT operation, new_row ? 'salary' AS has_salary FROM stratum.row_history('staff', '1');
COMMIT;
RESET ROLE;
-- The owner reads the same entries: the value was never written.
SELECT operation, new_row ? 'salary' AS has_salary, changed_columns FROM stratum.audit_log
 WHERE table_name = 'staff' ORDER BY id;

-- GRANT: new entries carry the column.
GRANT SELECT (salary) ON staff TO regress_app;
SELECT withheld_columns FROM stratum.audited_tables() WHERE relation = 'staff'::regclass;
SET ROLE regress_app;
BEGIN;
SELECT stratum.set_tenant(:a);
UPDATE staff SET salary = 7000 WHERE id = 1;
SELECT operation, new_row->>'salary' AS salary FROM stratum.audit_log WHERE table_name = 'staff' ORDER BY id;
COMMIT;
RESET ROLE;
-- REVOKE again: the entry holding a salary is no longer shown to the role,
-- the others still are.
REVOKE SELECT (salary) ON staff FROM regress_app;
SET ROLE regress_app;
BEGIN;
SELECT stratum.set_tenant(:a);
SELECT operation, new_row ? 'salary' AS has_salary FROM stratum.audit_log WHERE table_name = 'staff' ORDER BY id;
SELECT count(*) AS salaries_readable FROM stratum.audit_log WHERE new_row ? 'salary' OR old_row ? 'salary';
COMMIT;
RESET ROLE;
SELECT count(*) AS owner_still_reads_all FROM stratum.audit_log WHERE table_name = 'staff';

-- A table the role may not read at all: none of its entries.
SET ROLE regress_owner;
CREATE TABLE payroll (id int PRIMARY KEY, amount int);
SELECT stratum.enable_tenancy('payroll');
SELECT stratum.enable_audit('payroll');
REVOKE ALL ON payroll FROM regress_app;
RESET ROLE;
BEGIN;
SELECT stratum.set_tenant(:a);
INSERT INTO payroll (id, amount) VALUES (1, 100);
COMMIT;
SET ROLE regress_app;
BEGIN;
SELECT stratum.set_tenant(:a);
SELECT count(*) AS payroll_entries FROM stratum.audit_log WHERE table_name = 'payroll';
COMMIT;
RESET ROLE;
SELECT count(*) AS payroll_entries_for_owner FROM stratum.audit_log WHERE table_name = 'payroll';
DROP TABLE forged_kept, shared_notes, isolated_notes, staff, payroll;
DROP FUNCTION forge_noop();
REVOKE CREATE ON SCHEMA public FROM regress_app;
