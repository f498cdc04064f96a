-- Parallel workers see exactly the leader's tenant context: none when the
-- leader has none (a session-level SET from an earlier transaction included),
-- the leader's tenant when it has one, and never a tenant the registry
-- refuses now.
-- (Errors without their CONTEXT lines: PL/pgSQL words them differently
-- from one server version to the next.)
\set SHOW_CONTEXT never
\set a '''aaaaaaaa-0000-4000-8000-000000000001'''
\set b '''bbbbbbbb-0000-4000-8000-000000000002'''

SET ROLE regress_owner;
CREATE TABLE par_docs (id int PRIMARY KEY, body text NOT NULL);
SELECT stratum.enable_tenancy('par_docs');
-- Not inlined, PARALLEL SAFE: under a Gather it runs in a worker, and its
-- query is checked there, with the context the worker restored.
CREATE FUNCTION par_count() RETURNS bigint LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
    RETURN (SELECT count(*) FROM public.par_docs);
END
$$;
CREATE FUNCTION par_tenant() RETURNS uuid LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
    RETURN stratum.current_tenant_or_null();
END
$$;
CREATE FUNCTION par_actor() RETURNS text LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
    RETURN stratum.current_actor();
END
$$;
RESET ROLE;
SELECT stratum.grant_app_role('regress_app');
GRANT EXECUTE ON FUNCTION par_count(), par_tenant(), par_actor() TO regress_app;

SET ROLE regress_app;
BEGIN;
SELECT stratum.set_tenant(:a);
INSERT INTO par_docs SELECT g, 'acme ' || g FROM generate_series(1, 3) g;
COMMIT;
BEGIN;
SELECT stratum.set_tenant(:b);
INSERT INTO par_docs SELECT g, 'globex ' || g FROM generate_series(11, 15) g;
COMMIT;

-- Every query below runs under a Gather, in a worker only.
SELECT set_config(CASE WHEN current_setting('server_version_num')::int >= 160000
                       THEN 'debug_parallel_query' ELSE 'force_parallel_mode' END, 'on', false) IS NOT NULL AS parallel;
SET parallel_leader_participation = off;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SELECT plan_shape('SELECT par_count()');

-- A session-level SET in an earlier transaction is no tenant, in the leader
-- and in its workers alike.
SET stratum.tenant_id = 'aaaaaaaa-0000-4000-8000-000000000001';
SELECT stratum.current_tenant_or_null() IS NULL AS leader_has_none;
SELECT par_tenant() IS NULL AS worker_has_none;
SELECT par_count();
SELECT sqlstate_of('SELECT par_count()') AS worker_refuses;
RESET stratum.tenant_id;

-- The leader's tenant (and actor) is the worker's, set any way.
BEGIN;
SELECT stratum.set_tenant(:a);
SELECT stratum.set_actor('parallel-actor');
SELECT par_tenant() = :a AS worker_has_acme, par_count() AS acme_rows, par_actor() AS worker_actor;
SELECT stratum.set_tenant(:b);
SELECT par_tenant() = :b AS worker_has_globex, par_count() AS globex_rows;
COMMIT;
BEGIN;
SET stratum.tenant_id = 'bbbbbbbb-0000-4000-8000-000000000002';
SELECT par_count() AS globex_rows_after_session_set;
COMMIT;
SELECT par_tenant() IS NULL AS gone_after_commit, par_actor() IS NULL AS actor_gone;
-- A tenant bound as a statement parameter (how libstratum sends it) is the
-- worker's too; the worker receives the parameter's value, it does not
-- convert it again.
PREPARE par_bound(stratum.tenant_param) AS
    SELECT par_tenant() = :a AS worker_has_bound_tenant, par_count() AS bound_rows;
EXECUTE par_bound(:a);
SELECT par_tenant() IS NULL AS gone_after_the_statement;
DEALLOCATE par_bound;

-- A tenant suspended after the leader set it is refused in the worker.
RESET ROLE;
CREATE EXTENSION IF NOT EXISTS dblink;
SELECT dblink_connect('par_other', format('host=%s port=%s dbname=%s user=postgres',
                      split_part(current_setting('unix_socket_directories'), ',', 1),
                      current_setting('port'), current_database()));
SET ROLE regress_app;
BEGIN;
SELECT stratum.set_tenant(:b);
SELECT par_count() AS before_suspension;
SELECT * FROM dblink('par_other', $$SELECT stratum.suspend_tenant('bbbbbbbb-0000-4000-8000-000000000002')::text$$) AS t(suspended text);
SELECT par_count() AS after_suspension;
ROLLBACK;
SELECT * FROM dblink('par_other', $$SELECT stratum.activate_tenant('bbbbbbbb-0000-4000-8000-000000000002')::text$$) AS t(activated text);
RESET ROLE;
SELECT dblink_disconnect('par_other');
DROP EXTENSION dblink;
RESET ALL;
