#!/usr/bin/env bash
# Audit cost: a 100,000-row INSERT ... SELECT and a 100,000-row UPDATE into a
# stratum tenant table (create_base_table), run by the application role
# through row level security, three ways: without audit ("plain"), with
# stratum's C++ trigger ("stratum"), and with the usual PL/pgSQL AFTER ROW
# trigger writing an equivalent log ("plpgsql", bench/audit_peer_plpgsql.sql).
# Started by scripts/bench.sh (PGHOST/PGPORT/PGDATABASE point at its cluster).
# Each round measures every variant once, in rotated order, on emptied
# tables and logs. Times are the backend's own CPU time (the machine is
# shared; waiting for a CPU is not a statement's cost) and wall time, both
# measured in the server; ratios are of the median over rounds, and of each
# variant's best round. Then single-row INSERTs, one statement each (what an
# OLTP service does), where the per-statement cost of the trigger weighs.
set -euo pipefail
cd "$(dirname "$0")"
rows=${STRATUM_BENCH_AUDIT_ROWS:-100000}
rounds=${STRATUM_BENCH_ROUNDS:-5}
tenant=aaaaaaaa-0000-4000-8000-000000000001
columns="name text NOT NULL, qty integer NOT NULL, price numeric(12,2), tags text[], note text"

psql -q -X -v ON_ERROR_STOP=1 -U stratum_owner >/dev/null <<SQL
DROP TABLE IF EXISTS bench_audit_plain, bench_audit_stratum, bench_audit_plpgsql;
SELECT stratum.create_base_table('bench_audit_plain', '$columns');
SELECT stratum.create_base_table('bench_audit_stratum', '$columns');
SELECT stratum.create_base_table('bench_audit_plpgsql', '$columns');
SELECT stratum.disable_audit('bench_audit_plain');
SELECT stratum.disable_audit('bench_audit_plpgsql');
\i audit_peer_plpgsql.sql
CREATE TRIGGER bench_peer_audit AFTER INSERT OR UPDATE OR DELETE ON bench_audit_plpgsql
    FOR EACH ROW EXECUTE FUNCTION bench_peer_audit();
GRANT INSERT ON bench_peer_log TO stratum_app;
GRANT USAGE ON SEQUENCE bench_peer_log_id_seq TO stratum_app;
SQL

psql -q -X -v ON_ERROR_STOP=1 -U postgres >/dev/null <<'SQL'
DROP TABLE IF EXISTS bench_audit_timings;
CREATE TABLE bench_audit_timings (round int, statement text, variant text, wall_ms numeric,
                                  cpu_ms numeric, log_rows bigint);
GRANT INSERT ON bench_audit_timings TO stratum_app;
-- CPU time this backend has run (from the kernel's scheduler statistics):
-- on a machine shared with other work, the time a statement spends waiting
-- for a CPU is not its cost.
CREATE OR REPLACE FUNCTION bench_audit_cpu_ns() RETURNS bigint
    LANGUAGE sql SECURITY DEFINER
    AS $$ SELECT split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::bigint $$;
-- Server-side wall and CPU time of one statement: no client round trip.
CREATE OR REPLACE FUNCTION bench_audit_measure(statement text, OUT wall_ms numeric, OUT cpu_ms numeric)
    LANGUAGE plpgsql AS $$
DECLARE
    started timestamptz := clock_timestamp();
    cpu_started bigint := bench_audit_cpu_ns();
BEGIN
    EXECUTE statement;
    cpu_ms := (bench_audit_cpu_ns() - cpu_started) / 1e6;
    wall_ms := extract(epoch FROM clock_timestamp() - started) * 1000;
END
$$;
GRANT EXECUTE ON FUNCTION bench_audit_measure(text), bench_audit_cpu_ns() TO stratum_app;
SQL

insert_sql() {
  echo "INSERT INTO bench_audit_$1 (name, qty, price, tags, note) SELECT 'item ' || g, g, g * 0.01, ARRAY['red', 'large'], CASE WHEN g % 3 = 0 THEN 'note ' || g END FROM generate_series(1, $rows) g"
}
update_sql() {
  echo "UPDATE bench_audit_$1 SET qty = qty + 1, price = price * 2"
}
log_rows() {
  case $1 in
    stratum) echo "(SELECT count(*) FROM stratum.audit_log WHERE table_name = 'bench_audit_stratum')" ;;
    plpgsql) echo "(SELECT count(*) FROM bench_peer_log)" ;;
    *) echo "0" ;;
  esac
}
measure() { # round statement variant
  local sql
  if [[ $2 == insert ]]; then sql=$(insert_sql "$3"); else sql=$(update_sql "$3"); fi
  psql -q -X -v ON_ERROR_STOP=1 -U stratum_app >/dev/null <<SQL
BEGIN;
SELECT stratum.set_tenant('$tenant');
INSERT INTO bench_audit_timings (round, statement, variant, wall_ms, cpu_ms)
SELECT $1, '$2', '$3', m.wall_ms, m.cpu_ms FROM bench_audit_measure(\$bench\$$sql\$bench\$) m;
COMMIT;
SQL
}

orders=("plain stratum plpgsql" "stratum plpgsql plain" "plpgsql plain stratum")
for ((round = 1; round <= rounds; round++)); do
  psql -q -X -v ON_ERROR_STOP=1 -U postgres >/dev/null <<SQL
