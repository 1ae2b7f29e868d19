#!/usr/bin/env bash
# The Linux entry point: installs whatever is missing (idempotently, from Debian's archive only),
# cross-builds with MinGW-w64 and runs under Wine.
#
#   ./run.sh demo            server and client exchange verified data over loopback
#   ./run.sh test            build and run the whole suite (what CI runs): the Wine suite, then the
#                            platform-neutral code built natively with clang under ASan+UBSan, the
#                            frame parser fuzzed for WIRE_FUZZ_SECONDS (default 60), and a few
#                            seconds of the native load driver against both servers (a smoke check)
#   ./run.sh bench [args]    build and run the benchmarks: the Linux-native load driver against the
#                            servers under Wine (benchmarks/README.md; --wine-driver: the Wine-hosted one)
#   ./run.sh setup           only install and build the dependencies
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BUILD="$ROOT/build"
DEPS="$BUILD/deps"
PRESET=mingw-release
BIN="$BUILD/$PRESET"
NATIVE="$BUILD/native"
NATIVE_BENCH="$BUILD/native-bench"
export WINEPREFIX="$BUILD/wineprefix"
export WINEDEBUG=-all

# What the build and the tests need, by Debian package name. Nothing here names a version: Debian
# 12 has clang 14, MinGW-w64 with GCC 12 and Wine 8, Debian 13 clang 19, GCC 14 and Wine 10. The
# one version-named package, clang's compiler-rt (ASan, UBSan, libFuzzer), follows the installed
# clang (ensure_packages).
PACKAGES=(
  g++-mingw-w64-x86-64-posix wine wine64 cmake ninja-build python3
  libmsgsl-dev googletest libasio-dev libcli11-dev
  clang clang-tidy gnuplot-nox
  g++ libbenchmark-dev libssl-dev openssl
)

log() { printf '[run.sh] %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# What the script needs, for any system it cannot install on by itself.
NEEDS='  - MinGW-w64 GCC (12 or later) with the posix thread model: x86_64-w64-mingw32-g++-posix
  - Wine 8 or later, 64-bit (wine, wineserver, wineboot)
  - CMake 3.25 or later, Ninja, Python 3
  - headers: GSL 4 (/usr/include/gsl), standalone Asio (/usr/include/asio.hpp), CLI11 (/usr/include/CLI)
  - GoogleTest sources in /usr/src/googletest
  - Google Benchmark: its sources for the MinGW build (Debian: `apt-get source benchmark`; elsewhere
    unpack release 1.7.1 or later into build/deps/src/benchmark) and a native build that CMake
    finds (the Linux load driver)
  - OpenSSL 3 development files that CMake finds (the TLS client of the Linux load driver) and the
    openssl command (tests/tls/tls_peer.py makes the test certificates with it)
  - clang and clang++ with compiler-rt (AddressSanitizer, UBSan, libFuzzer), clang-tidy, g++, gnuplot'

# Only Debian 12 and 13 are tested; apt installs the packages above on any Debian from 12 on. Any
# other system is told at once what to install, and WIRE_SKIP_INSTALL=1 then skips the installation.
check_system() {
  [ "${WIRE_SKIP_INSTALL:-0}" = 1 ] && return 0
  local id="" version="" codename=""
  if [ -r /etc/os-release ]; then
    id="$(. /etc/os-release && echo "${ID:-}")"
    version="$(. /etc/os-release && echo "${VERSION_ID:-}")"
    codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
  fi
  if [ "$id" = debian ] && command -v apt-get >/dev/null; then
    case "$version" in
      12|13) return 0 ;;
      ''|1[4-9]|[2-9][0-9]) log "Debian ${version:-$codename} is untested (tested: 12 and 13); trying its packages"; return 0 ;;
    esac
  fi
  {
    echo "run.sh installs its packages with apt on Debian 12 or 13 only; this is ${id:-an unknown system}${version:+ $version}."
    echo "Install these yourself, then run again with WIRE_SKIP_INSTALL=1:"
    echo "$NEEDS"
  } >&2
  exit 2
}

