# Throwaway servers for tests, demos and benchmarks: PostgreSQL, PgBouncer and
# Redis on loopback (and unix sockets in a private directory), stopped by
# services_stop_all, which callers put in an EXIT trap. Sourced, not run.
#
# PostgreSQL runs from a private install tree (a copy of the postgres binary
# next to symlinks of the system's share and lib directories, plus this
# project's freshly built extension), so tests never touch the system's
# extension directory and two checkouts can test side by side.

PG_BINDIR=$(pg_config --bindir)
PG_SHAREDIR=$(pg_config --sharedir)
PG_PKGLIBDIR=$(pg_config --pkglibdir)
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

# A TCP port on 127.0.0.1 that nothing listens on.
free_port() {
  local port
  for _ in $(seq 1 200); do
    port=$((20000 + RANDOM % 40000))
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
  make -s -C "$src" install DESTDIR="$root" STRATUM_CLIENT=no >/dev/null
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
  as_server_user "$PG_BINDIR/pg_ctl" -w -t 60 -p "${PG_TREE_POSTGRES:-$PG_BINDIR/postgres}" \
    -D "$dir/data" -l "$dir/server.log" start >/dev/null ||
    { cat "$dir/server.log" >&2; return 1; }
  SERVICES_STARTED+=("pg:$dir")
  printf -v "${name^^}_PORT" '%s' "$port"
  printf -v "${name^^}_DIR" '%s' "$dir"
  if [[ -z ${PGPORT_SET_BY_SERVICES:-} ]]; then
    export PGHOST=$dir PGPORT=$port PGUSER=postgres PGDATABASE=postgres
    PGPORT_SET_BY_SERVICES=1
  fi
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
  as_server_user "$PG_BINDIR/pg_ctl" -w -t 60 -p "${PG_TREE_POSTGRES:-$PG_BINDIR/postgres}" \
    -D "$dir/data" -l "$dir/server.log" start >/dev/null ||
    { cat "$dir/server.log" >&2; return 1; }
  SERVICES_STARTED+=("pg:$dir")
  printf -v "${name^^}_PORT" '%s' "$port"
  printf -v "${name^^}_DIR" '%s' "$dir"
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
    esac
  done
  SERVICES_STARTED=()
  if [[ -n ${STRATUM_RUN_DIR_OWNED:-} && -z ${STRATUM_KEEP_RUN_DIR:-} ]]; then
    rm -rf "$STRATUM_RUN_DIR"
  fi
}
