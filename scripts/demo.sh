#!/usr/bin/env bash
# `make demo`: the tour. Runs every seed-program port in examples/ in the order of
# examples/tour.txt, each under a heading naming the program and the seed it comes from.
set -euo pipefail
cd "$(dirname "$0")/.."
bin_dir="$1"
while IFS='|' read -r program title; do
  program="$(echo "$program" | xargs)"
  [ -z "$program" ] && continue
  case "$program" in \#*) continue ;; esac
  echo
  echo "=== $program — $(echo "$title" | xargs)"
  "$bin_dir/$program"
done < examples/tour.txt
echo
echo "=== tour complete"
