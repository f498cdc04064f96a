# Throwaway servers for tests, demos and benchmarks: PostgreSQL, PgBouncer and
# Redis on loopback (and unix sockets in a private directory), stopped by
# services_stop_all, which callers put in an EXIT trap. Sourced, not run.
#
# PostgreSQL runs from a private install tree (a copy of the postgres binary
# next to symlinks of the system's share and lib directories, plus this
# project's freshly built extension), so tests never touch the system's
# extension directory and two checkouts can test side by side.

# PG_CONFIG picks the PostgreSQL installation (default: pg_config on PATH).
PG_CONFIG=${PG_CONFIG:-pg_config}
PG_BINDIR=$("$PG_CONFIG" --bindir)
PG_SHAREDIR=$("$PG_CONFIG" --sharedir)
PG_PKGLIBDIR=$("$PG_CONFIG" --pkglibdir)
SERVICES_STARTED=()

# Runs a command as the unprivileged user servers run as (postgres refuses root).
as_server_user() {
  if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# A fresh directory the server user can write, under $STRATUM_RUN_DIR.
services_init() {
  if [[ -z ${STRATUM_RUN_DIR:-} ]]; then
    STRATUM_RUN_DIR=$(mktemp -d /tmp/stratum-run.XXXXXX)
    STRATUM_RUN_DIR_OWNED=1
  fi
  chmod 755 "$STRATUM_RUN_DIR"
  [[ $(id -u) == 0 ]] && chown postgres: "$STRATUM_RUN_DIR"
  export STRATUM_RUN_DIR
}

# A TCP port on 127.0.0.1 that nothing listens on, below the kernel's
# ephemeral range: a port in that range may be the local end of an outgoing
# connection (a test's client, Citus between its nodes), which nothing
# listens on and no server can bind ("Address already in use").
free_port() {
  local port low=32768 high
  read -r low high </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
  local first=10000 span=$((low - 10000))
  if ((span < 2000)); then  # an unusual range: above it instead, or anywhere
    first=$((high + 1)) span=$((65535 - high))
    ((span >= 2000)) || first=20000 span=40000
  fi
  for _ in $(seq 1 200); do
    port=$((first + RANDOM % span))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  echo "free_port: no free port found" >&2
  return 1
}

# Builds the private install tree with the extension from the source tree $1.
pg_tree_build() {
  local src=$1 root=$STRATUM_RUN_DIR/pgroot f
  rm -rf "$root"
  make -s -C "$src" install DESTDIR="$root" STRATUM_CLIENT=no PG_CONFIG="$PG_CONFIG" >/dev/null
  mkdir -p "$root$PG_BINDIR" "$root$PG_SHAREDIR/extension" "$root$PG_PKGLIBDIR"
  cp "$PG_BINDIR/postgres" "$root$PG_BINDIR/postgres"
  for f in "$PG_PKGLIBDIR"/*; do
    [[ -e $root$PG_PKGLIBDIR/${f##*/} ]] || ln -s "$f" "$root$PG_PKGLIBDIR/"
  done
  for f in "$PG_SHAREDIR"/*; do
    [[ -e $root$PG_SHAREDIR/${f##*/} ]] || ln -s "$f" "$root$PG_SHAREDIR/"
  done
  for f in "$PG_SHAREDIR"/extension/*; do
    [[ -e $root$PG_SHAREDIR/extension/${f##*/} ]] || ln -s "$f" "$root$PG_SHAREDIR/extension/"
  done
  chmod -R a+rX "$root"
  PG_TREE_POSTGRES=$root$PG_BINDIR/postgres
}