TRUNCATE bench_audit_plain, bench_audit_stratum, bench_audit_plpgsql, bench_peer_log;
TRUNCATE stratum.audit_log;
VACUUM ANALYZE bench_audit_plain, bench_audit_stratum, bench_audit_plpgsql;
CHECKPOINT;
SQL
  order=${orders[(round - 1) % 3]}
  for variant in $order; do measure "$round" insert "$variant"; done
  psql -q -X -v ON_ERROR_STOP=1 -U postgres -c "CHECKPOINT" >/dev/null
  for variant in $order; do measure "$round" update "$variant"; done
  # Every change was logged, once.
  psql -q -X -v ON_ERROR_STOP=1 -U postgres >/dev/null <<SQL
UPDATE bench_audit_timings SET log_rows = $(log_rows stratum) WHERE round = $round AND variant = 'stratum';
UPDATE bench_audit_timings SET log_rows = $(log_rows plpgsql) WHERE round = $round AND variant = 'plpgsql';
SQL
done

psql -q -X -v ON_ERROR_STOP=1 -U postgres <<SQL
\echo '$rows-row statements on a create_base_table tenant table, as the application role, $rounds rounds:'
SELECT statement, variant,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY cpu_ms)::numeric) AS cpu_ms_median,
       round(min(cpu_ms)) AS cpu_ms_best,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY wall_ms)::numeric) AS wall_ms_median,
       max(log_rows) AS log_rows_after_insert_and_update
  FROM bench_audit_timings GROUP BY statement, variant
 ORDER BY statement DESC, cpu_ms_median;
\echo 'ratios of CPU time (median of the rounds; in brackets: best round of each variant):'
WITH v AS (
    SELECT statement, variant, percentile_cont(0.5) WITHIN GROUP (ORDER BY cpu_ms) AS med, min(cpu_ms) AS best
      FROM bench_audit_timings GROUP BY statement, variant),
p AS (
    SELECT statement,
           max(med) FILTER (WHERE variant = 'plain') AS plain, max(best) FILTER (WHERE variant = 'plain') AS plain_best,
           max(med) FILTER (WHERE variant = 'stratum') AS stratum, max(best) FILTER (WHERE variant = 'stratum') AS stratum_best,
           max(med) FILTER (WHERE variant = 'plpgsql') AS plpgsql, max(best) FILTER (WHERE variant = 'plpgsql') AS plpgsql_best
      FROM v GROUP BY statement)
SELECT statement,
       format('%s [%s]', round((stratum / plain)::numeric, 2), round((stratum_best / plain_best)::numeric, 2)) AS stratum_vs_plain,
       format('%s [%s]', round((plpgsql / plain)::numeric, 2), round((plpgsql_best / plain_best)::numeric, 2)) AS plpgsql_vs_plain,
       format('%s [%s]', round((plpgsql / stratum)::numeric, 2), round((plpgsql_best / stratum_best)::numeric, 2)) AS plpgsql_vs_stratum,
       format('%s [%s]', round(((plpgsql - plain) / nullif(stratum - plain, 0))::numeric, 2),
              round(((plpgsql_best - plain_best) / nullif(stratum_best - plain_best, 0))::numeric, 2)) AS trigger_cost_plpgsql_vs_stratum
  FROM p ORDER BY statement DESC;
\echo 'targets: insert stratum_vs_plain <= 1.5; trigger_cost_plpgsql_vs_stratum >= 4 (each trigger''s cost above plain)'
SQL

# Single-row INSERTs: $single statements of one row each in a loop in the
# server (no round trips), CPU time per statement, rotated order, best of
# the rounds.
single=${STRATUM_BENCH_AUDIT_SINGLE:-20000}
psql -q -X -v ON_ERROR_STOP=1 -U postgres >/dev/null <<'SQL'
CREATE OR REPLACE FUNCTION bench_audit_single(variant text, n int) RETURNS numeric
    LANGUAGE plpgsql AS $$
DECLARE
    cpu_started bigint := bench_audit_cpu_ns();
BEGIN
    FOR i IN 1..n LOOP
        EXECUTE format('INSERT INTO %I (name, qty, price, tags) VALUES ($1, $2, $3, $4)',
                       'bench_audit_' || variant)
            USING 'item ' || i, i, i * 0.01, ARRAY['red', 'large'];
    END LOOP;
    RETURN (bench_audit_cpu_ns() - cpu_started) / 1e3 / n;
END
$$;
GRANT EXECUTE ON FUNCTION bench_audit_single(text, int) TO stratum_app;
TRUNCATE bench_audit_timings;
SQL
for ((round = 1; round <= 3; round++)); do
  for variant in ${orders[(round - 1) % 3]}; do
    psql -q -X -v ON_ERROR_STOP=1 -U stratum_app >/dev/null <<SQL
BEGIN;
SELECT stratum.set_tenant('$tenant');
INSERT INTO bench_audit_timings (round, statement, variant, cpu_ms)
SELECT $round, 'single', '$variant', bench_audit_single('$variant', $single) / 1e3;
COMMIT;
SQL
  done
done
psql -q -X -v ON_ERROR_STOP=1 -U postgres <<SQL
\echo '$single single-row INSERT statements, CPU time per statement (best of 3 rounds):'
WITH b AS (SELECT variant, min(cpu_ms) * 1e3 AS us FROM bench_audit_timings
            WHERE statement = 'single' GROUP BY variant),
p AS (SELECT max(us) FILTER (WHERE variant = 'plain') AS plain,
             max(us) FILTER (WHERE variant = 'stratum') AS stratum,
             max(us) FILTER (WHERE variant = 'plpgsql') AS plpgsql FROM b)
SELECT round(plain, 1) AS plain_us, round(stratum, 1) AS stratum_us, round(plpgsql, 1) AS plpgsql_us,
       round(stratum / plain, 2) AS stratum_vs_plain,
       round((plpgsql - plain) / nullif(stratum - plain, 0), 2) AS trigger_cost_plpgsql_vs_stratum
  FROM p;
SQL
