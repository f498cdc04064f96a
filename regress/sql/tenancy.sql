-- enable_tenancy and friends; isolation checked as an application role that
-- neither owns the tables nor is a superuser.
\set a '''aaaaaaaa-0000-4000-8000-000000000001'''
\set b '''bbbbbbbb-0000-4000-8000-000000000002'''

SELECT stratum.grant_app_role('regress_app');

SET ROLE regress_owner;
CREATE TABLE projects (id bigint PRIMARY KEY, name text NOT NULL);
SELECT stratum.enable_tenancy('projects');
-- Idempotent: a second call changes nothing and raises nothing.
SELECT stratum.enable_tenancy('projects');
\d projects
SELECT polname, polpermissive, polcmd, pg_get_expr(polqual, polrelid) AS using_expr,
       pg_get_expr(polwithcheck, polrelid) AS check_expr
  FROM pg_policy WHERE polrelid = 'projects'::regclass ORDER BY polname;
SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = 'projects'::regclass;
RESET ROLE;

-- Application role: tenant A and tenant B each write their rows.
SET ROLE regress_app;
BEGIN;
SELECT stratum.set_tenant(:a);
INSERT INTO projects (id, name) VALUES (1, 'a-one'), (2, 'a-two');
COMMIT;
BEGIN;
SELECT stratum.set_tenant(:b);
INSERT INTO projects (id, name) VALUES (3, 'b-three');
COMMIT;

-- A sees only A's rows, B only B's.
BEGIN;
SELECT stratum.set_tenant(:a);
SELECT id, name, tenant_id = :a AS own FROM projects ORDER BY id;
SELECT id FROM projects WHERE id = 3;
-- A cannot update or delete B's rows: they are not there for A.
UPDATE projects SET name = 'stolen' WHERE id = 3;
DELETE FROM projects WHERE id = 3;
COMMIT;
BEGIN;
SELECT stratum.set_tenant(:b);
SELECT id, name FROM projects ORDER BY id;
COMMIT;

-- A cannot insert a row for B, nor move a row to B.
BEGIN;
SELECT stratum.set_tenant(:a);
INSERT INTO projects (id, tenant_id, name) VALUES (4, :b, 'planted');
ROLLBACK;
BEGIN;
SELECT stratum.set_tenant(:a);
UPDATE projects SET tenant_id = :b WHERE id = 1;
ROLLBACK;
BEGIN;
SELECT stratum.set_tenant(:a);
SELECT sqlstate_of(format('UPDATE projects SET tenant_id = %L WHERE id = 1', :b));
ROLLBACK;

-- A bulk statement sees only its tenant's rows.
BEGIN;
SELECT stratum.set_tenant(:b);
UPDATE projects SET name = upper(name);
DELETE FROM projects;
ROLLBACK;

-- No tenant context: a clear error, not an empty result.
SELECT * FROM projects;
SELECT count(*) FROM projects;
INSERT INTO projects (id, name) VALUES (5, 'orphan');
UPDATE projects SET name = 'x';
DELETE FROM projects;

-- The context does not survive the transaction that set it.
BEGIN;
SELECT stratum.set_tenant(:a);
SELECT count(*) FROM projects;
COMMIT;
SELECT count(*) FROM projects;
BEGIN;
SELECT stratum.set_tenant(:a);
SELECT count(*) FROM projects;
ROLLBACK;
SELECT count(*) FROM projects;

-- The application role cannot switch RLS off or drop the policy.
ALTER TABLE projects DISABLE ROW LEVEL SECURITY;
DROP POLICY stratum_tenant_isolation ON projects;
RESET ROLE;

-- The table owner is subject to RLS as well (FORCE ROW LEVEL SECURITY).
SET ROLE regress_owner;
SELECT count(*) FROM projects;
BEGIN;
SELECT stratum.set_tenant(:b);
SELECT id, name FROM projects ORDER BY id;
COMMIT;
RESET ROLE;

-- A role that bypasses RLS still cannot move a row between tenants (the guard).
UPDATE projects SET tenant_id = :b WHERE id = 1;
UPDATE projects SET name = 'renamed by superuser' WHERE id = 1;
SELECT id, name, tenant_id = :a AS still_a FROM projects WHERE id = 1;

-- The policy is a plain call (no InitPlan to start on every execution): the
-- planner uses the primary key with the policy as a filter, and the
-- tenant_id index with the call as its key, evaluated once per scan.
ANALYZE projects;
SET ROLE regress_app;
BEGIN;
SELECT stratum.set_tenant(:a);
SET LOCAL enable_seqscan = off;
SELECT plan_shape('SELECT * FROM projects WHERE id = 1');
SELECT plan_shape('SELECT * FROM projects');
COMMIT;

