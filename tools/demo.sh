#!/usr/bin/env bash
# The demo (./run.sh demo): server.exe on a free port of 127.0.0.1, client.exe against it for
# about 5 s with every byte verified, the client's summary, then Ctrl+C to the server, which must
# stop gracefully and exit 0. Exits with the client's code (1 if the server did not exit 0).
#
#   tools/demo.sh BIN_DIR      BIN_DIR holds server/server.exe and client/client.exe
#                              (./run.sh demo passes build/mingw-release)
set -euo pipefail

BIN="${1:?usage: tools/demo.sh BIN_DIR}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN="$ROOT/cmake/wine-run.sh"  # Wine with the project's prefix; exec's, so $! is the wine process
SERVER="$BIN/server/server.exe"
CLIENT="$BIN/client/client.exe"
# 16 connections with 4 messages of 256 bytes in flight each: enough to show throughput under
# load, small enough to keep latency meaningful.
LOAD=(--connections 16 --size 256 --pipeline 4 --duration 5)

log() { printf '[demo] %s\n' "$*" >&2; }

for exe in "$SERVER" "$CLIENT"; do
  [ -f "$exe" ] || { log "missing $exe (build first: ./run.sh demo builds it)"; exit 1; }
done

work="$(mktemp -d)"
server_pid=""
cleanup() {
  # Only the server this script started, by its pid: Ctrl+C first, then a hard stop.
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -INT "$server_pid" 2>/dev/null || true
    sleep 2
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

"$RUN" "$SERVER" --host 127.0.0.1 --port 0 --mode echo >"$work/server.out" 2>"$work/server.err" </dev/null &
server_pid=$!

# The readiness line carries the real port. Bounded wait: a cold Wine takes a few seconds.
ready=""
for _ in $(seq 600); do
  ready="$(head -n 1 "$work/server.out" 2>/dev/null || true)"
  [[ "$ready" == "listening on "* ]] && break
  if ! kill -0 "$server_pid" 2>/dev/null; then
    log "the server exited before it was ready:"; cat "$work/server.err" >&2; exit 1
  fi
  sleep 0.1
done
[[ "$ready" == "listening on "* ]] || { log "no 'listening on' line within 60 s"; exit 1; }
port="${ready##*:}"
log "server (pid $server_pid): $ready"
log "client: ${LOAD[*]}"

client_code=0
"$RUN" "$CLIENT" --host 127.0.0.1 --port "$port" "${LOAD[@]}" </dev/null || client_code=$?

# Ctrl+C to the server: SIGINT to the wine process arrives as CTRL_C_EVENT. Bounded wait.
kill -INT "$server_pid"
server_code=""
for _ in $(seq 300); do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    server_code=0
    wait "$server_pid" || server_code=$?
    break
  fi
  sleep 0.1
done
pid="$server_pid"
server_pid=""  # reaped (or left to cleanup below if it hangs)
if [ -z "$server_code" ]; then
  server_pid="$pid"
  log "the server did not stop within 30 s of Ctrl+C"
  exit 1
fi
grep -F '[server] final:' "$work/server.err" >&2 || true
log "server exit code $server_code, client exit code $client_code"
if [ "$server_code" -ne 0 ]; then
  cat "$work/server.err" >&2
  exit 1
fi
exit "$client_code"
