#!/usr/bin/env python3
"""End-to-end tests of server.exe and client.exe: the front-end contract, black box.

Usage: test_frontends.py --server SERVER.EXE --client CLIENT.EXE [--runner WRAPPER] [unittest args]

CTest runs one test class per entry (see tests/CMakeLists.txt) with the Wine wrapper as the
runner. Every test starts its own server on port 0 and reads the port from the readiness line,
bounds every wait with a timeout, and stops what it started by its process id. Python's own
sockets play the peers that client.exe cannot (an oversized frame, a peer that does not read).
Tests assert on behaviour and exit codes, never on time.
"""
from __future__ import annotations

import json
import os
import socket
import struct
import sys
import threading
import unittest

from harness import (Program, Server, run, run_client_json, connect, receive_exactly, closed_by_peer, frame, final_line, paths, main, JSON_KEYS, START_LIMIT, RUN_LIMIT, STOP_LIMIT)


class ModesTest(unittest.TestCase):
    """server and client agree in every mode, with no errors and no mismatches."""

    def check_report(self, report: dict, connections: int, size: int, pipeline: int) -> None:
        self.assertEqual(report["connections"], connections)
        self.assertEqual(report["size"], size)
        self.assertEqual(report["pipeline"], pipeline)
        self.assertGreater(report["messages"], 0)
        self.assertGreater(report["seconds"], 0)
        self.assertGreater(report["msgs_per_s"], 0)
        self.assertGreater(report["mb_per_s"], 0)
        self.assertGreater(report["p50_us"], 0)
        self.assertLessEqual(report["p50_us"], report["p99_us"])
        self.assertLessEqual(report["p99_us"], report["p999_us"])
        self.assertEqual(report["errors"], 0)
        self.assertEqual(report["mismatches"], 0)

    def test_echo(self) -> None:
        with Server("--mode", "echo") as server:
            report = run_client_json(self, server.port, "--connections", "4", "--size", "1000",
                                     "--pipeline", "4", "--duration", "2")
            self.assertEqual(set(report), JSON_KEYS)
            self.check_report(report, 4, 1000, 4)
            code, stderr = server.stop()
            self.assertEqual(code, 0, stderr)

    def test_echo_large_messages(self) -> None:
        # Larger than a receive buffer and than a socket buffer: replies arrive in many pieces.
        with Server() as server:
            report = run_client_json(self, server.port, "--connections", "2", "--size", "300000",
                                     "--pipeline", "2", "--duration", "2")
            self.check_report(report, 2, 300000, 2)

    def test_frame(self) -> None:
        with Server("--mode", "frame") as server:
            report = run_client_json(self, server.port, "--mode", "frame", "--connections", "4",
                                     "--size", "3000", "--pipeline", "3", "--duration", "2")
            self.assertEqual(set(report), JSON_KEYS)
            self.check_report(report, 4, 3000, 3)

    def test_churn(self) -> None:
        with Server() as server:
            report = run_client_json(self, server.port, "--mode", "churn", "--connections", "4",
                                     "--size", "64", "--duration", "2")
            self.assertEqual(set(report), JSON_KEYS | {"connects_per_s"})
            self.check_report(report, 4, 64, 1)
            self.assertGreater(report["connects_per_s"], 0)
            code, stderr = server.stop()
            self.assertEqual(code, 0, stderr)
            self.assertIn("0 rejected", final_line(stderr) or "")

    def test_ipv6(self) -> None:
        try:
            with socket.socket(socket.AF_INET6) as probe:
                probe.bind(("::1", 0))
        except OSError:
            self.skipTest("no IPv6 loopback on this machine")
        with Server("--host", "::1") as server:
            self.assertTrue(server.ready_line.startswith("listening on [::1]:"), server.ready_line)
            report = run_client_json(self, server.port, "--connections", "2", "--duration", "1", host="::1")
            self.check_report(report, 2, 64, 1)

    def test_host_names(self) -> None:
        # Both front-ends take a name for --host: its first address (Wine: localhost is 127.0.0.1).
        with Server("--host", "localhost") as server:
            self.assertRegex(server.ready_line, r"^listening on (127\.0\.0\.1|\[::1\]):\d+$")
            report = run_client_json(self, server.port, "--connections", "2", "--duration", "1", host="localhost")
            self.check_report(report, 2, 64, 1)

    def test_summary_table(self) -> None:
        with Server() as server:
            result = run(paths.client, "--port", str(server.port), "--connections", "2", "--duration", "1")
            self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
            for label in ("messages", "msgs/s", "MB/s", "latency us", "errors", "mismatches"):
                self.assertIn(label, result.stdout)
            self.assertIn("[client ", result.stderr)  # progress once a second


