#!/usr/bin/env bash
# A migration set shaped like a real one, `stratum migrate up` against the
# same files streamed through one psql (golang-migrate style names
# NNNNNN_name.up.sql with dots in some names, tables with columns, indexes
# and foreign keys, column changes, data fixes, comment-only files, and
# single-statement CREATE INDEX CONCURRENTLY files without any header, which
# stratum runs outside a transaction as golang-migrate does). Both start from
# a fresh database with the extension; best of N rounds. The target: stratum
# at or below psql (ratio <= 1).
# Started by scripts/bench.sh (or alone with PGPORT set and
# STRATUM_BENCH_BUILD_DIR pointing at a build). Knobs:
# STRATUM_BENCH_SET_FILES (150), STRATUM_BENCH_ROUNDS (3).
set -euo pipefail
files=${STRATUM_BENCH_SET_FILES:-150}
rounds=${STRATUM_BENCH_ROUNDS:-3}
db=stratum_migration_sets_bench
source "$(dirname "$0")/lib/migration_bench.sh"

# The schema without the ledger, for comparing the two results.
schema() { pg_dump -s -h 127.0.0.1 -p "$port" -U postgres --exclude-schema=stratum "$db" | grep -v -e '^--' -e '^\\restrict' -e '^\\unrestrict'; }
export PGOPTIONS="-c client_min_messages=warning"

fresh_database() {
  psql -q -X -h 127.0.0.1 -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1
  psql -q -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -d postgres -c "CREATE DATABASE $db" >/dev/null
  sql -c "CREATE EXTENSION stratum" >/dev/null
}

# --- the set ------------------------------------------------------------------
mkdir -p "$work/set/master"
tables=0 concurrent=0 empty=0
write() { # version name up down
  local stem
  stem=$(printf '%s/set/master/%06d_%s' "$work" "$1" "$2")
  printf '%s\n' "$3" >"$stem.up.sql"
  printf '%s\n' "$4" >"$stem.down.sql"
}
for ((v = 1; v <= files; v++)); do
  t=$((tables > 0 ? (v * 7) % tables + 1 : 1))
  case $((v % 10)) in
    1 | 6)
      tables=$((tables + 1))
      ref=""
      ((tables > 1)) && ref=", parent_id bigint REFERENCES t$((tables - 1)) (id)"
      write "$v" "create_t$tables" \
        "CREATE TABLE t$tables (id bigserial PRIMARY KEY, name varchar(64) NOT NULL, created_at bigint NOT NULL DEFAULT 0, props jsonb$ref);
CREATE INDEX t${tables}_created_at ON t$tables (created_at);" \
        "DROP TABLE t$tables CASCADE;" ;;
    2 | 7)
      write "$v" "t${t}_add_c$v" "ALTER TABLE t$t ADD COLUMN IF NOT EXISTS c$v text;" \
        "ALTER TABLE t$t DROP COLUMN IF EXISTS c$v;" ;;
    3)
      concurrent=$((concurrent + 1))
      write "$v" "t${t}_name_index_v$v.0" "CREATE INDEX CONCURRENTLY IF NOT EXISTS t${t}_name_$v ON t$t (name);" \
        "DROP INDEX CONCURRENTLY IF EXISTS t${t}_name_$v;" ;;
    4)
      write "$v" "t${t}_seed_rows" \
        "INSERT INTO t$t (name, created_at) SELECT 'row ' || g, g FROM generate_series(1, 200) g;
UPDATE t$t SET props = jsonb_build_object('n', id) WHERE props IS NULL;" \
        "DELETE FROM t$t WHERE name LIKE 'row %';" ;;
    5)
      if ((v % 30 == 5)); then
        empty=$((empty + 1))
        write "$v" "noop_$v" "-- intentionally empty: kept for numbering" ""
      else
        write "$v" "t${t}_name_length" "ALTER TABLE t$t ALTER COLUMN name TYPE varchar(128);" \
          "ALTER TABLE t$t ALTER COLUMN name TYPE varchar(64);"
      fi ;;
    8)
      write "$v" "t${t}_check_c$v" \
        "ALTER TABLE t$t ADD COLUMN IF NOT EXISTS state smallint NOT NULL DEFAULT 0;
ALTER TABLE t$t ADD CONSTRAINT t${t}_state_$v CHECK (state >= 0);" \
        "ALTER TABLE t$t DROP CONSTRAINT t${t}_state_$v;" ;;
    9)
      write "$v" "view_$v" "CREATE OR REPLACE VIEW v$v AS SELECT id, created_at FROM t$t WHERE created_at > 0;" \
        "DROP VIEW v$v;" ;;
    0)
      write "$v" "func_$v" "CREATE OR REPLACE FUNCTION f$v(bigint) RETURNS bigint LANGUAGE sql IMMUTABLE AS \$\$ SELECT \$1 * $v \$\$;" \
        "DROP FUNCTION f$v(bigint);" ;;
  esac
done
# One psql stream of the same files, in version order (psql runs each
# statement on its own, so the concurrent builds run as they would by hand).
cat "$work/set/master/"*.up.sql >"$work/stream.sql"

echo "migration sets: $files files ($tables tables, $concurrent single-statement CREATE INDEX CONCURRENTLY, $empty comment-only), best of $rounds rounds, loopback TCP"
best_psql="" best_up=""
for ((r = 0; r < rounds; r++)); do
  fresh_database
  start=$(now_ns)
  sql -f "$work/stream.sql" >/dev/null
  best_psql=$(min "$best_psql" $(($(now_ns) - start)))
  schema >"$work/psql.schema"

  fresh_database
  start=$(now_ns)
  run=$(DATABASE_URL=$url "$stratum" migrate up --json --dir "$work/set")
  best_up=$(min "$best_up" $(($(now_ns) - start)))
  round_trips=$(printf '%s' "$run" | sed -n 's/^  "round_trips": \([0-9]*\).*/\1/p')
  applied=$(sql -A -t -c "SELECT count(*) FROM stratum.schema_migrations WHERE status = 'applied'")
  [[ $applied == "$files" ]] || { echo "stratum applied $applied of $files" >&2; exit 1; }
  schema >"$work/stratum.schema"
  diff "$work/psql.schema" "$work/stratum.schema" >&2 || { echo "the schemas differ (psql vs stratum)" >&2; exit 1; }
done
echo "  psql stream (one connection): $(ms "$best_psql") ms"
echo "  stratum migrate up:           $(ms "$best_up") ms (same schema as psql, ${round_trips:-?} round trips)"
echo "  -> stratum / psql: $(ratio "$best_up" "$best_psql") (target <= 1)"