# pg_start NAME [extra postgresql.conf lines...]: a new cluster; sets
# <NAME>_PORT and <NAME>_DIR. The first one started also sets PGHOST/PGPORT.
pg_start() {
  local name=$1 dir port line
  shift
  dir=$STRATUM_RUN_DIR/$name
  port=$(free_port)
  mkdir -p "$dir"
  [[ $(id -u) == 0 ]] && chown postgres: "$dir"
  as_server_user "$PG_BINDIR/initdb" -A trust -E UTF8 --locale=C --no-sync -U postgres \
    -D "$dir/data" >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; return 1; }
  {
    echo "listen_addresses = '127.0.0.1'"
    echo "port = $port"
    echo "unix_socket_directories = '$dir'"
    echo "fsync = off"
    echo "synchronous_commit = off"
    echo "full_page_writes = off"
    echo "shared_preload_libraries = 'stratum'"
    echo "max_connections = 300"
    echo "log_min_messages = warning"
    for line in "$@"; do echo "$line"; done
  } >>"$dir/data/postgresql.conf"
  pg_cluster_start "$name" "$dir" "$port" || return 1
  if [[ -z ${PGPORT_SET_BY_SERVICES:-} ]]; then
    export PGHOST=$dir PGPORT=$port PGUSER=postgres PGDATABASE=postgres
    PGPORT_SET_BY_SERVICES=1
  fi
}

# pg_cluster_start NAME DIR PORT: starts the cluster in DIR/data (stopped on
# exit) and sets <NAME>_PORT and <NAME>_DIR.
pg_cluster_start() {
  local name=$1 dir=$2 port=$3
  as_server_user "$PG_BINDIR/pg_ctl" -w -t 60 -p "${PG_TREE_POSTGRES:-$PG_BINDIR/postgres}" \
    -D "$dir/data" -l "$dir/server.log" start >/dev/null ||
    { cat "$dir/server.log" >&2; return 1; }
  SERVICES_STARTED+=("pg:$dir")
  printf -v "${name^^}_PORT" '%s' "$port"
  printf -v "${name^^}_DIR" '%s' "$dir"
}

# pg_replica_start NAME PRIMARY_PORT [extra postgresql.conf lines...]: a
# streaming replica (hot standby) of the cluster listening on PRIMARY_PORT,
# cloned with pg_basebackup; sets <NAME>_PORT and <NAME>_DIR. The primary needs
# nothing beyond initdb's defaults (wal_level replica, replication allowed
# from 127.0.0.1 with -A trust).
pg_replica_start() {
  local name=$1 primary_port=$2 dir port line
  shift 2
  dir=$STRATUM_RUN_DIR/$name
  port=$(free_port)
  mkdir -p "$dir"
  [[ $(id -u) == 0 ]] && chown postgres: "$dir"
  # A replication slot keeps the WAL the replica still needs; --no-sync: a
  # throwaway copy need not wait for the disk (seconds otherwise).
  as_server_user "$PG_BINDIR/pg_basebackup" -h 127.0.0.1 -p "$primary_port" -U postgres \
    -D "$dir/data" -R -X stream -c fast -C -S "${name,,}" --no-sync --no-manifest \
    >"$dir/basebackup.log" 2>&1 ||
    { cat "$dir/basebackup.log" >&2; return 1; }
  {
    # Later lines win over the primary's copied settings.
    echo "port = $port"
    echo "unix_socket_directories = '$dir'"
    for line in "$@"; do echo "$line"; done
  } >>"$dir/data/postgresql.conf"
  pg_cluster_start "$name" "$dir" "$port" || return 1
}

# redis_start: sets REDIS_PORT.
redis_start() {
  local dir=$STRATUM_RUN_DIR/redis
  REDIS_PORT=$(free_port)
  mkdir -p "$dir"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
    --daemonize yes --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null
  for _ in $(seq 1 100); do
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
    sleep 0.05
  done
  SERVICES_STARTED+=("redis:$dir")
}

