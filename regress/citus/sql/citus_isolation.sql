-- As the application role, through the coordinator and straight to the
-- workers: each tenant reaches its rows only, on router and multi-shard
-- queries; nothing without a tenant, on any node; no forged tenant_id.
\set a '''aaaaaaaa-0000-4000-8000-000000000001'''
\set b '''bbbbbbbb-0000-4000-8000-000000000002'''

SET ROLE citus_app;
-- Writes of both tenants (set_tenant reaches the workers in the transaction).
BEGIN;
SELECT stratum.set_tenant(:a);
INSERT INTO projects (name) VALUES ('acme 1'), ('acme 2'), ('acme 3'), ('acme 4'), ('acme 5');
INSERT INTO notes (id, tenant_id, body) VALUES (1, :a, 'acme note');
COMMIT;
BEGIN;
SELECT stratum.set_tenant(:b);
INSERT INTO projects (name) VALUES ('globex 1'), ('globex 2');
INSERT INTO projects (id, name) VALUES ('cccccccc-0000-4000-8000-000000000003', 'globex 3');
COMMIT;
-- (Rows an INSERT ... SELECT gathers on the coordinator reach the shards as
-- COPY, which PostgreSQL refuses under row level security; docs/scale-out.md.)
BEGIN;
SELECT stratum.set_tenant(:b);
SELECT sqlstate_of($$INSERT INTO projects (name) SELECT 'globex ' || g FROM generate_series(4, 5) g$$) AS insert_select;
ROLLBACK;

-- Reads: multi-shard, router (by tenant), colocated join, foreign key.
BEGIN;
SELECT stratum.set_tenant(:a);
SELECT count(*) AS projects, count(*) FILTER (WHERE name LIKE 'acme%') AS own FROM projects;
SELECT count(*) AS router_to_globex FROM projects WHERE tenant_id = :b;
SELECT count(*) AS invoices, sum(amount) FROM invoices;
SELECT count(*) AS joined FROM invoices i JOIN projects p ON p.tenant_id = i.tenant_id AND p.id = i.project_id;
UPDATE invoices SET project_id = (SELECT id FROM projects ORDER BY name LIMIT 1) WHERE id = 2;
SELECT count(*) AS joined FROM invoices i JOIN projects p ON p.tenant_id = i.tenant_id AND p.id = i.project_id;
-- A write for the other tenant, or moving a row to it: refused on the shard.
SELECT sqlstate_of($$INSERT INTO projects (tenant_id, name) VALUES ('bbbbbbbb-0000-4000-8000-000000000002', 'planted')$$) AS forged_insert;
SELECT sqlstate_of($$INSERT INTO notes (id, tenant_id, body) VALUES (2, 'bbbbbbbb-0000-4000-8000-000000000002', 'planted')$$) AS forged_router_insert;
-- An invoice pointing at a project of the other tenant (its id guessed):
-- the foreign key, which includes tenant_id, refuses.
SELECT sqlstate_of($$UPDATE invoices SET project_id = 'cccccccc-0000-4000-8000-000000000003' WHERE id = 2$$) AS cross_tenant_reference;
COMMIT;
BEGIN;
SELECT stratum.set_tenant(:b);
SELECT count(*) AS projects, count(*) FILTER (WHERE name LIKE 'globex%') AS own FROM projects;
SELECT count(*) AS notes FROM notes;
UPDATE projects SET name = 'stolen' WHERE name LIKE 'acme%';
DELETE FROM invoices WHERE tenant_id = :a;
COMMIT;
-- set_tenant switches citus.propagate_set_commands on for its transaction
-- only when the session has it off, and the tenant reaches the workers
-- either way; the session's own value is back after the transaction.
SET citus.propagate_set_commands = 'local';
BEGIN;
SELECT stratum.set_tenant(:b);
SELECT count(*) AS projects_with_local_propagation FROM projects;
COMMIT;
SET citus.propagate_set_commands = 'none';
BEGIN;
SELECT stratum.set_tenant(:b);
SELECT count(*) AS projects_with_propagation_off FROM projects;
SELECT current_setting('citus.propagate_set_commands') AS in_transaction;
COMMIT;
SELECT current_setting('citus.propagate_set_commands') AS after_transaction;
RESET citus.propagate_set_commands;

-- No tenant: refused on every path, before any row, through the coordinator.
SELECT sqlstate_of('SELECT count(*) FROM projects') AS multi_shard;
SELECT sqlstate_of($$SELECT count(*) FROM projects WHERE tenant_id = 'aaaaaaaa-0000-4000-8000-000000000001'$$) AS router;
SELECT sqlstate_of($$SELECT count(*) FROM notes WHERE tenant_id = 'aaaaaaaa-0000-4000-8000-000000000001' AND id = 1$$) AS router_pk;
SELECT sqlstate_of($$INSERT INTO notes (id, tenant_id, body) VALUES (3, 'aaaaaaaa-0000-4000-8000-000000000001', 'x')$$) AS insert;
SELECT sqlstate_of('SELECT count(*) FROM stratum.audit_log') AS audit_log;
-- set_tenant outside a transaction block: Citus passes SET LOCAL on only in
-- one, so the workers see no tenant and refuse (never rows).
SELECT stratum.set_tenant(:a), sqlstate_of('SELECT count(*) FROM projects') AS implicit_transaction;
RESET ROLE;

-- Straight to a worker (Citus runs queries from any node): the same rules.
SELECT on_node_error('worker1', 'citus_app', 'SELECT count(*)::text FROM projects') AS worker_no_tenant;
SELECT on_node('worker1', 'citus_app', $$BEGIN; SELECT stratum.set_tenant('aaaaaaaa-0000-4000-8000-000000000001');
                                          SELECT count(*)::text FROM projects$$) AS worker_acme;
SELECT on_node_error('worker2', 'citus_app', $$SELECT stratum.set_tenant('99999999-0000-4000-8000-000000000009')$$) AS worker_unknown_tenant;
-- A shard, reached by its own name: refused without a tenant too.
SELECT on_node_error(name, 'citus_app', format('SELECT count(*)::text FROM public.projects_%s', s.shardid)) AS shard_no_tenant
  FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid)
  JOIN pg_dist_node n ON n.groupid = p.groupid JOIN citus_test_nodes t ON t.port = n.nodeport
 WHERE s.logicalrelid = 'projects'::regclass ORDER BY s.shardid LIMIT 1;

-- A suspension on the coordinator reaches every node's registry at once.
SELECT stratum.suspend_tenant(:b);
SELECT on_node_error(name, 'citus_app', $$SELECT stratum.set_tenant('bbbbbbbb-0000-4000-8000-000000000002')$$) AS suspended
  FROM citus_test_nodes WHERE name IN ('worker1', 'worker2') ORDER BY name;
-- ... also when written with triggers off (the copy's trigger fires always).
SELECT stratum.activate_tenant(:b);
SET session_replication_role = replica;
UPDATE stratum.tenants SET status = 'suspended' WHERE slug = 'globex';
RESET session_replication_role;
SELECT on_node_error('worker2', 'citus_app', $$SELECT stratum.set_tenant('bbbbbbbb-0000-4000-8000-000000000002')$$) AS suspended_in_replica_mode;
SELECT stratum.activate_tenant(:b);
SELECT on_node_error('worker2', 'citus_app', $$SELECT stratum.set_tenant('bbbbbbbb-0000-4000-8000-000000000002')$$) AS active_again;
