# Shared by the migration benches (sourced, not run; scripts/bench.sh runs
# bench/*.sh only): the stratum command, a scratch directory and database
# $db dropped on exit, timing and ratio helpers. Set db before sourcing.
stratum=${STRATUM_BENCH_BUILD_DIR:-build}/client/stratum
port=${PGPORT:?PGPORT must name the bench server}
work=$(mktemp -d)
trap 'rm -rf "$work"; psql -q -X -h 127.0.0.1 -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true' EXIT

url="host=127.0.0.1 port=$port user=postgres dbname=$db"
now_ns() { date +%s%N; }
ms() { awk -v a="$1" 'BEGIN { printf "%.0f", a / 1e6 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
min() { if [[ -z $1 ]] || (($2 < $1)); then echo "$2"; else echo "$1"; fi; }
sql() { psql -q -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -d "$db" "$@"; }
