#!/usr/bin/env bash
# pg_ctl for a test cluster, run as the server user: pgctl.sh DATADIR POSTGRES ARGS...
# (tests restart or stop the server with it).
set -euo pipefail
datadir=$1 postgres=$2
shift 2
cmd=("$(pg_config --bindir)/pg_ctl" -D "$datadir" -p "$postgres" -l "$datadir/../server.log" -w -t 60 "$@")
if [[ $(id -u) == 0 ]]; then exec runuser -u postgres -- "${cmd[@]}"; else exec "${cmd[@]}"; fi