# pgbouncer_start PG_PORT USER...: transaction pooling in front of PG_PORT; sets
# PGBOUNCER_PORT. The listed users may connect (trust, loopback only).
pgbouncer_start() {
  local pg_port=$1 dir=$STRATUM_RUN_DIR/pgbouncer user
  shift
  PGBOUNCER_PORT=$(free_port)
  mkdir -p "$dir"
  for user in "$@"; do echo "\"$user\" \"\""; done >"$dir/users.txt"
  cat >"$dir/pgbouncer.ini" <<INI
[databases]
* = host=127.0.0.1 port=$pg_port

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PGBOUNCER_PORT
unix_socket_dir = $dir
auth_type = trust
auth_file = $dir/users.txt
pool_mode = transaction
max_client_conn = 500
default_pool_size = 20
server_reset_query =
ignore_startup_parameters = extra_float_digits,options
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
  [[ $(id -u) == 0 ]] && chown -R postgres: "$dir"
  as_server_user pgbouncer -d -q "$dir/pgbouncer.ini"
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PGBOUNCER_PORT") 2>/dev/null && break
    sleep 0.05
  done
  SERVICES_STARTED+=("pgbouncer:$dir")
}

# s3rver_start BUCKET: the S3-compatible test server (npm s3rver, pinned by
# tools/s3rver/package-lock.json) on 127.0.0.1 with BUCKET created; sets
# S3RVER_PORT. Installed on first use into build/s3rver (npm ci), which then
# works offline. Its credentials are s3rver's built-in test account.
s3rver_start() {
  local bucket=$1 root install dir bin
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  install=$root/build/s3rver
  dir=$STRATUM_RUN_DIR/s3rver
  bin=$install/node_modules/.bin/s3rver
  if [[ ! -x $bin ]] || ! cmp -s "$root/tools/s3rver/package-lock.json" "$install/package-lock.json"; then
    mkdir -p "$install"
    cp "$root/tools/s3rver/package.json" "$root/tools/s3rver/package-lock.json" "$install/"
    (cd "$install" && npm ci --no-audit --no-fund --loglevel=error >npm.log 2>&1) ||
      { cat "$install/npm.log" >&2; echo "s3rver_start: npm ci failed" >&2; return 1; }
  fi
  S3RVER_PORT=$(free_port)
  mkdir -p "$dir/data"
  "$bin" -d "$dir/data" -a 127.0.0.1 -p "$S3RVER_PORT" --configure-bucket "$bucket" --silent \
    >"$dir/s3rver.log" 2>&1 &
  echo $! >"$dir/s3rver.pid"
  SERVICES_STARTED+=("s3rver:$dir")
  for _ in $(seq 1 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$S3RVER_PORT") 2>/dev/null && return 0
    sleep 0.05
  done
  cat "$dir/s3rver.log" >&2
  echo "s3rver_start: s3rver did not listen on $S3RVER_PORT" >&2
  return 1
}

services_stop_all() {
  local entry kind dir i
  for ((i = ${#SERVICES_STARTED[@]} - 1; i >= 0; i--)); do
    entry=${SERVICES_STARTED[i]}
    kind=${entry%%:*}
    dir=${entry#*:}
    case $kind in
      pg) as_server_user "$PG_BINDIR/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 ;;
      redis) [[ -f $dir/redis.pid ]] && kill "$(cat "$dir/redis.pid")" 2>/dev/null ;;
      pgbouncer) [[ -f $dir/pgbouncer.pid ]] && kill "$(cat "$dir/pgbouncer.pid")" 2>/dev/null ;;
      s3rver) [[ -f $dir/s3rver.pid ]] && kill "$(cat "$dir/s3rver.pid")" 2>/dev/null ;;
      pgaf) pgaf_stop "$dir" ;;
    esac
  done
  SERVICES_STARTED=()
  if [[ -n ${STRATUM_RUN_DIR_OWNED:-} && -z ${STRATUM_KEEP_RUN_DIR:-} ]]; then
    rm -rf "$STRATUM_RUN_DIR"
  fi
}

# --- pg_auto_failover (make soak) ----------------------------------------------
# The words that run a command in pg_autoctl's environment (as words, to go
# after as_server_user or runuser): its XDG dirs, and no PGHOST/PGPORT of the
# harness's first cluster, which would steer pg_autoctl there.
pgaf_env_command() {
  local dir=$STRATUM_RUN_DIR/pgaf
  echo env -u PGHOST -u PGPORT -u PGUSER -u PGDATABASE XDG_CONFIG_HOME="$dir/xdg/config" \
    XDG_DATA_HOME="$dir/xdg/data" XDG_RUNTIME_DIR="$dir/xdg/run"
}

