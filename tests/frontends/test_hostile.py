#!/usr/bin/env python3
"""Hostile peers against server.exe: it closes only the offender, keeps its memory bounded, and
keeps serving everyone else with verified data.

Usage: test_hostile.py --server SERVER.EXE --client CLIENT.EXE [--runner WRAPPER] [unittest args]

In every test a well-behaved client.exe load (which checks every byte it gets back) runs beside
raw Python sockets playing the hostile peer, and the server must exit 0 at the end. Memory is read
from the server's own statistics lines (resident memory, bytes in send queues), printed every 2 s.
Each test prints what the server did and its memory before and after (see the CTest log).
"""
from __future__ import annotations

import json
import random
import re
import resource
import socket
import struct
import sys
import threading
import time
import unittest

from harness import (RUN_LIMIT, Program, Server, closed_by_peer, connect, final_line, frame, main, paths,
                     receive_exactly)

STATS = re.compile(r"^\[server [\d.]+s\] .*connections (\d+) open, (\d+) accepted, (\d+) rejected, (\d+) idle-closed; "
                   r"protocol errors (\d+); backpressure pauses (\d+); buffered ([\d.]+) MB; memory ([\d.]+) MB$")
MB = 1_000_000
STATS_WAIT = 30  # seconds to wait for a statistics line that shows a given state


def stats_of(line: str) -> dict | None:
    match = STATS.match(line)
    if not match:
        return None
    keys = ("open", "accepted", "rejected", "idle_closed", "protocol_errors", "pauses")
    values = {k: int(v) for k, v in zip(keys, match.groups()[:6])}
    values["buffered_mb"] = float(match.group(7))
    values["memory_mb"] = float(match.group(8))
    return values


def next_stats(server: Server, condition=lambda s: True, timeout: float = STATS_WAIT) -> dict | None:
    """The first statistics line printed from now on that satisfies condition."""
    line = server.stderr.wait_for(lambda l: (s := stats_of(l)) is not None and condition(s), timeout,
                                  start=server.stderr.line_count())
    return stats_of(line) if line else None


def report(case: str, what: str, before: dict, after: dict) -> None:
    print(f"\n[hostile] {case}: {what}; server memory {before['memory_mb']:.1f} MB before, "
          f"{after['memory_mb']:.1f} MB after; buffered {after['buffered_mb']:.2f} MB", file=sys.stderr)


class Load:
    """A verifying client.exe load that runs while the hostile peer acts."""

    def __init__(self, port: int, mode: str = "echo", seconds: int = 6) -> None:
        self.program = Program(paths.client, "--port", str(port), "--mode", mode, "--connections", "4",
                               "--size", "256", "--pipeline", "2", "--duration", str(seconds), "--json")

    def check(self, test: unittest.TestCase) -> dict:
        code = self.program.wait(RUN_LIMIT)
        text = self.program.stdout.text()
        test.assertEqual(code, 0, f"the well-behaved client failed: {text}\n{self.program.stderr.text()}")
        result = json.loads(text)
        test.assertEqual((result["errors"], result["mismatches"]), (0, 0), text)
        test.assertGreater(result["messages"], 0, text)
        return result


