# Shared by the query benches (sourced, not run): the tables they read, in the
# database the PG* variables name. pgbench -i makes pgbench_accounts (plain,
# what pgbench -S reads); tenant_accounts is a copy of it made
# tenant-isolated with stratum.enable_tenancy, every row owned by tenant
# acme, so the primary-key lookup finds a row exactly as pgbench's does and
# pays RLS on top: the comparison charges stratum for both its client path
# and its policy.
make_query_tables() { # scale database
  pgbench -i -q -s "$1" -U stratum_owner "$2" >/dev/null 2>&1
  psql -q -v ON_ERROR_STOP=1 -U stratum_owner -d "$2" <<SQL >/dev/null
SET client_min_messages = warning;
DROP TABLE IF EXISTS tenant_accounts, tenant_history;
CREATE TABLE tenant_accounts AS
  SELECT aid, bid, abalance, filler, 'aaaaaaaa-0000-4000-8000-000000000001'::uuid AS tenant_id
    FROM pgbench_accounts;
ALTER TABLE tenant_accounts ADD PRIMARY KEY (aid);
CREATE TABLE tenant_history (id bigserial PRIMARY KEY, aid int NOT NULL, delta int NOT NULL,
                             mtime timestamptz NOT NULL DEFAULT now());
SELECT stratum.enable_tenancy('tenant_accounts');
SELECT stratum.enable_tenancy('tenant_history');
SQL
  psql -q -v ON_ERROR_STOP=1 -U postgres -d "$2" <<SQL >/dev/null
SELECT stratum.grant_app_role('stratum_app');
GRANT SELECT ON pgbench_accounts, pgbench_branches TO stratum_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO stratum_app;
VACUUM ANALYZE pgbench_accounts, tenant_accounts, tenant_history;
SQL
}
