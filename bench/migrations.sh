#!/usr/bin/env bash
# The migration runner against its peers, in one run on one server (loopback
# TCP for all):
#   1. N trivial migrations (CREATE TABLE tN, each with a down file) applied by
#      `stratum migrate up`, vs the same DDL streamed through one psql (the
#      floor: one statement and transaction each) and vs sqitch (pg engine).
#      Targets: <= 2x the psql stream, >= 10x faster than sqitch.
#   2. Rolling back a migration that rewrote 100,000 rows: the data must come
#      back exactly (checksums compared, the bench fails otherwise).
#   3. `stratum tenant migrate` over T tenant schemas with 1 and with J jobs,
#      vs the same DDL streamed through one psql.
# Started by scripts/bench.sh (or alone with PGHOST/PGPORT set and
# STRATUM_BENCH_BUILD_DIR pointing at a build). Knobs: STRATUM_BENCH_MIGRATIONS
# (1000), STRATUM_BENCH_ROUNDS (3), STRATUM_BENCH_TENANTS (1000),
# STRATUM_BENCH_JOBS (4), STRATUM_BENCH_SQITCH (1; 0 skips sqitch).
set -euo pipefail
count=${STRATUM_BENCH_MIGRATIONS:-1000}
rounds=${STRATUM_BENCH_ROUNDS:-3}
tenants=${STRATUM_BENCH_TENANTS:-1000}
jobs=${STRATUM_BENCH_JOBS:-4}
run_sqitch=${STRATUM_BENCH_SQITCH:-1}
db=stratum_migrations_bench
source "$(dirname "$0")/lib/migration_bench.sh"

fresh_database() {
  psql -q -X -h 127.0.0.1 -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1
  psql -q -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -d postgres -c "CREATE DATABASE $db" >/dev/null
  sql -c "CREATE EXTENSION stratum" >/dev/null
}

# --- 1. N trivial migrations ------------------------------------------------
mkdir -p "$work/runner/master" "$work/sqitch/deploy" "$work/sqitch/revert" "$work/sqitch/verify"
{
  echo "%syntax-version=1.0.0"
  echo "%project=bench"
  echo
} >"$work/sqitch/sqitch.plan"
for ((i = 1; i <= count; i++)); do
  name=$(printf '%05d_t%d' "$i" "$i")
  echo "CREATE TABLE t$i (id int);" >"$work/runner/master/$name.up.sql"
  echo "DROP TABLE t$i;" >"$work/runner/master/$name.down.sql"
  echo "CREATE TABLE t$i (id int);" >>"$work/stream.sql"
  echo "DROP TABLE t$i;" >>"$work/stream_down.sql"
  echo "t$i 2024-01-01T00:00:00Z Bench <bench@example.com> # t$i" >>"$work/sqitch/sqitch.plan"
  echo "BEGIN; CREATE TABLE t$i (id int); COMMIT;" >"$work/sqitch/deploy/t$i.sql"
  echo "BEGIN; DROP TABLE t$i; COMMIT;" >"$work/sqitch/revert/t$i.sql"
  echo "SELECT 1;" >"$work/sqitch/verify/t$i.sql"
done
tac "$work/stream_down.sql" >"$work/stream_down_reversed.sql"
cat >"$work/sqitch/sqitch.conf" <<EOF
[core]
	engine = pg
	top_dir = .
[engine "pg"]
	target = db:pg://postgres@127.0.0.1:$port/$db
EOF

