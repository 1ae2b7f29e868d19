#!/usr/bin/env python3
"""Run the engine-vs-Asio benchmarks and write the results.

Usage (./run.sh bench [options] calls it this way):
  bench.py --bin build/mingw-release --driver build/native-bench/bench_driver --out benchmarks/results
           [--wine-driver] [--filter REGEX] [--long] [--repetitions N] [--measure SECONDS] [--timeout SECONDS]
           [--placement one-cpu|split|none] [--no-pin] [--tls-pfx PATH --tls-password PASSWORD]

The servers under test are always engine_benchmarks.exe --serve engine|asio from --bin, run under
Wine. The load driver is --driver, the same driver sources built natively on Linux (its calls never
reach the wineserver the servers use): the headline rows. --wine-driver instead drives them from
engine_benchmarks.exe itself under Wine (the driver shares the wineserver with the servers), the
second, labelled set of rows, written to OUT/wine-driver/. With the native driver the servers, the
wineserver and the driver run on one CPU (see Placement); --placement split puts the driver on
another CPU (rows in OUT/split/); --placement none (--no-pin) leaves placement to the scheduler.

Writes, in --out:
  latest.json  Google Benchmark's raw JSON (the median, mean, stddev and cv of each benchmark)
  latest.md    the table: scenario | engine | Asio | ratio (>1: the engine is better) | calls
  latest.png   the ratios as a bar chart (gnuplot)
and prints the table. Exit status: 0 when every benchmark ran, 1 when one failed, 2 for bad usage.

Every scenario runs once with the engine's echo server and once with Asio's, with the same load
driver, in the same run: only the ratio means something here (see benchmarks/README.md).

TLS rows (tls/...: the engine's server behind wire::tls, `--serve engine-tls`, against the plain
engine server; native driver only) run when the selection includes them (no filter, or e.g.
`--filter tls`) and a probe finds the TLS server working: the probe makes a certificate with
tests/tls/tls_peer.py (or takes --tls-pfx), starts the server and makes one handshake. Under Wine 8,
whose SChannel has no server side (SEC_E_UNSUPPORTED_FUNCTION), it prints one line and the run goes
on without them. A run that selects only TLS rows writes to OUT/tls/ (a filtered run replaces latest.*).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree

ROOT = Path(__file__).resolve().parent.parent
EXE = Path("benchmarks") / "engine_benchmarks.exe"
KINDS = ("engine", "asio")
TLS_KINDS = ("engine-tls", "engine")  # the TLS rows: the server behind wire::tls, and the same one plain
TLS_PASSWORD = "wire-test"  # the password tests/tls/tls_peer.py gives the .pfx it writes
SEC_E_UNSUPPORTED_FUNCTION = 0x80090302  # Wine 8's answer to every SChannel server handshake

# The default run: 24 throughput-style benchmarks x repetitions x (warm-up + window + set-up) plus
# 4 idle-memory benchmarks x 3, about 5 minutes on a loaded 2-core machine. --long triples the
# window and adds repetitions (about 15 minutes).
DEFAULT = {"repetitions": 7, "warmup": 0.25, "measure": 1.0}
LONG = {"repetitions": 9, "warmup": 0.5, "measure": 3.0}


@dataclass(frozen=True)
class Metric:
    """What a family's table row shows: a field of the JSON entry, and which way is better."""
    key: str             # "real_time" or a counter name
    label: str
    scale: float = 1.0   # shown value = raw value / scale
    unit: str = ""
    higher_is_better: bool = True


FAMILIES: dict[str, list[Metric]] = {
    "round_trip": [Metric("real_time", "time per round trip", 1.0, "µs", higher_is_better=False),
                   Metric("p99_us", "99th percentile round trip", 1.0, "µs", higher_is_better=False)],
    "throughput": [Metric("msgs_per_s", "messages/s", 1e3, "k/s")],
    "large": [Metric("bytes_per_s", "echoed bytes/s", 1 << 20, "MiB/s")],
    "churn": [Metric("conns_per_s", "connections/s", 1.0, "/s")],
    # UDP: answered datagrams per second; datagrams lost (unanswered within the driver's timeout) are
    # replaced and reported in the raw JSON as loss_pct.
    "udp_echo": [Metric("msgs_per_s", "datagrams/s", 1e3, "k/s")],
    # In-process (no driver, no server process): engine timers vs Asio's steady_timer under posted load.
    "timer_lateness": [Metric("p50_us", "timer lateness, median", 1.0, "µs", higher_is_better=False),
                       Metric("p99_us", "timer lateness, 99th percentile", 1.0, "µs", higher_is_better=False)],
    "idle_memory": [
        Metric("ws_bytes_per_conn", "working set per idle connection", 1024, "KiB", higher_is_better=False),
        Metric("private_bytes_per_conn", "committed private memory per idle connection", 1024, "KiB",
               higher_is_better=False),
    ],
}