class ProtocolTest(unittest.TestCase):
    """What the server does with peers that misbehave: raw sockets play them."""

    def test_oversized_frame_closes_only_that_connection(self) -> None:
        with Server("--mode", "frame", "--max-frame", "4096") as server:
            # A well-behaved client.exe runs throughout...
            load = Program(paths.client, "--port", str(server.port), "--mode", "frame", "--connections", "2",
                           "--size", "512", "--pipeline", "2", "--duration", "3", "--json")
            good = connect(server.port)
            good.sendall(frame(b"before" * 10))
            self.assertEqual(receive_exactly(good, 64), frame(b"before" * 10))
            # ...while one peer declares 0xFFFFFFFF bytes: only it is closed.
            bad = connect(server.port)
            bad.sendall(struct.pack("<I", 0xFFFFFFFF) + b"x" * 100)
            self.assertTrue(closed_by_peer(bad), "the oversized frame's connection stayed open")
            bad.close()
            # The other raw connection still gets verified echoes, up to the limit exactly.
            for payload in (b"after", b"", os.urandom(4096)):
                good.sendall(frame(payload))
                self.assertEqual(receive_exactly(good, 4 + len(payload)), frame(payload))
            good.close()
            code = load.wait(RUN_LIMIT)
            report = json.loads(load.stdout.text())
            self.assertEqual(code, 0, load.stderr.text())
            self.assertEqual((report["errors"], report["mismatches"]), (0, 0))
            self.assertGreater(report["messages"], 0)
            code, stderr = server.stop()
            self.assertEqual(code, 0, stderr)
            self.assertIn("protocol errors 1;", final_line(stderr) or "", stderr)
            self.assertIn("frame length 4294967295 is above --max-frame 4096", stderr)

    def test_echo_backpressure_keeps_every_byte(self) -> None:
        # The peer sends far more than the server may queue, without reading: the server must stop
        # reading (TCP's window fills, our send blocks) instead of buffering without bound; once
        # the peer reads, everything comes back in order. 40 MiB is more than every buffer on the
        # way can hold: Linux socket buffers (up to 4 MiB to send, 6 MiB to receive, each way)
        # plus the engine's 4 MiB send queue.
        data = os.urandom(1 << 20) * 40
        with Server() as server:
            s = connect(server.port)
            s.settimeout(2)
            sent = 0
            try:
                while sent < len(data):
                    sent += s.send(data[sent:sent + 65536])
            except socket.timeout:
                pass
            self.assertLess(sent, len(data), "the server took 40 MiB without the peer reading any")
            received = bytearray()

            def reader() -> None:
                s2 = s
                while len(received) < len(data):
                    chunk = s2.recv(1 << 20)
                    if not chunk:
                        return
                    received.extend(chunk)

            thread = threading.Thread(target=reader, daemon=True)
            s.settimeout(RUN_LIMIT)
            thread.start()
            s.sendall(data[sent:])
            thread.join(RUN_LIMIT)
            self.assertEqual(len(received), len(data))
            self.assertTrue(bytes(received) == data, "echoed bytes differ")
            s.close()
            code, stderr = server.stop()
            self.assertEqual(code, 0, stderr)
            line = final_line(stderr) or ""
            self.assertRegex(line, r"backpressure pauses [1-9]", stderr)

    def test_discard_reads_and_sends_nothing(self) -> None:
        with Server("--mode", "discard") as server:
            s = connect(server.port)
            s.sendall(os.urandom(200_000))
            s.shutdown(socket.SHUT_WR)
            s.settimeout(10)
            self.assertEqual(s.recv(1), b"", "discard mode sent something back")
            s.close()
            code, stderr = server.stop()
            self.assertEqual(code, 0, stderr)
            self.assertIn("in 0.20 MB", final_line(stderr) or "", stderr)

    def test_max_connections(self) -> None:
        with Server("--max-connections", "2") as server:
            first, second = connect(server.port), connect(server.port)
            for s in (first, second):
                s.sendall(b"ping")
                self.assertEqual(receive_exactly(s, 4), b"ping")
            try:
                third = connect(server.port)  # accepted by the kernel, then reset by the engine
            except ConnectionResetError:
                third = None  # reset so fast that connect() itself saw it: refused all the same
            if third is not None:
                try:
                    third.sendall(b"ping")
                except OSError:
                    pass
                self.assertTrue(closed_by_peer(third), "a connection over --max-connections stayed open")
            first.sendall(b"still")
            self.assertEqual(receive_exactly(first, 5), b"still")
            for s in (first, second, third):
                if s is not None:
                    s.close()
            code, stderr = server.stop()
            self.assertEqual(code, 0, stderr)
            self.assertIn("1 rejected", final_line(stderr) or "", stderr)

    def test_idle_timeout(self) -> None:
        with Server("--idle-timeout", "0.5") as server:
            s = connect(server.port)
            s.sendall(b"hello")
            self.assertEqual(receive_exactly(s, 5), b"hello")
            self.assertTrue(closed_by_peer(s, timeout=20), "an idle connection was not closed")
            s.close()
            code, stderr = server.stop()
            self.assertEqual(code, 0, stderr)
            self.assertIn("1 idle-closed", final_line(stderr) or "", stderr)