APT_UPDATED=0
apt_install() {
  if [ "$APT_UPDATED" -eq 0 ]; then as_root apt-get update -qq; APT_UPDATED=1; fi
  log "installing: $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

ensure_packages() {
  check_system
  [ "${WIRE_SKIP_INSTALL:-0}" = 1 ] && return 0
  local missing=()
  for p in "${PACKAGES[@]}"; do installed "$p" || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi
  # The sanitizer and fuzzer runtimes of the clang that the release's `clang` package brought.
  local major
  major="$(clang -dumpversion | cut -d. -f1)"
  installed "libclang-rt-$major-dev" || apt_install "libclang-rt-$major-dev"
}

# Google Benchmark has no MinGW build in Debian: take its sources from Debian's source package.
# The deb-src entry mirrors whichever Debian entry the machine has (deb822 or one-line format).
ensure_benchmark_sources() {
  [ -f "$DEPS/src/benchmark/CMakeLists.txt" ] && return
  if ! apt-get source --download-only --print-uris benchmark >/dev/null 2>&1; then
    log "adding a deb-src entry for Debian's source packages"
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
      sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources |
        as_root tee /etc/apt/sources.list.d/wire-deb-src.sources >/dev/null
    else
      grep -E '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' |
        as_root tee /etc/apt/sources.list.d/wire-deb-src.list >/dev/null
    fi
    as_root apt-get update -qq
  fi
  mkdir -p "$DEPS/src/download"
  (cd "$DEPS/src/download" && apt-get source --download-only benchmark >/dev/null 2>&1)
  local tarball
  tarball="$(ls "$DEPS"/src/download/benchmark_*.orig.tar.* | head -n1)"
  rm -rf "$DEPS/src/benchmark" && mkdir -p "$DEPS/src/benchmark"
  tar -xf "$tarball" -C "$DEPS/src/benchmark" --strip-components=1
}

cross_build_dep() { # name source-dir [cmake args...]
  local name="$1" src="$2"; shift 2
  log "cross-building $name (once)"
  cmake -S "$src" -B "$DEPS/build/$name" -G Ninja \
    -DCMAKE_TOOLCHAIN_FILE="$ROOT/cmake/mingw-w64-x86_64.cmake" \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$DEPS/prefix" "$@" >/dev/null
  cmake --build "$DEPS/build/$name" >/dev/null
  cmake --install "$DEPS/build/$name" >/dev/null
}

ensure_dependencies() {
  if [ ! -f "$DEPS/prefix/lib/libgtest.a" ]; then
    cross_build_dep googletest /usr/src/googletest -Dgtest_disable_pthreads=OFF
  fi
  if [ ! -f "$DEPS/prefix/lib/libbenchmark.a" ]; then
    ensure_benchmark_sources
    cross_build_dep benchmark "$DEPS/src/benchmark" -DBENCHMARK_ENABLE_TESTING=OFF \
      -DBENCHMARK_ENABLE_GTEST_TESTS=OFF -DBENCHMARK_ENABLE_WERROR=OFF
  fi
  # Header-only libraries are copied, never included from /usr/include (it breaks MinGW's headers).
  if [ ! -f "$DEPS/include/.stamp" ]; then
    mkdir -p "$DEPS/include"
    cp -r /usr/include/gsl /usr/include/CLI /usr/include/asio /usr/include/asio.hpp "$DEPS/include/"
    touch "$DEPS/include/.stamp"
  fi
}

WINESERVER_STARTED=0
start_wine() {
  # The wineserver holds one descriptor per socket of every Wine process: the hostile tests open
  # 2,000 connections at once, more than a default soft limit of 1,024 allows.
  local hard
  hard=$(ulimit -Hn)
  if [ "$hard" = unlimited ] || [ "$hard" -gt 20000 ]; then hard=20000; fi
  if [ "$(ulimit -Sn)" != unlimited ] && [ "$(ulimit -Sn)" -lt "$hard" ]; then ulimit -Sn "$hard" || true; fi
  if [ ! -f "$WINEPREFIX/system.reg" ]; then
    log "creating the Wine prefix (once)"
    wineboot -i >/dev/null 2>&1 || true
    wineserver -w
  fi
  # A persistent wineserver makes each process start cost ~0.1 s instead of ~3 s. When one already
  # runs for this prefix (a developer's: exit status 2), use it and leave it running.
  if wineserver -p </dev/null >/dev/null 2>&1; then WINESERVER_STARTED=1; fi
  # Wine's service processes start with the first program and outlive it; start them here,
  # detached from our output, so no pipe reading this script's output is held open by them.
  wineboot </dev/null >/dev/null 2>&1 || true
}
stop_wine() {
  if [ "$WINESERVER_STARTED" -eq 1 ]; then wineserver -k 2>/dev/null || true; fi
}
trap stop_wine EXIT

build() { # [target ...]: only those targets (and what they depend on); none: everything
  ensure_packages
  ensure_dependencies
  cmake --preset "$PRESET" >/dev/null
  if [ $# -gt 0 ]; then
    cmake --build --preset "$PRESET" --target "$@"
  else
    cmake --build --preset "$PRESET"
  fi
}

# The platform-neutral pieces (tests/native): built with clang under AddressSanitizer and
# UndefinedBehaviorSanitizer, their unit tests run, and the frame parser fuzzed (tests/fuzz).
native_test() {
  log "native sanitizer build and frame parser fuzzing (${WIRE_FUZZ_SECONDS:-60} s)"
  cmake -S "$ROOT/tests/native" -B "$NATIVE" -G Ninja -DCMAKE_CXX_COMPILER=clang++ \
    -DWIRE_FUZZ_SECONDS="${WIRE_FUZZ_SECONDS:-60}" >/dev/null
  cmake --build "$NATIVE"
  ctest --test-dir "$NATIVE" -j2 --output-on-failure
}

# The benchmarks' load driver, built natively from the same sources (benchmarks/native).
build_native_driver() {
  cmake -S "$ROOT/benchmarks/native" -B "$NATIVE_BENCH" -G Ninja -DCMAKE_CXX_COMPILER=g++ >/dev/null
  cmake --build "$NATIVE_BENCH"
}

# A few seconds of the native driver against both servers under Wine: it connects, verifies
# echoes and reads counters. A smoke check only: nothing here looks at a time.
bench_smoke() {
  log "native load driver smoke check"
  build_native_driver
  local out="$NATIVE_BENCH/smoke.json"
  rm -f "$out"
  timeout 180 "$NATIVE_BENCH/bench_driver" --wire_server="$BIN/benchmarks/engine_benchmarks.exe" \
    --wire_launcher=wine --benchmark_filter='round_trip/size:64/|throughput/size:64/conns:16/|udp_echo/size:64/sockets:16/|churn' \
    --wire_warmup=0.05 --wire_measure=0.2 --benchmark_out="$out" --benchmark_out_format=json >/dev/null
  python3 - "$out" <<'PY'
import json, sys
runs = json.load(open(sys.argv[1]))["benchmarks"]
failed = [r["name"] + ": " + r.get("error_message", "") for r in runs if r.get("error_occurred")]
if failed or len(runs) != 8:
    sys.exit("bench smoke check failed: " + ("; ".join(failed) or f"{len(runs)} runs instead of 8"))
PY
}

cmd_test() {
  build
  start_wine
  ctest --preset "$PRESET" -j2 "$@"
  native_test
  bench_smoke
}

cmd_demo() {
  build server client  # the demo runs these two (and the engine they link), not the suite
  start_wine
  "$ROOT/tools/demo.sh" "$BIN"
}

cmd_bench() {
  build
  build_native_driver
  start_wine
  python3 "$ROOT/tools/bench.py" --bin "$BIN" --driver "$NATIVE_BENCH/bench_driver" \
    --out "$ROOT/benchmarks/results" "$@"
}

case "${1:-}" in
  test) shift; cmd_test "$@" ;;
  demo) shift; cmd_demo "$@" ;;
  bench) shift; cmd_bench "$@" ;;
  setup) ensure_packages; ensure_dependencies ;;
  *) echo "usage: $0 demo | test | bench [options] | setup" >&2; exit 2 ;;
esac
