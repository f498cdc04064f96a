#!/usr/bin/env bash
# make demo: from a bare machine to a running stratum, end to end: installs
# what is missing, builds the extension and the stratum command, starts a
# throwaway PostgreSQL and Redis, migrates, seeds, and shows tenant isolation,
# the audit trail, the isolation report, health and a rollback. Everything
# runs on loopback and is removed on exit (STRATUM_KEEP_RUNNING=1 keeps it up
# until Enter is pressed).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
# Run from make: no "Entering directory" chatter from the builds below.
unset MAKEFLAGS MFLAGS MAKELEVEL

bold=$'\033[1m' dim=$'\033[2m' reset=$'\033[0m'
[[ -t 1 ]] || bold='' dim='' reset=''
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$reset"; }
say() { printf '%s%s%s\n' "$dim" "$*" "$reset"; }
# Shows a command, then runs it.
run() { printf '%s$ %s%s\n' "$bold" "$*" "$reset"; "$@"; }
# Runs a command that is expected to fail, and says how it exited.
run_failing() {
  local status=0
  printf '%s$ %s%s\n' "$bold" "$*" "$reset"
  "$@" || status=$?
  ((status != 0)) || { echo "demo: expected '$*' to fail" >&2; return 1; }
  say "(exit code $status)"
}
# SQL from stdin as ROLE in the demo database. Errors are shown without
# psql's "psql:<stdin>:N:" prefix; a block that means to show one turns
# ON_ERROR_STOP off around it.
sql_as() {
  local role=$1
  command psql -X -q -v ON_ERROR_STOP=1 -P footer=off -d demo -U "$role" 2>&1 |
    sed -E 's/^psql:<stdin>:[0-9]+: //'
}

step "installing missing packages"
scripts/install-deps.sh demo

step "building the extension"
make -s -j"$(nproc)" all

step "building libstratum and the stratum command (build/demo: a few minutes the first time)"
build=build/demo
mkdir -p "$build"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DSTRATUM_BUILD_TESTS=OFF \
  -DSTRATUM_BUILD_BENCH=OFF >"$build/configure.log" 2>&1 ||
  { cat "$build/configure.log" >&2; exit 1; }
cmake --build "$build" -j"$(nproc)" --target stratum_cli
export PATH=$root/$build/client:$PATH
stratum --version

source scripts/lib/services.sh
services_init
serve_pid=
cleanup() {
  if [[ -n $serve_pid ]]; then kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null; fi
  services_stop_all
}
trap cleanup EXIT

step "starting a throwaway PostgreSQL and Redis on 127.0.0.1"
pg_tree_build .
pg_start pg
redis_start
echo "PostgreSQL $(command psql -X -Atc 'SHOW server_version') on 127.0.0.1:$PGPORT, data in $PG_DIR"
echo "Redis $(redis-server --version | sed -E 's/.*v=([^ ]+).*/\1/') on 127.0.0.1:$REDIS_PORT"

step "roles, database and extension"
say "demo_owner owns the tables and runs migrations; demo_app is what the application connects as."
command psql -X -q -v ON_ERROR_STOP=1 -d postgres <<'SQL'
CREATE ROLE demo_owner LOGIN;
CREATE ROLE demo_app LOGIN;
CREATE DATABASE demo OWNER demo_owner;
SQL
command psql -X -q -v ON_ERROR_STOP=1 -d demo <<'SQL'
CREATE EXTENSION stratum;
SELECT stratum.grant_migrator_role('demo_owner') \gset
SELECT stratum.grant_app_role('demo_app') \gset
SELECT format('extension stratum %s in database demo', extversion) FROM pg_extension WHERE extname = 'stratum' \g (tuples_only=on format=unaligned)
SQL

step "the configuration"
export STRATUM_CONFIG=$STRATUM_RUN_DIR/stratum.yaml
unset STRATUM_ENV DATABASE_URL REDIS_URL
cat >"$STRATUM_CONFIG" <<YAML
# Written by scripts/demo.sh for a throwaway cluster. Local trust
# authentication: no password anywhere.
default_environment: development
environments:
  development:
    database:
      postgres:
        master:
          host: 127.0.0.1
          port: $PGPORT
          dbname: demo
          user: demo_owner
          sslmode: disable
          application_name: stratum-demo
          max_open_conns: 10
          max_idle_conns: 2
      redis:
        addr: 127.0.0.1:$REDIS_PORT
    migrations:
      dir: $root/migrations
    logging:
      level: warn
YAML
echo "STRATUM_CONFIG=$STRATUM_CONFIG:"
sed 's/^/  /' "$STRATUM_CONFIG"

step "migrating (migrations/master)"
run stratum migrate up
run stratum migrate status

step "seeding (migrations/seeds/development: tenants acme and globex, their users)"
run stratum seed --env development

step "tenants and their schemas (migrations/tenants)"
run stratum tenant create initech "Initech" --schema
run stratum tenant migrate --jobs 2
run stratum tenant list

step "isolation: each tenant sees only its own rows (psql as demo_app)"
sql_as demo_app <<'SQL'
SELECT id AS acme FROM stratum.tenants WHERE slug = 'acme' \gset
SELECT id AS globex FROM stratum.tenants WHERE slug = 'globex' \gset
\echo '-- acme sees:'
BEGIN;
SELECT stratum.set_tenant(:'acme') \gset
SELECT email, display_name, role FROM users ORDER BY email;
COMMIT;
\echo '-- globex sees (even when it asks for acme''s rows by name, none come back):'
BEGIN;
SELECT stratum.set_tenant(:'globex') \gset
SELECT email, display_name, role FROM users ORDER BY email;
SELECT count(*) AS acme_rows_visible_to_globex FROM users WHERE tenant_id = :'acme';
\echo '-- globex tries to write a row into acme:'
\set ON_ERROR_STOP 0
INSERT INTO users (tenant_id, email, display_name) VALUES (:'acme', 'mole@globex.example', 'Mole');
ROLLBACK;
\echo '-- no tenant set:'
SELECT count(*) FROM users;
\set ON_ERROR_STOP 1
SQL

