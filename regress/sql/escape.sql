-- Tenant-escape attempts by the application role: each is refused, or shown
-- harmless (it reaches only rows of the tenant in force), or shown to be
-- reported by stratum.isolation_report() where the schema's owner opened it.
\set a '''aaaaaaaa-0000-4000-8000-000000000001'''
\set b '''bbbbbbbb-0000-4000-8000-000000000002'''

SET ROLE regress_owner;
CREATE TABLE esc_docs (id int PRIMARY KEY, body text NOT NULL);
SELECT stratum.enable_tenancy('esc_docs');
RESET ROLE;
SELECT stratum.grant_app_role('regress_app');
SET ROLE regress_app;
BEGIN;
SELECT stratum.set_tenant(:a);
INSERT INTO esc_docs VALUES (1, 'acme doc');
COMMIT;
BEGIN;
SELECT stratum.set_tenant(:b);
INSERT INTO esc_docs VALUES (2, 'globex doc');
COMMIT;

-- 1. A tenant that is not registered cannot be put in force by any path.
BEGIN;
SELECT sqlstate_of($$SELECT stratum.set_tenant('99999999-0000-4000-8000-000000000009')$$);
SELECT sqlstate_of($$SET LOCAL stratum.tenant_id = '99999999-0000-4000-8000-000000000009'$$);
SELECT sqlstate_of($$SELECT set_config('stratum.tenant_id', '99999999-0000-4000-8000-000000000009', true)$$);
SELECT sqlstate_of($$SELECT set_config('stratum.tenant_id', '99999999-0000-4000-8000-000000000009', false)$$);
SELECT stratum.current_tenant_or_null() IS NULL AS still_none;
COMMIT;
-- Nor the nil UUID, nor a registered id in another spelling that is not a UUID.
SELECT sqlstate_of($$SELECT stratum.set_tenant('00000000-0000-0000-0000-000000000000')$$);
SELECT sqlstate_of($$SET stratum.tenant_id = 'AAAAAAAA-0000-4000-8000-000000000001 '$$);
-- Upper case is the same UUID, and the same tenant: no second identity.
BEGIN;
SET LOCAL stratum.tenant_id = 'AAAAAAAA-0000-4000-8000-000000000001';
SELECT stratum.current_tenant() = :a AS same_tenant, count(*) AS rows FROM esc_docs;
COMMIT;
-- A function may not carry a tenant in its SET clause (it would outlive any transaction).
RESET ROLE;
SET ROLE regress_owner;
CREATE FUNCTION esc_as_globex() RETURNS SETOF text LANGUAGE sql
    SET stratum.tenant_id = 'bbbbbbbb-0000-4000-8000-000000000002' AS 'SELECT body FROM public.esc_docs';
RESET ROLE;
SET ROLE regress_app;

