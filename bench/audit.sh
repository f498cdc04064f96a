#!/usr/bin/env bash
# Audit cost, as the user who audits a table pays it. Two kinds of table:
#   pk:     a table with only a primary key (no row level security, no other
#           trigger), written by its owner — what auditing an existing
#           table costs;
#   tenant: a create_base_table tenant table, written by the application
#           role with a tenant set (row level security, the guard and the
#           timestamps triggers are in both the baseline and the audited run).
# Three variants of each: without audit ("plain"), with stratum.enable_audit
# ("stratum"), and with the PL/pgSQL trigger of bench/audit_peer_plpgsql.sql
# ("plpgsql", its log indexed by its primary key only).
#
# Statements: a 100,000-row INSERT ... SELECT, a 100,000-row UPDATE of two
# columns, and one-row INSERTs (20,000 statements in a server-side loop, one
# transaction). Times are the backend's CPU time from the kernel's scheduler
# statistics, measured in the server around the statement (the machine is
# shared: waiting for a CPU is not a statement's cost). Each round measures
# every variant once, in rotated order, on emptied tables and log; the
# ratios are of each variant's best round (and of the medians). Started by
# scripts/bench.sh (PGHOST/PGPORT/PGDATABASE point at its cluster).
set -euo pipefail
cd "$(dirname "$0")"
rows=${STRATUM_BENCH_AUDIT_ROWS:-100000}
single=${STRATUM_BENCH_AUDIT_SINGLE:-20000}
rounds=${STRATUM_BENCH_ROUNDS:-5}
tenant=aaaaaaaa-0000-4000-8000-000000000001
columns="name text NOT NULL, qty integer NOT NULL, price numeric(12,2), tags text[], note text"
variants=(plain stratum plpgsql)

psql -q -X -v ON_ERROR_STOP=1 -U stratum_owner >/dev/null <<SQL
SET client_min_messages = warning;
\i audit_peer_plpgsql.sql
GRANT INSERT ON bench_peer_log TO stratum_app;
GRANT USAGE ON SEQUENCE bench_peer_log_id_seq TO stratum_app;
SQL
for v in "${variants[@]}"; do
  psql -q -X -v ON_ERROR_STOP=1 -U stratum_owner >/dev/null <<SQL
SET client_min_messages = warning;
DROP TABLE IF EXISTS bench_pk_$v, bench_tenant_$v;
CREATE TABLE bench_pk_$v (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, $columns);
SELECT stratum.create_base_table('bench_tenant_$v', '$columns');
SELECT stratum.disable_audit('bench_tenant_$v');
SQL
done
psql -q -X -v ON_ERROR_STOP=1 -U stratum_owner >/dev/null <<'SQL'
SELECT stratum.enable_audit('bench_pk_stratum');
SELECT stratum.enable_audit('bench_tenant_stratum');
CREATE TRIGGER bench_peer_audit AFTER INSERT OR UPDATE OR DELETE ON bench_pk_plpgsql
    FOR EACH ROW EXECUTE FUNCTION bench_peer_audit();
CREATE TRIGGER bench_peer_audit AFTER INSERT OR UPDATE OR DELETE ON bench_tenant_plpgsql
    FOR EACH ROW EXECUTE FUNCTION bench_peer_audit();
SQL

psql -q -X -v ON_ERROR_STOP=1 -U postgres >/dev/null <<'SQL'
SET client_min_messages = warning;
DROP TABLE IF EXISTS bench_audit_timings;
CREATE TABLE bench_audit_timings (kind text, statement text, variant text, round int, cpu_us numeric);
GRANT INSERT ON bench_audit_timings TO stratum_owner, stratum_app;
-- CPU time this backend has run, in ns (scheduler statistics).
CREATE OR REPLACE FUNCTION bench_audit_cpu_ns() RETURNS bigint
    LANGUAGE sql SECURITY DEFINER
    AS $$ SELECT split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::bigint $$;
