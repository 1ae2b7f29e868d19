#!/usr/bin/env python3
"""End-to-end TLS tests of client.exe --tls and server.exe --tls, against a native OpenSSL peer
(tests/tls/tls_peer.py) and against each other.

Usage: test_tls.py --server SERVER.EXE --client CLIENT.EXE [--runner WRAPPER] [unittest args]

The certificates (a CA, and server, wrongname, expired and selfsigned leaves with their keys and
PKCS#12 files, password wire-test) are made for each run by `tls_peer.py certs` in a temporary
folder that is deleted afterwards: no key is ever committed. The native peer runs under the
Linux Python (OpenSSL), never under Wine, so SChannel always meets an independent TLS stack.

Wine 8 has no SChannel server: AcceptSecurityContext returns SEC_E_UNSUPPORTED_FUNCTION
(0x80090302). The cases that need server.exe --tls to complete a handshake find that out by
behaviour (a probe handshake, and the reason server.exe logs) and skip with that reason; under
Wine 10 (tools/debian-root.sh 13) they run. Every process has a timeout and is stopped by its own
process id; the tests assert behaviour and exit codes, never time.
"""
from __future__ import annotations

import json
import os
import re
import resource
import selectors
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
from contextlib import contextmanager
from pathlib import Path

from harness import (JSON_KEYS, RUN_LIMIT, START_LIMIT, STOP_LIMIT, Output, Program, Server, final_line, main, paths,
                     run)

PEER = Path(__file__).resolve().parent.parent / "tls" / "tls_peer.py"
PASSWORD = "wire-test"
TLS_KEYS = JSON_KEYS | {"tls_protocol", "tls_cipher"}
PROTOCOLS = ("TLSv1.2", "TLSv1.3")
WINE8_SKIP = ("Wine 8's SChannel has no server side (AcceptSecurityContext returns SEC_E_UNSUPPORTED_FUNCTION "
              "0x80090302); runs under Wine 10 (tools/debian-root.sh 13)")
# server.exe's statistics lines with --tls end with the handshakes' outcome.
HANDSHAKES = re.compile(r"; memory ([\d.]+) MB; TLS handshakes (\d+) completed, (\d+) failed$")
PEER_LIMIT = 180  # seconds for a native peer run, and the longest a native server lives

certs = Path()  # set by setUpModule
_certs_dir: tempfile.TemporaryDirectory | None = None


def setUpModule() -> None:
    global certs, _certs_dir
    if shutil.which("openssl") is None:
        raise unittest.SkipTest("tls_peer.py certs needs the openssl command (Debian package openssl)")
    _certs_dir = tempfile.TemporaryDirectory(prefix="wire-tls-certs-")
    certs = Path(_certs_dir.name)
    made = subprocess.run([sys.executable, str(PEER), "certs", str(certs), "--password", PASSWORD],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=PEER_LIMIT)
    if made.returncode != 0 or not (certs / "server.pfx").is_file():
        raise RuntimeError(f"tls_peer.py certs failed ({made.returncode}): {made.stdout}{made.stderr}")


def tearDownModule() -> None:
    if _certs_dir is not None:
        _certs_dir.cleanup()


def cert(name: str) -> str:
    return str(certs / name)