-- 2. RESET or SET of the GUC in the middle of a transaction: the context is
-- gone (an error, never another tenant's rows), or it is the one just set.
BEGIN;
SELECT stratum.set_tenant(:a);
SELECT id FROM esc_docs;
RESET stratum.tenant_id;
SELECT id FROM esc_docs;
ROLLBACK;
BEGIN;
SELECT stratum.set_tenant(:a);
SET stratum.tenant_id TO DEFAULT;
SELECT stratum.current_tenant_or_null() IS NULL AS gone_after_default;
RESET ALL;
SELECT stratum.current_tenant_or_null() IS NULL AS gone_after_reset_all;
SELECT set_config('stratum.tenant_id', '', true);
SELECT sqlstate_of('SELECT count(*) FROM esc_docs');
ROLLBACK;
BEGIN;
SELECT stratum.set_tenant(:a);
SET stratum.tenant_id = 'bbbbbbbb-0000-4000-8000-000000000002';
SELECT id, body FROM esc_docs;
-- A failed SET leaves the transaction aborted, not in a half-set context.
SET stratum.tenant_id = 'not-a-uuid';
SELECT id FROM esc_docs;
ROLLBACK;
-- A session-level SET in a transaction is gone with the transaction, also
-- when the transaction ends by ROLLBACK TO / RELEASE of a savepoint.
BEGIN;
SAVEPOINT s;
SET SESSION stratum.tenant_id = 'aaaaaaaa-0000-4000-8000-000000000001';
RELEASE SAVEPOINT s;
SELECT count(*) AS seen_in_transaction FROM esc_docs;
COMMIT;
SELECT sqlstate_of('SELECT count(*) FROM esc_docs');
-- A cursor runs with the context in force when it fetches: after a switch it
-- shows the new tenant's rows, never a mix.
BEGIN;
SELECT stratum.set_tenant(:a);
DECLARE c CURSOR FOR SELECT id, body FROM esc_docs;
SELECT stratum.set_tenant(:b);
FETCH ALL FROM c;
ROLLBACK;
-- A prepared statement planned as one tenant runs as the next one.
BEGIN;
SELECT stratum.set_tenant(:a);
PREPARE esc_p AS SELECT id FROM esc_docs;
EXECUTE esc_p;
COMMIT;
BEGIN;
SELECT stratum.set_tenant(:b);
EXECUTE esc_p;
COMMIT;
EXECUTE esc_p;
DEALLOCATE esc_p;
-- Rows kept on the connection past the commit would wait there for its next
-- transaction, which a pool may give to another tenant: a WITH HOLD cursor
-- (the server materializes its rows at the commit) and a temporary table
-- that keeps its rows are refused to application roles.
BEGIN;
SELECT stratum.set_tenant(:a);
SAVEPOINT refused;
DECLARE held CURSOR WITH HOLD FOR SELECT id, body FROM esc_docs;
ROLLBACK TO refused;
SELECT sqlstate_of('CREATE TEMP TABLE kept AS SELECT id, body FROM esc_docs') AS temp_table_as;
SELECT sqlstate_of('SELECT id, body INTO TEMP kept FROM esc_docs') AS select_into_temp;
SELECT sqlstate_of('CREATE TEMP TABLE kept (id int, body text) ON COMMIT PRESERVE ROWS') AS preserve_rows;
SELECT sqlstate_of('CREATE TABLE pg_temp.kept (id int, body text)') AS pg_temp_schema;
SELECT sqlstate_of($$DO 'BEGIN EXECUTE ''CREATE TEMP TABLE kept (id int)''; END'$$) AS from_plpgsql;
-- Within the transaction they serve as before.
DECLARE scroll CURSOR FOR SELECT id, body FROM esc_docs;
FETCH ALL FROM scroll;
CREATE TEMP TABLE gone ON COMMIT DROP AS SELECT id, body FROM esc_docs;
CREATE TEMP TABLE emptied (id int, body text) ON COMMIT DELETE ROWS;
INSERT INTO emptied SELECT id, body FROM esc_docs;
SELECT count(*) AS rows_in_transaction FROM emptied;
COMMIT;
BEGIN;
SELECT stratum.set_tenant(:b);
SELECT to_regclass('pg_temp.gone') AS gone, count(*) AS rows_left FROM emptied;
COMMIT;
DROP TABLE emptied;
RESET ROLE;

-- 3. SECURITY DEFINER functions run as their owner. Owned by the table
-- owner they stay isolated (FORCE ROW LEVEL SECURITY); owned by a role that
-- bypasses row level security they see everything, exactly like a view.
SET ROLE regress_owner;
CREATE FUNCTION esc_owner_count() RETURNS bigint LANGUAGE sql SECURITY DEFINER
    AS 'SELECT count(*) FROM public.esc_docs';
CREATE FUNCTION esc_owner_set_and_count(t uuid) RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    PERFORM stratum.set_tenant(t);
    RETURN (SELECT count(*) FROM public.esc_docs);
END
$$;
GRANT EXECUTE ON FUNCTION esc_owner_count(), esc_owner_set_and_count(uuid) TO regress_app;
RESET ROLE;
SET ROLE regress_app;
SELECT sqlstate_of('SELECT esc_owner_count()');
BEGIN;
SELECT stratum.set_tenant(:a);
SELECT esc_owner_count() AS acme_rows;
-- Setting a tenant inside the function is the same as setting it outside:
-- it lasts until the end of the caller's transaction, and no longer.
SELECT esc_owner_set_and_count(:b) AS globex_rows;
SELECT stratum.current_tenant() = :b AS globex_in_force;
COMMIT;
SELECT stratum.current_tenant_or_null() IS NULL AS none_after_commit;
-- The application's own SECURITY DEFINER function runs as the application.
CREATE FUNCTION pg_temp.esc_mine() RETURNS bigint LANGUAGE sql SECURITY DEFINER
    AS 'SELECT count(*) FROM public.esc_docs';
BEGIN;
SELECT stratum.set_tenant(:a);
SELECT pg_temp.esc_mine() AS own_rows;
COMMIT;
RESET ROLE;

-- 4. Views: one owned by the table owner or with security_invoker reads only
-- the tenant in force; one owned by a role that bypasses row level security
-- reads everything, and isolation_report() calls it a leak.
SET ROLE regress_owner;
CREATE VIEW esc_owner_view AS SELECT id, body FROM esc_docs;
CREATE VIEW esc_invoker_view WITH (security_invoker = true) AS SELECT id, body FROM esc_docs;
GRANT SELECT ON esc_owner_view, esc_invoker_view TO regress_app;
RESET ROLE;
CREATE VIEW esc_superuser_view AS SELECT id, body FROM esc_docs;
GRANT SELECT ON esc_superuser_view TO regress_app;
SET ROLE regress_app;
BEGIN;
SELECT stratum.set_tenant(:a);
SELECT id FROM esc_owner_view;
SELECT id FROM esc_invoker_view;
SELECT id FROM esc_superuser_view ORDER BY id;
COMMIT;
SELECT sqlstate_of('SELECT count(*) FROM esc_owner_view');
RESET ROLE;
SELECT relation, verdict FROM stratum.isolation_report()
 WHERE relation::text LIKE 'esc_%view' ORDER BY relation::text;
DROP VIEW esc_superuser_view;

-- 5. COPY: out, only the tenant's rows (and nothing without a tenant); in, refused
-- by PostgreSQL on a table with row level security.
SET ROLE regress_app;
BEGIN;
SELECT stratum.set_tenant(:a);
COPY esc_docs (id, body) TO STDOUT;
COPY (SELECT id, body FROM esc_docs) TO STDOUT;
-- (\copy from a program: psql versions differ in what they make of the data
-- lines that follow a refused COPY FROM STDIN. The program ignores the pipe
-- closing when the COPY is refused.)
\copy esc_docs (id, body) from program 'trap "" PIPE; printf "3\tcopied in\n" 2>/dev/null; exit 0'
ROLLBACK;
COPY esc_docs (id, body) TO STDOUT;
RESET ROLE;

-- 6. Foreign keys are checked by PostgreSQL without row level security, so a
-- key without tenant_id lets a row point at another tenant's row (and reveals
-- that the row exists); isolation_report() calls that a leak. A key that
-- carries tenant_id on both sides refuses it.
SET ROLE regress_owner;
CREATE TABLE esc_loose (id int PRIMARY KEY, doc_id int NOT NULL REFERENCES esc_docs (id));
SELECT stratum.enable_tenancy('esc_loose');
ALTER TABLE esc_docs ADD CONSTRAINT esc_docs_tenant_id_key UNIQUE (tenant_id, id);
CREATE TABLE esc_tight (id int PRIMARY KEY, doc_id int NOT NULL,
                        tenant_id uuid NOT NULL DEFAULT stratum.current_tenant(),
                        FOREIGN KEY (tenant_id, doc_id) REFERENCES esc_docs (tenant_id, id));