-- CPU time of one statement, or per statement of a loop of n one-row
-- INSERTs ($1..$4 bound to the row's values), in µs.
CREATE OR REPLACE FUNCTION bench_audit_measure(statement text, n int DEFAULT 0) RETURNS numeric
    LANGUAGE plpgsql AS $$
DECLARE
    started bigint := bench_audit_cpu_ns();
BEGIN
    IF n = 0 THEN
        EXECUTE statement;
        RETURN (bench_audit_cpu_ns() - started) / 1e3;
    END IF;
    FOR i IN 1..n LOOP
        EXECUTE statement USING 'item ' || i, i, i * 0.01, ARRAY['red', 'large'];
    END LOOP;
    RETURN (bench_audit_cpu_ns() - started) / 1e3 / n;
END
$$;
GRANT EXECUTE ON FUNCTION bench_audit_measure(text, int), bench_audit_cpu_ns() TO stratum_owner, stratum_app;
SQL

statement_sql() { # statement table
  case $1 in
    insert) echo "INSERT INTO $2 (name, qty, price, tags, note) SELECT 'item ' || g, g, g * 0.01, ARRAY['red', 'large'], CASE WHEN g % 3 = 0 THEN 'note ' || g END FROM generate_series(1, $rows) g" ;;
    update) echo "UPDATE $2 SET qty = qty + 1, price = price * 2" ;;
    single) echo "INSERT INTO $2 (name, qty, price, tags) VALUES (\$1, \$2, \$3, \$4)" ;;
  esac
}
measure() { # kind statement variant round
  local table=bench_$1_$3 role=stratum_owner context="" n=0
  if [[ $1 == tenant ]]; then role=stratum_app; context="SELECT stratum.set_tenant('$tenant');"; fi
  [[ $2 == single ]] && n=$single
  psql -q -X -v ON_ERROR_STOP=1 -U "$role" >/dev/null <<SQL
BEGIN;
$context
INSERT INTO bench_audit_timings
SELECT '$1', '$2', '$3', $4, bench_audit_measure(\$bench\$$(statement_sql "$2" "$table")\$bench\$, $n);
COMMIT;
SQL
}
empty_all() {
  psql -q -X -v ON_ERROR_STOP=1 -U postgres >/dev/null <<SQL
TRUNCATE bench_pk_plain, bench_pk_stratum, bench_pk_plpgsql,
         bench_tenant_plain, bench_tenant_stratum, bench_tenant_plpgsql, bench_peer_log;
TRUNCATE stratum.audit_log;
CHECKPOINT;
SQL
}

orders=("plain stratum plpgsql" "stratum plpgsql plain" "plpgsql plain stratum")
for ((round = 1; round <= rounds; round++)); do
  order=${orders[(round - 1) % 3]}
  for kind in pk tenant; do
    empty_all
    for v in $order; do measure "$kind" insert "$v" "$round"; done
    psql -q -X -U postgres -c "VACUUM ANALYZE bench_${kind}_plain, bench_${kind}_stratum, bench_${kind}_plpgsql" -c CHECKPOINT >/dev/null
    for v in $order; do measure "$kind" update "$v" "$round"; done
    empty_all
    for v in $order; do measure "$kind" single "$v" "$round"; done
  done
done

psql -q -X -v ON_ERROR_STOP=1 -U postgres <<SQL
\echo 'Audit, CPU time of the backend: $rows-row INSERT ... SELECT and UPDATE (ms), one-row INSERT (µs per statement); best of $rounds rounds [median]'
WITH v AS (
    SELECT kind, statement, variant, min(cpu_us) AS best,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY cpu_us)::numeric AS med
      FROM bench_audit_timings GROUP BY 1, 2, 3),
p AS (
    SELECT kind, statement,
           max(best) FILTER (WHERE variant = 'plain') AS plain, max(med) FILTER (WHERE variant = 'plain') AS plain_med,
           max(best) FILTER (WHERE variant = 'stratum') AS stratum, max(med) FILTER (WHERE variant = 'stratum') AS stratum_med,
           max(best) FILTER (WHERE variant = 'plpgsql') AS plpgsql, max(med) FILTER (WHERE variant = 'plpgsql') AS plpgsql_med
      FROM v GROUP BY 1, 2)
SELECT CASE kind WHEN 'pk' THEN 'primary key only' ELSE 'tenant table' END AS "table",
       statement,
       CASE WHEN statement = 'single' THEN round(plain, 1) ELSE round(plain / 1e3) END AS plain,
       CASE WHEN statement = 'single' THEN round(stratum, 1) ELSE round(stratum / 1e3) END AS stratum,
       CASE WHEN statement = 'single' THEN round(plpgsql, 1) ELSE round(plpgsql / 1e3) END AS plpgsql,
       format('%s [%s]', round(stratum / plain, 2), round(stratum_med / plain_med, 2)) AS "stratum ÷ plain",
       CASE WHEN statement = 'single' THEN '≤ 1.3' ELSE '≤ 1.5' END AS target,
       format('%s [%s]', round(plpgsql / stratum, 2), round(plpgsql_med / stratum_med, 2)) AS "plpgsql ÷ stratum",
       -- Where the table's own work costs more than the audit could save
       -- (row level security, the guard and timestamps triggers), even a
       -- free audit is only plpgsql ÷ plain faster than the peer.
       CASE WHEN statement <> 'insert' THEN ''
            WHEN plpgsql / plain < 4 THEN format('≥ 4 (unreachable: %s if audit were free)',
                                                 round(plpgsql / plain, 2))
            ELSE '≥ 4' END AS "target "
  FROM p
 ORDER BY kind, CASE statement WHEN 'insert' THEN 1 WHEN 'update' THEN 2 ELSE 3 END;
SQL