-- The call returns its value in a buffer of its call site, rewritten on
-- every call: an expression kept across statements (a PL/pgSQL function's
-- cached plan and simple expression) follows a change of tenant within the
-- transaction, in a sequential scan's filter as in a lookup.
CREATE FUNCTION pg_temp.seen_by_cached_plans() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    seen text := '';
    tenant uuid;
    names text;
BEGIN
    FOR round IN 1..2 LOOP
        tenant := stratum.current_tenant_or_null();
        SELECT string_agg(name, ',' ORDER BY id) INTO names FROM projects;
        seen := seen || left(tenant::text, 8) || ':' || names || ' ';
    END LOOP;
    RETURN seen;
END
$$;
BEGIN;
SET LOCAL enable_indexscan = off;
SET LOCAL enable_bitmapscan = off;
SELECT stratum.set_tenant(:a);
SELECT pg_temp.seen_by_cached_plans() AS as_a;
SELECT stratum.set_tenant(:b);
SELECT pg_temp.seen_by_cached_plans() AS as_b;
SELECT stratum.set_tenant(:a);
SELECT pg_temp.seen_by_cached_plans() AS as_a_again;
COMMIT;
RESET ROLE;

-- enable_tenancy refuses a table whose existing rows belong to no tenant,
-- a tenant_id of the wrong type, and things that are not tables.
SET ROLE regress_owner;
CREATE TABLE legacy (id int);
INSERT INTO legacy VALUES (1);
SELECT stratum.enable_tenancy('legacy');
CREATE TABLE wrong_type (id int, tenant_id text);
SELECT stratum.enable_tenancy('wrong_type');
CREATE VIEW a_view AS SELECT 1 AS x;
SELECT stratum.enable_tenancy('a_view');
SELECT stratum.enable_tenancy('no_such_table');
SELECT stratum.enable_tenancy(NULL);
SELECT stratum.enable_tenancy('stratum.tenants');
-- A table that already has tenant_id with NULLs is refused until they are filled.
CREATE TABLE half_done (id int, tenant_id uuid);
INSERT INTO half_done VALUES (1, NULL);
SELECT stratum.enable_tenancy('half_done');
UPDATE half_done SET tenant_id = :a;
SELECT stratum.enable_tenancy('half_done');
DROP TABLE legacy, wrong_type, half_done;
DROP VIEW a_view;
RESET ROLE;

-- Hostile and quoted identifiers: schema and table names with quotes,
-- spaces, semicolons and mixed case are handled as names, never as SQL.
SET ROLE regress_owner;
CREATE SCHEMA "We ird; DROP SCHEMA public";
CREATE TABLE "We ird; DROP SCHEMA public"."Robert'); DROP TABLE projects;--" (id int PRIMARY KEY);
SELECT stratum.enable_tenancy('"We ird; DROP SCHEMA public"."Robert''); DROP TABLE projects;--"');
SELECT polname FROM pg_policy
 WHERE polrelid = '"We ird; DROP SCHEMA public"."Robert''); DROP TABLE projects;--"'::regclass
 ORDER BY polname;
SELECT stratum.enable_tenancy('projects; DROP TABLE projects');
SELECT to_regclass('projects') IS NOT NULL AS projects_still_there;
RESET ROLE;
SET ROLE regress_app;
BEGIN;
SELECT stratum.set_tenant(:a);
INSERT INTO "We ird; DROP SCHEMA public"."Robert'); DROP TABLE projects;--" VALUES (1);
SELECT count(*) FROM "We ird; DROP SCHEMA public"."Robert'); DROP TABLE projects;--";
COMMIT;
BEGIN;
SELECT stratum.set_tenant(:b);
SELECT count(*) FROM "We ird; DROP SCHEMA public"."Robert'); DROP TABLE projects;--";
COMMIT;
RESET ROLE;

