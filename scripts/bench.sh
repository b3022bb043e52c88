#!/usr/bin/env bash
# `make bench`: run every benchmark binary (*_bench) in the given directory, each comparing concur
# with its peers in one process, interleaved, and printing ratios (see bench/threading_bench.cpp
# and shared/PERFORMANCE.md). A binary named X_bench gets bench/python/X_bench.py as its Python
# co-process when that script exists and python3 is installed.
#   scripts/bench.sh [DIR]          DIR defaults to build/bench/bench
#   BENCH_ARGS="--rounds 5 --only pingpong" scripts/bench.sh   extra arguments for every binary
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${1:-$root/build/bench/bench}"

shopt -s nullglob
benches=("$dir"/*_bench)
if [ ${#benches[@]} -eq 0 ]; then
  echo "concur bench: no *_bench binaries in $dir" >&2
  exit 1
fi

status=0
for bin in "${benches[@]}"; do
  [ -x "$bin" ] || continue
  name="$(basename "$bin")"
  args=()
  script="$root/bench/python/$name.py"
  if [ -f "$script" ] && command -v python3 >/dev/null 2>&1; then
    args+=(--python "$script")
  else
    args+=(--no-python)
  fi
  # shellcheck disable=SC2086  # BENCH_ARGS is a list of words on purpose
  "$bin" "${args[@]}" ${BENCH_ARGS:-} || { echo "concur bench: $name failed" >&2; status=1; }
done
exit $status
