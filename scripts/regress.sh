#!/usr/bin/env bash
# The extension's pg_regress suites on throwaway clusters, twice: with the
# library in shared_preload_libraries, and without it (a backend then loads
# it at its first stratum call, which must change nothing that the suites
# see). Usage: regress.sh [PG_CONFIG...] — one run per PostgreSQL; with no
# argument, pg_config on PATH and then every /opt/pg*/bin/pg_config found
# (PostgreSQL versions built by hand next to Debian's).
# REGRESS_ONLY_PRELOAD=1 skips the second cluster (a quick local loop).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

configs=("$@")
if ((${#configs[@]} == 0)); then
  configs=("$(command -v pg_config)")
  for c in /opt/pg*/bin/pg_config; do
    [[ -x $c ]] && configs+=("$c")
  done
fi

failed=()
for config in "${configs[@]}"; do
  version=$("$config" --version)
  # Each PostgreSQL builds the extension in a copy of its own: object files
  # compiled against one server's headers must not reach another.
  if [[ $config == "$(command -v pg_config)" ]]; then
    src=$root
  else
    src=$(mktemp -d "/tmp/stratum-src.XXXXXX")
    cp -r Makefile stratum.control META.json extension sql regress "$src/"
    rm -f "$src"/extension/*.o "$src"/stratum.so
  fi
  for mode in preload nopreload; do
    [[ $mode == nopreload && -n ${REGRESS_ONLY_PRELOAD:-} ]] && continue
    label="library preloaded"
    [[ $mode == nopreload ]] && label="without shared_preload_libraries"
    echo "== pg_regress: $version, $label"
    if ! (
      export PG_CONFIG=$config
      unset PGPORT_SET_BY_SERVICES STRATUM_RUN_DIR STRATUM_RUN_DIR_OWNED
      source "$root/scripts/lib/services.sh"
      services_init
      trap services_stop_all EXIT
      make -s -C "$src" PG_CONFIG="$config" all >/dev/null
      pg_tree_build "$src"
      if [[ $mode == preload ]]; then pg_start regress; else pg_start regress "shared_preload_libraries = ''"; fi
      out=$STRATUM_RUN_DIR/results
      mkdir -p "$out"
      make -s -C "$src" PG_CONFIG="$config" installcheck \
        REGRESS_OUTPUTDIR="$out" PGHOST="$REGRESS_DIR" PGPORT="$REGRESS_PORT" ||
        {
          # Left where make installcheck leaves them, for a look (and to take as expected).
          rm -rf "$root/regress/results" && cp -r "$out/results" "$root/regress/results"
          cp "$out/regression.diffs" "$root/regress/regression.diffs"
          head -c 20000 "$out/regression.diffs"
          exit 1
        }
    ); then
      failed+=("$version $mode")
    fi
  done
  [[ $src != "$root" ]] && rm -rf "$src"
done

if ((${#failed[@]} > 0)); then
  printf 'pg_regress failed: %s\n' "${failed[@]}" >&2
  exit 1
fi
