-- Schema per tenant: migrations in a tenant's schema, which tenants are
-- behind, and a queue that parallel workers claim tenants from.
CREATE EXTENSION IF NOT EXISTS dblink;
CREATE FUNCTION pg_temp.conninfo(role_name text, app text) RETURNS text LANGUAGE sql AS $$
    SELECT format('host=%s port=%s dbname=%s user=%s application_name=%s',
                  split_part(current_setting('unix_socket_directories'), ',', 1),
                  current_setting('port'), current_database(), role_name, app)
$$;

-- Tenants with their own schemas, owned by the migrator (which made them).
INSERT INTO stratum.tenants (id, slug, name) VALUES
    ('cccccccc-0000-4000-8000-000000000003', 'ledger-one', 'Ledger One'),
    ('dddddddd-0000-4000-8000-000000000004', 'ledger-two', 'Ledger Two'),
    ('eeeeeeee-0000-4000-8000-000000000005', 'ledger-three', 'Ledger Three'),
    ('ffffffff-0000-4000-8000-000000000006', 'ledger-shared', 'Ledger Shared');
ALTER SCHEMA tenant_acme OWNER TO regress_owner;
CREATE TABLE ten_countries (code text PRIMARY KEY);
GRANT SELECT, REFERENCES ON ten_countries TO regress_owner;
SET SESSION AUTHORIZATION regress_owner;
SELECT stratum.create_tenant_schema(id) FROM stratum.tenants
 WHERE slug IN ('ledger-one', 'ledger-two', 'ledger-three') ORDER BY slug;
SELECT slug, schema_name FROM stratum.tenants WHERE schema_name IS NOT NULL ORDER BY schema_name;

-- A tenant migration runs with the tenant's schema first in search_path:
-- unqualified names land there; the caller's path follows it (ten_countries
-- is found in public).
SELECT stratum.apply_migration('tenant_ledger_one', 1, 'create_notes',
    'CREATE TABLE notes (id int PRIMARY KEY, country text REFERENCES ten_countries (code));',
    'DROP TABLE notes;');
SELECT to_regclass('tenant_ledger_one.notes') AS in_tenant, to_regclass('public.notes') AS in_public;
SHOW search_path;
-- Scopes are independent: version 1 of a tenant is not version 1 of master.
SELECT stratum.apply_migration('master', 1, 'master_one', 'SELECT 1');
SELECT stratum.apply_migration('tenant_ledger_one', 2, 'add_body', 'ALTER TABLE notes ADD COLUMN body text;',
                               'ALTER TABLE notes DROP COLUMN body;', depends_on => '{1}');
SELECT scope, version, name, status FROM stratum.migration_status() ORDER BY 1, 2;

-- Rollback in a tenant scope touches that tenant only.
SELECT stratum.rollback_migration('tenant_ledger_one', 2);
SELECT attname FROM pg_attribute WHERE attrelid = 'tenant_ledger_one.notes'::regclass AND attnum > 0 ORDER BY attnum;

-- A scope must be 'master' or a registered tenant's existing schema.
SELECT stratum.apply_migration('tenant_nosuch', 1, 'x', 'SELECT 1');
SELECT stratum.apply_migration('public', 1, 'x', 'SELECT 1');
RESET SESSION AUTHORIZATION;
UPDATE stratum.tenants SET schema_name = 'tenant_ledger_shared' WHERE slug = 'ledger-shared';
SET SESSION AUTHORIZATION regress_owner;
SELECT stratum.apply_migration('tenant_ledger_shared', 1, 'x', 'SELECT 1');
RESET SESSION AUTHORIZATION;
UPDATE stratum.tenants SET schema_name = NULL WHERE slug = 'ledger-shared';
SET SESSION AUTHORIZATION regress_owner;

SELECT stratum.apply_migration('tenant_ledger_one', 2, 'add_body', 'ALTER TABLE notes ADD COLUMN body text;',
                               'ALTER TABLE notes DROP COLUMN body;', depends_on => '{1}');

-- Which tenants are behind, in one query: against the versions on disk...
SELECT slug, schema_name, latest_version, missing_versions FROM stratum.tenants_behind('{1, 2}');
-- ...or, by default, against every version applied in some tenant schema.
SELECT slug, latest_version, missing_versions FROM stratum.tenants_behind();

-- A tenant migration run: queue the tenants that lack a version, then
-- workers claim one tenant at a time (FOR UPDATE SKIP LOCKED) and migrate it
-- in the same transaction. tenant_ledger_three already has a table named
-- notes, so its migration fails.
CREATE TABLE tenant_ledger_three.notes (id int);
SELECT stratum.queue_tenant_migrations('{1, 2}') AS pending;
SELECT scope, state, attempts, target_versions FROM stratum.tenant_migration_queue ORDER BY scope;