# pgaf_wait_state NODE_DIR STATE SECONDS: until the monitor reports STATE for the node.
pgaf_wait_state() {
  local node=$1 state=$2 seconds=$3 i
  for ((i = 0; i < seconds * 4; i++)); do
    as_server_user $(pgaf_env_command) pg_autoctl show state --pgdata "$node" --json 2>/dev/null |
      grep -q "\"current_group_state\": \"$state\"" && return 0
    sleep 0.25
  done
  echo "pgaf: node $node did not reach state $state in ${seconds}s" >&2
  return 1
}

# pgaf_start: a pg_auto_failover monitor and two data nodes (primary and
# secondary, managed by pg_autoctl) on 127.0.0.1, state under
# $STRATUM_RUN_DIR/pgaf (XDG dirs included); sets PGAF_MONITOR_PORT,
# PGAF_NODE1_PORT, PGAF_NODE1_DIR, PGAF_NODE2_PORT, PGAF_NODE2_DIR. The data
# nodes run the private tree's postgres with this checkout's extension.
# pg_autoctl listens on every interface unless told otherwise: the nodes get
# --listen, the monitor its configuration's listen_addresses.
pgaf_start() {
  local dir=$STRATUM_RUN_DIR/pgaf tree_pgctl monitor_uri node port name
  mkdir -p "$dir/xdg/config" "$dir/xdg/data" "$dir/xdg/run" "$dir/sockets"
  [[ $(id -u) == 0 ]] && chown -R postgres: "$dir"
  # pg_ctl (and initdb, pg_basebackup) from the private tree run its postgres.
  tree_pgctl=$(dirname "$PG_TREE_POSTGRES")/pg_ctl
  for f in pg_ctl initdb pg_basebackup pg_controldata pg_rewind pg_isready; do
    [[ -e $(dirname "$PG_TREE_POSTGRES")/$f ]] || cp "$PG_BINDIR/$f" "$(dirname "$PG_TREE_POSTGRES")/"
  done

  PGAF_MONITOR_PORT=$(free_port)
  as_server_user $(pgaf_env_command) \
    pg_autoctl create monitor --pgctl "$PG_BINDIR/pg_ctl" --pgdata "$dir/monitor" \
    --pgport "$PGAF_MONITOR_PORT" --hostname 127.0.0.1 --auth trust --no-ssl >"$dir/monitor-create.log" 2>&1 ||
    { tail -20 "$dir/monitor-create.log" >&2; return 1; }
  # pg_autoctl passes listen_addresses on postgres' command line (-h).
  as_server_user $(pgaf_env_command) \
    pg_autoctl config set --pgdata "$dir/monitor" postgresql.listen_addresses 127.0.0.1 >/dev/null
  {
    echo "unix_socket_directories = '$dir/sockets'"
    echo "shared_buffers = '128MB'"
  } >>"$dir/monitor/postgresql.conf"
  as_server_user $(pgaf_env_command) \
    setsid pg_autoctl run --pgdata "$dir/monitor" >"$dir/monitor.log" 2>&1 &
  echo $! >"$dir/monitor.pid"
  SERVICES_STARTED+=("pgaf:$dir/monitor")
  monitor_uri="postgres://autoctl_node@127.0.0.1:$PGAF_MONITOR_PORT/pg_auto_failover?sslmode=disable"

  for name in node1 node2; do
    node=$dir/$name
    port=$(free_port)
    if [[ $name == node1 ]]; then
      # The first node's data directory is made here, so that its settings
      # (copied to the second by pg_basebackup) load the extension.
      as_server_user "$tree_pgctl" initdb -D "$node" -o "-A trust -E UTF8 --locale=C --no-sync -U postgres" \
        >"$dir/$name-initdb.log" 2>&1 || { cat "$dir/$name-initdb.log" >&2; return 1; }
      {
        echo "unix_socket_directories = '$dir/sockets'"
        echo "shared_preload_libraries = 'stratum'"
        echo "shared_buffers = '128MB'"
        echo "fsync = off"
        echo "full_page_writes = off"
        echo "log_min_messages = warning"
      } >>"$node/postgresql.conf"
    fi
    as_server_user $(pgaf_env_command) \
      setsid pg_autoctl create postgres --pgctl "$tree_pgctl" --pgdata "$node" --pgport "$port" \
      --pghost "$dir/sockets" --listen 127.0.0.1 --hostname 127.0.0.1 --name "$name" \
      --monitor "$monitor_uri" --auth trust --no-ssl --run >"$dir/$name.log" 2>&1 &
    echo $! >"$dir/$name.pid"
    SERVICES_STARTED+=("pgaf:$node")
    printf -v "PGAF_${name^^}_PORT" '%s' "$port"
    printf -v "PGAF_${name^^}_DIR" '%s' "$node"
    if [[ $name == node1 ]]; then
      pgaf_wait_state "$node" single 60 || { tail -20 "$dir/$name.log" >&2; return 1; }
    else
      pgaf_wait_state "$node" secondary 90 || { tail -20 "$dir/$name.log" >&2; return 1; }
    fi
  done
}