echo "migrations: $count trivial migrations (CREATE TABLE each, with a down file), best of $rounds rounds, loopback TCP"
best_psql="" best_up="" best_down="" best_psql_down=""
for ((r = 0; r < rounds; r++)); do
  fresh_database
  start=$(now_ns)
  sql -f "$work/stream.sql" >/dev/null
  best_psql=$(min "$best_psql" $(($(now_ns) - start)))
  start=$(now_ns)
  sql -f "$work/stream_down_reversed.sql" >/dev/null
  best_psql_down=$(min "$best_psql_down" $(($(now_ns) - start)))

  fresh_database
  start=$(now_ns)
  DATABASE_URL=$url "$stratum" migrate up -q --dir "$work/runner" >/dev/null
  best_up=$(min "$best_up" $(($(now_ns) - start)))
  applied=$(sql -A -t -c "SELECT count(*) FROM stratum.schema_migrations WHERE status = 'applied'")
  [[ $applied == "$count" ]] || { echo "stratum applied $applied of $count" >&2; exit 1; }
  start=$(now_ns)
  DATABASE_URL=$url "$stratum" migrate down -q --to 0 --dir "$work/runner" >/dev/null
  best_down=$(min "$best_down" $(($(now_ns) - start)))
done
echo "  psql stream (floor):       up $(ms "$best_psql") ms, down $(ms "$best_psql_down") ms"
echo "  stratum migrate up/down:   up $(ms "$best_up") ms, down $(ms "$best_down") ms"
echo "  -> stratum / psql: up $(ratio "$best_up" "$best_psql"), down $(ratio "$best_down" "$best_psql_down") (target <= 2)"

