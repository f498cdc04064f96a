#!/usr/bin/env bash
# Audited bulk statements in instructions rather than CPU time: on a shared
# machine CPU time moves by more than the changes worth measuring, while
# instruction counts repeat to within a fraction of a percent. A single-user
# backend of a fresh cluster (the bench's own build of stratum) runs
# 20,000-row INSERT ... SELECTs, and UPDATEs of every row, on a table with
# only a primary key: plain, with stratum.enable_audit, and with the usual
# PL/pgSQL to_jsonb trigger (audit_peer_plpgsql.sql), under valgrind
# --tool=callgrind counting from PortalRun: one statement, then three, so
# that the difference leaves out loading the library and warming the
# caches. The kernel's work (WAL and page writes, page faults) is not in
# these counts: bench/audit.sh has it, in CPU time. Started by
# scripts/bench.sh; valgrind comes with `scripts/install-deps.sh bench`.
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

update() { statement "UPDATE $1 SET qty = qty + 1, price = price * 2"; }

# Instructions of n statements (insert or update) on table, from empty (an
# UPDATE's rows inserted first), warm-up included; the difference of 3 and
# 1 is what two statements cost without it.
instructions() { # statement table n
  local i
  {
    statement "TRUNCATE $2, bench_peer_log, stratum.audit_log"
    [[ $1 == update ]] && insert "$2"
    for ((i = 0; i < $3; i++)); do "$1" "$2"; done
  } | single valgrind --tool=callgrind --callgrind-out-file="$dir/cg.out" --collect-atstart=no \
      --toggle-collect=PortalRun >/dev/null 2>&1
  sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$dir/cg.out"
}
declare -A per_row
for kind in insert update; do
  for v in plain stratum plpgsql; do
    one=$(instructions "$kind" "cg_$v" 1)
    three=$(instructions "$kind" "cg_$v" 3)
    per_row[$kind.$v]=$(((three - one) / (2 * rows)))
  done
done
rm -rf "$dir"

echo "Audit in instructions (callgrind, single-user backend): $rows-row statements on a table with only a primary key, per row"
printf '  %-10s %10s %10s %10s %16s %20s\n' "" plain stratum PL/pgSQL "stratum ÷ plain" "PL/pgSQL ÷ stratum"
for kind in insert update; do
  awk -v k="$kind" -v p="${per_row[$kind.plain]}" -v s="${per_row[$kind.stratum]}" -v g="${per_row[$kind.plpgsql]}" 'BEGIN {
    printf "  %-10s %10d %10d %10d %16s %20s\n", k, p, s, g,
           sprintf("%.3f (%s)", s / p, (s / p <= 1.5) ? "met" : "MISSED"),
           sprintf("%.2f%s", g / s, k == "insert" ? ((g / s >= 4) ? " (met)" : " (MISSED)") : "") }'
done
echo "  targets: stratum ÷ plain <= 1.5; PL/pgSQL ÷ stratum >= 4 for the INSERT"
