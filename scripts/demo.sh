#!/usr/bin/env bash
# make demo: from a bare machine to a running stratum, end to end, on a
# throwaway cluster that is removed on exit (STRATUM_KEEP_RUNNING=1 keeps it
# up until Enter is pressed).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "installing missing packages"
scripts/install-deps.sh build
step "building the extension"
make -s -j"$(nproc)" all

source scripts/lib/services.sh
services_init
trap services_stop_all EXIT
step "starting a throwaway PostgreSQL on 127.0.0.1"
pg_tree_build .
pg_start pg
echo "PostgreSQL $(psql -Atc 'SHOW server_version') at $PGHOST:$PGPORT (data in $PG_DIR)"

psql() { command psql -X -q -v ON_ERROR_STOP=1 "$@"; }

step "installing the extension and the roles"
psql -d postgres <<'SQL'
CREATE ROLE demo_owner LOGIN;   -- owns the tables, runs migrations
CREATE ROLE demo_app LOGIN;     -- what the service connects as
CREATE DATABASE demo OWNER demo_owner;
SQL
psql -d demo <<'SQL'
CREATE EXTENSION stratum;
SELECT stratum.grant_migrator_role('demo_owner');
SQL

step "migrating: a tenant table in one call"
psql -d demo -U demo_owner <<'SQL'
SELECT stratum.create_base_table('projects', 'name text NOT NULL, budget numeric(12,2)');
SQL
psql -d demo -c "SELECT stratum.grant_app_role('demo_app')" >/dev/null

step "seeding two tenants"
psql -d demo <<'SQL'
SELECT stratum.create_tenant('acme', 'Acme Corp') AS acme \gset
SELECT stratum.create_tenant('globex', 'Globex Inc') AS globex \gset
\echo acme = :acme, globex = :globex
SQL

step "isolation: each tenant sees only its own rows (as the application role)"
psql -d demo -U demo_app <<'SQL'
SELECT id AS acme FROM stratum.tenants WHERE slug = 'acme' \gset
SELECT id AS globex FROM stratum.tenants WHERE slug = 'globex' \gset
BEGIN;
SELECT stratum.set_tenant(:'acme') \gset
INSERT INTO projects (name, budget) VALUES ('rocket skates', 1200), ('anvil', 90);
COMMIT;
BEGIN;
SELECT stratum.set_tenant(:'globex') \gset
INSERT INTO projects (name, budget) VALUES ('doomsday device', 1e9);
\echo '-- globex sees:'
SELECT name, budget FROM projects ORDER BY name;
\echo '-- globex tries to write a row for acme:'
\set ON_ERROR_STOP 0
INSERT INTO projects (name, tenant_id) VALUES ('planted', :'acme');
ROLLBACK;
\echo '-- no tenant set:'
SELECT count(*) FROM projects;
\set ON_ERROR_STOP 1
BEGIN;
SELECT stratum.set_tenant(:'acme') \gset
\echo '-- acme sees:'
SELECT name, budget FROM projects ORDER BY name;
COMMIT;
SQL

step "isolation report: does any table leak?"
psql -d demo <<'SQL'
CREATE TABLE leaky (id int, tenant_id uuid);  -- a table somebody forgot
SELECT relation, verdict, array_to_string(problems, E'\n') AS problems
  FROM stratum.isolation_report() ORDER BY verdict DESC, relation::text;
SQL

step "done"
if [[ -n ${STRATUM_KEEP_RUNNING:-} ]]; then
  echo "Cluster is up: psql -h $PGHOST -p $PGPORT -d demo. Press Enter to stop it."
  read -r
fi