if [[ $run_sqitch == 1 ]]; then
  fresh_database
  start=$(now_ns)
  (cd "$work/sqitch" && SQITCH_FULLNAME=Bench SQITCH_EMAIL=bench@example.com sqitch deploy >/dev/null)
  sqitch_ns=$(($(now_ns) - start))
  deployed=$(sql -A -t -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename ~ '^t[0-9]+$'")
  [[ $deployed == "$count" ]] || { echo "sqitch deployed $deployed of $count" >&2; exit 1; }
  echo "  sqitch deploy:             $(ms "$sqitch_ns") ms"
  echo "  -> sqitch / stratum: $(ratio "$sqitch_ns" "$best_up") (target >= 10)"
fi

# --- 2. Rolling back a migration over 100,000 rows --------------------------
mkdir -p "$work/rows/master"
cat >"$work/rows/master/001_payments.up.sql" <<'EOF'
CREATE TABLE payments (id int PRIMARY KEY, amount_cents bigint NOT NULL, currency text NOT NULL, note text);
INSERT INTO payments
SELECT g, (g * 7919) % 1000003, (ARRAY['EUR', 'USD', 'JPY'])[g % 3 + 1],
       CASE WHEN g % 10 = 0 THEN NULL ELSE md5(g::text) END
  FROM generate_series(1, 100000) g;
EOF
echo "DROP TABLE payments;" >"$work/rows/master/001_payments.down.sql"
cat >"$work/rows/master/002_payments_decimal.up.sql" <<'EOF'
ALTER TABLE payments ADD COLUMN amount numeric(12,2);
UPDATE payments SET amount = amount_cents / 100.0, note = upper(note);
ALTER TABLE payments ALTER COLUMN amount SET NOT NULL, DROP COLUMN amount_cents;
EOF
cat >"$work/rows/master/002_payments_decimal.down.sql" <<'EOF'
ALTER TABLE payments ADD COLUMN amount_cents bigint;
UPDATE payments SET amount_cents = (amount * 100)::bigint, note = lower(note);
ALTER TABLE payments ALTER COLUMN amount_cents SET NOT NULL, DROP COLUMN amount;
EOF
checksum_sql="SELECT md5(string_agg(row(id, amount_cents, currency, note)::text, E'\n' ORDER BY id)) || ' ' || count(*) FROM payments"
fresh_database
DATABASE_URL=$url "$stratum" migrate up -q --to 1 --dir "$work/rows" >/dev/null
before=$(sql -A -t -c "$checksum_sql")
start=$(now_ns)
DATABASE_URL=$url "$stratum" migrate up -q --dir "$work/rows" >/dev/null
up_ns=$(($(now_ns) - start))
start=$(now_ns)
DATABASE_URL=$url "$stratum" migrate down -q --dir "$work/rows" >/dev/null
down_ns=$(($(now_ns) - start))
after=$(sql -A -t -c "$checksum_sql")
# The same down SQL straight through psql (after applying the up SQL again), as the peer.
sql -f "$work/rows/master/002_payments_decimal.up.sql" >/dev/null
start=$(now_ns)
sql -1 -f "$work/rows/master/002_payments_decimal.down.sql" >/dev/null
psql_down_ns=$(($(now_ns) - start))
echo
echo "rollback over 100,000 rows (a column rewritten and dropped, then restored):"
echo "  up $(ms "$up_ns") ms, down $(ms "$down_ns") ms; the down SQL alone through psql $(ms "$psql_down_ns") ms -> ratio $(ratio "$down_ns" "$psql_down_ns")"
if [[ $before == "$after" ]]; then
  echo "  data identical after the rollback: $before (md5, rows)"
else
  echo "  DATA DIFFERS after the rollback: before $before, after $after" >&2
  exit 1
fi

# --- 3. Tenant schemas --------------------------------------------------------
mkdir -p "$work/tenants/tenants"
cat >"$work/tenants/tenants/001_projects.up.sql" <<'EOF'
CREATE TABLE projects (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL UNIQUE);
EOF
echo "DROP TABLE projects;" >"$work/tenants/tenants/001_projects.down.sql"
cat >"$work/tenants/tenants/002_tasks.up.sql" <<'EOF'
CREATE TABLE tasks (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    project_id bigint NOT NULL REFERENCES projects (id), title text NOT NULL);
CREATE INDEX tasks_project_id ON tasks (project_id);
EOF
echo "DROP TABLE tasks;" >"$work/tenants/tenants/002_tasks.down.sql"
make_tenants() {
  fresh_database
  sql -c "SELECT count(stratum.create_tenant_schema(stratum.create_tenant('b' || g, 'Bench ' || g)))
            FROM generate_series(1, $tenants) g" >/dev/null
}
for ((i = 1; i <= tenants; i++)); do
  echo "SET search_path = tenant_b$i;"
  cat "$work/tenants/tenants/001_projects.up.sql" "$work/tenants/tenants/002_tasks.up.sql"
done >"$work/tenants_stream.sql"

echo
echo "tenant migrate: $tenants tenant schemas, 2 migrations each"
make_tenants
start=$(now_ns)
sql -f "$work/tenants_stream.sql" >/dev/null
tenant_psql_ns=$(($(now_ns) - start))
declare -A tenant_ns
for j in 1 "$jobs"; do
  make_tenants
  start=$(now_ns)
  DATABASE_URL=$url "$stratum" tenant migrate -q --jobs "$j" --dir "$work/tenants" >/dev/null
  tenant_ns[$j]=$(($(now_ns) - start))
  behind=$(sql -A -t -c "SELECT count(*) FROM stratum.tenants_behind(ARRAY[1, 2]::bigint[])")
  [[ $behind == 0 ]] || { echo "$behind tenant schemas still behind" >&2; exit 1; }
done
rate() { awk -v n="$tenants" -v ns="$1" 'BEGIN { printf "%.0f", n / (ns / 1e9) }'; }
echo "  psql stream (floor, no ledger):  $(ms "$tenant_psql_ns") ms ($(rate "$tenant_psql_ns") tenants/s)"
echo "  stratum tenant migrate --jobs 1: $(ms "${tenant_ns[1]}") ms ($(rate "${tenant_ns[1]}") tenants/s)"
echo "  stratum tenant migrate --jobs $jobs: $(ms "${tenant_ns[$jobs]}") ms ($(rate "${tenant_ns[$jobs]}") tenants/s)"
echo "  -> jobs 1 / psql $(ratio "${tenant_ns[1]}" "$tenant_psql_ns"), jobs $jobs / psql $(ratio "${tenant_ns[$jobs]}" "$tenant_psql_ns"), speed-up with $jobs jobs $(ratio "${tenant_ns[1]}" "${tenant_ns[$jobs]}") ($(nproc) cores)"
