#!/usr/bin/env bash
# `make test`: build and run the whole suite with ctest (g++); again built with clang 14 (the
# other compiler the library supports: every public header, the suite, the compile-failure
# checks and a consumer of the installed package); the fault tests (tests/fault) and the asyncio
# tests (at -O0) under AddressSanitizer and UBSan; then the whole suite under ThreadSanitizer.
# Every stage always runs; the exit status is non-zero if any failed. The last lines printed say
# how each stage ended and name every test that failed in it (ctest's own list is printed far above
# when the failure was in an early stage).
#
# Building is most of the time, so the stages build the tests the cheap way
# (tests/CMakeLists.txt): one executable per module folder (CONCUR_TEST_MERGED), not per file,
# but for the few files that must be alone; and each module's files are compiled as a unity
# build (CONCUR_TEST_UNITY: batches of files as one translation unit), in every stage. Optimisation is -O2 as in RelWithDebInfo (-O1 for ASan/UBSan, the level ASan
# recommends), with line tables only (-g1) instead of full debug info. ctest still runs each
# TEST() as a process of its own. Each stage prints how long its build took.
set -uo pipefail
cd "$(dirname "$0")/.."
jobs="${JOBS:-2}"

run_suite() {  # run_suite <build dir> <label> [cmake args...]
  local dir="$1" label="$2"; shift 2
  echo "== concur: $label build ($dir)"
  local start=$SECONDS
  cmake -S . -B "$dir" "$@" >/dev/null || return 1
  cmake --build "$dir" -j"$jobs" >"$dir/build.log" 2>&1 || { tail -n 60 "$dir/build.log"; return 1; }
  echo "== concur: $label build took $((SECONDS - start)) s"
  echo "== concur: $label tests"
  ( cd "$dir" && $CTEST_WRAPPER ctest --output-on-failure -j"$jobs" )
}

# RelWithDebInfo's -O2, with line tables (-g1) instead of full debug info: as optimised, cheaper
# to compile and link.
# Every stage links some 90 executables (tests and examples): lld, when installed, links the same
# objects against the same libraries and runtimes (the sanitizers' included) in about half the
# CPU time of GNU ld, and less wall time.
linker=()
if command -v ld.lld >/dev/null 2>&1; then linker=(-DCMAKE_EXE_LINKER_FLAGS=-fuse-ld=lld); fi
fast=(-DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG"
      -DCONCUR_TEST_MERGED=ON "${linker[@]}")

CTEST_WRAPPER="" run_suite build/test "normal" "${fast[@]}" -DCONCUR_TEST_UNITY=ON
normal=$?

# The package checks that compile the library again (add_subdirectory, FetchContent) run in the
# g++ stage only: here they would repeat this stage's own build of the library.
CTEST_WRAPPER="" run_suite build/clang "clang 14" "${fast[@]}" -DCONCUR_TEST_UNITY=ON \
  -DCONCUR_TEST_PACKAGE_REBUILDS=OFF -DCMAKE_CXX_COMPILER="${CONCUR_CLANG:-clang++-14}"
clang=$?

# AddressSanitizer + UndefinedBehaviorSanitizer over the fault tests (allocation failure,
# throwing items, far deadlines: the far-deadline overflow was visible only to UBSan) and the
# asyncio tests, these compiled at -O0 (CONCUR_TEST_ASYNCIO_OPT): coroutine code unoptimised
# as well as at the other stages' -O2, since g++'s coroutine bugs depend on the level. Only
# their binaries are built (targets concur_fault_tests, concur_asyncio_tests), and ctest runs
# them by their labels, so the stage takes minutes. UBSan stops at the first report, so that a report fails the test.
# -O1 is the level AddressSanitizer's documentation recommends (every check is still compiled
# in; less optimisation only means fewer accesses optimised away), with line tables (-g1): a
# report's stack still gives file and line. CONCUR_TEST_MERGED as in the other stages: the
# alloc_* files share one executable (fault_alloc_tests, with the replaced operator new), the
# others another; ctest still runs each TEST() as a process of its own.
echo "== concur: ASan/UBSan build of the fault tests and the -O0 asyncio tests (build/asan)"
asan=1
start=$SECONDS
if cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
     "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" -DCONCUR_TEST_MERGED=ON "${linker[@]}" \
     -DCONCUR_SANITIZE=address,undefined -DCONCUR_TEST_ASYNCIO_OPT=-O0 >/dev/null &&
   { cmake --build build/asan -j"$jobs" --target concur_fault_tests concur_asyncio_tests \
       >build/asan/build.log 2>&1 ||
     { tail -n 60 build/asan/build.log; false; }; }; then
  echo "== concur: ASan/UBSan build took $((SECONDS - start)) s"
  echo "== concur: ASan/UBSan fault tests and -O0 asyncio tests"
  ( cd build/asan &&
    ASAN_OPTIONS="detect_leaks=1 ${ASAN_OPTIONS:-}" \
    UBSAN_OPTIONS="halt_on_error=1 print_stacktrace=1 ${UBSAN_OPTIONS:-}" \
    ctest --output-on-failure -j"$jobs" -L 'fault|asyncio' )
  asan=$?
fi

# ThreadSanitizer's runtime (gcc 12) cannot cope with the widest address-space randomisation of
# recent kernels; running without ASLR is the documented remedy and changes nothing else.
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
wrapper=""
if setarch "$(uname -m)" -R true 2>/dev/null; then wrapper="setarch $(uname -m) -R"; fi
CTEST_WRAPPER="$wrapper" run_suite build/tsan "ThreadSanitizer" "${fast[@]}" -DCONCUR_TEST_UNITY=ON \
  -DCONCUR_TEST_PACKAGE_REBUILDS=OFF -DCONCUR_SANITIZE=thread -DCONCUR_TEST_TIME_SCALE=4
tsan=$?

# How each stage ended, last, so that the end of the output says which stage and which tests failed.
report() {  # report <label> <build dir> <status>
  if [ "$3" -eq 0 ]; then echo "== concur: $1: passed"; return; fi
  echo "== concur: $1: FAILED (status $3)"
  local failed="$2/Testing/Temporary/LastTestsFailed.log"
  if [ -s "$failed" ]; then sed 's/^/     failed test /' "$failed"; fi
}
echo "== concur: summary"
report "g++" build/test "$normal"
report "clang 14" build/clang "$clang"
report "ASan/UBSan" build/asan "$asan"
report "ThreadSanitizer" build/tsan "$tsan"
[ "$normal" -eq 0 ] && [ "$clang" -eq 0 ] && [ "$asan" -eq 0 ] && [ "$tsan" -eq 0 ]
