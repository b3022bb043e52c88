#!/usr/bin/env bash
# check_refusal.sh <c++ compiler> <include dir> <snippet.cpp>
#
# A misuse check: the snippet must compile with -DCONCUR_CONTROL (its correct form, which proves
# the rest of the snippet is right) and be refused without it, with
#   - exactly one error,
#   - the message the snippet's "// expect: <extended regex>" line gives, and
#   - a pointer to the snippet's line marked "// <- refused here" (the caller's line).
# A "// flags: ..." line adds compiler flags (e.g. -Werror=unused-result).
set -uo pipefail
cxx="$1" include="$2" snippet="$3"
expect=$(sed -n 's|^// expect: ||p' "$snippet")
flags=$(sed -n 's|^// flags: ||p' "$snippet")
line=$(grep -n '// <- refused here' "$snippet" | head -n1 | cut -d: -f1)
name=$(basename "$snippet")
[ -n "$expect" ] && [ -n "$line" ] || { echo "$name: needs '// expect:' and '// <- refused here'"; exit 2; }

compile() { "$cxx" -std=c++20 -fsyntax-only -fno-diagnostics-color -I"$include" $flags "$@" "$snippet" 2>&1; }

if ! out=$(compile -DCONCUR_CONTROL); then
  echo "$name: the correct form does not compile:"; echo "$out"; exit 1
fi
if out=$(compile); then
  echo "$name: the misuse compiled; it must be refused"; exit 1
fi
errors=$(grep -c 'error:' <<<"$out")
status=0
if ! grep -Eq -- "$expect" <<<"$out"; then
  echo "$name: the message does not say: $expect"; status=1
fi
if [ "$errors" -ne 1 ]; then
  echo "$name: $errors errors, expected exactly one"; status=1
fi
if ! grep -q -- "$name:$line:" <<<"$out"; then
  echo "$name: no diagnostic points at the caller's line $line"; status=1
fi
if [ "$status" -ne 0 ]; then echo "---- compiler output:"; echo "$out"; fi
exit "$status"
