#!/usr/bin/env bash
# `make demo`: the tour. Runs every seed-program port in examples/ in the order of
# examples/tour.txt, each under a heading naming the program and the seed it comes from.
set -euo pipefail
cd "$(dirname "$0")/.."
bin_dir="$1"
trim() {  # strip leading and trailing blanks (no xargs: quotes in a description are text)
  local s="$1"
  s="${s#"${s%%[![:space:]]*}"}"
  printf '%s' "${s%"${s##*[![:space:]]}"}"
}
while IFS='|' read -r program title; do
  program="$(trim "$program")"
  [ -z "$program" ] && continue
  case "$program" in \#*) continue ;; esac
  echo
  echo "=== $program — $(trim "$title")"
  "$bin_dir/$program"
done < examples/tour.txt
echo
echo "=== tour complete"
