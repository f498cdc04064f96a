-- Hostile names and values where the other suites do not already try them:
-- migration names and scopes, migration lock scopes, tenant names, roles
-- given to grant_app_role, tables given to enable_timestamps/disable_tenancy.
-- Each is taken as a value (never as SQL) or refused with a clear error.

-- Migration names are data: quotes and SQL in them are kept verbatim ...
SELECT stratum.apply_migration('master', 9001, $$x'); DROP TABLE stratum.tenants; --$$,
                               'CREATE TABLE esc_m1 (id int);', 'DROP TABLE esc_m1;');
SELECT version, name FROM stratum.schema_migrations WHERE version = 9001;
SELECT stratum.rollback_migration('master', 9001);
SELECT count(*) AS tenants_kept FROM stratum.tenants WHERE slug IN ('acme', 'globex');
-- ... but control characters (which could forge a line in a listing or log)
-- and unbounded lengths are refused.
SELECT stratum.apply_migration('master', 9002, E'two\nlines', 'CREATE TABLE esc_m2 (id int);');
SELECT stratum.apply_migration('master', 9002, E'tab\there', 'CREATE TABLE esc_m2 (id int);');
SELECT stratum.apply_migration('master', 9002, repeat('n', 201), 'CREATE TABLE esc_m2 (id int);');
SELECT stratum.record_migration('master', 9002, E'esc\x1b[2Jclear', 'CREATE TABLE esc_m2 (id int);');
SELECT stratum.apply_migration('master', 9002, repeat('é', 200), 'CREATE TABLE esc_m2 (id int);',
                               'DROP TABLE esc_m2;');
SELECT to_regclass('esc_m2') IS NOT NULL AS esc_m2_created;
SELECT stratum.rollback_migration('master', 9002);
SELECT count(*) AS refused_names_recorded FROM stratum.schema_migrations WHERE name ~ '[\x01-\x1f]';

-- Scopes are looked up, never spliced into SQL: a hostile or system schema is
-- not a scope.
SELECT stratum.apply_migration($$tenant_x"; DROP TABLE stratum.tenants; --$$, 1, 'evil_scope',
                               'CREATE TABLE esc_m5 (id int);');
SELECT stratum.apply_migration('pg_catalog', 1, 'system_scope', 'CREATE TABLE esc_m6 (id int);');
SELECT stratum.apply_migration('stratum', 1, 'own_scope', 'CREATE TABLE esc_m6 (id int);');
SELECT stratum.apply_migration('TENANT_ACME', 1, 'case_scope', 'CREATE TABLE esc_m6 (id int);');
SELECT stratum.migration_status($$' OR 1=1 --$$);
SELECT * FROM stratum.verify_ledger($$master' OR 'x' = 'x$$);
-- Lock scopes are hashed, whatever they contain.
SELECT stratum.try_migration_lock($$'; SELECT pg_sleep(10); --$$) AS locked,
       stratum.release_migration_lock($$'; SELECT pg_sleep(10); --$$) AS released;
SELECT (stratum.migration_lock_key(E'\\x00\n')).objid IS NOT NULL AS hashed;

-- Tenant names: any printable text, bounded, no control characters.
SELECT stratum.create_tenant('esc-quotes', $$O'Brien "Ltd"; DROP TABLE stratum.tenants; --$$) IS NOT NULL AS created;
SELECT name FROM stratum.tenants WHERE slug = 'esc-quotes';
SELECT stratum.create_tenant('esc-control', E'name with \x01 control');
SELECT stratum.create_tenant('esc-newline', E'two\nlines');
SELECT stratum.create_tenant('esc-long', repeat('n', 201));
SELECT stratum.create_tenant('esc-unicode', 'Ünïcødé 株式会社 ✓') IS NOT NULL AS created;
DELETE FROM stratum.tenants WHERE slug LIKE 'esc-%';

-- Roles with hostile names are granted and revoked as names; revoking takes
-- back everything granting gave, sequences included.
SET ROLE regress_owner;
CREATE TABLE esc_counters (id serial PRIMARY KEY, n int);
SELECT stratum.enable_tenancy('esc_counters');
RESET ROLE;
DROP ROLE IF EXISTS "esc_app'; DROP ROLE postgres; --";
CREATE ROLE "esc_app'; DROP ROLE postgres; --";
SELECT stratum.grant_app_role($$esc_app'; DROP ROLE postgres; --$$);
SELECT has_table_privilege($$esc_app'; DROP ROLE postgres; --$$, 'esc_counters', 'INSERT') AS table_granted,
       has_sequence_privilege($$esc_app'; DROP ROLE postgres; --$$, 'esc_counters_id_seq', 'USAGE') AS sequence_granted;
SELECT stratum.revoke_app_role($$esc_app'; DROP ROLE postgres; --$$);
SELECT has_table_privilege($$esc_app'; DROP ROLE postgres; --$$, 'esc_counters', 'INSERT') AS table_granted,
       has_sequence_privilege($$esc_app'; DROP ROLE postgres; --$$, 'esc_counters_id_seq', 'USAGE') AS sequence_granted;
SELECT stratum.grant_migrator_role($$nobody"; DROP ROLE postgres; --$$);
DROP TABLE esc_counters;
DROP OWNED BY "esc_app'; DROP ROLE postgres; --";
DROP ROLE "esc_app'; DROP ROLE postgres; --";
SELECT rolname FROM pg_roles WHERE rolname = 'postgres';

-- Tables with hostile names for the other helpers.
SET ROLE regress_owner;
CREATE TABLE "esc ""quoted""; DROP TABLE x; --" (id int PRIMARY KEY, note text);
SELECT stratum.enable_timestamps('"esc ""quoted""; DROP TABLE x; --"');
SELECT stratum.enable_tenancy('"esc ""quoted""; DROP TABLE x; --"');
SELECT stratum.disable_tenancy('"esc ""quoted""; DROP TABLE x; --"');
SELECT stratum.disable_timestamps('"esc ""quoted""; DROP TABLE x; --"');
SELECT attname FROM pg_attribute
 WHERE attrelid = '"esc ""quoted""; DROP TABLE x; --"'::regclass AND attnum > 0 AND NOT attisdropped
 ORDER BY attnum;
SELECT stratum.enable_audit('"esc ""quoted""; DROP TABLE x; --"', ARRAY[$$note"; DROP TABLE x; --$$]);
DROP TABLE "esc ""quoted""; DROP TABLE x; --";
RESET ROLE;
