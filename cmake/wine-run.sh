#!/bin/sh
# Runs a Windows executable under Wine with the project's own prefix and quiet debug channels.
# run.sh exports WINEPREFIX and keeps a persistent wineserver; this default covers a direct ctest call.
: "${WINEPREFIX:=$(cd "$(dirname "$0")/.." && pwd)/build/wineprefix}"
export WINEPREFIX
export WINEDEBUG="${WINEDEBUG:--all}"
exec wine "$@"
