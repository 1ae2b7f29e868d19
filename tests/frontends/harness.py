"""What the end-to-end tests of server.exe and client.exe share: starting the programs (under a
runner such as Wine), reading their output without blocking, and the raw-socket peers' helpers.

Every wait is bounded, and a program is stopped by its own process id only.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import unittest
from types import SimpleNamespace

# Set by main() from the command line.
paths = SimpleNamespace(server="", client="", runner=[])

READY = re.compile(r"^listening on (\S+):(\d+)$")
JSON_KEYS = {"connections", "size", "pipeline", "seconds", "messages", "msgs_per_s", "mb_per_s",
             "p50_us", "p99_us", "p999_us", "errors", "mismatches"}
START_LIMIT = 60      # seconds for a program to get ready (a cold Wine takes a few)
RUN_LIMIT = 90        # seconds for a client run of a few seconds, drain included
STOP_LIMIT = 30       # seconds for a graceful stop


class Output:
    """Collects a pipe's lines on a thread, so a chatty program never blocks on a full pipe."""

    def __init__(self, pipe) -> None:
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._thread = threading.Thread(target=self._pump, args=(pipe,), daemon=True)
        self._thread.start()

    def _pump(self, pipe) -> None:
        for raw in iter(pipe.readline, b""):
            with self._changed:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\r\n"))
                self._changed.notify_all()
        pipe.close()
        with self._changed:
            self.lines.append(None)  # end of stream
            self._changed.notify_all()

    def line_count(self) -> int:
        with self._lock:
            return len(self.lines)

    def wait_for(self, predicate, timeout: float, start: int = 0):
        """The first line from index start on satisfying predicate, or None at end of stream or timeout."""
        deadline = time.monotonic() + timeout
        seen = start
        with self._changed:
            while True:
                while seen < len(self.lines):
                    line = self.lines[seen]
                    seen += 1
                    if line is None:
                        return None
                    if predicate(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._changed.wait(left)

    def text(self, settle: float = 2.0) -> str:
        # Bounded: under Wine a helper process may hold a pipe open after the program has exited.
        self._thread.join(settle)
        with self._lock:
            return "\n".join(line for line in self.lines if line is not None)


class Program:
    """One server.exe or client.exe process under the runner; stopped by its own pid only."""

    def __init__(self, exe: str, *args: str) -> None:
        # On Windows, Ctrl+Break can only be sent to a process group of its own.
        flags = subprocess.CREATE_NEW_PROCESS_GROUP if os.name == "nt" else 0
        self.process = subprocess.Popen([*paths.runner, exe, *args], stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, creationflags=flags)
        self.stdout = Output(self.process.stdout)
        self.stderr = Output(self.process.stderr)

    def interrupt(self) -> None:
        """Ctrl+C: under Wine, SIGINT to the wine process becomes CTRL_C_EVENT in the program; on
        Windows, Ctrl+Break (which the programs treat alike) is what can be sent to a process."""
        if self.process.poll() is None:
            self.process.send_signal(signal.CTRL_BREAK_EVENT if os.name == "nt" else signal.SIGINT)

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=STOP_LIMIT)


class Server(Program):
    """server.exe on port 0 of 127.0.0.1 (unless told otherwise), ready when constructed."""

    def __init__(self, *args: str) -> None:
        super().__init__(paths.server, "--port", "0", *args)
        line = self.stdout.wait_for(lambda l: True, START_LIMIT)
        if line is None or not READY.match(line):
            self.kill()
            raise AssertionError(f"no readiness line, got {line!r}; stderr: {self.stderr.text()}")
        self.ready_line = line
        match = READY.match(line)
        self.host = match.group(1).strip("[]")
        self.port = int(match.group(2))

    def stop(self) -> tuple[int, str]:
        """Ctrl+C, then the exit code and everything it wrote on stderr."""
        self.interrupt()
        code = self.wait(STOP_LIMIT)
        return code, self.stderr.text()

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc) -> None:
        if self.process.poll() is None:
            self.interrupt()
            try:
                self.wait(STOP_LIMIT)
            except subprocess.TimeoutExpired:
                self.kill()


def run(exe: str, *args: str, timeout: float = RUN_LIMIT) -> subprocess.CompletedProcess:
    return subprocess.run([*paths.runner, exe, *args], stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=timeout, text=True)


def run_client_json(test: unittest.TestCase, port: int, *args: str, host: str = "127.0.0.1") -> dict:
    result = run(paths.client, "--host", host, "--port", str(port), "--json", *args)
    lines = [l for l in result.stdout.splitlines() if l.strip()]
    test.assertEqual(len(lines), 1, f"one JSON line expected on stdout, got {result.stdout!r}; stderr: {result.stderr}")
    report = json.loads(lines[0])
    test.assertEqual(result.returncode, 0, f"client failed: {lines[0]}\n{result.stderr}")
    return report


def connect(port: int, host: str = "127.0.0.1") -> socket.socket:
    s = socket.create_connection((host, port), timeout=10)
    s.settimeout(10)
    return s


def receive_exactly(s: socket.socket, size: int) -> bytes:
    out = bytearray()
    while len(out) < size:
        chunk = s.recv(size - len(out))
        if not chunk:
            break
        out.extend(chunk)
    return bytes(out)


def closed_by_peer(s: socket.socket, timeout: float = 10) -> bool:
    """True when the peer closes (FIN or reset) within timeout; data that still arrives is skipped."""
    s.settimeout(timeout)
    try:
        while s.recv(65536):
            pass
        return True
    except (ConnectionResetError, ConnectionAbortedError):
        return True
    except socket.timeout:
        return False


def frame(payload: bytes) -> bytes:
    return struct.pack("<I", len(payload)) + payload


def final_line(stderr: str) -> str | None:
    return next((l for l in stderr.splitlines() if l.startswith("[server] final:")), None)


def main(doc: str) -> int:
    """Parses --server, --client and --runner, then runs the unittest arguments that remain."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--server", required=True)
    parser.add_argument("--client", required=True)
    parser.add_argument("--runner", default="", help="wrapper that runs a Windows executable (Wine)")
    args, rest = parser.parse_known_args()
    paths.server, paths.client = args.server, args.client
    paths.runner = [args.runner] if args.runner else []
    if paths.runner:
        # The first Wine process of a session starts Wine's services, which inherit its standard
        # handles: let that be this one, with nothing attached, not a program whose pipes we read.
        subprocess.run([*paths.runner, "wineboot"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=START_LIMIT, check=False)
    program = unittest.main(module="__main__", argv=[sys.argv[0], *rest], exit=False, verbosity=2)
    return 0 if program.result.wasSuccessful() else 1
