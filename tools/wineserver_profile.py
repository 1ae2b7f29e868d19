#!/usr/bin/env python3
"""Count the wineserver requests an echo server made per message (or per connection).

Usage: wineserver_profile.py LOG --size BYTES [--per message|connection] [--top N] [--all]

LOG is the wineserver's stderr while engine_benchmarks.exe ran with --wire_trace_wineserver (and a
--benchmark_filter selecting one server kind, so that one process is traced). Under Wine every
Winsock call and every dequeue costs one or more of these requests, each a round trip to the
single-threaded wineserver, so this is the honest "calls per message" for any server, measured
the same way for the engine and for Asio.

The wineserver traces every process once one has asked for it, so the server's requests are
picked out by thread: the thread that left the markers and the threads its process created.

The server leaves a marker (a named event holding its counters) in the trace at each "stats"
request; the window is the pair of consecutive markers with the most bytes received between them
(the benchmark's measured window). Requests outside it (start-up, warm-up) are ignored.
"""
from __future__ import annotations

import argparse
import collections
import re
import sys

sys.dont_write_bytecode = True

REQUEST = re.compile(r"^([0-9a-f]{4}): (\w+)\(")
NEW_OWN_THREAD = re.compile(r"^([0-9a-f]{4}): new_thread\( process=ffffffff")
NEW_THREAD_REPLY = re.compile(r"^([0-9a-f]{4}): new_thread\(\) = 0 \{ tid=([0-9a-f]{4})")
REPLY = re.compile(r"^[0-9a-f]{4}: \w+\(\) = ")
MARKER = re.compile(r'name=L"wire_bench_marker ([^"]*)"')


def parse_marker(text: str) -> dict[str, int]:
    return {k: int(v) for k, v in (pair.split("=") for pair in text.split())}


def find_server_threads(path: str) -> set[str]:
    """Thread ids of the process that left the markers (its own thread creations, followed)."""
    created: dict[str, set[str]] = collections.defaultdict(set)  # creator -> threads of its process
    asked: set[str] = set()  # threads with a new_thread(process=self) request awaiting its reply
    marker_thread = None
    with open(path, errors="replace") as log:
        for line in log:
            if marker_thread is None and MARKER.search(line):
                marker_thread = line[:4]
            elif m := NEW_OWN_THREAD.match(line):
                asked.add(m.group(1))
            elif (m := NEW_THREAD_REPLY.match(line)) and m.group(1) in asked:
                asked.discard(m.group(1))
                created[m.group(1)].add(m.group(2))
                created[m.group(2)].add(m.group(1))
    if marker_thread is None:
        return set()
    threads, todo = {marker_thread}, [marker_thread]
    while todo:
        for other in created[todo.pop()] - threads:
            threads.add(other)
            todo.append(other)
    return threads


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log")
    parser.add_argument("--size", type=int, required=True, help="message size of the scenario")
    parser.add_argument("--per", choices=("message", "connection"), default="message")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--all", action="store_true",
                        help="count every process's requests in the window (server, load driver, Wine's own)")
    args = parser.parse_args()

    server_threads = find_server_threads(args.log)
    if not server_threads:
        print("no marker in the log (run with --wire_trace_wineserver)", file=sys.stderr)
        return 1

    # Requests counted between consecutive markers; a marker's own create_event counts before it.
    windows: list[tuple[dict[str, int], dict[str, int], collections.Counter[str]]] = []
    last: dict[str, int] | None = None
    counts: collections.Counter[str] = collections.Counter()
    with open(args.log, errors="replace") as log:
        for line in log:
            marker = MARKER.search(line)
            if marker:
                current = parse_marker(marker.group(1))
                if last is not None:
                    windows.append((last, current, counts))
                last, counts = current, collections.Counter()
                continue
            m = REQUEST.match(line)
            if m and (args.all or m.group(1) in server_threads) and not REPLY.match(line):
                counts[m.group(2)] += 1
    if not windows:
        print("no pair of markers in the log (run with --wire_trace_wineserver)", file=sys.stderr)
        return 1
    before, after, counts = max(windows, key=lambda w: w[1]["bytes_received"] - w[0]["bytes_received"])
    if args.per == "message":
        units = (after["bytes_received"] - before["bytes_received"]) / args.size
    else:
        units = after["connections_accepted"] - before["connections_accepted"]
    if units <= 0:
        print("the window saw no traffic", file=sys.stderr)
        return 1
    total = sum(counts.values())
    print(f"{units:.0f} {args.per}s, {total} wineserver requests: {total / units:.2f} per {args.per}")
    for name, n in counts.most_common(args.top):
        print(f"  {name:28} {n / units:8.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