class UdpTest(unittest.TestCase):
    """server --udp and client --udp: datagram echo and discard, loss reported, corruption a mismatch."""

    def udp_peer(self, host: str = "127.0.0.1") -> socket.socket:
        s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(10)
        return s

    def round_trip(self, s: socket.socket, address, data: bytes) -> bytes | None:
        """Sends data and returns the reply; sends again after a timeout (UDP may lose either)."""
        for _ in range(10):
            s.sendto(data, address)
            try:
                reply, _ = s.recvfrom(70000)
                return reply
            except socket.timeout:
                continue
        return None

    def test_echo_json(self) -> None:
        with Server("--udp") as server:
            report = run_client_json(self, server.port, "--udp", "--connections", "4", "--size", "1200",
                                     "--pipeline", "4", "--duration", "2")
            self.assertEqual(set(report), JSON_KEYS | {"lost"})
            self.assertEqual((report["connections"], report["size"], report["pipeline"]), (4, 1200, 4))
            self.assertGreater(report["messages"], 0)
            self.assertEqual(report["errors"], 0)
            self.assertEqual(report["mismatches"], 0)
            self.assertGreaterEqual(report["lost"], 0)
            code, stderr = server.stop()
            self.assertEqual(code, 0, stderr)
            self.assertRegex(final_line(stderr) or "", r"final: .* [1-9][0-9]* msgs", stderr)

    def test_ipv6_echo(self) -> None:
        with Server("--udp", "--host", "::1") as server:
            self.assertTrue(server.ready_line.startswith("listening on [::1]:"), server.ready_line)
            report = run_client_json(self, server.port, "--udp", "--connections", "2", "--size", "64",
                                     "--pipeline", "2", "--duration", "1", host="::1")
            self.assertGreater(report["messages"], 0)
            self.assertEqual(report["mismatches"], 0)

    def test_raw_peer_gets_whole_datagrams_back(self) -> None:
        with Server("--udp") as server:
            s = self.udp_peer()
            for data in (b"hello", b"", os.urandom(65507)):
                self.assertEqual(self.round_trip(s, ("127.0.0.1", server.port), data), data, len(data))
            s.close()
            code, stderr = server.stop()
            self.assertEqual(code, 0, stderr)

    def test_discard_sends_nothing_back(self) -> None:
        with Server("--udp", "--mode", "discard") as server:
            s = self.udp_peer()
            for _ in range(50):
                s.sendto(b"x" * 100, ("127.0.0.1", server.port))
            s.settimeout(2)
            with self.assertRaises(socket.timeout):
                s.recvfrom(70000)
            s.close()
            code, stderr = server.stop()
            self.assertEqual(code, 0, stderr)
            self.assertRegex(final_line(stderr) or "", r"final: .* [1-9][0-9]* msgs", stderr)

    def test_loss_is_reported_not_an_error(self) -> None:
        # Against a discard server every datagram is lost: reported as lost, with no errors and no
        # mismatches; exit 1 only because not one datagram came back.
        with Server("--udp", "--mode", "discard") as server:
            result = run(paths.client, "--udp", "--port", str(server.port), "--connections", "2", "--size", "100",
                         "--pipeline", "2", "--duration", "1", "--json")
            report = json.loads(result.stdout.strip().splitlines()[-1])
            self.assertGreater(report["lost"], 0)
            self.assertEqual(report["messages"], 0)
            self.assertEqual(report["errors"], 0)
            self.assertEqual(report["mismatches"], 0)
            self.assertEqual(result.returncode, 1, result.stderr)

    def test_corrupted_replies_are_mismatches(self) -> None:
        # A peer that answers every datagram with one byte changed: each reply is a mismatch.
        peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        peer.bind(("127.0.0.1", 0))
        peer.settimeout(0.5)
        stop = threading.Event()

        def corrupt() -> None:
            while not stop.is_set():
                try:
                    data, address = peer.recvfrom(70000)
                except socket.timeout:
                    continue
                except OSError:
                    return
                changed = bytearray(data)
                changed[-1] ^= 0xFF
                peer.sendto(bytes(changed), address)

        thread = threading.Thread(target=corrupt)
        thread.start()
        try:
            result = run(paths.client, "--udp", "--port", str(peer.getsockname()[1]), "--connections", "1",
                         "--size", "64", "--pipeline", "1", "--duration", "1", "--json")
        finally:
            stop.set()
            thread.join(timeout=STOP_LIMIT)
            peer.close()
        report = json.loads(result.stdout.strip().splitlines()[-1])
        self.assertGreater(report["mismatches"], 0)
        self.assertEqual(report["messages"], 0)
        self.assertEqual(result.returncode, 1, result.stderr)

    def test_bad_udp_arguments(self) -> None:
        for exe, args, mentions in ((paths.server, ("--udp", "--mode", "frame"), "--mode"),
                                    (paths.client, ("--port", "7", "--udp", "--mode", "churn"), "--mode"),
                                    (paths.client, ("--port", "7", "--udp", "--size", "4"), "--size"),
                                    (paths.client, ("--port", "7", "--udp", "--size", "65508"), "--size")):
            result = run(exe, *args, timeout=START_LIMIT)
            self.assertEqual(result.returncode, 2, f"{args}: {result.stdout}{result.stderr}")
            first = result.stderr.splitlines()[0] if result.stderr else ""
            self.assertRegex(first, r"^(server|client): error: ", result.stderr)
            self.assertIn(mentions, first)
        for exe in (paths.server, paths.client):
            result = run(exe, "--help", timeout=START_LIMIT)
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertIn("--udp", result.stdout)


