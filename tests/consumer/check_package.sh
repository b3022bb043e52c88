#!/usr/bin/env bash
# Builds and runs a consumer project outside the concur tree, one way of consuming concur per
# call (API.md §0):
#
#   check_package.sh <mode> <concur source dir> <concur build dir> <work dir> <cmake> <c++> \
#                    <generator> [<sanitizers>]
#
#   find_package      `cmake --install` the build tree into <work dir>/prefix, then a project
#                     with find_package(concur REQUIRED) and CMAKE_PREFIX_PATH=<prefix>
#   pkg-config        the same install, then `c++ main.cpp $(pkg-config --cflags --libs concur)`
#                     with only <prefix>'s concur.pc visible to pkg-config
#   add_subdirectory  a project that does add_subdirectory(<concur source dir>)
#   fetchcontent      a project that does FetchContent_Declare(concur SOURCE_DIR <source dir>)
#
# <sanitizers> (CONCUR_SANITIZE of the build under test, e.g. "thread" or "address,undefined")
# is passed to the consumer's compiler and linker, so that it links with the sanitized library.
set -euo pipefail

if [ "$#" -lt 7 ]; then
  echo "usage: $0 <mode> <src> <build> <work> <cmake> <c++> <generator> [<sanitizers>]" >&2
  exit 2
fi
mode="$1" src="$2" build="$3" work="$4" cmake="$5" cxx="$6" generator="$7" sanitize="${8:-}"
here="$(cd "$(dirname "$0")" && pwd)"

san_cflags="" san_ldflags=""
if [ -n "$sanitize" ]; then
  san_cflags="-fsanitize=$sanitize -fno-omit-frame-pointer -g"
  san_ldflags="-fsanitize=$sanitize"
fi

rm -rf "$work"
mkdir -p "$work"
prefix="$work/prefix"

step() { echo "== check_package[$mode]: $*"; }

install_package() {
  step "cmake --install $build --prefix $prefix"
  "$cmake" --install "$build" --prefix "$prefix" >"$work/install.log" 2>&1 || {
    cat "$work/install.log"
    echo "check_package: cmake --install failed (is the library built?)" >&2
    exit 1
  }
  if [ ! -f "$prefix/include/concur/threading.hpp" ] || [ ! -f "$prefix/include/concur/concur.hpp" ]; then
    echo "check_package: the headers are not installed under $prefix/include/concur/" >&2
    exit 1
  fi
}

# configure_build_run <project dir> [cmake args...]: configure, build and run its `app`.
configure_build_run() {
  local project="$1"; shift
  local bdir="$work/build"
  step "configure $project"
  "$cmake" -S "$project" -B "$bdir" -G "$generator" \
    -DCMAKE_CXX_COMPILER="$cxx" \
    -DCMAKE_CXX_FLAGS="$san_cflags" \
    -DCMAKE_EXE_LINKER_FLAGS="$san_ldflags" \
    -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON \
    "$@" >"$work/configure.log" 2>&1 || {
    cat "$work/configure.log"
    echo "check_package: configuring the consumer failed" >&2
    exit 1
  }
  step "build"
  "$cmake" --build "$bdir" -j2 >"$work/build.log" 2>&1 || {
    cat "$work/build.log"
    echo "check_package: building the consumer failed" >&2
    exit 1
  }
  step "run"
  "$bdir/app"
}

case "$mode" in
  find_package)
    install_package
    configure_build_run "$here/project" -DCMAKE_PREFIX_PATH="$prefix"
    # It must have used the package just installed, not some other copy.
    found="$(sed -n 's/^concur_DIR:PATH=//p' "$work/build/CMakeCache.txt")"
    case "$found" in
      "$prefix"/*) echo "found concur in $found" ;;
      *) echo "check_package: find_package(concur) found $found, not the package in $prefix" >&2; exit 1 ;;
    esac
    ;;

  pkg-config)
    install_package
    # GNUInstallDirs decides lib, lib64 or lib/<multiarch>: find the file rather than guess.
    pc="$(find "$prefix" -name concur.pc -path '*/pkgconfig/*' | head -n 1)"
    if [ -z "$pc" ]; then
      echo "check_package: no concur.pc installed under $prefix" >&2
      exit 1
    fi
    pcdir="$(dirname "$pc")"
    step "using $pc"
    cat "$pc"
    export PKG_CONFIG_LIBDIR="$pcdir" PKG_CONFIG_PATH="$pcdir"
    cflags="$(pkg-config --cflags concur)"
    libs="$(pkg-config --libs concur)"
    echo "pkg-config --cflags: $cflags"
    echo "pkg-config --libs:   $libs"
    # The flags must point into the prefix the package was installed to (`cmake --install
    # --prefix` decides it at install time, not the build's CMAKE_INSTALL_PREFIX).
    case " $cflags " in
      *" -I$prefix/include "*) ;;
      *) echo "check_package: concur.pc's include path is not $prefix/include (the .pc file" \
              "does not follow the install prefix)" >&2 ;;
    esac
    step "$cxx main.cpp \$(pkg-config --cflags --libs concur)"
    # shellcheck disable=SC2086  # the flags are words
    "$cxx" $san_cflags "$here/project/main.cpp" $cflags $libs $san_ldflags -o "$work/app"
    step "run"
    "$work/app"
    ;;

  add_subdirectory)
    configure_build_run "$here/subdirectory" -DCONCUR_SOURCE_DIR="$src"
    ;;

  fetchcontent)
    configure_build_run "$here/fetchcontent" -DCONCUR_SOURCE_DIR="$src" \
      -DFETCHCONTENT_BASE_DIR="$work/deps"
    ;;

  *)
    echo "check_package: unknown mode $mode" >&2
    exit 2
    ;;
esac
echo "== check_package[$mode]: ok"
