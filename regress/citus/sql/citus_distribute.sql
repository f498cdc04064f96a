-- stratum.distribute_table: base tables, existing tenant tables with rows,
-- keys and foreign keys that include tenant_id, colocation, triggers.
\set a '''aaaaaaaa-0000-4000-8000-000000000001'''
\set b '''bbbbbbbb-0000-4000-8000-000000000002'''

SET ROLE citus_owner;
-- A base table: its primary key (id) becomes (tenant_id, id).
SELECT stratum.create_base_table('projects', 'name text NOT NULL');
SELECT stratum.distribute_table('projects');
SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
 WHERE conrelid = 'projects'::regclass AND contype IN ('p', 'u') ORDER BY conname;
-- One permissive policy: Citus recreates every policy as PERMISSIVE on the
-- shards, so stratum never uses the RESTRICTIVE + true pair there.
SELECT polname, polpermissive, pg_get_expr(polqual, polrelid) FROM pg_policy
 WHERE polrelid = 'projects'::regclass;
-- Every shard: RLS enabled and forced, stratum's policy alone, the triggers.
SELECT count(*) AS shards, count(*) FILTER (WHERE result = 'true true stratum_tenant_isolation true stratum_audit stratum_audit_truncate stratum_tenant_guard stratum_timestamps') AS sound, min(result) AS example
  FROM run_command_on_shards('projects', $$
    SELECT c.relrowsecurity || ' ' || c.relforcerowsecurity || ' '
        || (SELECT string_agg(polname || ' ' || polpermissive::text, ',') FROM pg_policy WHERE polrelid = c.oid) || ' '
        || (SELECT string_agg(regexp_replace(tgname, '_[0-9]+$', ''), ' ' ORDER BY tgname) FROM pg_trigger WHERE tgrelid = c.oid AND NOT tgisinternal)
      FROM pg_class c WHERE c.oid = '%1$s'::regclass$$);

-- An existing tenant table with rows of two tenants (made before
-- distribution): every row reaches the shards.
CREATE TABLE invoices (id bigint NOT NULL, project_id uuid, amount numeric NOT NULL);
SELECT stratum.enable_tenancy('invoices');
RESET ROLE;
INSERT INTO invoices (id, tenant_id, amount)
SELECT g, CASE WHEN g % 2 = 0 THEN :a::uuid ELSE :b::uuid END, g FROM generate_series(1, 10) g;
SET ROLE citus_owner;
ALTER TABLE invoices ADD PRIMARY KEY (tenant_id, id);
SELECT stratum.enable_audit('invoices');
SELECT stratum.distribute_table('invoices');
-- (Citus takes a foreign key between colocated tables only once both are
-- distributed.)
ALTER TABLE invoices ADD FOREIGN KEY (tenant_id, project_id) REFERENCES projects (tenant_id, id);
RESET ROLE;
SELECT count(*) AS rows_after, sum(amount) AS total FROM invoices;
SELECT count(DISTINCT colocationid) AS colocation_groups FROM pg_dist_partition
 WHERE logicalrelid IN ('projects'::regclass, 'invoices'::regclass, 'stratum.audit_log'::regclass);

-- Keys Citus cannot enforce are refused with the remedy; so is a foreign
-- key to the old one-column key.
SET ROLE citus_owner;
CREATE TABLE emails (id bigint PRIMARY KEY, address text UNIQUE, tenant_id uuid NOT NULL);
SELECT stratum.distribute_table('emails');
DROP TABLE emails;
CREATE TABLE parents (id bigint PRIMARY KEY, tenant_id uuid NOT NULL);
CREATE TABLE children (id bigint PRIMARY KEY, parent_id bigint REFERENCES parents (id), tenant_id uuid NOT NULL);
SELECT stratum.distribute_table('parents');
DROP TABLE children, parents;
-- Not a table, a partition, stratum's own; idempotent on a distributed table.
SELECT stratum.distribute_table('stratum.tenants');
SELECT stratum.distribute_table('projects');
RESET ROLE;

-- distribute, then enable_tenancy: Citus allows no change to the
-- distribution column's default, so it says so and carries on.
CREATE TABLE notes (id bigint, tenant_id uuid NOT NULL, body text, PRIMARY KEY (tenant_id, id));
SELECT create_distributed_table('notes', 'tenant_id');
SELECT stratum.enable_tenancy('notes');
SELECT polname, polpermissive FROM pg_policy WHERE polrelid = 'notes'::regclass;
GRANT SELECT, INSERT ON notes TO citus_app;

-- The report: distributed tables checked on their shards; the leaking shape
-- (RESTRICTIVE + true, as an older stratum made it) flagged.
SELECT relation, verdict FROM stratum.isolation_report()
 WHERE relation IN ('projects'::regclass, 'invoices'::regclass, 'notes'::regclass) ORDER BY relation::text;
CREATE POLICY stratum_tenant_access ON notes AS PERMISSIVE USING (true);
DROP POLICY stratum_tenant_isolation ON notes;
CREATE POLICY stratum_tenant_isolation ON notes AS RESTRICTIVE
    USING (tenant_id = stratum.current_tenant_or_null());
SELECT relation, verdict, unnest(problems) AS problem FROM stratum.isolation_report()
 WHERE relation = 'notes'::regclass ORDER BY problem;
-- enable_tenancy puts it right (on the shards too).
SELECT stratum.enable_tenancy('notes');
SELECT relation, verdict FROM stratum.isolation_report() WHERE relation = 'notes'::regclass;