class ArgumentsTest(unittest.TestCase):
    """Bad arguments: exit 2, one error line, then the usage, on stderr."""

    def check_rejected(self, exe: str, *args: str, mentions: str) -> None:
        result = run(exe, *args, timeout=START_LIMIT)
        self.assertEqual(result.returncode, 2, f"{args}: {result.stdout}{result.stderr}")
        first = result.stderr.splitlines()[0] if result.stderr else ""
        self.assertRegex(first, r"^(server|client): error: ", result.stderr)
        self.assertIn(mentions, first)
        self.assertIn("Usage:", result.stderr)
        self.assertEqual(result.stdout, "")

    def test_server(self) -> None:
        self.check_rejected(paths.server, "--bogus", mentions="--bogus")
        self.check_rejected(paths.server, "--port", "70000", mentions="--port")
        self.check_rejected(paths.server, "--port", "-1", mentions="--port")
        self.check_rejected(paths.server, "--size", "0", mentions="--size")  # no such flag on the server
        self.check_rejected(paths.server, "--duration", "-1", mentions="--duration")
        self.check_rejected(paths.server, "--duration", "0", mentions="--duration")
        self.check_rejected(paths.server, "--mode", "chat", mentions="--mode")
        self.check_rejected(paths.server, "--max-connections", "0", mentions="--max-connections")
        self.check_rejected(paths.server, "--max-frame", "-5", mentions="--max-frame")
        self.check_rejected(paths.server, "--idle-timeout", "soon", mentions="--idle-timeout")
        # A reserved name that never resolves (RFC 2606): a host name is accepted only if it does.
        self.check_rejected(paths.server, "--host", "no-such-host.invalid", mentions="--host")
        self.check_rejected(paths.server, "stray", mentions="stray")

    def test_server_tls(self) -> None:
        # Each --tls flag alone, the certificate's two sources, and TLS over UDP; a file that is not
        # there is an argument error too (one that is there but cannot be loaded exits 1: test_tls.py).
        here = os.path.abspath(__file__)  # any file that exists
        self.check_rejected(paths.server, "--cert", here, mentions="--cert")
        self.check_rejected(paths.server, "--cert-thumbprint", "00" * 20, mentions="--cert-thumbprint")
        self.check_rejected(paths.server, "--cert-password", "pw", mentions="--cert-password")
        self.check_rejected(paths.server, "--alpn", "h2", mentions="--alpn")
        self.check_rejected(paths.server, "--tls", mentions="--tls")
        self.check_rejected(paths.server, "--tls", "--cert", here, "--cert-thumbprint", "00" * 20, mentions="--cert")
        self.check_rejected(paths.server, "--tls", "--udp", "--cert", here, mentions="--udp")
        self.check_rejected(paths.server, "--tls", "--cert", "no-such-file.pfx", mentions="no-such-file.pfx")
        self.check_rejected(paths.server, "--tls", "--cert-thumbprint", "12ab", mentions="--cert-thumbprint")
        self.check_rejected(paths.server, "--tls", "--cert-thumbprint", "00" * 20, "--cert-password", "pw",
                            mentions="--cert-password")
        self.check_rejected(paths.server, "--tls", "--cert", here, "--alpn", "h2,,x", mentions="--alpn")

    def test_client(self) -> None:
        self.check_rejected(paths.client, "--port", "7", "--bogus", mentions="--bogus")
        self.check_rejected(paths.client, "--port", "70000", mentions="--port")
        self.check_rejected(paths.client, "--port", "0", mentions="--port")
        self.check_rejected(paths.client, "--connections", "1", mentions="--port")  # --port is required
        self.check_rejected(paths.client, "--port", "7", "--size", "0", mentions="--size")
        self.check_rejected(paths.client, "--port", "7", "--duration", "-1", mentions="--duration")
        self.check_rejected(paths.client, "--port", "7", "--connections", "0", mentions="--connections")
        self.check_rejected(paths.client, "--port", "7", "--pipeline", "0", mentions="--pipeline")
        self.check_rejected(paths.client, "--port", "7", "--mode", "flood", mentions="--mode")
        self.check_rejected(paths.client, "--port", "7", "--mode", "frame", "--size", "20000000", mentions="--size")
        self.check_rejected(paths.client, "--port", "7", "--connections", "50000", "--pipeline", "10000",
                            mentions="in flight")

    def test_client_tls(self) -> None:
        here = os.path.abspath(__file__)
        self.check_rejected(paths.client, "--port", "7", "--insecure", mentions="--insecure")
        self.check_rejected(paths.client, "--port", "7", "--ca", here, mentions="--ca")
        self.check_rejected(paths.client, "--port", "7", "--server-name", "localhost", mentions="--server-name")
        self.check_rejected(paths.client, "--port", "7", "--alpn", "h2", mentions="--alpn")
        self.check_rejected(paths.client, "--port", "7", "--tls", "--udp", mentions="--udp")
        self.check_rejected(paths.client, "--port", "7", "--tls", "--ca", "no-such-ca.pem", mentions="no-such-ca.pem")
        self.check_rejected(paths.client, "--port", "7", "--tls", "--insecure", "--ca", here, mentions="--insecure")
        self.check_rejected(paths.client, "--port", "7", "--tls", "--server-name", "", mentions="--server-name")
        self.check_rejected(paths.client, "--port", "7", "--tls", "--alpn", ",h2", mentions="--alpn")

    def test_help(self) -> None:
        for exe, flags in ((paths.server, ("--mode", "--max-frame", "--idle-timeout", "--duration", "--tls", "--cert",
                                           "--cert-password", "--cert-thumbprint", "--alpn")),
                           (paths.client, ("--connections", "--pipeline", "--json", "--mode", "--tls", "--insecure",
                                           "--ca", "--server-name", "--alpn"))):
            result = run(exe, "--help", timeout=START_LIMIT)
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertIn("Usage:", result.stdout)
            for flag in ("--host", "--port", *flags):
                self.assertIn(flag, result.stdout)