@dataclass
class Row:
    scenario: str
    metric: Metric
    values: dict[str, float] = field(default_factory=dict)   # medians
    best: dict[str, float] = field(default_factory=dict)     # best repetition
    calls: dict[str, float] = field(default_factory=dict)   # server calls per message / connection
    cpu: dict[str, float] = field(default_factory=dict)     # server CPU µs per message / connection
    loss: dict[str, float] = field(default_factory=dict)    # UDP: % of datagrams lost (median)
    cv: dict[str, float] = field(default_factory=dict)      # coefficient of variation, %
    repetitions: dict[str, int] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    wire_bytes: dict[str, float] = field(default_factory=dict)  # TLS rows: bytes the server received per message
    session: str = ""                                            # TLS rows: what the handshake settled
    kinds: tuple[str, str] = KINDS  # the ratio is kinds[0] relative to kinds[1]

    def noise(self) -> float | None:
        """Rough relative standard error of the ratio of two medians (1.25 sigma / sqrt(n) each)."""
        if not all(k in self.cv and self.repetitions.get(k) for k in self.kinds):
            return None
        return sum((1.25 * self.cv[k] / 100.0) ** 2 / self.repetitions[k] for k in self.kinds) ** 0.5

    def ratio(self, values: dict[str, float] | None = None) -> float | None:
        values = self.values if values is None else values
        first, second = values.get(self.kinds[0]), values.get(self.kinds[1])
        if not first or not second:
            return None
        return first / second if self.metric.higher_is_better else second / first


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", required=True, type=Path, help="build directory (build/mingw-release)")
    parser.add_argument("--out", required=True, type=Path, help="where latest.{json,md,png} go")
    parser.add_argument("--driver", type=Path, help="the Linux-native load driver (build/native-bench/bench_driver)")
    parser.add_argument("--wine-driver", action="store_true",
                        help="drive from engine_benchmarks.exe under Wine instead (rows go to OUT/wine-driver)")
    parser.add_argument("--filter", help="regular expression over benchmark names, e.g. round_trip")
    parser.add_argument("--long", action="store_true", help="longer windows and more repetitions")
    parser.add_argument("--repetitions", type=int, help="override the number of repetitions")
    parser.add_argument("--measure", type=float, help="override the measured window, seconds")
    parser.add_argument("--timeout", type=float, help="give up after this many seconds (default: generous)")
    parser.add_argument("--placement", choices=("one-cpu", "split", "none"), default="one-cpu",
                        help="one-cpu (default): servers, wineserver and driver on one CPU; split: servers and "
                             "wineserver on one CPU, the driver on another (rows go to OUT/split); none: the "
                             "scheduler's placement (see Placement)")
    parser.add_argument("--no-pin", dest="placement", action="store_const", const="none",
                        help="the same as --placement none")
    parser.add_argument("--tls-pfx", type=Path,
                        help="the TLS rows' server certificate (PKCS#12); default: made by tests/tls/tls_peer.py certs")
    parser.add_argument("--tls-password", default=TLS_PASSWORD, help="its password (default: %(default)s)")
    args = parser.parse_args()
    args.tls_ready = None  # the .pfx the TLS rows use, once the probe found the TLS server working
    args.tls_only = False  # the selection is TLS rows only
    return args


@dataclass
class Placement:
    """Which CPUs the servers, the wineserver and the load driver run on.

    Under Wine each Winsock call and each dequeue of a server is a round trip to the wineserver,
    another process, and each message a round trip to the driver. On a VM a wake-up across vCPUs
    can cost tens of times one on the same vCPU (this project's 2-vCPU VM: a pipe round trip
    between two processes takes ~2-3 µs on one vCPU and ~65-80 µs across two; the results header
    records the figures of each run). Left to the scheduler, how many of those round trips cross
    vCPUs changed from run to run, and so did the rows (the bimodal rows of PERF_NOTES).

    one-cpu (the default): all three on one CPU, the same for both servers. A row measures the CPU
    work per message of server, wineserver and driver; the driver answers before the server's next
    call, so a server's receives mostly find their data.
    split: servers and wineserver on one CPU (their calls never cross), the driver on another (each
    message does): a peer that answers later than the server asks, so receives wait. Under Wine a
    waiting receive is completed by the thread that issued it, woken by an APC: this placement
    prices that path (PERF_NOTES, "Placement")."""
    prefix: list[str] = field(default_factory=list)  # before the servers' launcher (wineserver: the same CPU)
    driver_prefix: list[str] = field(default_factory=list)
    text: str = "left to the scheduler"
    wineserver_started: bool = False  # we started it pinned: we stop it after the run
    wineserver_pid: int | None = None  # ... or we pinned a running one: we give back its CPUs after
    wineserver_cpus: set[int] = field(default_factory=set)

    def release(self, env: dict[str, str]) -> None:
        if self.wineserver_started:
            subprocess.run(["wineserver", "-k"], env=env, check=False)
        elif self.wineserver_pid is not None and running_wineserver(Path(env["WINEPREFIX"])) == self.wineserver_pid:
            subprocess.run(["taskset", "-a", "-p", "-c", cpu_list(sorted(self.wineserver_cpus)),
                            str(self.wineserver_pid)], stdout=subprocess.DEVNULL, check=False)


def cpu_list(cpus: list[int]) -> str:
    return ",".join(str(c) for c in cpus)


def pipe_round_trip_us(cpu_a: int, cpu_b: int, count: int = 2000) -> float:
    """Microseconds per one-byte round trip over two pipes between two processes on the given CPUs."""
    original = os.sched_getaffinity(0)
    to_child_r, to_child_w = os.pipe()
    to_parent_r, to_parent_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(to_child_w)
            os.close(to_parent_r)
            os.sched_setaffinity(0, {cpu_b})
            while byte := os.read(to_child_r, 1):  # until the parent closes its end
                os.write(to_parent_w, byte)
        finally:
            os._exit(0)
    os.close(to_child_r)
    os.close(to_parent_w)
    try:
        os.sched_setaffinity(0, {cpu_a})
        for _ in range(100):  # warm-up: both sides placed and running
            os.write(to_child_w, b"x")
            os.read(to_parent_r, 1)
        started = time.perf_counter()
        for _ in range(count):
            os.write(to_child_w, b"x")
            os.read(to_parent_r, 1)
        elapsed = time.perf_counter() - started
    finally:
        os.close(to_child_w)  # the child's read returns empty and it exits
        os.close(to_parent_r)
        os.waitpid(pid, 0)
        os.sched_setaffinity(0, original)
    return elapsed / count * 1e6