-- Partitioned tables: every partition gets its own policy (a partition can
-- be queried directly), including partitions created or attached later.
SET ROLE regress_owner;
CREATE TABLE events (id bigint, happened date NOT NULL, tenant_id uuid NOT NULL)
    PARTITION BY RANGE (happened);
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
SELECT stratum.enable_tenancy('events');
CREATE TABLE events_2027 PARTITION OF events FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');
CREATE TABLE events_2028 (LIKE events);
ALTER TABLE events ATTACH PARTITION events_2028 FOR VALUES FROM ('2028-01-01') TO ('2029-01-01');
SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
       (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies
  FROM pg_class c WHERE c.relname LIKE 'events%' AND c.relkind IN ('r', 'p') ORDER BY c.relname;
RESET ROLE;
GRANT SELECT ON events_2026, events_2027, events_2028 TO regress_app;
SET ROLE regress_app;
BEGIN;
SELECT stratum.set_tenant(:a);
INSERT INTO events (id, happened) VALUES (1, '2026-05-01'), (2, '2027-05-01'), (3, '2028-05-01');
COMMIT;
BEGIN;
SELECT stratum.set_tenant(:b);
INSERT INTO events (id, happened) VALUES (4, '2026-06-01');
SELECT id FROM events ORDER BY id;
SELECT id FROM events_2026 ORDER BY id;
SELECT id FROM events_2027 ORDER BY id;
SELECT id FROM events_2028 ORDER BY id;
UPDATE events SET tenant_id = :a WHERE id = 4;
COMMIT;
RESET ROLE;

-- Roles without rights on stratum's functions create tables as before.
SET ROLE regress_app;
BEGIN;
CREATE TEMP TABLE scratchpad (x int) ON COMMIT DROP;
CREATE TEMP TABLE scratch_parted (x int) PARTITION BY LIST (x) ON COMMIT DROP;
CREATE TEMP TABLE scratch_part PARTITION OF scratch_parted FOR VALUES IN (1) ON COMMIT DROP;
DROP TABLE scratchpad, scratch_parted;
COMMIT;
RESET ROLE;

-- disable_tenancy undoes it; the column and its data stay.
SET ROLE regress_owner;
CREATE TABLE scratch (id int PRIMARY KEY);
SELECT stratum.enable_tenancy('scratch');
SELECT stratum.disable_tenancy('scratch');
\d scratch
SELECT stratum.disable_tenancy('scratch');
DROP TABLE scratch;
RESET ROLE;

-- Timestamps: updated_at moves on UPDATE, created_at cannot be changed.
SET ROLE regress_owner;
CREATE TABLE notes (id int PRIMARY KEY, body text);
SELECT stratum.enable_timestamps('notes');
SELECT stratum.enable_timestamps('notes');
INSERT INTO notes (id, body) VALUES (1, 'first');
SELECT created_at AS inserted_at FROM notes \gset
BEGIN;
UPDATE notes SET created_at = '2000-01-01', updated_at = '2000-01-01' WHERE id = 1;
SELECT created_at = :'inserted_at' AS created_kept, updated_at = now() AS updated_now,
       updated_at > created_at AS moved_on FROM notes;
COMMIT;
SELECT stratum.disable_timestamps('notes');
UPDATE notes SET updated_at = '2000-01-01' WHERE id = 1;
SELECT updated_at FROM notes;
CREATE TABLE wrong_stamps (id int, updated_at text);
SELECT stratum.enable_timestamps('wrong_stamps');
-- A stamped column altered to another type later: the trigger refuses the
-- table instead of reading a text value as a timestamp.
CREATE TABLE altered_stamps (id int PRIMARY KEY);
SELECT stratum.enable_timestamps('altered_stamps');
INSERT INTO altered_stamps VALUES (1);
ALTER TABLE altered_stamps ALTER COLUMN updated_at DROP DEFAULT,
                           ALTER COLUMN updated_at TYPE text;
UPDATE altered_stamps SET id = 2;
SELECT id FROM altered_stamps;
DROP TABLE altered_stamps;
DROP TABLE notes, wrong_stamps;
SELECT stratum.maintain_timestamps();
RESET ROLE;

-- The base model in one call.
SET ROLE regress_owner;
SELECT stratum.create_base_table('tasks', 'title text NOT NULL, done boolean NOT NULL DEFAULT false');
\d tasks
-- Column definitions that try to smuggle in another statement are refused.
SELECT stratum.create_base_table('evil', 'x int); DROP TABLE projects; CREATE TABLE y (z int');
SELECT stratum.create_base_table('evil', 'x int) ; SELECT 1 --');
SELECT to_regclass('evil') IS NULL AS evil_not_created, to_regclass('projects') IS NOT NULL AS projects_kept;
SELECT stratum.create_base_table('a.b.c', '');
SELECT stratum.create_base_table('"Mixed Case"', 'n int');
SELECT '"Mixed Case"'::regclass;
RESET ROLE;
SET ROLE regress_app;
BEGIN;
SELECT stratum.set_tenant(:a);
INSERT INTO tasks (title) VALUES ('write tests') RETURNING title, done, tenant_id = :a AS own;
UPDATE tasks SET done = true RETURNING done, updated_at >= created_at AS stamped;
COMMIT;
RESET ROLE;

-- Schema per tenant.
SELECT stratum.create_tenant_schema(:a);
SELECT stratum.create_tenant_schema(:a);
SELECT schema_name FROM stratum.tenants WHERE id = :a;
SELECT nspname, pg_get_userbyid(nspowner) AS owner FROM pg_namespace WHERE nspname = 'tenant_acme';
SELECT stratum.create_tenant_schema('99999999-0000-4000-8000-000000000009');
SET ROLE regress_app;
SELECT stratum.create_tenant_schema(:b);
RESET ROLE;

-- Least privilege: superusers, BYPASSRLS roles and table owners are refused.
SELECT stratum.grant_app_role('postgres');
CREATE ROLE regress_bypass BYPASSRLS;
SELECT stratum.grant_app_role('regress_bypass');
DROP ROLE regress_bypass;
SELECT stratum.grant_app_role('regress_owner');
SELECT stratum.grant_app_role('no_such_role');
SELECT stratum.grant_migrator_role('regress_app');
-- What the application role holds: DML on tenant tables, no ownership, no DDL.
SELECT c.relname, has_table_privilege('regress_app', c.oid, 'SELECT,INSERT,UPDATE,DELETE') AS dml,
       has_table_privilege('regress_app', c.oid, 'TRUNCATE') AS truncate,
       pg_get_userbyid(c.relowner) = 'regress_app' AS owns
  FROM pg_class c WHERE c.relname IN ('projects', 'tasks', 'events') ORDER BY c.relname;
SELECT has_table_privilege('regress_app', 'stratum.tenants', 'SELECT') AS read_registry,
       has_table_privilege('regress_app', 'stratum.tenants', 'INSERT,UPDATE,DELETE') AS write_registry;
SET ROLE regress_app;
SELECT stratum.create_tenant('sneaky', 'Sneaky');
UPDATE stratum.tenants SET status = 'active';
SELECT stratum.enable_tenancy('projects');
RESET ROLE;

-- The policy's functions keep PostgreSQL's default privileges (no ACL: the
-- executor's EXECUTE check then reads nothing) through stratum's grants and
-- revocations, and every role may still run them.
SELECT p.oid::regprocedure AS fn, p.proacl IS NULL AS default_acl,
       has_function_privilege('regress_app', p.oid, 'EXECUTE') AS app,
       has_function_privilege('regress_owner', p.oid, 'EXECUTE') AS owner
  FROM pg_proc p WHERE p.oid = ANY (stratum._default_acl_functions()) ORDER BY 1;
CREATE ROLE regress_app_acl;
SELECT stratum.grant_app_role('regress_app_acl');
SELECT stratum.revoke_app_role('regress_app_acl');
SELECT count(*) AS explicit_acls FROM pg_proc p WHERE p.oid = ANY (stratum._default_acl_functions()) AND p.proacl IS NOT NULL;
-- Besides them, PUBLIC may run only what it was granted by name.
SELECT p.oid::regprocedure AS public_routine FROM pg_proc p CROSS JOIN LATERAL aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
 WHERE p.pronamespace = 'stratum'::regnamespace AND a.grantee = 0
   AND p.oid <> ALL (stratum._default_acl_functions()) ORDER BY 1;
-- An administrator who takes EXECUTE from PUBLIC: grant_app_role then
-- grants it to the role, and the policy still works for it.
REVOKE EXECUTE ON FUNCTION stratum.current_tenant_or_null(), stratum.current_tenant() FROM PUBLIC;
SELECT has_function_privilege('regress_app_acl', 'stratum.current_tenant_or_null()', 'EXECUTE') AS before_grant;
SELECT stratum.grant_app_role('regress_app_acl');
SELECT has_function_privilege('regress_app_acl', 'stratum.current_tenant_or_null()', 'EXECUTE') AS after_grant;
SET ROLE regress_app_acl;
BEGIN;
SELECT stratum.set_tenant(:a);
SELECT count(*) > 0 AS reads_own_rows FROM projects;
COMMIT;
RESET ROLE;
SELECT stratum.revoke_app_role('regress_app_acl');
SELECT has_function_privilege('regress_app_acl', 'stratum.current_tenant_or_null()', 'EXECUTE') AS after_revoke;
GRANT EXECUTE ON FUNCTION stratum.current_tenant_or_null(), stratum.current_tenant() TO PUBLIC;
DROP OWNED BY regress_app_acl;
DROP ROLE regress_app_acl;
-- A database whose default privileges take EXECUTE from PUBLIC: the install
-- gives the policy's functions to PUBLIC after all (with an ACL), and
-- everything else stays closed.
SELECT current_database() AS regress_database \gset
CREATE DATABASE tenancy_default_acl;
\c tenancy_default_acl
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
CREATE EXTENSION stratum;
SELECT p.oid::regprocedure AS fn, p.proacl IS NULL AS default_acl,
       EXISTS (SELECT 1 FROM aclexplode(p.proacl) a WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE') AS public_execute
  FROM pg_proc p WHERE p.oid = ANY (stratum._default_acl_functions()) ORDER BY 1;
SELECT count(*) AS open_to_public FROM pg_proc p CROSS JOIN LATERAL aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
 WHERE p.pronamespace = 'stratum'::regnamespace AND a.grantee = 0
   AND p.oid <> ALL (stratum._default_acl_functions());
\c :regress_database
DROP DATABASE tenancy_default_acl;