RESET SESSION AUTHORIZATION;
SELECT dblink_connect('worker', pg_temp.conninfo('regress_owner', 'ten_worker'));
SET SESSION AUTHORIZATION regress_owner;
-- Worker 1 claims the first pending tenant...
BEGIN;
SELECT scope, tenant, attempts FROM stratum.claim_tenant_migration();
-- ...and worker 2, at the same time, gets the next one, not the same.
SELECT dblink_exec('worker', 'BEGIN');
SELECT * FROM dblink('worker', 'SELECT scope FROM stratum.claim_tenant_migration()') AS r(scope name);
SELECT stratum.apply_migration('tenant_acme', 1, 'create_notes',
    'CREATE TABLE notes (id int PRIMARY KEY, country text REFERENCES ten_countries (code));', 'DROP TABLE notes;');
SELECT stratum.apply_migration('tenant_acme', 2, 'add_body', 'ALTER TABLE notes ADD COLUMN body text;',
                               'ALTER TABLE notes DROP COLUMN body;', depends_on => '{1}');
SELECT stratum.finish_tenant_migration('tenant_acme');
COMMIT;
-- Worker 2's migration fails: its transaction rolls back, then it records
-- the failure so that nobody else retries that tenant in this run.
SELECT * FROM dblink('worker', $$SELECT stratum.apply_migration('tenant_ledger_three', 1, 'create_notes',
    'CREATE TABLE notes (id int PRIMARY KEY, country text REFERENCES ten_countries (code));', 'DROP TABLE notes;')$$)
    AS r(outcome text);
SELECT dblink_exec('worker', 'ROLLBACK');
SELECT * FROM dblink('worker', $$SELECT stratum.fail_tenant_migration('tenant_ledger_three', 'relation "notes" already exists')$$)
    AS r(nothing text);
-- Worker 1 goes on with the next tenant; then there is nothing left.
BEGIN;
SELECT scope FROM stratum.claim_tenant_migration();
-- Finishing before every target version is applied is refused.
\set VERBOSITY terse
SAVEPOINT s;
SELECT stratum.finish_tenant_migration('tenant_ledger_two');
ROLLBACK TO SAVEPOINT s;
\set VERBOSITY default
SELECT stratum.apply_migration('tenant_ledger_two', 1, 'create_notes',
    'CREATE TABLE notes (id int PRIMARY KEY, country text REFERENCES ten_countries (code));', 'DROP TABLE notes;');
SELECT stratum.apply_migration('tenant_ledger_two', 2, 'add_body', 'ALTER TABLE notes ADD COLUMN body text;',
                               'ALTER TABLE notes DROP COLUMN body;', depends_on => '{1}');
SELECT stratum.finish_tenant_migration('tenant_ledger_two');
COMMIT;
SELECT count(*) AS left_to_claim FROM stratum.claim_tenant_migration();
SELECT scope, state, attempts, last_error FROM stratum.tenant_migration_queue ORDER BY scope;
SELECT slug, missing_versions FROM stratum.tenants_behind('{1, 2}');

-- After the problem is fixed, the next run resumes: only the failed tenant
-- is pending, and tenants already migrated are not touched again.
DROP TABLE tenant_ledger_three.notes;
SELECT stratum.queue_tenant_migrations('{1, 2}') AS pending;
BEGIN;
SELECT scope FROM stratum.claim_tenant_migration();
SELECT stratum.apply_migration('tenant_ledger_three', 1, 'create_notes',
    'CREATE TABLE notes (id int PRIMARY KEY, country text REFERENCES ten_countries (code));', 'DROP TABLE notes;');
SELECT stratum.apply_migration('tenant_ledger_three', 2, 'add_body', 'ALTER TABLE notes ADD COLUMN body text;',
                               'ALTER TABLE notes DROP COLUMN body;', depends_on => '{1}');
SELECT stratum.finish_tenant_migration('tenant_ledger_three');
COMMIT;
SELECT scope, state, attempts, last_error FROM stratum.tenant_migration_queue ORDER BY scope;
SELECT count(*) AS behind FROM stratum.tenants_behind('{1, 2}');
SELECT * FROM stratum.verify_ledger();

-- The queue functions check their input.
\set VERBOSITY terse
SELECT stratum.queue_tenant_migrations(NULL);
SELECT stratum.finish_tenant_migration('tenant_nosuch');
SELECT stratum.fail_tenant_migration('tenant_nosuch', 'x');
\set VERBOSITY default

-- Application roles get none of it.
RESET SESSION AUTHORIZATION;
SET ROLE regress_app;
SELECT * FROM stratum.claim_tenant_migration();
SELECT * FROM stratum.tenants_behind();
RESET ROLE;

SELECT dblink_disconnect('worker');
DROP SCHEMA tenant_ledger_one, tenant_ledger_two, tenant_ledger_three CASCADE;
DROP TABLE tenant_acme.notes;
ALTER SCHEMA tenant_acme OWNER TO postgres;
DROP TABLE ten_countries;
DELETE FROM stratum.tenants WHERE slug LIKE 'ledger-%';
TRUNCATE stratum.schema_migrations, stratum.schema_migration_log, stratum.tenant_migration_queue;
DROP EXTENSION dblink;
