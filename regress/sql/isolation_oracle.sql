-- Without a tenant, a statement that touches a tenant-isolated relation fails
-- before any row is examined, whatever the plan and however the relation is
-- reached, so "error or no rows" answers nothing about other tenants' rows.
-- Every probe below is asked twice, once about a value another tenant holds
-- and once about a value nobody holds: the answers must be the same error.
\set a '''aaaaaaaa-0000-4000-8000-000000000001'''
\set b '''bbbbbbbb-0000-4000-8000-000000000002'''

SET ROLE regress_owner;
CREATE TABLE orc_accounts (id int PRIMARY KEY, email text NOT NULL, balance int NOT NULL,
                           secret text NOT NULL);
CREATE INDEX ON orc_accounts (email);
SELECT stratum.enable_tenancy('orc_accounts');
CREATE VIEW orc_invoker WITH (security_invoker = true) AS SELECT * FROM orc_accounts;
CREATE VIEW orc_definer AS SELECT * FROM orc_accounts;
CREATE FUNCTION orc_sql(probe text) RETURNS bigint LANGUAGE sql STABLE
    AS 'SELECT count(*) FROM public.orc_accounts WHERE email = probe';
CREATE FUNCTION orc_plpgsql(probe text) RETURNS bigint LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT count(*) FROM public.orc_accounts WHERE email = probe);
END
$$;
CREATE TABLE orc_parted (id int, tenant_id uuid NOT NULL, secret text) PARTITION BY RANGE (id);
CREATE TABLE orc_parted_1 PARTITION OF orc_parted FOR VALUES FROM (0) TO (1000);
SELECT stratum.enable_tenancy('orc_parted');
RESET ROLE;
SELECT stratum.grant_app_role('regress_app');
GRANT SELECT ON orc_invoker, orc_definer TO regress_app;
GRANT EXECUTE ON FUNCTION orc_sql(text), orc_plpgsql(text) TO regress_app;

-- Globex's rows, written as Globex.
SET ROLE regress_app;
BEGIN;
SELECT stratum.set_tenant(:b);
SELECT stratum.set_actor('globex-admin');
INSERT INTO orc_accounts SELECT g, 'user' || g || '@globex.test', g * 10, 'globex-secret-' || g
  FROM generate_series(1, 500) g;
COMMIT;
RESET ROLE;
SELECT stratum.enable_audit('orc_accounts');
SET ROLE regress_app;
BEGIN;
SELECT stratum.set_tenant(:b);
SELECT stratum.set_actor('globex-admin');
INSERT INTO orc_accounts VALUES (1001, 'victim@globex.test', 4242, 'hunter2');
INSERT INTO orc_parted VALUES (7, :b, 'parted-secret');
COMMIT;
RESET ROLE;
ANALYZE orc_accounts;

