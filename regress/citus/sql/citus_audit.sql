-- The audit trail of distributed tables: written on the worker next to the
-- row (in the log's colocated shard), read on the coordinator under the
-- logical table's name, with the tenant and the actor.
\set a '''aaaaaaaa-0000-4000-8000-000000000001'''

SET ROLE citus_app;
BEGIN;
SELECT stratum.set_tenant(:a);
SELECT stratum.set_actor('alice@acme');
UPDATE invoices SET amount = amount + 1 WHERE id IN (2, 4);
DELETE FROM invoices WHERE id = 6;
COMMIT;
BEGIN;
SELECT stratum.set_tenant(:a);
SELECT table_schema, table_name, operation, actor, tenant_id = :a AS acme, changed_columns
  FROM stratum.audit_log WHERE table_name = 'invoices' ORDER BY logged_at, id;
-- A row's history, by its own key (the key's tenant_id is the caller's).
SELECT operation, actor, old_row->>'amount' AS was, new_row->>'amount' AS now
  FROM stratum.row_history('invoices', '{"id": 2}');
SELECT count(*) AS by_bare_value FROM stratum.row_history('invoices', '4');
SELECT count(*) AS projects_entries, count(DISTINCT actor) FROM stratum.audit_log WHERE table_name = 'projects';
COMMIT;
-- Another tenant sees none of it; no tenant, nothing at all.
BEGIN;
SELECT stratum.set_tenant('bbbbbbbb-0000-4000-8000-000000000002');
SELECT count(*) AS globex_sees_acme FROM stratum.audit_log WHERE tenant_id = :a;
SELECT count(*) AS globex_own FROM stratum.audit_log;
COMMIT;
-- Append-only, on the coordinator and on the shards.
BEGIN;
SELECT stratum.set_tenant(:a);
SELECT sqlstate_of('DELETE FROM stratum.audit_log') AS delete_log;
SELECT sqlstate_of('UPDATE stratum.audit_log SET actor = NULL') AS update_log;
COMMIT;
RESET ROLE;
SELECT on_node_error(name, 'citus_app', format($$BEGIN; SELECT stratum.set_tenant('aaaaaaaa-0000-4000-8000-000000000001');
                                               DELETE FROM stratum.audit_log_%s$$, s.shardid)) AS delete_shard
  FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid)
  JOIN pg_dist_node n ON n.groupid = p.groupid JOIN citus_test_nodes t ON t.port = n.nodeport
 WHERE s.logicalrelid = 'stratum.audit_log'::regclass ORDER BY s.shardid LIMIT 1;

-- TRUNCATE of a distributed table (owner only): not recorded on Citus.
SET ROLE citus_owner;
CREATE TABLE scratch (id bigint, tenant_id uuid NOT NULL, PRIMARY KEY (tenant_id, id));
SELECT stratum.enable_tenancy('scratch');
SELECT stratum.enable_audit('scratch');
SELECT stratum.distribute_table('scratch');
TRUNCATE scratch;
RESET ROLE;
SELECT operation, tenant_id, db_user FROM stratum.audit_log WHERE table_name = 'scratch';
-- A table of the coordinator's own, audited: its entries go through Citus
-- (as the log's owner; with the nil UUID for no tenant).
CREATE TABLE settings (key text PRIMARY KEY, value text);
SELECT stratum.enable_audit('settings');
INSERT INTO settings VALUES ('mode', 'on');
SELECT operation, tenant_id, new_row FROM stratum.audit_log WHERE table_name = 'settings';
-- A reference table cannot be audited (its trigger fires on every copy).
CREATE TABLE countries (code text PRIMARY KEY);
SELECT create_reference_table('countries');
SELECT stratum.enable_audit('countries');
