#!/bin/sh
# Installs the engine from a build tree into a scratch prefix, builds a downstream project with
# find_package(wire_engine), and runs it: the exported package is usable as documented. Its
# wire::tls program runs first (it acquires SChannel client credentials, which Wine provides).
# usage: check_install.sh BUILD_DIR SOURCE_DIR GSL_INCLUDE
set -e
build="$1"; source="$2"; gsl="$3"
scratch="$build/install-check"
rm -rf "$scratch"
cmake --install "$build" --prefix "$scratch/prefix" >/dev/null
cmake -S "$source/tests/install_consumer" -B "$scratch/consumer" -G Ninja \
  -DCMAKE_TOOLCHAIN_FILE="$source/cmake/mingw-w64-x86_64.cmake" -DCMAKE_BUILD_TYPE=Release \
  -Dwire_engine_DIR="$scratch/prefix/lib/cmake/wire_engine" -DGSL_INCLUDE="$gsl" >/dev/null
cmake --build "$scratch/consumer" >/dev/null
"$source/cmake/wine-run.sh" "$scratch/consumer/tls_consumer.exe"
exec "$source/cmake/wine-run.sh" "$scratch/consumer/consumer.exe"
