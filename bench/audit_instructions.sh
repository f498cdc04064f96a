#!/usr/bin/env bash
# The audited bulk INSERT in instructions rather than CPU time: on a shared
# machine CPU time moves by more than the changes worth measuring, while
# instruction counts repeat to within a fraction of a percent. A single-user
# backend of a fresh cluster (the bench's own build of stratum) runs
# 20,000-row INSERT ... SELECTs into a table with only a primary key, plain,
# then with stratum.enable_audit, then with the usual PL/pgSQL to_jsonb
# trigger (audit_peer_plpgsql.sql), under valgrind --tool=callgrind counting
# from PortalRun: one statement, then three, so that the difference leaves
# out loading the library and warming the caches. The kernel's work (WAL and
# page writes, page faults) is not in these counts: bench/audit.sh has it,
# in CPU time. Started by scripts/bench.sh; valgrind comes with
# `scripts/install-deps.sh bench`.
set -euo pipefail
cd "$(dirname "$0")"
source "$STRATUM_BENCH_ROOT/scripts/lib/services.sh"
rows=${STRATUM_BENCH_AUDIT_CALLGRIND_ROWS:-20000}
postgres=$STRATUM_BENCH_PG_TREE
dir=$(mktemp -d "$STRATUM_RUN_DIR/callgrind.XXXXXX")
chmod 755 "$dir"
[[ $(id -u) == 0 ]] && chown postgres: "$dir"
as_server_user "$PG_BINDIR/initdb" -A trust -U postgres --no-sync -D "$dir/data" >/dev/null
single() { # statements on stdin, each ending in ";" and a blank line
  as_server_user "$@" "$postgres" --single -j -D "$dir/data" -c shared_buffers=256MB \
    -c max_wal_size=4GB -c fsync=off postgres
}

columns="name text NOT NULL, qty integer NOT NULL, price numeric(12,2), tags text[], note text"
statement() { printf '%s;\n\n' "$*"; }
insert() {
  statement "INSERT INTO $1 (name, qty, price, tags, note) SELECT 'item ' || g, g, g * 0.01," \
    "ARRAY['red', 'large'], CASE WHEN g % 3 = 0 THEN 'note ' || g END FROM generate_series(1, $rows) g"
}
{
  statement "CREATE EXTENSION stratum"
  for v in plain stratum plpgsql; do
    statement "CREATE TABLE cg_$v (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, $columns)"
  done
  statement "SELECT stratum.enable_audit('cg_stratum')"
  cat audit_peer_plpgsql.sql
  printf '\n\n'
  statement "CREATE TRIGGER bench_peer_audit AFTER INSERT OR UPDATE OR DELETE ON cg_plpgsql" \
    "FOR EACH ROW EXECUTE FUNCTION bench_peer_audit()"
  # Warm up the catalogs and the trigger caches, then start from empty tables.
  for v in plain stratum plpgsql; do insert "cg_$v"; done
  statement "TRUNCATE cg_plain, cg_stratum, cg_plpgsql, bench_peer_log, stratum.audit_log"
  statement "CHECKPOINT"
} | single >"$dir/setup.log" 2>&1
if grep -q ERROR "$dir/setup.log"; then cat "$dir/setup.log" >&2; exit 1; fi

# Instructions of n INSERTs into table, from empty, warm-up included; the
# difference of 3 and 1 is what two statements cost without it.
instructions() { # table n
  local i
  {
    statement "TRUNCATE $1, bench_peer_log, stratum.audit_log"
    for ((i = 0; i < $2; i++)); do insert "$1"; done
  } | single valgrind --tool=callgrind --callgrind-out-file="$dir/cg.out" --collect-atstart=no \
      --toggle-collect=PortalRun >/dev/null 2>&1
  sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$dir/cg.out"
}
declare -A per_row
for v in plain stratum plpgsql; do
  one=$(instructions "cg_$v" 1)
  three=$(instructions "cg_$v" 3)
  per_row[$v]=$(((three - one) / (2 * rows)))
done
rm -rf "$dir"

echo "Audit in instructions (callgrind, single-user backend): $rows-row INSERT ... SELECT into a table with only a primary key, per row"
awk -v p="${per_row[plain]}" -v s="${per_row[stratum]}" -v g="${per_row[plpgsql]}" 'BEGIN {
  printf "  %-44s %12s\n", "", "per row"
  printf "  %-44s %12d\n", "plain (no audit)", p
  printf "  %-44s %12d\n", "stratum.enable_audit", s
  printf "  %-44s %12d\n", "PL/pgSQL to_jsonb trigger", g
  printf "  stratum / plain = %.3f (target <= 1.5: %s); PL/pgSQL / stratum = %.2f (target >= 4: %s)\n",
         s / p, (s / p <= 1.5) ? "met" : "MISSED", g / s, (g / s >= 4) ? "met" : "MISSED" }'