class NativeServer:
    """tls_peer.py server (Linux Python and OpenSSL) on 127.0.0.1 port 0; stopped by its pid."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen([sys.executable, str(PEER), "server", "--duration", str(PEER_LIMIT),
                                         "--exit-on-stdin-eof", *args],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.stdout = Output(self.process.stdout)
        self.stderr = Output(self.process.stderr)
        line = self.stdout.wait_for(lambda l: l.startswith("listening on "), START_LIMIT)
        if line is None:
            self.stop()
            raise AssertionError(f"tls_peer.py server did not get ready; stderr: {self.stderr.text()}")
        self.port = int(line.rsplit(":", 1)[1])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # SIGTERM to its own pid
            try:
                self.process.wait(timeout=STOP_LIMIT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_LIMIT)
        if self.process.stdin:
            self.process.stdin.close()

    def __enter__(self) -> "NativeServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def echo_peer(leaf: str = "server", *args: str) -> NativeServer:
    return NativeServer("--cert", cert(f"{leaf}.pem"), "--key", cert(f"{leaf}.key"), *args)


def native_client(port: int, *args: str) -> dict:
    """tls_peer.py client against 127.0.0.1:port: its one JSON line."""
    result = subprocess.run([sys.executable, str(PEER), "client", "--host", "127.0.0.1", "--port", str(port), *args],
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=PEER_LIMIT)
    lines = [l for l in result.stdout.splitlines() if l.strip()]
    if not lines:
        raise AssertionError(f"tls_peer.py client printed nothing ({result.returncode}): {result.stderr}")
    report = json.loads(lines[-1])
    report["exit_code"] = result.returncode
    return report


def localhost_address() -> str:
    """The address a client that resolves "localhost" tries first (127.0.0.1, or ::1 where /etc/hosts
    lists it first, as Debian 13's does): Wine resolves through the same system resolver."""
    return socket.getaddrinfo("localhost", None, type=socket.SOCK_STREAM)[0][4][0]


# Bytes that are not a TLS handshake, or a broken one: the layer or SChannel fails them, or (a
# handshake message whose declared length never arrives) the handshake timeout ends them.
GARBAGE = (lambda: os.urandom(1024),
           lambda: b"\x16\x03\x01\x00\x05hello",                   # a ClientHello record holding nonsense
           lambda: b"\x17\x03\x03\x00\x10" + os.urandom(16),       # application data before any handshake
           lambda: b"\x00" * 1024,
           lambda: b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")  # plain HTTP on the TLS port


def garbage_flood(port: int, count: int, wave: int, limit: float) -> tuple[int, int]:
    """`count` plain TCP connections, `wave` at a time, each sending one kind of GARBAGE and then
    waiting (up to `limit` seconds per wave) for the server to end it: (ended, left open)."""
    ended = left_open = 0
    for first in range(0, count, wave):
        peers: list[socket.socket] = []
        selector = selectors.DefaultSelector()
        try:
            for i in range(first, min(count, first + wave)):
                s = socket.create_connection(("127.0.0.1", port), timeout=30)
                try:
                    s.sendall(GARBAGE[i % len(GARBAGE)]())
                except OSError:
                    pass  # already reset: the receive below sees it
                s.setblocking(False)
                peers.append(s)
                selector.register(s, selectors.EVENT_READ)
            waiting = set(peers)
            deadline = time.monotonic() + limit
            while waiting and (left := deadline - time.monotonic()) > 0:
                for key, _ in selector.select(timeout=min(1.0, left)):
                    try:
                        data = key.fileobj.recv(65536)  # an alert, perhaps, then the end
                    except BlockingIOError:
                        continue
                    except OSError:
                        data = b""  # reset
                    if not data:
                        selector.unregister(key.fileobj)
                        waiting.discard(key.fileobj)
                        ended += 1
            left_open += len(waiting)
        finally:
            selector.close()
            for s in peers:
                s.close()
    return ended, left_open


def client(port: int, *args: str, host: str = "127.0.0.1") -> tuple[subprocess.CompletedProcess, dict | None]:
    """client.exe --tls with --json: the process and its JSON line (None if it printed none)."""
    result = run(paths.client, "--host", host, "--port", str(port), "--tls", "--json", *args)
    lines = [l for l in result.stdout.splitlines() if l.strip()]
    return result, json.loads(lines[-1]) if len(lines) == 1 else None


class TlsTest(unittest.TestCase):
    """client.exe --tls against OpenSSL, server.exe --tls against OpenSSL and client.exe."""

    # ---- helpers ------------------------------------------------------------------------------

    def check_passed(self, result: subprocess.CompletedProcess, report: dict | None, keys: set[str] = TLS_KEYS) -> None:
        self.assertIsNotNone(report, f"one JSON line expected: {result.stdout!r}; stderr: {result.stderr}")
        self.assertEqual(result.returncode, 0, f"{result.stdout}\n{result.stderr}")
        self.assertEqual(set(report), keys)
        self.assertEqual((report["errors"], report["mismatches"]), (0, 0), result.stdout)
        self.assertGreater(report["messages"], 0)
        self.assertIn(report["tls_protocol"], PROTOCOLS)
        self.assertTrue(report["tls_cipher"], "no cipher reported")

    def check_refused(self, result: subprocess.CompletedProcess, report: dict | None, reason: str) -> None:
        """The handshake failed on every connection: exit 1, errors, no messages, the reason said once."""
        self.assertIsNotNone(report, f"one JSON line expected: {result.stdout!r}; stderr: {result.stderr}")
        self.assertEqual(result.returncode, 1, f"{result.stdout}\n{result.stderr}")
        self.assertGreater(report["errors"], 0)
        self.assertEqual(report["messages"], 0)
        self.assertEqual((report["tls_protocol"], report["tls_cipher"]), ("", ""))
        said = [l for l in result.stderr.splitlines() if "TLS handshake failed" in l]
        self.assertEqual(len(said), 1, f"the reason should be printed once: {result.stderr}")
        self.assertIn(reason, said[0])

    @contextmanager
    def tls_server(self, *args: str):
        """server.exe --tls with server.pfx, after one probe handshake by OpenSSL; skips on Wine 8."""
        with Server("--tls", "--cert", cert("server.pfx"), "--cert-password", PASSWORD, *args) as server:
            context = ssl.create_default_context(cafile=cert("ca.pem"))
            try:
                # The handshake only (wrap_socket completes it): any mode, discard and frame too.
                with socket.create_connection(("127.0.0.1", server.port), timeout=30) as raw:
                    with context.wrap_socket(raw, server_hostname="localhost"):
                        pass
            except (OSError, ssl.SSLError) as e:
                logged = server.stderr.wait_for(lambda l: "TLS handshake failed" in l, STOP_LIMIT)
                if logged is not None and "0x80090302" in logged:
                    self.skipTest(WINE8_SKIP)
                self.fail(f"OpenSSL could not complete a handshake with server.exe --tls: {e!r}; server: {logged}")
            yield server

    def last_stats(self, server: Server, start: int = 0) -> tuple[float, int, int] | None:
        """(memory MB, handshakes completed, failed) from the next statistics line after line start."""
        line = server.stderr.wait_for(lambda l: HANDSHAKES.search(l) is not None and l.startswith("[server "),
                                      START_LIMIT, start=start)
        if line is None:
            return None
        match = HANDSHAKES.search(line)
        return float(match.group(1)), int(match.group(2)), int(match.group(3))

    # ---- client.exe against OpenSSL (Wine 8 and 10) --------------------------------------------

    def test_client_against_native_echo(self) -> None:
        with echo_peer() as peer:
            for size in ("1", "65536"):
                result, report = client(peer.port, "--ca", cert("ca.pem"), "--server-name", "localhost",
                                        "--connections", "2", "--size", size, "--pipeline", "2", "--duration", "1")
                self.check_passed(result, report)
                self.assertEqual(report["size"], int(size))

    def test_client_modes_der_root_and_host_name(self) -> None:
        # Frame and churn over TLS (the echo peer echoes frames too); the root as DER; the server
        # name taken from --host when --server-name is not given (the peer listens where
        # "localhost" leads).
        with echo_peer("server", "--host", localhost_address()) as peer:
            result, report = client(peer.port, "--ca", cert("ca.der"), "--mode", "frame", "--connections", "2",
                                    "--size", "3000", "--pipeline", "3", "--duration", "1", host="localhost")
            self.check_passed(result, report)
        with echo_peer() as peer:
            result, report = client(peer.port, "--ca", cert("ca.pem"), "--server-name", "localhost", "--mode", "churn",
                                    "--connections", "2", "--size", "64", "--duration", "1")
            self.check_passed(result, report, TLS_KEYS | {"connects_per_s"})
            self.assertGreater(report["connects_per_s"], 0)
            table = run(paths.client, "--port", str(peer.port), "--tls", "--ca", cert("ca.pem"), "--server-name",
                        "localhost", "--connections", "1", "--duration", "1")
            self.assertEqual(table.returncode, 0, table.stdout + table.stderr)
            self.assertRegex(table.stdout, r"\n  tls +TLSv1\.[23], \S", table.stdout)

    def test_client_alpn(self) -> None:
        with echo_peer("server", "--alpn", "h2,http/1.1") as peer:
            table = run(paths.client, "--port", str(peer.port), "--tls", "--ca", cert("ca.pem"), "--server-name",
                        "localhost", "--alpn", "h2", "--connections", "1", "--duration", "1")
            self.assertEqual(table.returncode, 0, table.stdout + table.stderr)
            self.assertIn(", ALPN h2\n", table.stdout)

    def test_client_refuses_a_certificate_for_another_name(self) -> None:
        with echo_peer("wrongname") as peer:
            result, report = client(peer.port, "--ca", cert("ca.pem"), "--server-name", "localhost",
                                    "--connections", "4", "--duration", "1")
            self.check_refused(result, report, "CERT_E_CN_NO_MATCH")

    def test_client_refuses_an_untrusted_root_unless_insecure(self) -> None:
        with echo_peer("selfsigned") as peer:
            for trust in (("--ca", cert("ca.pem")), ()):  # another root; the system's roots only
                result, report = client(peer.port, *trust, "--server-name", "localhost", "--connections", "2",
                                        "--duration", "1")
                self.check_refused(result, report, "CERT_E_UNTRUSTEDROOT")
            result, report = client(peer.port, "--insecure", "--connections", "2", "--duration", "1")
            self.check_passed(result, report)

    def test_client_refuses_an_expired_certificate(self) -> None:
        with echo_peer("expired") as peer:
            result, report = client(peer.port, "--ca", cert("ca.pem"), "--server-name", "localhost",
                                    "--connections", "2", "--duration", "1")
            self.check_refused(result, report, "CERT_E_EXPIRED")

    def test_client_against_a_peer_that_speaks_no_tls(self) -> None:
        # 4 KiB of random bytes instead of a ServerHello, then a close: an error, never a hang.
        with NativeServer("--mode", "garbage") as peer:
            result, report = client(peer.port, "--ca", cert("ca.pem"), "--connections", "2", "--duration", "1")
            self.assertIsNotNone(report, result.stdout + result.stderr)
            self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
            self.assertGreater(report["errors"], 0)
            self.assertEqual(report["messages"], 0)

    def test_client_ca_file_that_holds_no_certificate(self) -> None:
        result = run(paths.client, "--port", "7", "--tls", "--ca", cert("server.key"))
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertEqual(result.stdout, "")
        self.assertRegex(result.stderr, r"(?m)^client: --ca \S*server\.key: ", result.stderr)

    # ---- server.exe --tls set-up (Wine 8 and 10) -------------------------------------------------

    def test_server_certificate_that_cannot_be_loaded(self) -> None:
        # Exit 1, no readiness line, one line naming the certificate's source and the reason.
        # (Wine's GnuTLS may print a line of its own before ours.)
        for args, names in ((("--cert", cert("server.pfx"), "--cert-password", "wrong"), "server.pfx"),
                            (("--cert", cert("ca.pem"), "--cert-password", PASSWORD), "ca.pem"),  # not PKCS#12
                            (("--cert-thumbprint", "00" * 20), "00" * 20)):  # not in CurrentUser\MY
            result = run(paths.server, "--tls", *args, "--port", "0", timeout=START_LIMIT)
            self.assertEqual(result.returncode, 1, f"{args}: {result.stdout}{result.stderr}")
            self.assertNotIn("listening on", result.stdout)
            ours = [l for l in result.stderr.splitlines() if l.startswith("server: ")]
            self.assertEqual(len(ours), 1, result.stderr)
            self.assertIn(names, ours[0])
            self.assertIn("cannot use the certificate: ", ours[0])

    # ---- server.exe --tls (Wine 10: an SChannel server) ---------------------------------------------

    def test_server_echoes_native_clients_byte_exact(self) -> None:
        sizes = (1, 100, 16384, 65536, 1 << 20)
        with self.tls_server() as server:
            report = native_client(server.port, "--ca", cert("ca.pem"), "--server-name", "localhost",
                                   "--sizes", ",".join(map(str, sizes)), "--connections", "2", "--timeout", "60")
            self.assertEqual(report["exit_code"], 0, report)
            self.assertTrue(report["ok"], report)
            self.assertEqual(report["mismatches"], 0, report)
            self.assertEqual(report["bytes"], 2 * sum(sizes), report)
            self.assertIn(report["version"], PROTOCOLS)
            code, stderr = server.stop()
            self.assertEqual(code, 0, stderr)
            self.assertRegex(final_line(stderr) or "", r"TLS handshakes [1-9]\d* completed, 0 failed$", stderr)

    def test_server_alpn(self) -> None:
        with self.tls_server("--alpn", "h2,http/1.1") as server:
            report = native_client(server.port, "--ca", cert("ca.pem"), "--server-name", "localhost",
                                   "--mode", "handshake-only", "--alpn", "http/1.1,h2")
            self.assertTrue(report["ok"], report)
            self.assertIn(report["alpn"], ("h2", "http/1.1"))  # the server's preference or the client's

    def test_engine_to_engine(self) -> None:
        for mode, client_args in (("echo", ("--size", "1", "--pipeline", "4")),
                                  ("echo", ("--size", "65536", "--pipeline", "2")),
                                  ("frame", ("--mode", "frame", "--size", "3000", "--pipeline", "3")),
                                  ("echo", ("--mode", "churn", "--size", "64"))):
            with self.subTest(mode=mode, client=client_args), self.tls_server("--mode", mode) as server:
                result, report = client(server.port, "--ca", cert("ca.pem"), "--server-name", "localhost",
                                        "--connections", "4", "--duration", "2", *client_args)
                churn = "churn" in client_args
                self.check_passed(result, report, TLS_KEYS | ({"connects_per_s"} if churn else set()))
                code, stderr = server.stop()
                self.assertEqual(code, 0, stderr)
                self.assertRegex(final_line(stderr) or "", r"TLS handshakes [1-9]\d* completed, 0 failed$", stderr)

    def test_server_survives_1000_garbage_connections_beside_a_tls_load(self) -> None:
        count, wave = 1000, 500
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < wave + 500:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
        with self.tls_server() as server:
            before = self.last_stats(server, server.stderr.line_count())
            self.assertIsNotNone(before, "no statistics line")
            load = Program(paths.client, "--port", str(server.port), "--tls", "--ca", cert("ca.pem"), "--server-name",
                           "localhost", "--connections", "4", "--size", "1024", "--pipeline", "2", "--duration", "120",
                           "--json")
            try:
                # The load runs (it has shown progress), the garbage comes, then the load stops.
                self.assertIsNotNone(load.stderr.wait_for(lambda l: l.startswith("[client "), START_LIMIT),
                                     load.stderr.text())
                # Each wave's connections end within the server's handshake timeout (10 s); the
                # limit is far above it, for a loaded machine.
                ended, left_open = garbage_flood(server.port, count, wave, limit=120)
                load.interrupt()
                code = load.wait(RUN_LIMIT)
            finally:
                load.kill()
            text = load.stdout.text()
            self.assertEqual(code, 0, f"the TLS load failed beside the garbage: {text}\n{load.stderr.text()}")
            self.assertEqual((json.loads(text)["errors"], json.loads(text)["mismatches"]), (0, 0), text)
            self.assertEqual((ended, left_open), (count, 0), "the server left garbage connections open")
            # Still serving TLS afterwards, to a fresh client.
            result, report = client(server.port, "--ca", cert("ca.pem"), "--server-name", "localhost",
                                    "--connections", "2", "--duration", "1")
            self.check_passed(result, report)
            after = self.last_stats(server, server.stderr.line_count())
            self.assertIsNotNone(after, "no statistics line")
            self.assertGreaterEqual(after[2], count, "each garbage connection is a failed handshake")
            self.assertLess(after[0] - before[0], 32, f"memory {before[0]} MB before, {after[0]} MB after")
            code, stderr = server.stop()
            self.assertEqual(code, 0, stderr)
            # Each failure logged once: one line each for the first few, then counts.
            one_by_one = stderr.count("TLS handshake failed: ")
            counted = sum(int(n) for n in re.findall(r"(\d+) more connections closed, TLS handshake failed", stderr))
            failed = int(HANDSHAKES.search(final_line(stderr) or "").group(3))
            self.assertEqual(one_by_one + counted, failed, stderr[-3000:])
            print(f"\n[tls] 1,000 garbage connections: {failed} failed handshakes ({one_by_one} logged one by one); "
                  f"memory {before[0]:.1f} MB before, {after[0]:.1f} MB after", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main(__doc__))
