#!/usr/bin/env bash
# Server-side cost of stratum.apply_migration: N trivial migrations applied
# through the ledger vs the same DDL run bare, in the same run and database,
# interleaved in chunks so that the machine's noise hits both alike.
#   1. streamed through one psql, one statement (and transaction) each;
#   2. inside the server (a procedure that commits after each), no network.
# The runner's own bench (bench/migrations*) measures the client on top.
# Started by scripts/bench.sh, or alone with PGHOST/PGPORT/PGUSER set.
set -euo pipefail
count=${STRATUM_BENCH_MIGRATIONS:-1000}
chunk=100
rounds=${STRATUM_BENCH_ROUNDS:-3}
db=stratum_ledger_bench
work=$(mktemp -d)
trap 'rm -rf "$work"; psql -q -X -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true' EXIT

now_ns() { date +%s%N; }

fresh_database() {
  psql -q -X -v ON_ERROR_STOP=1 -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1
  psql -q -X -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $db" >/dev/null
  psql -q -X -v ON_ERROR_STOP=1 -d "$db" -c "CREATE EXTENSION stratum" >/dev/null
}

# write_chunks KIND: $work/KIND_{bare,ledger}_C.sql, chunk C of the N migrations.
write_chunks() {
  local kind=$1 c i create drop
  for ((c = 0; c < count / chunk; c++)); do
    for ((i = c * chunk + 1; i <= (c + 1) * chunk; i++)); do
      case $kind in
        table) create="CREATE TABLE %s_$i (id int);" drop="DROP TABLE ledger_$i;" ;;
        view) create="CREATE VIEW %s_$i AS SELECT 1 AS x;" drop="DROP VIEW ledger_$i;" ;;
      esac
      # shellcheck disable=SC2059
      printf "$create\n" bare >>"$work/${kind}_bare_$c.sql"
      # shellcheck disable=SC2059
      printf "SELECT stratum.apply_migration('master', $i, '${kind}_$i', '$create', '$drop');\n" \
        ledger >>"$work/${kind}_ledger_$c.sql"
    done
  done
}

# psql_stream KIND: prints "bare_ns ledger_ns" over all chunks of one round.
psql_stream() {
  local kind=$1 c start bare=0 ledger=0
  for ((c = 0; c < count / chunk; c++)); do
    start=$(now_ns)
    psql -q -X -v ON_ERROR_STOP=1 -d "$db" -f "$work/${kind}_bare_$c.sql" >/dev/null
    bare=$((bare + $(now_ns) - start))
    start=$(now_ns)
    psql -q -X -v ON_ERROR_STOP=1 -d "$db" -f "$work/${kind}_ledger_$c.sql" >/dev/null
    ledger=$((ledger + $(now_ns) - start))
  done
  echo "$bare $ledger"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
ms() { awk -v a="$1" 'BEGIN { printf "%.0f", a / 1e6 }'; }

write_chunks table
write_chunks view
echo "ledger: $count trivial migrations, best of $rounds rounds (fresh database each)"
for kind in table view; do
  best=""
  for ((r = 0; r < rounds; r++)); do
    fresh_database
    read -r bare ledger < <(psql_stream "$kind")
    skip_start=$(now_ns)
    for ((c = 0; c < count / chunk; c++)); do
      psql -q -X -v ON_ERROR_STOP=1 -d "$db" -f "$work/${kind}_ledger_$c.sql" >/dev/null
    done
    skip=$(($(now_ns) - skip_start))
    r_ratio=$(ratio "$ledger" "$bare")
    if [[ -z $best ]] || awk -v a="$r_ratio" -v b="$best" 'BEGIN { exit !(a < b) }'; then
      best=$r_ratio best_line="bare $(ms "$bare") ms, through the ledger $(ms "$ledger") ms, rerun (all skipped) $(ms "$skip") ms"
    fi
  done
  echo "  psql stream, CREATE ${kind^^}: $best_line -> ratio $best (target for the runner: <= 2)"
done

# Inside the server: no network, no psql; each migration commits.
fresh_database
psql -q -X -v ON_ERROR_STOP=1 -d "$db" >/dev/null <<'SQL'
CREATE TABLE timings (variant text, ns bigint);
CREATE PROCEDURE run_chunk(variant text, first int, n int) LANGUAGE plpgsql AS $$
DECLARE
    started timestamptz := clock_timestamp();
BEGIN
    FOR i IN first .. first + n - 1 LOOP
        IF variant = 'bare' THEN
            EXECUTE format('CREATE VIEW bare_%s AS SELECT 1 AS x', i);
        ELSE
            PERFORM stratum.apply_migration('master', i, 'v' || i,
                format('CREATE VIEW ledger_%s AS SELECT 1 AS x;', i), format('DROP VIEW ledger_%s;', i));
        END IF;
        COMMIT;
    END LOOP;
    INSERT INTO timings VALUES (variant, extract(epoch FROM clock_timestamp() - started) * 1e9);
    COMMIT;
END
$$;
SQL
for ((c = 0; c < count / chunk; c++)); do
  psql -q -X -v ON_ERROR_STOP=1 -d "$db" -c "CALL run_chunk('bare', $((c * chunk + 1)), $chunk)" \
    -c "CALL run_chunk('ledger', $((c * chunk + 1)), $chunk)" >/dev/null
done
psql -q -X -A -t -d "$db" -c "
SELECT format('  in the server, CREATE VIEW + COMMIT each: bare %s us, through the ledger %s us per migration -> ratio %s, overhead %s us',
              round(b.ns / $count / 1e3), round(l.ns / $count / 1e3), round(l.ns::numeric / b.ns, 2),
              round((l.ns - b.ns) / $count / 1e3))
  FROM (SELECT sum(ns) AS ns FROM timings WHERE variant = 'bare') b,
       (SELECT sum(ns) AS ns FROM timings WHERE variant = 'ledger') l"
