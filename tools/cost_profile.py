#!/usr/bin/env python3
"""CPU time, context switches and signals per message of one benchmark scenario, under Wine.

Usage: cost_profile.py --bin build/mingw-release --filter REGEX --kind engine|asio [--window S]
                       [--sample S] [--delay S] [--workers N]

Runs engine_benchmarks.exe for ONE scenario and one server kind with a long measured window,
and while that window runs samples, for --sample seconds:
  - CPU time of the wineserver of $WINEPREFIX, of the server process (--serve) and of the
    load-driving process (from /proc/PID/stat, utime + stime);
  - context switches and delivered signals of those three processes (perf stat -p);
then divides by the messages echoed in the sample (the benchmark's msgs_per_s x sample length).
CPU time is far less sensitive to other load on the machine than wall time; the wineserver's CPU
per message is the cost every Winsock call and dequeue of both processes adds up to.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def wineserver_pid(prefix: str) -> int:
    st = os.stat(prefix)
    tail = f"server-{st.st_dev:x}-{st.st_ino:x}"
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().startswith("wineserver") and os.readlink(entry / "cwd").endswith(tail):
                return int(entry.name)
        except OSError:
            continue
    raise SystemExit("no wineserver runs for " + prefix)


def find_process(pattern: str, exclude: str | None = None) -> int | None:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if pattern in cmd and (exclude is None or exclude not in cmd) and "cost_profile" not in cmd:
            return int(entry.name)
    return None


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/mingw-release")
    ap.add_argument("--filter", required=True)
    ap.add_argument("--kind", choices=("engine", "asio"), required=True)
    ap.add_argument("--window", type=float, default=8.0)
    ap.add_argument("--delay", type=float, default=3.0, help="seconds after start before sampling")
    ap.add_argument("--sample", type=float, default=4.0)
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--per", choices=("message", "connection"), default="message")
    args = ap.parse_args()

    prefix = os.environ["WINEPREFIX"]
    ws = wineserver_pid(prefix)
    exe = str(Path(args.bin) / "benchmarks" / "engine_benchmarks.exe")
    cmd = ["wine", exe, f"--benchmark_filter={args.filter}/{args.kind}", "--benchmark_repetitions=1",
           f"--wire_measure={args.window}"]
    if args.workers:
        cmd.append(f"--wire_workers={args.workers}")
    bench = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             stdin=subprocess.DEVNULL)
    time.sleep(args.delay)
    server = find_process("--serve " + args.kind)
    driver = find_process("engine_benchmarks.exe --benchmark_filter")
    if server is None or driver is None:
        bench.kill()
        raise SystemExit("server or driver process not found")
    pids = f"{ws},{server},{driver}"
    perf = subprocess.Popen(["perf", "stat", "-x,", "-p", pids, "-e", "context-switches,signal:signal_deliver",
                             "sleep", str(args.sample)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    before = (cpu_seconds(ws), cpu_seconds(server), cpu_seconds(driver))
    perf_out = perf.communicate()[1]
    after = (cpu_seconds(ws), cpu_seconds(server), cpu_seconds(driver))
    out = bench.communicate()[0]
    counts = {}
    for line in perf_out.splitlines():
        parts = line.split(",")
        if len(parts) > 2 and parts[0].isdigit():
            counts[parts[2]] = int(parts[0])
    key = "msgs_per_s" if args.per == "message" else "conns_per_s"
    rate = None
    for line in out.splitlines():
        if args.kind in line and (m := re.search(key + r"=([0-9.]+)([kM]?)", line)):
            rate = float(m.group(1)) * {"": 1, "k": 1e3, "M": 1e6}[m.group(2)]
    if rate is None:  # round trips
        for line in out.splitlines():
            if args.kind in line and (m := re.search(r"round_trips_per_s=([0-9.]+)([kM]?)", line)):
                rate = float(m.group(1)) * {"": 1, "k": 1e3, "M": 1e6}[m.group(2)]
    if not rate:
        print(out)
        raise SystemExit("no rate in the benchmark output")
    units = rate * args.sample
    names = ("wineserver", "server", "driver")
    cpu = {n: (a - b) * 1e6 / units for n, a, b in zip(names, after, before)}
    extra = " ".join(f"{k}={v}" for k, v in re.findall(r"(syscalls_per_msg|recv_calls_per_msg|send_calls_per_msg|dequeues_per_msg|completions_inline_per_msg|completions_dequeued_per_msg)=([0-9.]+)", out))
    print(f"{args.kind}: {key}={rate:.0f} cpu_us_per_{args.per}: wineserver={cpu['wineserver']:.1f} "
          f"server={cpu['server']:.1f} driver={cpu['driver']:.1f} total={sum(cpu.values()):.1f} "
          f"ctxsw={counts.get('context-switches', 0) / units:.2f} "
          f"signals={counts.get('signal:signal_deliver', 0) / units:.3f} {extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