SELECT stratum.enable_tenancy('esc_tight');
RESET ROLE;
SELECT stratum.grant_app_role('regress_app');
SET ROLE regress_app;
BEGIN;
SELECT stratum.set_tenant(:a);
SELECT sqlstate_of('INSERT INTO esc_loose VALUES (1, 2)') AS loose_to_globex_row;
SELECT sqlstate_of('INSERT INTO esc_tight VALUES (1, 2)') AS tight_to_globex_row;
SELECT sqlstate_of('INSERT INTO esc_tight VALUES (2, 1)') AS tight_to_own_row;
-- Nor can a row claim the other tenant to satisfy the key.
SELECT sqlstate_of(format('INSERT INTO esc_tight VALUES (3, 2, %L)', :b)) AS tight_claiming_globex;
COMMIT;
RESET ROLE;
SELECT relation, verdict, ARRAY(SELECT p FROM unnest(problems) p WHERE p LIKE 'leak:%') AS leaks
  FROM stratum.isolation_report()
 WHERE relation::text IN ('esc_loose', 'esc_tight') ORDER BY relation::text;

DROP TABLE esc_loose, esc_tight;
DROP VIEW esc_owner_view, esc_invoker_view;
DROP FUNCTION esc_owner_count(), esc_owner_set_and_count(uuid);
DROP TABLE esc_docs;

-- 7. A limit, not a leak (docs/security.md): the physical addresses of a
-- tenant's own rows (ctid) count the rows others wrote between them into
-- the same pages. How busy the others are, never what they wrote.
SET ROLE regress_owner;
CREATE TABLE esc_notes (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), body text NOT NULL);
SELECT stratum.enable_tenancy('esc_notes');
RESET ROLE;
SET ROLE regress_app;
BEGIN;
SELECT stratum.set_tenant(:a);
INSERT INTO esc_notes (body) VALUES ('acme 1');
COMMIT;
BEGIN;
SELECT stratum.set_tenant(:b);
INSERT INTO esc_notes (body) SELECT 'globex ' || g FROM generate_series(1, 3) g;
COMMIT;
BEGIN;
SELECT stratum.set_tenant(:a);
INSERT INTO esc_notes (body) VALUES ('acme 2');
SELECT body, ctid FROM esc_notes ORDER BY ctid;
SELECT max((ctid::text::point)[1]) - min((ctid::text::point)[1]) - 1 AS rows_of_others_between
  FROM esc_notes;
-- Another limit: a table the role may write, it may lock in any mode, and
-- so stall every tenant's statements on it (lock_timeout bounds the wait).
SELECT sqlstate_of('LOCK TABLE esc_notes IN ACCESS EXCLUSIVE MODE') AS lock_whole_table;
COMMIT;
RESET ROLE;
DROP TABLE esc_notes;
