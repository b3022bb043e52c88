#!/usr/bin/env bash
# check_headers.sh <c++ compiler> <include dir>
# Every public header of concur (not detail/) compiles on its own, first in a translation unit,
# with -Wall -Wextra -Wpedantic and no warning: what a consumer's compiler sees when it includes
# just that header.
set -uo pipefail
cxx="$1" include="$2"
status=0 count=0
while IFS= read -r header; do
  rel="${header#"$include"/}"
  count=$((count + 1))
  if ! out=$(printf '#include <%s>\n' "$rel" |
             "$cxx" -std=c++20 -fsyntax-only -Wall -Wextra -Wpedantic -Werror -I"$include" -x c++ - 2>&1); then
    echo "== $rel does not compile on its own:"; echo "$out"; status=1
  fi
done < <(find "$include/concur" -name '*.hpp' -not -path '*/detail/*' | sort)
echo "check_headers: $count public headers checked with $cxx"
exit "$status"