def running_wineserver(prefix: Path) -> int | None:
    """The wineserver serving `prefix`: its working directory is named after the prefix's device and
    inode (server-DEV-INODE)."""
    try:
        st = prefix.stat()
    except OSError:
        return None
    name = f"server-{st.st_dev:x}-{st.st_ino:x}"
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().startswith("wineserver") and os.readlink(entry / "cwd").endswith(name):
                return int(entry.name)
        except OSError:
            continue
    return None


def plan_placement(args: argparse.Namespace, env: dict[str, str]) -> Placement:
    """Pins the wineserver (starting a persistent one, or pinning the running one of the prefix) and
    says how to start the driver and the servers. The caller must release() it."""
    if args.placement == "none":
        return Placement(text="left to the scheduler (--placement none)")
    if args.wine_driver or os.name == "nt" or not hasattr(os, "sched_getaffinity"):
        return Placement()
    cpus = sorted(os.sched_getaffinity(0))
    taskset, wineserver = shutil.which("taskset"), shutil.which("wineserver")
    if taskset is None or wineserver is None or (args.placement == "split" and len(cpus) < 2):
        return Placement(text="left to the scheduler (needs taskset, wineserver and, to split, 2 CPUs)")
    server_cpu = cpus[-1]
    driver_cpu = cpus[0] if args.placement == "split" else server_cpu
    prefix = [taskset, "-c", str(server_cpu)]
    if args.placement == "split":
        text = (f"servers and wineserver on CPU {server_cpu}, load driver on CPU {driver_cpu} "
                "(taskset, `--placement split`)")
    else:
        text = f"servers, wineserver and load driver all on CPU {server_cpu} (taskset; `--placement split|none`)"
    if len(cpus) > 1:
        same, across = pipe_round_trip_us(server_cpu, server_cpu), pipe_round_trip_us(cpus[0], cpus[-1])
        text += (f"; a pipe round trip between two processes took {same:.1f} µs on one CPU and {across:.1f} µs "
                 f"across CPUs {cpus[0]} and {cpus[-1]} on this machine")
    placement = Placement(prefix=prefix, driver_prefix=[taskset, "-c", str(driver_cpu)], text=text)
    # Persistent until we stop it: a wineserver that exited between two servers would come back unpinned.
    started = subprocess.run(prefix + [wineserver, "-p"], env=env, check=False, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if started.returncode == 0:
        placement.wineserver_started = True
    elif (pid := running_wineserver(Path(env["WINEPREFIX"]))) is not None:
        placement.wineserver_cpus = os.sched_getaffinity(pid)
        subprocess.run([taskset, "-a", "-p", "-c", str(server_cpu), str(pid)], stdout=subprocess.DEVNULL, check=False)
        placement.wineserver_pid = pid
    else:
        placement.text += "; the running wineserver could not be pinned"
    return placement


def wine_command() -> list[str]:
    if os.name == "nt":
        return []
    wine = shutil.which("wine")
    if wine is None:
        sys.exit("bench.py: wine is not installed (./run.sh bench installs it)")
    return [wine]


def driver_command(args: argparse.Namespace, placement: Placement) -> list[str]:
    """The load driver and the flags that tell it how to start the servers."""
    exe = args.bin / EXE
    if not exe.is_file():
        sys.exit(f"bench.py: {exe} does not exist; build first (./run.sh bench builds it)")
    if args.wine_driver or os.name == "nt":
        return wine_command() + [str(exe)]
    if args.driver is None or not args.driver.is_file():
        sys.exit(f"bench.py: the native driver {args.driver} does not exist (./run.sh bench builds it)")
    launcher = placement.prefix + wine_command()
    # One server thread per logical CPU of the machine, whatever CPUs the processes are placed on.
    command = placement.driver_prefix + [str(args.driver), f"--wire_server={exe}", f"--wire_workers={os.cpu_count()}"] + [
        f"--wire_launcher={w}" for w in launcher]
    if args.tls_ready is not None:  # the driver registers the TLS rows only with a certificate
        command += [f"--wire_tls_pfx={args.tls_ready}", f"--wire_tls_password={args.tls_password}"]
    return command


def driver_label(args: argparse.Namespace) -> str:
    if args.wine_driver:
        return ("engine_benchmarks.exe under Wine (Wine-hosted driver: it shares the one wineserver with the "
                "server under test, so its own calls slow both servers down and pull every ratio towards 1)")
    return ("bench_driver, built natively on Linux (POSIX sockets, epoll): its calls never reach the "
            "wineserver, which serves only the server under test")


def bench_environment() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("WINEPREFIX", str(ROOT / "build" / "wineprefix"))
    env.setdefault("WINEDEBUG", "-all")
    return env


def run_benchmarks(args: argparse.Namespace, settings: dict[str, float], raw_json: Path) -> int:
    env = bench_environment()
    listing = driver_command(args, Placement())  # exits on a missing program before anything is pinned
    if args.filter and not args.wine_driver and not subprocess.run(
            listing + ["--benchmark_list_tests=true", f"--benchmark_filter={args.filter}"], env=env,
            capture_output=True, text=True, check=False).stdout.strip():
        raw_json.write_text('{"benchmarks": []}', encoding="utf-8")  # the filter leaves only timer rows, or none
        return 0
    placement = plan_placement(args, env)
    args.placement_text = placement.text
    try:
        return run_driver(args, settings, raw_json, env, placement)
    finally:
        placement.release(env)


def run_driver(args: argparse.Namespace, settings: dict[str, float], raw_json: Path, env: dict[str, str],
               placement: Placement) -> int:
    command = driver_command(args, placement) + [
        f"--benchmark_repetitions={settings['repetitions']}",
        "--benchmark_report_aggregates_only=true",
        # Repetitions of all benchmarks in random order: a slow spell on a shared machine then
        # spreads over engine and Asio rows instead of landing on one of them.
        "--benchmark_enable_random_interleaving=true",
        f"--benchmark_out={raw_json}",
        "--benchmark_out_format=json",
        "--benchmark_color=false",
        f"--wire_warmup={settings['warmup']}",
        f"--wire_measure={settings['measure']}",
    ]
    if args.filter:
        command.append(f"--benchmark_filter={args.filter}")
    # A bound for the whole run; each benchmark bounds its own waits far below this.
    timeout = args.timeout or 60 + 40 * settings["repetitions"] * (settings["warmup"] + settings["measure"] + 2.5)
    print("+ " + " ".join(command), file=sys.stderr, flush=True)
    # Google Benchmark's console table goes to our stderr as it runs: progress for the user, while
    # stdout keeps only the final table.
    return run_bounded(command, env, timeout)


def run_bounded(command: list[str], env: dict[str, str], timeout: float) -> int:
    """Runs `command` and waits for it without polling: subprocess.run's timeout wakes this process
    every few tens of milliseconds, activity on an idle CPU that measurably changed some rows (one of
    Asio's churn rows by ~30 %: PERF_NOTES). A timer thread stops the run at the bound instead."""
    process = subprocess.Popen(command, env=env, stdout=sys.stderr)
    expired = threading.Event()

    def stop() -> None:
        expired.set()
        process.kill()

    watchdog = threading.Timer(timeout, stop)
    watchdog.start()
    try:
        code = process.wait()
    finally:
        watchdog.cancel()
    if expired.is_set():
        print(f"bench.py: the run took longer than {timeout:.0f} s and was stopped", file=sys.stderr)
        return 1
    return code


def run_timer_rows(args: argparse.Namespace, settings: dict[str, float], raw_json: Path) -> int:
    """The timer_lateness family runs inside engine_benchmarks.exe under Wine (the engine is Windows
    code; no load driver is involved), so the native driver's run does not include it."""
    timer_rows = [f"timer_lateness/delay_ms:{ms}/{kind}" for ms in (1, 10) for kind in KINDS]
    if args.wine_driver or (args.filter and not any(re.search(args.filter, name) for name in timer_rows)):
        return 0  # the Wine-hosted run has it already, or the filter leaves it out
    command = wine_command() + [str(args.bin / EXE), "--benchmark_filter=timer_lateness",
                                f"--benchmark_repetitions={min(5, int(settings['repetitions']))}",
                                "--benchmark_report_aggregates_only=true", f"--benchmark_out={raw_json}",
                                "--benchmark_out_format=json", "--benchmark_color=false"]
    env = bench_environment()
    print("+ " + " ".join(command), file=sys.stderr, flush=True)
    try:
        return subprocess.run(command, env=env, stdout=sys.stderr, timeout=300, check=False).returncode
    except subprocess.TimeoutExpired:
        print("bench.py: the timer rows took longer than 300 s and were stopped", file=sys.stderr)
        return 1


def list_benchmarks(args: argparse.Namespace, env: dict[str, str], tls_pfx: str | None = None) -> list[str]:
    """The names the native driver would run with args.filter (and with a certificate, its TLS rows)."""
    command = driver_command(args, Placement()) + ["--benchmark_list_tests=true"]
    if tls_pfx is not None and args.tls_ready is None:
        command.append(f"--wire_tls_pfx={tls_pfx}")
    if args.filter:
        command.append(f"--benchmark_filter={args.filter}")
    try:
        listed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
    except subprocess.TimeoutExpired:
        return []
    return listed.stdout.split()


def prepare_tls(args: argparse.Namespace, cert_dir: Path) -> None:
    """Sets args.tls_ready when the run includes the TLS rows: they are selected (native driver; no
    filter, or one that matches them) and the probe found the TLS server working, or failing for
    another reason than Wine 8's missing SChannel server (then the rows run and show the error)."""
    if args.wine_driver or os.name == "nt":
        return  # the TLS client is the native driver's
    env = bench_environment()
    selected = list_benchmarks(args, env, tls_pfx="probe.pfx")
    if not any(name.startswith("tls/") for name in selected):
        return
    args.tls_only = all(name.startswith("tls/") for name in selected)
    pfx = args.tls_pfx
    if pfx is None:
        peer = ROOT / "tests" / "tls" / "tls_peer.py"
        if not peer.is_file():
            print(f"bench.py: TLS rows skipped: no {peer.relative_to(ROOT)} to make their certificate",
                  file=sys.stderr)
            return
        try:
            made = subprocess.run([sys.executable, "-B", str(peer), "certs", str(cert_dir)], capture_output=True,
                                  text=True, timeout=120, check=False)
        except subprocess.TimeoutExpired:
            made = None
        pfx = cert_dir / "server.pfx"
        if made is None or made.returncode != 0 or not pfx.is_file():
            detail = "timed out" if made is None else (made.stderr.strip().splitlines() or ["no server.pfx"])[-1]
            print(f"bench.py: TLS rows skipped: tls_peer.py certs failed ({detail})", file=sys.stderr)
            return
    working, detail, code = probe_tls_server(args, env, pfx.resolve())
    if working:
        print(f"bench.py: TLS probe: one handshake with --serve engine-tls worked ({detail})", file=sys.stderr)
        args.tls_ready = pfx.resolve()
    elif code == SEC_E_UNSUPPORTED_FUNCTION:
        print("bench.py: TLS rows skipped: this Wine's SChannel has no TLS server (the probe's handshake failed "
              "with SEC_E_UNSUPPORTED_FUNCTION 0x80090302, as under Wine 8); Wine 10 has one: "
              "tools/debian-root.sh 13 ./run.sh bench --filter tls", file=sys.stderr)
    else:
        print(f"bench.py: the TLS probe failed ({detail}); the TLS rows run anyway, to show it", file=sys.stderr)
        args.tls_ready = pfx.resolve()


def probe_tls_server(args: argparse.Namespace, env: dict[str, str], pfx: Path) -> tuple[bool, str, int | None]:
    """Starts `--serve engine-tls` and makes one TLS handshake and echo with Python's ssl module.
    Returns (worked, what happened, the server's last handshake failure code or None)."""
    import queue
    import socket
    import ssl

    command = wine_command() + [str(args.bin / EXE), "--serve", "engine-tls", "--port", "0", "--workers", "1",
                                "--pfx", str(pfx), "--password", args.tls_password]
    server = subprocess.Popen(command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, errors="replace")
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in server.stdout:
            lines.put(line.rstrip("\r\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()

    def reply(prefix: str, limit: float) -> str:
        """The next line starting with `prefix` or "error " (Wine's own lines skipped), or why none came."""
        deadline = time.monotonic() + limit
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                return "error the server exited"
            if line.startswith((prefix, "error ")):
                return line
        return "error no answer in time"

    def counters() -> dict[str, int]:
        server.stdin.write("stats\n")
        server.stdin.flush()
        line = reply("stats ", 30)
        pairs = (p.partition("=") for p in line.split()[1:]) if line.startswith("stats ") else ()
        return {k: int(v) for k, _, v in pairs if v.isdigit()}

    try:
        ready = reply("listening on 127.0.0.1:", 60)
        if not ready.startswith("listening on"):
            return False, f"the server did not start: {ready}", None
        port = int(ready.rsplit(":", 1)[1])
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # a test certificate; the probe asks whether a server runs at all
        message = bytes(range(64))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=15) as raw, \
                    context.wrap_socket(raw, server_hostname="localhost") as tls:
                tls.sendall(message)
                echoed = b""
                while len(echoed) < len(message) and (chunk := tls.recv(len(message) - len(echoed))):
                    echoed += chunk
                if echoed != message:
                    return False, f"the echo differs ({len(echoed)} of {len(message)} bytes back)", None
                return True, f"{tls.version()} {tls.cipher()[0]}", None
        except (OSError, ssl.SSLError) as e:
            failure = str(e) or type(e).__name__
        # The server's reason, once its side of the failed handshake has closed (bounded).
        code = None
        for _ in range(20):
            stats = counters()
            if stats.get("connections_never_opened"):
                code = stats.get("last_open_failure")
                break
            time.sleep(0.25)
        return False, failure + ("" if code is None else f"; the server: 0x{code:08X}"), code
    except (OSError, ValueError) as e:
        return False, f"the probe failed: {e}", None
    finally:
        try:
            server.stdin.write("quit\n")
            server.stdin.close()
        except OSError:
            pass
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def split_name(run_name: str) -> tuple[str, str] | None:
    """'round_trip/size:64/engine/iterations:1/manual_time' -> ('round_trip/size:64', 'engine')."""
    parts = [p for p in run_name.split("/")
             if not p.startswith(("iterations:", "repeats:")) and p != "manual_time"]
    if len(parts) < 2 or parts[-1] not in KINDS + TLS_KINDS:
        return None
    return "/".join(parts[:-1]), parts[-1]


def family_of(scenario: str) -> str:
    """'throughput/size:64/...' -> 'throughput'; a TLS row's family is the one after 'tls/'."""
    return scenario.removeprefix("tls/").split("/")[0]


def collect(report: dict, tls: bool = False) -> list[Row]:
    """The engine-vs-Asio rows, or with `tls` the TLS rows (tls/...: engine-tls vs engine)."""
    rows: dict[tuple[str, str], Row] = {}

    def rows_for(scenario: str) -> list[Row]:
        if scenario.startswith("tls/") != tls:
            return []
        out = []
        for metric in FAMILIES.get(family_of(scenario), []):
            out.append(rows.setdefault((scenario, metric.key),
                                       Row(scenario, metric, kinds=TLS_KINDS if tls else KINDS)))
        return out

    medians: dict[tuple[str, str], dict] = {}
    cvs: dict[tuple[str, str], dict] = {}
    extremes: dict[tuple[str, str, str], dict] = {}  # (scenario, kind, "min"|"max")
    for entry in report.get("benchmarks", []):
        named = split_name(entry.get("run_name", entry.get("name", "")))
        if named is None:
            continue
        scenario, kind = named
        if entry.get("error_occurred"):
            for row in rows_for(scenario):
                row.errors[kind] = entry.get("error_message", "failed")
        elif entry.get("aggregate_name") == "median" or entry.get("run_type") == "iteration":
            medians[(scenario, kind)] = entry
        elif entry.get("aggregate_name") == "cv":
            cvs[(scenario, kind)] = entry
        elif entry.get("aggregate_name") in ("min", "max"):
            extremes[(scenario, kind, entry["aggregate_name"])] = entry

    for (scenario, kind), entry in medians.items():
        for row in rows_for(scenario):
            value = entry.get(row.metric.key)
            if value is None:
                continue
            if row.metric.key == "real_time" and entry.get("time_unit") == "ms":
                value *= 1000.0
            row.values[kind] = float(value)
            # Times and memory: lower is better, so the best run is the minimum; rates: the maximum.
            best = extremes.get((scenario, kind, "max" if row.metric.higher_is_better else "min"), {})
            if (best_value := best.get(row.metric.key)) is not None:
                row.best[kind] = float(best_value) * (1000.0 if row.metric.key == "real_time"
                                                      and best.get("time_unit") == "ms" else 1.0)
            if (cv := cvs.get((scenario, kind), {}).get(row.metric.key)) is not None:
                row.cv[kind] = 100.0 * float(cv)
            row.repetitions[kind] = int(entry.get("repetitions", 1))
            for name in ("syscalls_per_msg", "est_syscalls_per_msg", "syscalls_per_conn", "est_syscalls_per_conn"):
                if name in entry:
                    row.calls[kind] = float(entry[name])
            for name in ("server_cpu_us_per_msg", "server_cpu_us_per_conn"):
                if name in entry:
                    row.cpu[kind] = float(entry[name])
            if "loss_pct" in entry:
                row.loss[kind] = float(entry["loss_pct"])
            if "wire_bytes_per_msg" in entry:
                row.wire_bytes[kind] = float(entry["wire_bytes_per_msg"])
            if entry.get("label") and kind == "engine-tls":
                row.session = entry["label"]
    return sorted(rows.values(), key=sort_key)


def parameters(scenario: str) -> dict[str, int]:
    """'throughput/size:64/conns:16/pipeline:8' -> {'size': 64, 'conns': 16, 'pipeline': 8}."""
    out = {}
    for part in scenario.split("/")[1:]:
        name, _, value = part.partition(":")
        if value.isdigit():
            out[name] = int(value)
    return out


def sort_key(row: Row) -> tuple:
    """Registration order: family, then its parameters numerically, then the metric."""
    family = family_of(row.scenario)
    metrics = FAMILIES[family]
    return (list(FAMILIES).index(family), tuple(parameters(row.scenario).values()), metrics.index(row.metric))


def fmt(value: float | None, metric: Metric | None = None) -> str:
    if value is None:
        return "–"
    shown = value / metric.scale if metric else value
    text = f"{shown:,.1f}" if abs(shown) < 1000 else f"{shown:,.0f}"
    return f"{text} {metric.unit}".strip() if metric else text


def size_text(size: int) -> str:
    for unit, shift in (("MiB", 20), ("KiB", 10)):
        if size >= 1 << shift and size % (1 << shift) == 0:
            return f"{size >> shift} {unit}"
    return f"{size} B"


def label(row: Row) -> str:
    if row.scenario.startswith("tls/"):  # the same words as the plain family's
        return label(Row(row.scenario.removeprefix("tls/"), row.metric))
    family = row.scenario.split("/")[0]
    p = parameters(row.scenario)
    size = size_text(p.get("size", 0))
    if family == "round_trip":
        text = f"round trip, {size}"
    elif family == "throughput":
        text = f"small messages, {size}, {p.get('conns')} conns, {p.get('pipeline')} in flight"
    elif family == "large":
        text = f"large messages, {size}, {p.get('conns')} conns"
        if p.get("pipeline", 1) > 1:
            text += f", {p['pipeline']} in flight"
    elif family == "udp_echo":
        sockets = p.get("sockets")
        text = f"UDP echo, {size}, {sockets} socket{'s' if sockets != 1 else ''}, {p.get('pipeline')} in flight"
        if any(row.loss.values()):
            text += " (loss: " + ", ".join(f"{kind} {row.loss[kind]:.1f} %" for kind in KINDS if kind in row.loss) + ")"
    elif family == "churn":
        text = f"churn, {p.get('loops')} loops, {size}"
    elif family == "idle_memory":
        exchanges = p.get("exchanges")
        text = f"idle, {p.get('conns')} conns, " + ("silent" if exchanges == 0 else
                                                   f"after {exchanges} exchange" + ("s" if exchanges != 1 else ""))
        if p.get("quiet_ms"):
            text += f", then {p['quiet_ms'] / 1000:g} s quiet"
    else:
        text = row.scenario
    if len(FAMILIES[family]) > 1:
        suffix = {"real_time": "mean", "p99_us": "p99"}.get(row.metric.key)
        text += f" ({suffix or row.metric.key.split('_bytes')[0].replace('ws', 'working set')})"
    return text


def machine_description() -> list[str]:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ""
    if hasattr(os, "getloadavg"):
        load = "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    return [f"{platform.node()}: {cpu}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}", load]


def write_markdown(path: Path, rows: list[Row], report: dict, settings: dict[str, float], args: argparse.Namespace,
                   started: datetime.datetime, load_before: str, load_after: str, tls_rows: list[Row] | None = None) -> str:
    context = report.get("context", {})
    tls_rows = tls_rows or []
    lines = [
        "# Engine vs Asio echo server" if rows or not tls_rows else "# What TLS costs the engine's echo server",
        "",
        f"- Date: {started:%Y-%m-%d %H:%M} UTC",
        f"- Machine: {machine_description()[0]}; {load_before} before, {load_after} after the run",
        f"- Load driver: {driver_label(args)}; driver platform {context.get('platform', '?')}",
        f"- Servers: `{context.get('server_command', '?')} --serve engine|asio` (UDP rows: `engine_udp|asio_udp`; "
        "TLS rows: `engine-tls|engine`) (under Wine), server threads: "
        f"{context.get('server_workers', '?')} (engine workers = Asio io_context threads)",
        f"- CPU placement: {getattr(args, 'placement_text', 'left to the scheduler')}",
        f"- Settings: {settings['repetitions']} repetitions (median shown, random interleaving), "
        f"{settings['warmup']} s warm-up + {settings['measure']} s measured window per run"
        + (f", filter `{args.filter}`" if args.filter else ""),
    ]
    if rows or not tls_rows:
        lines += main_table(rows)
    if tls_rows:
        lines += tls_table(tls_rows, args)
    lines += [
        "",
        "Under Wine every Winsock call and every dequeue of the server is a round trip to the single "
        "wineserver: ratios and calls per message carry over to Windows, absolute numbers do not. "
        "See benchmarks/README.md.",
        "",
    ]
    text = "\n".join(lines)
    path.write_text(text, encoding="utf-8")
    return text


def main_table(rows: list[Row]) -> list[str]:
    lines = [
        "",
        "Ratio: engine relative to Asio, oriented so that **> 1 means the engine is better** (faster, more "
        "per second, or less memory). Calls: the server's Winsock calls plus completion-port dequeues per "
        "message (per connection for churn): counted by the engine; for Asio derived from its handler "
        "counts (one WSARecv/WSASend per operation, one GetQueuedCompletionStatus per handler). "
        "cv: coefficient of variation over the repetitions; noise: the rough standard error of the ratio "
        "that follows from them. A ratio marked ≈ is closer to 1 than twice its noise: this run could not "
        "tell the two servers apart there. best: the ratio of the best repetitions (other load only ever "
        "slows a run down, so the best run is the least disturbed one). Server CPU: CPU time the server "
        "process used per message (per connection for churn), from GetProcessTimes, median; it moves less "
        "than wall time when other programs take the CPU, but under Wine it is mostly the cost of the "
        "wineserver round trips themselves.",
        "",
        "| scenario | metric | engine | Asio | ratio | noise | best | engine calls | Asio calls (est.) "
        "| server CPU µs engine / Asio | cv engine / Asio |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        ratio = row.ratio()
        engine = row.errors.get("engine") and f"error: {row.errors['engine']}" or fmt(row.values.get("engine"), row.metric)
        asio = row.errors.get("asio") and f"error: {row.errors['asio']}" or fmt(row.values.get("asio"), row.metric)
        cv = " / ".join(f"{row.cv[k]:.0f}%" if k in row.cv else "–" for k in KINDS)
        calls = [f"{row.calls[k]:.2f}" if k in row.calls else "–" for k in KINDS]
        noise = row.noise()
        ratio_text = "–" if ratio is None else f"{ratio:.2f}"
        if ratio is not None and noise is not None and abs(ratio - 1.0) < 2 * noise:
            ratio_text += " ≈"
        noise_text = "–" if noise is None else f"±{100 * noise:.0f}%"
        best = row.ratio(row.best)
        cpu = " / ".join(f"{row.cpu[k]:.0f}" if k in row.cpu else "–" for k in KINDS)
        lines.append(f"| {label(row)} | {row.metric.label} | {engine} | {asio} | {ratio_text} | {noise_text} | "
                     f"{'–' if best is None else f'{best:.2f}'} | {calls[0]} | {calls[1]} | {cpu} | {cv} |")
    return lines


def reproduce_command(args: argparse.Namespace) -> str:
    """The run.sh command that selects the same rows (bench.py's own options after `bench`)."""
    words = ["./run.sh", "bench"]
    if args.filter:
        words += ["--filter", f"'{args.filter}'"]
    if args.long:
        words.append("--long")
    if args.placement != "one-cpu":
        words += ["--placement", args.placement]
    if args.tls_pfx:
        words += ["--tls-pfx", str(args.tls_pfx)]
        if args.tls_password != TLS_PASSWORD:
            words += ["--tls-password", "PASSWORD"]
    return " ".join(words)


def tls_table(rows: list[Row], args: argparse.Namespace) -> list[str]:
    """The TLS rows: the engine's echo server behind wire::tls against the same server plain."""
    sessions = sorted({r.session for r in rows if r.session})
    command = reproduce_command(args)
    lines = [
        "",
        "## TLS: the engine's echo server behind wire::tls (SChannel) vs the same server plain",
        "",
        "Both rows of a scenario in the same run, same load driver: plain TCP against `--serve engine`, and "
        "TLS from the driver's OpenSSL client against `--serve engine-tls` (`tls::listen` with "
        + ("the certificate given with --tls-pfx" if args.tls_pfx else "a test certificate from tests/tls/tls_peer.py")
        + "). The handshake happens while connecting, before the "
        "window: these rows price the records. **TLS / plain** is TLS's speed relative to plain (rates: "
        "TLS / plain; times: plain / TLS), so 0.5 means TLS does half as much per second. Server CPU and "
        "calls are per message as the driver counts them; wire bytes: what the server received per message "
        "(the record's header, nonce and tag on top of the payload)."
        + (f" Negotiated: {', '.join(sessions)}." if sessions else ""),
        "",
        f"Reproduce: `{command}` (under Wine 10: `tools/debian-root.sh 13 {command}`).",
        "",
        "| scenario | metric | TLS | plain | TLS / plain | noise | best | server CPU µs TLS / plain "
        "| calls TLS / plain | wire bytes/msg TLS / plain | cv TLS / plain |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        tls_kind, plain_kind = row.kinds
        shown = {k: (row.errors.get(k) and f"error: {row.errors[k]}") or fmt(row.values.get(k), row.metric)
                 for k in row.kinds}
        ratio, noise, best = row.ratio(), row.noise(), row.ratio(row.best)
        ratio_text = "–" if ratio is None else f"{ratio:.2f}"
        if ratio is not None and noise is not None and abs(ratio - 1.0) < 2 * noise:
            ratio_text += " ≈"

        def pair(values: dict[str, float], digits: int) -> str:
            return " / ".join(f"{values[k]:.{digits}f}" if k in values else "–" for k in row.kinds)

        cv = " / ".join(f"{row.cv[k]:.0f}%" if k in row.cv else "–" for k in row.kinds)
        lines.append(f"| {label(row)} | {row.metric.label} | {shown[tls_kind]} | {shown[plain_kind]} | {ratio_text} | "
                     f"{'–' if noise is None else f'±{100 * noise:.0f}%'} | {'–' if best is None else f'{best:.2f}'} | "
                     f"{pair(row.cpu, 0)} | {pair(row.calls, 2)} | {pair(row.wire_bytes, 0)} | {cv} |")
    return lines


def write_chart(path: Path, rows: list[Row],
                title: str = "Engine vs Asio echo server (ratio > 1: the engine is better; whiskers: ±noise of the ratio)") -> bool:
    gnuplot = shutil.which("gnuplot")
    plotted = [(label(r), r.ratio(), r.noise() or 0.0) for r in rows if r.ratio() is not None]
    if gnuplot is None or not plotted:
        print("bench.py: no chart (gnuplot missing or nothing to plot)", file=sys.stderr)
        return False
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "ratios.dat"
        # Top to bottom in table order: the first row gets the highest y.
        with data.open("w", encoding="utf-8") as f:
            for i, (name, ratio, noise) in enumerate(plotted):
                f.write(f'{len(plotted) - i} "{name}" {ratio:.4f} {ratio * noise:.4f}\n')
        top = max(2.0, max(r * (1 + n) for _, r, n in plotted) * 1.15)
        script = f"""
set terminal pngcairo size 1100,{160 + 28 * len(plotted)} font "sans,10"
set output "{path}"
set title "{title}"
set xlabel "ratio"
set xrange [0:{top:.2f}]
set yrange [0.4:{len(plotted) + 0.6}]
set ytics scale 0
set grid xtics
set style fill solid 0.8 noborder
set key off
set arrow from 1, graph 0 to 1, graph 1 nohead front dt 2 lw 2 lc rgb "#444444"
plot "{data}" using ($3/2):1:($3/2):(0.35):($3 >= 1 ? 0x2e8b57 : 0xcd5c5c):ytic(2) with boxxyerror lc rgb variable, \\
     "{data}" using 3:1:4 with xerrorbars pt -1 lw 1.5 lc rgb "#333333", \\
     "{data}" using ($3 + $4):1:(sprintf(" %.2f", $3)) with labels left offset 0.3,0
"""
        result = subprocess.run([gnuplot], input=script, text=True, capture_output=True, check=False)
        if result.returncode != 0:
            print(f"bench.py: gnuplot failed: {result.stderr.strip()}", file=sys.stderr)
            return False
    return True


def main() -> int:
    args = parse_args()
    settings = dict(LONG if args.long else DEFAULT)
    if args.repetitions:
        settings["repetitions"] = args.repetitions
    if args.measure:
        settings["measure"] = args.measure
    cert_dir = Path(tempfile.mkdtemp(prefix="wire-bench-tls-"))  # the test certificate's keys: never kept
    try:
        return run(args, settings, cert_dir)
    finally:
        shutil.rmtree(cert_dir, ignore_errors=True)


def run(args: argparse.Namespace, settings: dict[str, float], cert_dir: Path) -> int:
    prepare_tls(args, cert_dir)
    if args.tls_only and args.tls_ready is None:
        return 0  # nothing else was asked for: the results of earlier runs stay as they are
    tls_only = args.tls_only
    if args.wine_driver:
        args.out = args.out / "wine-driver"
    elif args.placement == "split":
        args.out = args.out / "split"
    if tls_only:  # a filtered run replaces latest.*: the TLS rows keep a folder of their own
        args.out = args.out / "tls"
    args.out.mkdir(parents=True, exist_ok=True)
    raw_json = args.out / "latest.json"

    started = datetime.datetime.now(datetime.timezone.utc)
    load_before = machine_description()[1]
    status = run_benchmarks(args, settings, raw_json)
    timer_json = args.out / "timer_lateness.json"
    timer_status = run_timer_rows(args, settings, timer_json)
    load_after = machine_description()[1]
    try:
        report = json.loads(raw_json.read_text(encoding="utf-8"))
        if timer_json.is_file():
            report.setdefault("benchmarks", []).extend(
                json.loads(timer_json.read_text(encoding="utf-8")).get("benchmarks", []))
            raw_json.write_text(json.dumps(report, indent=1), encoding="utf-8")
            timer_json.unlink()
    except (OSError, json.JSONDecodeError) as e:
        print(f"bench.py: no results to read ({e})", file=sys.stderr)
        return 1
    status = status or timer_status
    rows = collect(report)
    tls_rows = collect(report, tls=True)
    table = write_markdown(args.out / "latest.md", rows, report, settings, args, started, load_before, load_after,
                           tls_rows)
    if rows or not tls_rows:
        write_chart(args.out / "latest.png", rows)
    else:
        write_chart(args.out / "latest.png", tls_rows,
                    "TLS vs plain, the engine's echo server (ratio: TLS's speed relative to plain; whiskers: ±noise)")
    print(table)
    failed = any(row.errors for row in rows + tls_rows)
    return 1 if status != 0 or failed else 0


if __name__ == "__main__":
    sys.exit(main())