class HostileTest(unittest.TestCase):
    """Each hostile peer, with a verified load beside it."""

    def stop_cleanly(self, server: Server) -> str:
        code, stderr = server.stop()
        self.assertEqual(code, 0, stderr)
        self.assertIsNotNone(final_line(stderr), stderr)
        return stderr

    def test_garbage_bytes_in_frame_mode(self) -> None:
        with Server("--mode", "frame", "--max-frame", "65536") as server:
            before = next_stats(server)
            load = Load(server.port, "frame")
            garbage = random.Random(7).randbytes(64 * 1024)
            self.assertGreater(struct.unpack("<I", garbage[:4])[0], 65536, "the seed should start with an oversize length")
            bad = connect(server.port)
            bad.sendall(garbage)
            self.assertTrue(closed_by_peer(bad), "a peer sending garbage stayed connected")
            bad.close()
            load.check(self)
            after = next_stats(server, lambda s: s["open"] == 0)
            self.assertIsNotNone(after, "connections did not go back to 0")
            self.assertEqual(after["protocol_errors"], 1)
            stderr = self.stop_cleanly(server)
            self.assertEqual(stderr.count("is above --max-frame 65536; connection closed"), 1, stderr)
            report("garbage bytes (64 KiB) in frame mode", "that connection closed as a protocol error", before, after)

    def test_truncated_frames_followed_by_close(self) -> None:
        with Server("--mode", "frame") as server:
            before = next_stats(server)
            load = Load(server.port, "frame")
            cases = [b"\x10\x00",                                  # half a length prefix
                     struct.pack("<I", 1000) + b"x" * 500,         # half a frame
                     frame(b"whole") + struct.pack("<I", 300)]     # a whole frame, then a bare prefix
            for data in cases:
                s = connect(server.port)
                s.sendall(data)
                s.shutdown(socket.SHUT_WR)
                echoed = b""
                s.settimeout(10)
                while chunk := s.recv(65536):
                    echoed += chunk
                self.assertEqual(echoed, frame(b"whole") if data.startswith(frame(b"whole")) else b"",
                                 "only whole frames come back")
                s.close()
            reset = connect(server.port)  # the same truncation, ended by a reset instead of a FIN
            reset.sendall(struct.pack("<I", 1000) + b"y" * 10)
            reset.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            reset.close()
            load.check(self)
            after = next_stats(server, lambda s: s["open"] == 0)
            self.assertIsNotNone(after, "connections did not go back to 0")
            self.assertEqual(after["protocol_errors"], 0)
            self.stop_cleanly(server)
            report("truncated frames then FIN or reset", "each connection closed, nothing echoed for a partial frame",
                   before, after)

    def test_oversize_length_prefixes(self) -> None:
        with Server("--mode", "frame", "--max-frame", "65536") as server:
            before = next_stats(server)
            load = Load(server.port, "frame")
            lengths = (0xFFFFFFFF, 0x80000000, 65537)
            for length in lengths:
                s = connect(server.port)
                s.sendall(struct.pack("<I", length) + b"z" * 100)
                self.assertTrue(closed_by_peer(s), f"length {length} did not close its connection")
                s.close()
            # Exactly at the limit is still a frame.
            s = connect(server.port)
            payload = random.Random(3).randbytes(65536)
            s.sendall(frame(payload))
            self.assertEqual(receive_exactly(s, 4 + len(payload)), frame(payload))
            s.close()
            load.check(self)
            after = next_stats(server, lambda s: s["open"] == 0)
            self.assertIsNotNone(after)
            self.assertEqual(after["protocol_errors"], len(lengths))
            self.assertLess(after["memory_mb"] - before["memory_mb"], 64, "a declared length was allocated")
            stderr = self.stop_cleanly(server)
            for length in lengths:
                self.assertEqual(stderr.count(f"frame length {length} is above --max-frame 65536"), 1, stderr)
            report("length prefixes 0xFFFFFFFF, 0x80000000, max+1", "each closed before any allocation, logged once",
                   before, after)

    def test_zero_length_frames(self) -> None:
        with Server("--mode", "frame") as server:
            before = next_stats(server)
            load = Load(server.port, "frame")
            s = connect(server.port)
            s.sendall(frame(b"") * 1000)
            self.assertEqual(receive_exactly(s, 4000), b"\x00" * 4000)
            s.sendall(frame(b"after"))
            self.assertEqual(receive_exactly(s, 9), frame(b"after"))
            s.close()
            load.check(self)
            after = next_stats(server, lambda s: s["open"] == 0)
            self.assertIsNotNone(after)
            self.assertEqual(after["protocol_errors"], 0)
            self.stop_cleanly(server)
            report("1,000 zero-length frames", "each echoed as an empty frame", before, after)

    def test_client_that_connects_and_never_sends(self) -> None:
        # 3 s: long enough that the load's connections, which send all the time, never look idle
        # even on a loaded machine.
        with Server("--idle-timeout", "3") as server:
            before = next_stats(server)
            load = Load(server.port, "echo")
            silent = connect(server.port)
            self.assertTrue(closed_by_peer(silent, timeout=30), "a silent connection was never closed")
            silent.close()
            load.check(self)  # its connections send all the time: none is idle
            after = next_stats(server, lambda s: s["open"] == 0)
            self.assertIsNotNone(after)
            self.assertEqual(after["idle_closed"], 1)
            stderr = self.stop_cleanly(server)
            self.assertEqual(stderr.count("nothing received or sent for --idle-timeout"), 1, stderr)
            report("connects and never sends (--idle-timeout 3)", "closed as idle, logged once", before, after)

    def test_client_that_sends_200_mb_and_never_reads(self) -> None:
        with Server() as server:
            before = next_stats(server)
            load = Load(server.port, "echo", seconds=8)
            hog = connect(server.port)
            hog.settimeout(3)  # the server stops reading once its queue for us is full: send() stalls
            block = random.Random(5).randbytes(1 << 20)
            sent = 0
            try:
                while sent < 200 * (1 << 20):
                    sent += hog.send(block)
            except socket.timeout:
                pass
            self.assertLess(sent, 200 * (1 << 20), "the server took 200 MB from a peer that reads nothing")
            during = next_stats(server, lambda s: s["pauses"] >= 1)
            self.assertIsNotNone(during, "the server never stopped reading from the non-reader")
            # The engine's send-queue cap is 4 MiB per connection: all that may be buffered for it.
            self.assertLessEqual(during["buffered_mb"], 4.3, during)
            self.assertLess(during["memory_mb"] - before["memory_mb"], 48, during)
            hog.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            hog.close()
            load.check(self)
            after = next_stats(server, lambda s: s["open"] == 0)
            self.assertIsNotNone(after)
            self.assertEqual(after["buffered_mb"], 0.0)
            self.stop_cleanly(server)
            report(f"sends 200 MB, never reads (took {sent / MB:.0f} MB before stalling)",
                   f"stopped reading from it; {during['buffered_mb']:.2f} MB queued, memory "
                   f"{during['memory_mb']:.1f} MB while stalled", before, after)

    def test_2000_connections_reset_at_once(self) -> None:
        count = 2000
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < count + 200:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
        with Server() as server:
            before = next_stats(server)
            load = Load(server.port, "echo", seconds=10)
            peers = []
            try:
                for _ in range(count):
                    peers.append(socket.create_connection(("127.0.0.1", server.port), timeout=10))
                full = next_stats(server, lambda s: s["accepted"] >= count + 4, timeout=60)
                self.assertIsNotNone(full, "the server did not accept all 2,000 connections")
                for s in peers:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            finally:
                for s in peers:
                    s.close()  # with SO_LINGER 0: a reset each, all within a few milliseconds
            load.check(self)
            after = next_stats(server, lambda s: s["open"] == 0, timeout=60)
            self.assertIsNotNone(after, "connections did not go back to 0 after the resets")
            fresh = connect(server.port)  # still accepting
            fresh.sendall(b"still serving")
            self.assertEqual(receive_exactly(fresh, 13), b"still serving")
            fresh.close()
            self.stop_cleanly(server)
            report("2,000 connections opened then reset at once",
                   f"all closed (peak memory {full['memory_mb']:.1f} MB with 2,000 open), accepting again",
                   before, after)

    def test_half_close(self) -> None:
        with Server() as server:
            before = next_stats(server)
            load = Load(server.port, "echo")
            s = connect(server.port)
            data = random.Random(9).randbytes(1 << 20)
            received = bytearray()

            def reader() -> None:
                while chunk := s.recv(1 << 16):
                    received.extend(chunk)

            s.settimeout(RUN_LIMIT)
            thread = threading.Thread(target=reader, daemon=True)
            thread.start()
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)  # our FIN: the server echoes what is left, then closes
            thread.join(RUN_LIMIT)
            self.assertFalse(thread.is_alive(), "the server never closed after our FIN")
            self.assertTrue(bytes(received) == data, f"{len(received)} of {len(data)} bytes came back intact")
            s.close()
            load.check(self)
            after = next_stats(server, lambda s: s["open"] == 0)
            self.assertIsNotNone(after)
            self.stop_cleanly(server)
            report("half-close after 1 MiB", "echoed every byte, then closed its side", before, after)

    def test_flood_over_max_connections_is_logged_as_counts(self) -> None:
        with Server("--max-connections", "4") as server:
            before = next_stats(server)
            held = [connect(server.port) for _ in range(4)]
            for s in held:
                s.sendall(b"ping")
                self.assertEqual(receive_exactly(s, 4), b"ping")
            excess = []
            for _ in range(40):
                try:
                    excess.append(connect(server.port))
                except (ConnectionResetError, ConnectionAbortedError):
                    pass  # reset before our connect() returned: rejected just the same
            for s in excess:
                self.assertTrue(closed_by_peer(s), "a connection over --max-connections stayed open")
                s.close()
            held[0].sendall(b"still")
            self.assertEqual(receive_exactly(held[0], 5), b"still")
            for s in held:
                s.close()
            after = next_stats(server, lambda s: s["open"] == 0 and s["rejected"] == 40)
            self.assertIsNotNone(after)
            stderr = self.stop_cleanly(server)
            one_by_one = stderr.count("over --max-connections; reset at once")
            counted = sum(int(n) for n in re.findall(r"(\d+) more connections closed, over --max-connections", stderr))
            self.assertEqual(one_by_one + counted, 40, stderr)  # each rejection logged exactly once
            # 5 per kind per 2 s interval: the flood may straddle an interval boundary or two.
            self.assertLessEqual(one_by_one, 15, "a flood must not print a line per connection")
            report("40 connections over --max-connections 4",
                   f"each reset at once; {one_by_one} logged one by one, {counted} as counts", before, after)


if __name__ == "__main__":
    sys.exit(main(__doc__))