SET ROLE regress_app;
-- A probe answers the same whether the value exists in another tenant or not.
CREATE FUNCTION pg_temp.probe(statement text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE statement;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
SELECT pg_temp.probe(format(q, 'victim@globex.test')) = pg_temp.probe(format(q, 'nobody@nowhere.test'))
           AS same_answer,
       pg_temp.probe(format(q, 'victim@globex.test')) AS answer
  FROM (VALUES
    ('SELECT 1 FROM orc_accounts WHERE email >= %1$L AND email <= %1$L'),
    ('SELECT 1 FROM orc_accounts WHERE email = %L'),
    ('SELECT 1 FROM orc_accounts WHERE email ^@ left(%L, 6)'),
    ('SELECT 1 FROM orc_accounts WHERE id BETWEEN 1001 AND 1001 AND balance > length(%L) * 100'),
    ('SELECT count(*) FROM orc_accounts WHERE secret ^@ (left(%L, 0) || ''hunter'')'),
    ('SELECT 1 FROM orc_invoker WHERE email = %L'),
    ('SELECT 1 FROM orc_definer WHERE email = %L'),
    ('SELECT orc_sql(%L)'),
    ('SELECT orc_plpgsql(%L)'),
    ('WITH c AS MATERIALIZED (SELECT * FROM orc_accounts WHERE email = %L) SELECT 1 FROM c'),
    ('SELECT 1 WHERE EXISTS (SELECT 1 FROM orc_accounts WHERE email = %L)'),
    ('SELECT 1 FROM orc_parted WHERE secret = left(%L, 0) || ''parted-secret'''),
    ('SELECT 1 FROM orc_parted_1 WHERE secret = left(%L, 0) || ''parted-secret'''),
    ('UPDATE orc_accounts SET balance = 0 WHERE email = %L'),
    ('DELETE FROM orc_accounts WHERE email = %L'),
    ('SELECT 1 FROM stratum.audit_log WHERE actor = left(%L, 0) || ''globex-admin'''),
    ('SELECT 1 FROM stratum.audit_log WHERE table_name = left(%L, 0) || ''orc_accounts'''),
    ('SELECT 1 FROM stratum.row_history(''orc_accounts'', ''1001'') WHERE left(%L, 0) = ''''')
  ) AS probes(q);

-- Whatever the plan: index, bitmap, sequential scan, a prepared generic plan,
-- a parallel plan (the workers are checked as well), EXPLAIN itself.
BEGIN;
SET LOCAL enable_seqscan = off;
SET LOCAL enable_bitmapscan = off;
SELECT pg_temp.probe($$SELECT 1 FROM orc_accounts WHERE email = 'victim@globex.test'$$) AS index_scan;
SET LOCAL enable_indexscan = off;
SET LOCAL enable_bitmapscan = on;
SELECT pg_temp.probe($$SELECT 1 FROM orc_accounts WHERE email = 'victim@globex.test'$$) AS bitmap_scan;
ROLLBACK;
BEGIN;
SET LOCAL enable_indexscan = off;
SET LOCAL enable_bitmapscan = off;
SELECT pg_temp.probe($$SELECT 1 FROM orc_accounts WHERE email = 'victim@globex.test'$$) AS seq_scan;
SET LOCAL plan_cache_mode = force_generic_plan;
PREPARE orc_generic(text) AS SELECT 1 FROM orc_accounts WHERE email = $1;
SELECT pg_temp.probe($$EXECUTE orc_generic('victim@globex.test')$$) AS generic_plan;
SELECT pg_temp.probe($$EXECUTE orc_generic('nobody@nowhere.test')$$) AS generic_plan_miss;
DEALLOCATE orc_generic;
ROLLBACK;
BEGIN;
-- (force_parallel_mode was renamed debug_parallel_query in PostgreSQL 16.)
SELECT set_config(CASE WHEN current_setting('server_version_num')::int >= 160000
                       THEN 'debug_parallel_query' ELSE 'force_parallel_mode' END, 'on', true) IS NOT NULL AS parallel;
SET LOCAL parallel_leader_participation = off;
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SELECT pg_temp.probe($$SELECT count(*) FROM orc_accounts WHERE email = 'victim@globex.test'$$) AS parallel_scan;
ROLLBACK;
SELECT pg_temp.probe($$EXPLAIN SELECT 1 FROM orc_accounts WHERE email = 'victim@globex.test'$$) AS explain_plan;
SELECT pg_temp.probe($$EXPLAIN ANALYZE SELECT 1 FROM orc_accounts WHERE balance > 0$$) AS explain_analyze;

-- A cursor is refused when it is opened, before any fetch.
BEGIN;
SELECT pg_temp.probe($$DECLARE orc_cursor CURSOR FOR SELECT * FROM orc_accounts WHERE email = 'victim@globex.test'$$) AS cursor_declared;
ROLLBACK;

-- With a tenant, the same statements see that tenant's rows only.
BEGIN;
SELECT stratum.set_tenant(:a);
SELECT count(*) AS acme_sees FROM orc_accounts WHERE email = 'victim@globex.test';
SELECT orc_sql('victim@globex.test') AS via_sql, orc_plpgsql('victim@globex.test') AS via_plpgsql;
COMMIT;
BEGIN;
SELECT stratum.set_tenant(:b);
SELECT count(*) AS globex_sees FROM orc_accounts WHERE email = 'victim@globex.test';
COMMIT;
RESET ROLE;

-- The policy itself never raises: it compares with current_tenant_or_null().
SELECT DISTINCT pg_get_expr(polqual, polrelid) AS isolation_policy
  FROM pg_policy WHERE polname = 'stratum_tenant_isolation';
SELECT sqlstate_of('SELECT stratum.current_tenant_or_null()') AS or_null_never_raises;

-- Roles that RLS does not apply to need no tenant: the superuser here, and
-- foreign key checks (which PostgreSQL runs without row level security).
SELECT count(*) AS superuser_sees FROM orc_accounts;

DROP VIEW orc_invoker, orc_definer;
DROP FUNCTION orc_sql(text), orc_plpgsql(text);
DROP TABLE orc_accounts, orc_parted;

-- A foreign key added between tenant tables is checked over every tenant's
-- rows, by the owner under forced row level security: PostgreSQL's one-query
-- check would see no rows at all without a tenant (or one tenant's with
-- one), so the guard tells it no and the rows are checked one by one
-- through the key's triggers, which see them all.
SET ROLE regress_owner;
CREATE TABLE fk_parents (id int, tenant_id uuid NOT NULL, PRIMARY KEY (tenant_id, id));
CREATE TABLE fk_children (id int, parent_id int, tenant_id uuid NOT NULL);
SELECT stratum.enable_tenancy('fk_parents'), stratum.enable_tenancy('fk_children');
RESET ROLE;
INSERT INTO fk_parents VALUES (1, :a), (2, :b);
INSERT INTO fk_children VALUES (10, 1, :a), (20, 2, :b), (21, 1, :b);  -- 21: Globex pointing at Acme's parent
SET ROLE regress_owner;
ALTER TABLE fk_children ADD FOREIGN KEY (tenant_id, parent_id) REFERENCES fk_parents (tenant_id, id);
RESET ROLE;
DELETE FROM fk_children WHERE id = 21;
SET ROLE regress_owner;
ALTER TABLE fk_children ADD FOREIGN KEY (tenant_id, parent_id) REFERENCES fk_parents (tenant_id, id);
RESET ROLE;
DROP TABLE fk_children, fk_parents;
