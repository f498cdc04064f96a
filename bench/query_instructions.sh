#!/usr/bin/env bash
# The query path in instructions rather than CPU time (see
# audit_instructions.sh for why): a cluster of its own whose server runs
# under valgrind --tool=callgrind, and query_cpu_bench, itself under
# callgrind, making primary-key lookups one variant at a time (plain libpq on
# pgbench_accounts; the tenant exchange written by hand on libpq;
# pool.query as the tenant). Each variant runs 1,000 and 3,000 lookups; the
# difference, divided by the lookups it adds, leaves out connecting,
# preparing and warming the caches. Prints the server's share (the tenant
# lookup's backend over the plain one's) and the library's share (client +
# server of the exchange by hand over pool.query's), with their targets.
# The kernel's work (the round trip's system calls) is in neither count:
# query.sh has it, in CPU time. Started by scripts/bench.sh.
set -euo pipefail
cd "$(dirname "$0")"
source "$STRATUM_BENCH_ROOT/scripts/lib/services.sh"
source lib/query_tables.sh
bin=$STRATUM_BENCH_BUILD_DIR/bench/query_cpu_bench
db=stratum_bench
accounts=100000
dir=$(mktemp -d "$STRATUM_RUN_DIR/query-callgrind.XXXXXX")
mkdir "$dir/cg"
chmod 777 "$dir/cg"
chmod 755 "$dir"
[[ $(id -u) == 0 ]] && chown postgres: "$dir"
port=$(free_port)
server_pid=""
stop() {  # the server writes its processes' files as they exit: wait for it
  as_server_user "$PG_BINDIR/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 ||
    { [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null; } || true
  [[ -n $server_pid ]] && wait "$server_pid" 2>/dev/null
  rm -rf "$dir"
}
trap stop EXIT

as_server_user "$PG_BINDIR/initdb" -A trust -E UTF8 --locale=C --no-sync -U postgres \
  -D "$dir/data" >/dev/null
cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
shared_preload_libraries = 'stratum'
shared_buffers = 128MB
autovacuum = off
CONF
# Every backend is a fork of the postmaster, so each writes its own file.
as_server_user valgrind --tool=callgrind --callgrind-out-file="$dir/cg/server.%p" \
  "$STRATUM_BENCH_PG_TREE" -D "$dir/data" >"$dir/server.log" 2>&1 &
server_pid=$!
export PGHOST=$dir PGPORT=$port PGUSER=postgres PGDATABASE=postgres
for _ in $(seq 1 120); do
  psql -Atqc 'SELECT 1' >/dev/null 2>&1 && break
  sleep 1
done
psql -q -v ON_ERROR_STOP=1 <<SQL
CREATE ROLE stratum_owner LOGIN;
CREATE ROLE stratum_app LOGIN;
CREATE DATABASE $db;
SQL
psql -q -v ON_ERROR_STOP=1 -d "$db" -f "$STRATUM_BENCH_ROOT/tests/support/template.sql" >/dev/null
make_query_tables $((accounts / 100000)) "$db"

# The setup's backends write their files as they exit, under valgrind
# slowly: wait until no new one appears, so that none is taken for a
# variant's below.
settled=""
for _ in $(seq 1 60); do
  sleep 2
  now=$(ls "$dir/cg")
  [[ $now == "$settled" ]] && break
  settled=$now
done

# query_cpu_bench N makes N/50+1 blocks of 50 lookups after N/10+1 to warm up.
lookups() { echo $((($1 / 50 + 1) * 50 + $1 / 10 + 1)); }
summary() { sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$1"; }
declare -A client server
for variant in libpq-plain libpq-pipeline stratum; do
  for n in 1000 3000; do
    before=$(ls "$dir/cg")
    STRATUM_BENCH_ONLY=$variant STRATUM_BENCH_ACCOUNTS=$accounts \
      STRATUM_BENCH_CONNINFO="host=127.0.0.1 port=$port user=stratum_app dbname=$db" \
      valgrind --tool=callgrind --callgrind-out-file="$dir/client.$variant.$n" "$bin" "$n" >/dev/null 2>&1
    client[$variant.$n]=$(summary "$dir/client.$variant.$n")
    # The backends write their files as they exit: the one that made the
    # lookups is the largest of the new ones.
    most=0
    for _ in $(seq 1 60); do
      sleep 1
      new=$(comm -13 <(echo "$before") <(ls "$dir/cg"))
      (($(echo "$new" | grep -c .) >= 4)) && break  # the pool's and three raw connections
    done
    for f in $new; do
      count=$(summary "$dir/cg/$f")
      ((count > most)) && most=$count
    done
    server[$variant.$n]=$most
  done
done

per_lookup() { # array-name variant
  local -n counts=$1
  echo $(((counts[$2.3000] - counts[$2.1000]) / ($(lookups 3000) - $(lookups 1000))))
}
echo "The query path in instructions (callgrind), per primary-key lookup, one client:"
printf '  %-48s %10s %10s %10s\n' "" client server total
for variant in libpq-plain libpq-pipeline stratum; do
  c=$(per_lookup client "$variant") s=$(per_lookup server "$variant")
  case $variant in
    libpq-plain) label="raw libpq prepared SELECT, plain table" ;;
    libpq-pipeline) label="the tenant exchange by hand on libpq (RLS)" ;;
    stratum) label="stratum pool.query as tenant (RLS)" ;;
  esac
  printf '  %-48s %10d %10d %10d\n' "$label" "$c" "$s" $((c + s))
  client[$variant]=$c server[$variant]=$s
done
awk -v sp="${server[libpq-plain]}" -v ss="${server[stratum]}" -v ch="${client[libpq-pipeline]}" \
  -v sh="${server[libpq-pipeline]}" -v cs="${client[stratum]}" 'BEGIN {
  share = ss / sp - 1
  printf "  server share: tenant lookup / plain lookup, backend = %.3f, i.e. +%.0f%% (target <= 10%%: %s)\n",
         ss / sp, share * 100, (share <= 0.10 ? "met" : "MISSED")
  library = (ch + sh) / (cs + ss)
  printf "  library share: by hand / pool.query, client + server = %.3f (target >= 0.95: %s); client alone %+d instructions\n",
         library, (library >= 0.95 ? "met" : "MISSED"), cs - ch }'