step "audit trail: who changed what (psql as demo_app)"
sql_as demo_app <<'SQL'
SELECT id AS acme FROM stratum.tenants WHERE slug = 'acme' \gset
BEGIN;
SELECT stratum.set_tenant(:'acme') \gset
SELECT stratum.set_actor('user:wile@acme.example') \gset
\echo '-- Wile promotes Road Runner and resets his password:'
UPDATE users SET role = 'admin', password_hash = 'not-a-real-hash'
 WHERE email = 'road.runner@acme.example'
RETURNING email, role;
COMMIT;
BEGIN;
SELECT stratum.set_tenant(:'acme') \gset
SELECT id AS road_runner FROM users WHERE email = 'road.runner@acme.example' \gset
\echo '-- stratum.row_history(''users'', ...): the seed''s INSERT, then the UPDATE (password_hash is never logged):'
SELECT operation, db_user, actor, changed_columns,
       old_row ->> 'role' AS old_role, new_row ->> 'role' AS new_role,
       new_row ? 'password_hash' AS logs_password
  FROM stratum.row_history('users', jsonb_build_object('id', :'road_runner'))
 ORDER BY logged_at, id;
\echo '-- the log is append-only: the application can read it, never change it:'
\set ON_ERROR_STOP 0
DELETE FROM stratum.audit_log;
\set ON_ERROR_STOP 1
ROLLBACK;
SQL

step "isolation report: a table somebody forgot to isolate"
sql_as demo_owner <<'SQL'
CREATE TABLE invoices (
    id        bigint GENERATED ALWAYS AS IDENTITY,
    tenant_id uuid NOT NULL,
    amount    numeric(12,2) NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
GRANT SELECT ON invoices TO demo_app;
\echo '-- stratum.isolation_report(), the tables that hold tenant rows:'
SELECT relation, verdict, rls_enabled, rls_forced, isolation_policy, tenant_index, audited
  FROM stratum.isolation_report()
 WHERE verdict <> 'shared' AND relation::text NOT LIKE 'stratum.audit_log_%'  -- its partitions
 ORDER BY relation::text;
SQL
run_failing stratum check
say "Fixing it: stratum.enable_tenancy('invoices') and stratum.enable_audit('invoices')."
sql_as demo_owner <<'SQL'
SELECT stratum.enable_tenancy('invoices'), stratum.enable_audit('invoices') \gset
SQL
run stratum check

step "health"
run stratum health
say "stratum serve: the same checks over HTTP (/health, /health/database, /health/migrations, /metrics)"
serve_out=$STRATUM_RUN_DIR/serve.out
stratum serve --listen 127.0.0.1:0 >"$serve_out" 2>"$STRATUM_RUN_DIR/serve.log" &
serve_pid=$!
url=
for _ in $(seq 1 100); do
  url=$(sed -n 's/^listening on //p' "$serve_out")
  [[ -n $url ]] && break
  kill -0 "$serve_pid" 2>/dev/null || { cat "$STRATUM_RUN_DIR/serve.log" >&2; exit 1; }
  sleep 0.1
done
[[ -n $url ]] || { echo "demo: stratum serve did not start" >&2; cat "$STRATUM_RUN_DIR/serve.log" >&2; exit 1; }
echo "listening on $url"
printf '%s$ curl -s -w "HTTP %%{http_code}" %s/health/database%s\n' "$bold" "$url" "$reset"
curl -sS --max-time 5 -w 'HTTP %{http_code}\n' "$url/health/database"
printf '%s$ curl -s %s/metrics | grep ...%s\n' "$bold" "$url" "$reset"
curl -sS --max-time 5 "$url/metrics" >"$STRATUM_RUN_DIR/metrics.txt"
grep -E '^stratum_health_(overall_)?state\{.*\} 1$|^stratum_(migration_version|migrations_(applied|pending)|pool_connections_(open|max))[{ ]' \
  "$STRATUM_RUN_DIR/metrics.txt"
kill -TERM "$serve_pid"
wait "$serve_pid" && say "stratum serve stopped on SIGTERM (exit code 0)"
serve_pid=

step "rolling back and forward again: the ledger keeps every event"
run stratum migrate down --steps 1
run stratum migrate status
run stratum migrate up
sql_as demo_owner <<'SQL'
\echo '-- stratum.schema_migration_log:'
SELECT scope, kind, version, name, action, done_by, transactional
  FROM stratum.schema_migration_log ORDER BY id;
SQL
run stratum migrate verify

step "done"
if [[ -n ${STRATUM_KEEP_RUNNING:-} ]]; then
  cat <<EOF
Everything is still up:
  psql -h $PGHOST -p $PGPORT -U demo_app -d demo      (the application role)
  psql -h $PGHOST -p $PGPORT -U demo_owner -d demo    (the migration role)
  export PATH=$root/$build/client:\$PATH STRATUM_CONFIG=$STRATUM_CONFIG
  stratum health; stratum migrate status; stratum serve --listen 127.0.0.1:8080
Press Enter to stop it.
EOF
  read -r
fi