class LifecycleTest(unittest.TestCase):
    """Graceful ends: --duration, Ctrl+C, and a client that finds nobody listening."""

    def test_server_duration(self) -> None:
        server = Server("--duration", "1")
        try:
            code = server.wait(STOP_LIMIT)
        finally:
            server.kill()
        stderr = server.stderr.text()
        self.assertEqual(code, 0, stderr)
        self.assertIsNotNone(final_line(stderr), stderr)

    def test_server_ctrl_c_with_open_connections(self) -> None:
        with Server() as server:
            peers = [connect(server.port) for _ in range(3)]
            for s in peers:
                s.sendall(b"x")
                self.assertEqual(receive_exactly(s, 1), b"x")
            code, stderr = server.stop()
            self.assertEqual(code, 0, stderr)
            line = final_line(stderr)
            self.assertIsNotNone(line, stderr)
            self.assertIn("0 open, 3 accepted", line)
            for s in peers:
                self.assertTrue(closed_by_peer(s), "the stopped server left a connection open")
                s.close()

    def test_client_ctrl_c_reports_and_exits_0(self) -> None:
        with Server() as server:
            client = Program(paths.client, "--port", str(server.port), "--connections", "2", "--duration", "120", "--json")
            try:
                # Interrupt once it has shown progress, i.e. exchanged messages for a second.
                self.assertIsNotNone(client.stderr.wait_for(lambda l: l.startswith("[client "), START_LIMIT))
                client.interrupt()
                code = client.wait(STOP_LIMIT)
            finally:
                client.kill()
            report = json.loads(client.stdout.text())
            self.assertEqual(code, 0, client.stderr.text())
            self.assertGreater(report["messages"], 0)
            self.assertLess(report["seconds"], 100)
            self.assertEqual((report["errors"], report["mismatches"]), (0, 0))

    def test_client_without_server_fails_with_errors(self) -> None:
        with socket.socket() as s:  # a port that was free a moment ago; nobody listens on it now
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        result = run(paths.client, "--port", str(port), "--connections", "2", "--duration", "1", "--json")
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        report = json.loads(result.stdout)
        self.assertGreater(report["errors"], 0)
        self.assertEqual(report["messages"], 0)


if __name__ == "__main__":
    sys.exit(main(__doc__))