# pgaf_stop DIR: stops the pg_autoctl service of DIR (a node or the monitor)
# and its postgres.
pgaf_stop() {
  local dir=$1 pgaf=$STRATUM_RUN_DIR/pgaf
  [[ -f $dir.pid ]] || return 0
  as_server_user $(pgaf_env_command) pg_autoctl stop --pgdata "$dir" --fast >/dev/null 2>&1 || true
  for _ in $(seq 1 100); do
    kill -0 "$(cat "$dir.pid")" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$(cat "$dir.pid")" 2>/dev/null || true
  as_server_user "$PG_BINDIR/pg_ctl" -D "$dir" -m immediate -w stop >/dev/null 2>&1 || true
}

# --- Citus (tests and bench, when Citus is installed) ---------------------------
# citus_available: Citus is installed for the PostgreSQL in use. The project
# never builds or ships Citus; its tests run when it is there and say they
# were skipped otherwise.
citus_available() {
  [[ -f $PG_PKGLIBDIR/citus.so && -f $PG_SHAREDIR/extension/citus.control ]]
}

# citus_start DBNAME: a coordinator and two workers (clusters citus_coordinator,
# citus_worker1, citus_worker2 on 127.0.0.1), each with citus and stratum
# preloaded and both extensions created in DBNAME, the workers added to the
# coordinator; sets CITUS_COORDINATOR_PORT/DIR and CITUS_WORKER{1,2}_PORT/DIR.
citus_start() {
  local db=$1 name port
  for name in citus_coordinator citus_worker1 citus_worker2; do
    # citus comes first in shared_preload_libraries; two-phase commit carries
    # its distributed writes; the nodes trust each other on loopback.
    pg_start "$name" "shared_preload_libraries = 'citus,stratum'" \
      "max_prepared_transactions = 100" "citus.node_conninfo = 'sslmode=disable'" || return 1
    port=${name^^}_PORT
    psql -q -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "${!port}" -U postgres -d postgres \
      -c "CREATE DATABASE $db" >/dev/null || return 1
    psql -q -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "${!port}" -U postgres -d "$db" \
      -c "CREATE EXTENSION citus" >/dev/null || return 1
  done
  psql -q -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$CITUS_COORDINATOR_PORT" -U postgres -d "$db" >/dev/null <<SQL || return 1
SELECT citus_set_coordinator_host('127.0.0.1', $CITUS_COORDINATOR_PORT);
SELECT citus_add_node('127.0.0.1', $CITUS_WORKER1_PORT);
SELECT citus_add_node('127.0.0.1', $CITUS_WORKER2_PORT);
SQL
}
