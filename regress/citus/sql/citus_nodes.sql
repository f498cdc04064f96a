-- A node added later: the report says what it lacks, sync_citus gives it
-- the registry's copy and the grants, and a tenant's shards moved there work.
\set a '''aaaaaaaa-0000-4000-8000-000000000001'''

SELECT kind, verdict FROM stratum.isolation_report() WHERE kind = 'node';
SELECT 1 FROM citus_add_node('127.0.0.1', (SELECT port FROM citus_test_nodes WHERE name = 'worker3'));
SELECT kind, verdict, unnest(problems) AS problem FROM stratum.isolation_report()
 WHERE kind = 'node' ORDER BY problem;
SELECT on_node('worker3', 'postgres', $$SELECT extversion FROM pg_extension WHERE extname = 'stratum'$$) AS stratum_there;
SELECT on_node_error('worker3', 'citus_app', $$SELECT stratum.set_tenant('aaaaaaaa-0000-4000-8000-000000000001')$$) AS before_sync;
SET client_min_messages = warning;  -- (Citus names the node's port)
SELECT stratum.sync_citus();
RESET client_min_messages;
SELECT kind, verdict FROM stratum.isolation_report() WHERE kind = 'node';
SELECT on_node('worker3', 'postgres', $$SELECT stratum._citus_registry_here()::text || ' '
                                         || has_function_privilege('citus_owner', 'stratum.audit_row()', 'EXECUTE')::text$$) AS registry_and_grants;
SELECT on_node_error('worker3', 'citus_app', $$SELECT stratum.set_tenant('aaaaaaaa-0000-4000-8000-000000000001')$$) AS after_sync;

-- Move the shard group of Acme's rows to the new node; all still holds there.
SELECT 1 FROM citus_move_shard_placement(
    get_shard_id_for_distribution_column('projects', :a),
    (SELECT nodename FROM pg_dist_node n JOIN pg_dist_placement p ON p.groupid = n.groupid
      WHERE p.shardid = get_shard_id_for_distribution_column('projects', :a)),
    (SELECT nodeport FROM pg_dist_node n JOIN pg_dist_placement p ON p.groupid = n.groupid
      WHERE p.shardid = get_shard_id_for_distribution_column('projects', :a)),
    '127.0.0.1', (SELECT port FROM citus_test_nodes WHERE name = 'worker3'),
    shard_transfer_mode => 'block_writes');
SELECT t.name AS acme_now_on FROM pg_dist_placement p JOIN pg_dist_node n ON n.groupid = p.groupid
  JOIN citus_test_nodes t ON t.port = n.nodeport
 WHERE p.shardid = get_shard_id_for_distribution_column('projects', :a);
SET ROLE citus_app;
BEGIN;
SELECT stratum.set_tenant(:a);
SELECT stratum.set_actor('after-move');
SELECT count(*) AS acme_projects FROM projects;
UPDATE invoices SET amount = 0 WHERE id = 8;
SELECT operation, actor FROM stratum.row_history('invoices', '8') ORDER BY logged_at DESC LIMIT 1;
COMMIT;
SELECT sqlstate_of('SELECT count(*) FROM projects') AS no_tenant;
RESET ROLE;
SELECT relation, verdict FROM stratum.isolation_report()
 WHERE relation IN ('projects'::regclass, 'invoices'::regclass) ORDER BY relation::text;

-- A transaction of the application role that writes a reference table (on
-- every node) and a tenant table commits: Citus runs it with two-phase
-- commit as that role on the workers, where stratum's refusal of PREPARE
-- TRANSACTION to application roles is not in force (docs/scale-out.md).
CREATE TABLE citus_countries (code text PRIMARY KEY, name text);
SELECT create_reference_table('citus_countries');
GRANT SELECT, INSERT ON citus_countries TO citus_app;
SET ROLE citus_app;
BEGIN;
SELECT stratum.set_tenant(:a);
INSERT INTO projects (name) VALUES ('two-phase');
INSERT INTO citus_countries VALUES ('fr', 'France');
COMMIT;

SELECT (SELECT count(*) FROM citus_countries) AS countries;
BEGIN;
SELECT stratum.set_tenant(:a);
SELECT count(*) AS committed_with_it FROM projects WHERE name = 'two-phase';
COMMIT;
RESET ROLE;
