-- isolation_report() finds the tables and views that leak.
SET ROLE regress_owner;

-- Healthy: made by enable_tenancy / create_base_table.
CREATE TABLE good (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), body text);
SELECT stratum.enable_tenancy('good');

-- tenant_id but no RLS at all.
CREATE TABLE no_rls (id int, tenant_id uuid NOT NULL);
CREATE INDEX ON no_rls (tenant_id);

-- RLS enabled but not forced: the owner sees every tenant.
CREATE TABLE not_forced (id int);
SELECT stratum.enable_tenancy('not_forced');
ALTER TABLE not_forced NO FORCE ROW LEVEL SECURITY;

-- Policy dropped, and policy replaced by a weaker one of the same name.
CREATE TABLE no_policy (id int);
SELECT stratum.enable_tenancy('no_policy');
DROP POLICY stratum_tenant_isolation ON no_policy;
CREATE TABLE weak_policy (id int);
SELECT stratum.enable_tenancy('weak_policy');
ALTER POLICY stratum_tenant_isolation ON weak_policy USING (true);

-- No index led by tenant_id.
CREATE TABLE no_index (id int);
SELECT stratum.enable_tenancy('no_index');
DROP INDEX no_index_tenant_id_idx;

-- Unique key without tenant_id (an existence oracle) and a foreign key to a
-- tenant table without tenant_id (a cross-tenant reference).
CREATE TABLE accounts (id int PRIMARY KEY, email text UNIQUE);
SELECT stratum.enable_tenancy('accounts');
CREATE TABLE invoices (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                       account_id int REFERENCES accounts (id));
SELECT stratum.enable_tenancy('invoices');
-- The fixed shape: keys and references that carry tenant_id.
CREATE TABLE accounts_fixed (id int, email text, tenant_id uuid NOT NULL,
                             PRIMARY KEY (tenant_id, id), UNIQUE (tenant_id, email));
SELECT stratum.enable_tenancy('accounts_fixed');
CREATE TABLE invoices_fixed (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), account_id int,
                             tenant_id uuid NOT NULL,
                             FOREIGN KEY (tenant_id, account_id) REFERENCES accounts_fixed (tenant_id, id));
SELECT stratum.enable_tenancy('invoices_fixed');

-- Views: security_invoker is the safe form; a materialized view copies rows
-- out of RLS's reach; a view of a shared table is fine.
CREATE VIEW good_invoker WITH (security_invoker = true) AS SELECT id FROM good;
CREATE VIEW good_definer AS SELECT id FROM good;
CREATE VIEW nested_definer AS SELECT id FROM good_definer;
CREATE TABLE countries (code text PRIMARY KEY);
CREATE VIEW country_codes AS SELECT code FROM countries;
RESET ROLE;
CREATE MATERIALIZED VIEW good_snapshot AS SELECT id FROM good;
-- A view owned by a superuser reads every tenant's rows.
CREATE VIEW superuser_view AS SELECT id FROM good;
-- A partition whose RLS was switched off.
CREATE TABLE parted (id int, tenant_id uuid NOT NULL) PARTITION BY LIST (id);
CREATE TABLE parted_1 PARTITION OF parted FOR VALUES IN (1);
SELECT stratum.enable_tenancy('parted');
ALTER TABLE parted_1 DISABLE ROW LEVEL SECURITY;

SELECT relation, kind, tenant_column AS tenant, rls_enabled AS rls, rls_forced AS forced,
       isolation_policy AS policy, tenant_index AS indexed, audited, verdict
  FROM stratum.isolation_report()
 WHERE relation::text NOT LIKE '%Robert%' AND relation::text NOT LIKE 'events%'
 ORDER BY relation::text;

SELECT relation, unnest(problems) AS problem
  FROM stratum.isolation_report()
 WHERE verdict IN ('leak', 'warning') AND relation::text NOT LIKE '%Robert%'
 ORDER BY relation::text, problem;

-- Fixing a table with enable_tenancy makes its verdict ok again.
SELECT stratum.enable_tenancy('no_rls');
SELECT stratum.enable_tenancy('not_forced');
SELECT stratum.enable_tenancy('weak_policy');
SELECT stratum.enable_tenancy('parted');
SELECT relation, verdict FROM stratum.isolation_report()
 WHERE relation::text IN ('no_rls', 'not_forced', 'weak_policy', 'parted', 'parted_1')
 ORDER BY relation::text;
