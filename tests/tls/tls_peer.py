#!/usr/bin/env python3
"""Native-OpenSSL TLS peer for the engine's TLS tests (Python standard library only).

The Wine-hosted GoogleTest binaries and the Python front-end tests start this as a
child process, so the engine (SChannel under Wine) always meets an independent TLS
stack. Runs on Debian 12 (Python 3.11, OpenSSL 3.0) and 13 (3.13, OpenSSL 3.5).

certs DIR [--password PW] [--max-age S]
    Makes a throw-away PKI with the `openssl` CLI ($OPENSSL names another binary):
    ca.pem, ca.der, ca.key, and for each of server (localhost, 127.0.0.1, ::1),
    wrongname (other.example only), expired (validity wholly in the past),
    selfsigned (not from the CA) and client (clientAuth): NAME.pem, NAME.key and
    NAME.pfx (leaf + key + CA, password PW, default wire-test). Also
    thumbprints.txt and sha256.txt: lines "name HEX" for the CA and each leaf.
    Files are built in a temp dir and renamed in; a lock file (DIR/.lock)
    serialises concurrent runs. --max-age S reuses a complete set younger than S
    seconds (default 0: always regenerate). Prints "certs ready DIR".

server [--cert PEM --key KEY] [--host H] [--alpn a,b] [--mode M] [--client-ca PEM]
       [--max-connections N] [--duration S] [--timeout S] [--ready-file PATH] [COMMON]
    Listens on H (default 127.0.0.1) port 0, prints exactly one stdout line
    "listening on HOST:PORT" (and first writes HOST:PORT to PATH atomically: a
    Wine-hosted parent polls files more easily than it reads a Linux pipe), then
    serves each connection in a thread. --mode:
      echo          TLS: echo every byte until the peer closes; answer its
                    close_notify with ours.
      garbage       plain TCP: send 4096 random bytes, then close.
      silent        plain TCP: send nothing; hold the socket until the peer closes.
      truncate      TLS: once application bytes arrive, send the first half of an
                    application-data record and close TCP (no close_notify).
      close-notify  TLS: echo the first chunk read, send close_notify, wait up to
                    2 s for the peer's, then close TCP.
    --client-ca requires client certificates from that CA. Exits on SIGTERM or
    SIGINT, once N connections have ended, on COMMON's stop conditions, and
    always after --duration seconds (default 120). Logs go to stderr.

client --host H --port P [--server-name N] [--ca PEM | --insecure] [--sizes 1,100,...]
       [--alpn a,b] [--mode M] [--connections N] [--rounds R] [--parallel] [--timeout S]
       [--duration S] [--result-file PATH] [COMMON]
    Connects to an engine TLS server. --mode:
      echo              for each connection, round and size: send a deterministic
                        pseudo-random pattern while reading, compare the echo.
      garbage           send 1024 random bytes (not TLS), wait up to 10 s for the
                        server to end it; counts eof / reset / timeout.
      stall             send nothing; report how long until the server closes.
      close-mid-record  handshake, send half an application-data record, close.
      handshake-only    handshake, report version / cipher / ALPN, close_notify.
    Prints one JSON line ({"ok", "mode", "bytes", "mismatches", "version",
    "cipher", "alpn", "errors", ...}), after writing it to PATH atomically; exit
    status 0 if ok, else 1. Stopped early (COMMON, or --duration, default 600 s),
    it reports ok false with a "stopped" error.

COMMON: --stop-file PATH (leave once PATH exists: how a Wine-hosted parent, which
cannot signal a Linux child, ends it) and --exit-on-stdin-eof.
Every wait is bounded: by --timeout (idle, default 30 s) and by --duration.
"""
import argparse
import datetime
import json
import os
import random
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

try:
    import fcntl  # only to serialise concurrent `certs` runs
except ImportError:
    fcntl = None

OPENSSL = os.environ.get('OPENSSL', 'openssl')
LEAVES = ('server', 'wrongname', 'expired', 'selfsigned', 'client')


def emit(text, stream=None):
    # A parent under Wine may leave us no usable stdout/stderr: never die of that.
    try:
        print(text, file=stream or sys.stdout, flush=True)
    except (OSError, ValueError, AttributeError):
        pass


def write_atomically(path, text):
    # Readers poll for a non-empty file: they must never see half of it.
    with open(path + '.tmp', 'w') as f:
        f.write(text)
    os.replace(path + '.tmp', path)


def watch(args, on_stop):
    """Call on_stop once --stop-file appears, --duration passes or (if asked) stdin closes."""
    end = time.monotonic() + args.duration

    def poll():
        while time.monotonic() < end and not (args.stop_file and os.path.exists(args.stop_file)):
            time.sleep(0.1)
        on_stop()

    def stdin():  # a parent that dies closes our stdin: go with it
        while os.read(0, 4096):
            pass
        on_stop()
    threading.Thread(target=poll, daemon=True).start()
    if args.exit_on_stdin_eof:
        threading.Thread(target=stdin, daemon=True).start()



def ossl(*args, cwd=None):
    r = subprocess.run([OPENSSL, *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    if r.returncode:
        raise RuntimeError(f'openssl {" ".join(args)}: {r.stderr.strip()}')
    return r.stdout


def rsa_lengths(key):
    """Byte length of each integer printed by `openssl pkey -text` (hex dumps)."""
    fields, name = {}, None
    for line in ossl('pkey', '-in', key, '-noout', '-text').splitlines():
        if not line.startswith(' ') and line.endswith(':'):
            name, fields[line[:-1]] = line[:-1], ''
        elif name and line.startswith(' '):
            fields[name] += line.strip().replace(':', '')
        else:
            name = None
    return {k: len(bytes.fromhex(v).lstrip(b'\0')) for k, v in fields.items()}


def make_key(path):
    # Wine's PFX import (crypt32 import_store_key) copies each RSA integer into a
    # fixed-width PRIVATEKEYBLOB slot and silently stops at the first shorter one,
    # leaving the rest garbage: the handshake then fails with 0x80090304. So every
    # key must have a full-length d (modulus bytes) and p, q, dP, dQ, qInv (half
    # that). About 1 key in 12 is short somewhere: regenerate until none is.
    for _ in range(100):
        ossl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', path)
        n = rsa_lengths(path)
        if n['privateExponent'] == n['modulus'] and all(
                n[k] == n['modulus'] // 2 for k in ('prime1', 'prime2', 'exponent1', 'exponent2', 'coefficient')):
            return
    raise RuntimeError('no full-length RSA key in 100 tries')


LEAF_EXT = ('basicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature,keyEncipherment\n'
            'subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n')
CA_CONF = """[ca]
default_ca = tca
[tca]
database = {d}/index.txt
new_certs_dir = {d}/new
serial = {d}/serial
default_md = sha256
policy = pol
unique_subject = no
email_in_dn = no
copy_extensions = none
[pol]
commonName = supplied
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
[server]
{leaf}extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1,IP:::1
[wrongname]
{leaf}extendedKeyUsage = serverAuth
subjectAltName = DNS:other.example
[client]
{leaf}extendedKeyUsage = clientAuth
"""


def utc(days):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days)
    return t.strftime('%y%m%d%H%M%SZ')


def sign(tmp, name, cn, ext, start, end, selfsign=False):
    # `openssl ca` because it takes explicit start and end dates on OpenSSL 3.0
    # (x509 -not_before/-not_after arrived in 3.4): backdated and expired certs.
    make_key(f'{tmp}/{name}.key')
    ossl('req', '-new', '-key', f'{name}.key', '-subj', f'/CN={cn}', '-out', f'{name}.csr', cwd=tmp)
    signer = ['-selfsign', '-keyfile', f'{name}.key'] if selfsign else ['-cert', 'ca.pem', '-keyfile', 'ca.key']
    ossl('ca', '-batch', '-notext', '-config', 'ca.cnf', '-extensions', ext, '-create_serial',
         '-startdate', utc(start), '-enddate', utc(end), *signer, '-in', f'{name}.csr',
         '-out', f'{name}.pem', cwd=tmp)


def make_pfx(tmp, name, password, with_ca):
    # The classic SHA1-3DES PBE and SHA-1 MAC import everywhere: Wine (through GnuTLS)
    # and Windows before 10 1709, which cannot read OpenSSL 3's AES-256/PBKDF2
    # default. 3DES is in OpenSSL 3's default provider; -legacy is only a fallback.
    cmd = ['pkcs12', '-export', '-in', f'{name}.pem', '-inkey', f'{name}.key', '-name', name,
           '-passout', f'pass:{password}', '-keypbe', 'PBE-SHA1-3DES', '-certpbe', 'PBE-SHA1-3DES',
           '-macalg', 'sha1', '-out', f'{name}.pfx'] + (['-certfile', 'ca.pem'] if with_ca else [])
    try:
        ossl(*cmd, cwd=tmp)
    except RuntimeError:
        ossl(*cmd, '-legacy', cwd=tmp)


def fingerprint(pem, alg):
    out = ossl('x509', '-in', pem, '-noout', '-fingerprint', f'-{alg}')
    return out.strip().split('=', 1)[1].replace(':', '').upper()


def certs(args):
    out = os.path.abspath(args.dir)
    os.makedirs(out, exist_ok=True)
    # sha256.txt last: once it is renamed in, the set is complete.
    names = ['ca.pem', 'ca.der', 'ca.key'] + [f'{n}.{e}' for n in LEAVES for e in ('pem', 'key', 'pfx')] + [
        'thumbprints.txt', 'sha256.txt']
    with open(os.path.join(out, '.lock'), 'w') as lock:
        if fcntl:
            fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = os.path.join(out, names[-1])
        if args.max_age > 0 and all(os.path.exists(os.path.join(out, n)) for n in names) \
                and time.time() - os.path.getmtime(stamp) < args.max_age:
            emit(f'certs ready {out}')
            return 0
        tmp = tempfile.mkdtemp(prefix='.gen-', dir=out)  # same filesystem: os.replace is atomic
        try:
            os.mkdir(f'{tmp}/new')
            open(f'{tmp}/index.txt', 'w').close()
            with open(f'{tmp}/ca.cnf', 'w') as f:
                f.write(CA_CONF.format(d=tmp, leaf=LEAF_EXT))
            # A fresh CA name each run, so a CA some Wine store kept from an earlier run
            # is never mistaken for this one; backdated so it covers the leaves.
            sign(tmp, 'ca', f'Wire Test CA {os.urandom(4).hex()}', 'v3_ca', -2, 10, selfsign=True)
            ossl('x509', '-in', 'ca.pem', '-outform', 'DER', '-out', 'ca.der', cwd=tmp)
            # Leaves start a day back so clock differences never make them "not yet valid".
            sign(tmp, 'server', 'localhost', 'server', -1, 9)
            sign(tmp, 'wrongname', 'other.example', 'wrongname', -1, 9)
            sign(tmp, 'expired', 'localhost', 'server', -30, -20)
            sign(tmp, 'client', 'wire-test-client', 'client', -1, 9)
            sign(tmp, 'selfsigned', 'localhost', 'server', -1, 9, selfsign=True)
            for n in LEAVES:
                make_pfx(tmp, n, args.password, n != 'selfsigned')
            for alg, fname in (('sha1', 'thumbprints.txt'), ('sha256', 'sha256.txt')):
                with open(f'{tmp}/{fname}', 'w') as f:
                    f.writelines(f'{n} {fingerprint(f"{tmp}/{n}.pem", alg)}\n' for n in ('ca',) + LEAVES)
            for n in names:
                os.replace(f'{tmp}/{n}', os.path.join(out, n))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    emit(f'certs ready {out}')
    return 0



class Tls:
    """SSLObject + MemoryBIO over a non-blocking socket, driven from one thread.

    One thread can then send and receive at once (an SSLSocket must not be used
    from two threads), and the raw record bytes are ours to cut.
    """
    MAX_OUT = 4 << 20  # stop reading while this much is unsent: bounded memory

    def __init__(self, sock, ctx, server_side, hostname, timeout, deadline):
        sock.setblocking(False)
        self.sock, self.timeout, self.deadline = sock, timeout, deadline
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inc, self.out, server_side=server_side, server_hostname=hostname)
        self.outbuf, self.eof, self.closed = bytearray(), False, False

    def info(self):
        return {'version': self.obj.version(), 'cipher': self.obj.cipher()[0],
                'alpn': self.obj.selected_alpn_protocol()}

    def pump(self, want_read=True):
        """One bounded select round: send what is pending, take in what arrived."""
        self.outbuf += self.out.read()
        r = [self.sock] if want_read and not self.eof and len(self.outbuf) < self.MAX_OUT else []
        w = [self.sock] if self.outbuf else []
        if not r and not w:
            if want_read:
                raise ConnectionError('peer closed the connection')
            return
        left = max(0, min(self.timeout, self.deadline - time.monotonic()))
        rr, ww, _ = select.select(r, w, [], left)
        if not rr and not ww:
            raise TimeoutError(f'no progress for {left:.1f} s')
        if ww:
            del self.outbuf[:self.sock.send(self.outbuf)]
        if rr:
            data = self.sock.recv(1 << 18)
            if data:
                self.inc.write(data)
            else:
                self.eof = True
                self.inc.write_eof()

    def flush(self):
        while self.outbuf or self.out.pending:
            self.pump(want_read=False)

    def handshake(self):
        while True:
            try:
                self.obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.pump()
        self.flush()

    def read_ready(self):
        """Decrypted bytes available now; sets .closed on close_notify, raises on unclean EOF."""
        chunks = []
        while not self.closed:
            try:
                d = self.obj.read(1 << 17)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:  # how close_notify shows once ours was sent
                d = b''
            if d:
                chunks.append(d)
            else:
                self.closed = True
        return b''.join(chunks)

    def read_some(self):
        while not (d := self.read_ready()) and not self.closed:
            self.pump()
        return d

    def send_half_record(self, n=1000):
        """Send the first half of one fresh application-data record, straight to the socket."""
        self.flush()  # anything queued (e.g. TLS 1.3 session tickets) goes out whole first
        self.obj.write(b'T' * n)
        rec = self.out.read()
        self.sock.setblocking(True)
        self.sock.sendall(rec[:len(rec) // 2])

    def close_notify(self, wait=2.0):
        """Send close_notify and wait (briefly) for the peer's; returns how it ended."""
        try:
            self.obj.unwrap()
        except ssl.SSLWantReadError:
            pass  # ours is queued; the peer's has not arrived yet
        except ssl.SSLError:
            return 'error'
        self.timeout = min(self.timeout, wait)
        try:
            self.flush()
            while not self.closed:
                if not self.read_ready() and not self.closed:
                    self.pump()
            return 'close_notify'
        except (OSError, ssl.SSLError):
            return 'eof' if self.eof else 'none'


def finish_raw(sock, wait=2.0):
    """Close with FIN, not RST (unread input makes close() reset): shut down, drain, close."""
    end, how = time.monotonic() + wait, 'timeout'
    try:
        sock.setblocking(True)
        sock.shutdown(socket.SHUT_WR)
        while (left := end - time.monotonic()) > 0:
            sock.settimeout(left)
            if not sock.recv(65536):
                how = 'eof'
                break
    except socket.timeout:
        pass
    except OSError:
        how = 'reset'
    sock.close()
    return how


def make_ctx(server_side, alpn):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server_side else ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if alpn:
        ctx.set_alpn_protocols(alpn.split(','))
    return ctx



def serve_one(conn, mode, ctx, timeout, deadline):
    if mode == 'garbage':
        conn.sendall(os.urandom(4096))
        finish_raw(conn)
        return
    if mode == 'silent':
        conn.settimeout(0.5)  # short, so the deadline is noticed
        while time.monotonic() < deadline:
            try:
                if not conn.recv(65536):
                    break
            except socket.timeout:
                pass
        conn.close()
        return
    t = Tls(conn, ctx, True, None, timeout, deadline)
    try:
        t.handshake()
        if mode == 'echo':
            while not t.closed:
                if data := t.read_ready():
                    t.obj.write(data)
                if not t.closed:
                    t.pump()
            t.close_notify()
        elif mode == 'truncate':
            t.read_some()
            t.send_half_record()
            finish_raw(conn)
        else:  # close-notify
            if data := t.read_some():
                t.obj.write(data)
            # Wait briefly for the peer's answer, then FIN: a peer that misses our
            # close_notify (Wine 8's DecryptMessage reports it as an empty record)
            # still sees the end of the stream.
            t.close_notify(wait=2.0)
            finish_raw(conn, 1.0)
    finally:
        conn.close()


def server(args):
    deadline = time.monotonic() + args.duration
    stop = threading.Event()
    for s in (signal.SIGTERM, signal.SIGINT):
        signal.signal(s, lambda *_: stop.set())
    watch(args, stop.set)
    ctx = None
    if args.mode in ('echo', 'truncate', 'close-notify'):
        if not (args.cert and args.key):
            sys.exit(f'tls_peer: --mode {args.mode} needs --cert and --key')
        ctx = make_ctx(True, args.alpn)
        ctx.load_cert_chain(args.cert, args.key)
        if args.client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(args.client_ca)
    lsock = socket.create_server((args.host, 0), family=socket.AF_INET6 if ':' in args.host else socket.AF_INET)
    lsock.settimeout(0.2)  # so stop and the deadline are noticed
    port = lsock.getsockname()[1]
    if args.ready_file:
        write_atomically(args.ready_file, f'{args.host}:{port}\n')
    emit(f'listening on {args.host}:{port}')

    def run(conn, n):
        try:
            serve_one(conn, args.mode, ctx, args.timeout or args.duration, deadline)
        except Exception as e:  # expected in negative tests; stderr only
            emit(f'tls_peer: connection {n}: {type(e).__name__}: {e}', sys.stderr)

    threads = []
    while not stop.is_set() and time.monotonic() < deadline:
        if args.max_connections and len(threads) >= args.max_connections:
            if not any(th.is_alive() for th in threads):
                break
            time.sleep(0.05)
            continue
        try:
            conn, _ = lsock.accept()
        except socket.timeout:
            continue
        threads.append(threading.Thread(target=run, args=(conn, len(threads) + 1), daemon=True))
        threads[-1].start()
    lsock.close()
    return 0  # daemon threads still serving end with the process



def tls_connect(args, ctx, deadline):
    sock = socket.create_connection((args.host, args.port), timeout=args.timeout)
    t = Tls(sock, ctx, False, args.server_name or args.host, args.timeout, deadline)
    t.handshake()
    return t


def echo_conn(args, ctx, c, res, lock, deadline):
    t = tls_connect(args, ctx, deadline)
    with lock:
        res.update(t.info())
    try:
        for r in range(args.rounds):
            for size in args.sizes:
                want, got, sent = random.Random(f'{c}/{r}/{size}').randbytes(size), bytearray(), 0
                while len(got) < size:  # sending and reading interleaved: no deadlock
                    if sent < size and len(t.outbuf) + t.out.pending < (1 << 20):
                        t.obj.write(want[sent:sent + 65536])
                        sent = min(size, sent + 65536)
                    got += t.read_ready()
                    if t.closed and len(got) < size:
                        raise ConnectionError(f'close_notify after {len(got)} of {size} bytes')
                    if len(got) < size:
                        t.pump()
                with lock:
                    res['bytes'] += len(got)
                    if got != want:
                        res['mismatches'] += 1
                        res['errors'].append(f'conn {c} round {r}: the {size} B echo differs')
        res['peer_close'] = t.close_notify()
    finally:
        t.sock.close()


def raw_wait(args, payload, limit):
    """Connect TCP, send payload, wait for the server to end it: (how, seconds)."""
    t0 = time.monotonic()
    sock = socket.create_connection((args.host, args.port), timeout=args.timeout)
    try:
        sock.sendall(payload)
        while (left := limit - (time.monotonic() - t0)) > 0:
            sock.settimeout(left)
            if not sock.recv(65536):
                return 'eof', time.monotonic() - t0
        raise socket.timeout
    except socket.timeout:
        return 'timeout', time.monotonic() - t0
    except OSError:  # reset, or refused mid-send
        return 'reset', time.monotonic() - t0
    finally:
        sock.close()


def client(args):
    res = {'ok': False, 'mode': args.mode, 'bytes': 0, 'mismatches': 0, 'version': None,
           'cipher': None, 'alpn': None, 'errors': []}
    lock, reported = threading.Lock(), []
    deadline = time.monotonic() + args.duration  # the whole run; --timeout bounds each wait

    def report():  # once: --result-file (atomically), then stdout
        with lock:
            if not reported:
                reported.append(res['ok'])
                if args.result_file:
                    write_atomically(args.result_file, json.dumps(res) + '\n')
                emit(json.dumps(res))
        return 0 if reported[0] else 1

    def stopped():
        with lock:
            res['errors'].append('stopped (--stop-file, --duration or stdin EOF) before the end')
            res['ok'] = False
        os._exit(report())
    watch(args, stopped)
    try:
        ctx = make_ctx(False, args.alpn)
        if args.insecure:
            ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        elif args.ca:
            ctx.load_verify_locations(args.ca)
        else:
            ctx.load_default_certs()
        if args.mode == 'echo':
            def one(c):
                try:
                    echo_conn(args, ctx, c, res, lock, deadline)
                except Exception as e:  # verification failures land here with OpenSSL's text
                    with lock:
                        res['errors'].append(f'conn {c}: {type(e).__name__}: {e}')
            if args.parallel:
                ths = [threading.Thread(target=one, args=(c,), daemon=True) for c in range(args.connections)]
                for th in ths:
                    th.start()
                for th in ths:
                    th.join(max(0, deadline - time.monotonic()))
            else:
                for c in range(args.connections):
                    one(c)
            res['ok'] = not res['errors'] and res['mismatches'] == 0
        elif args.mode == 'garbage':
            ended = {'eof': 0, 'reset': 0, 'timeout': 0}
            for _ in range(args.connections):
                ended[raw_wait(args, os.urandom(1024), min(args.timeout, 10))[0]] += 1
            res.update(ended=ended, ok=ended['timeout'] == 0)
        elif args.mode == 'stall':
            how, secs = raw_wait(args, b'', args.timeout)
            res.update(ended=how, waited=round(secs, 3), ok=how != 'timeout')
        else:
            t = tls_connect(args, ctx, deadline)
            res.update(t.info())
            if args.mode == 'close-mid-record':
                t.send_half_record()
                res['ended'] = finish_raw(t.sock, min(args.timeout, 10))
            else:  # handshake-only
                res['peer_close'] = t.close_notify()
                t.sock.close()
            res['ok'] = True
    except Exception as e:
        with lock:
            res['errors'].append(f'{type(e).__name__}: {e}')
    return report()



def main():
    p = argparse.ArgumentParser(description='Native OpenSSL TLS peer for the engine tests (see the module docstring).')
    sub = p.add_subparsers(dest='cmd', required=True)
    c = sub.add_parser('certs', help='make test certificates')
    c.add_argument('dir')
    c.add_argument('--password', default='wire-test')
    c.add_argument('--max-age', type=float, default=0, help='reuse a complete set younger than this (s)')
    s = sub.add_parser('server', help='TLS (or hostile TCP) server')
    for name in ('--cert', '--key', '--alpn', '--client-ca', '--ready-file'):
        s.add_argument(name)
    s.add_argument('--host', default='127.0.0.1')
    s.add_argument('--mode', default='echo', choices=['echo', 'garbage', 'silent', 'truncate', 'close-notify'])
    s.add_argument('--max-connections', type=int, default=0, help='exit once this many have ended (0: no limit)')
    s.add_argument('--duration', type=float, default=120, help='exit after this many seconds, whatever happens')
    s.add_argument('--timeout', type=float, default=0, help='per-connection idle limit (default: --duration)')
    k = sub.add_parser('client', help='TLS (or hostile TCP) client')
    k.add_argument('--host', required=True)
    k.add_argument('--port', type=int, required=True)
    k.add_argument('--server-name', help='SNI and name to verify (default: --host)')
    for name in ('--ca', '--alpn'):
        k.add_argument(name)
    for name in ('--insecure', '--parallel'):  # --parallel: run the connections at once
        k.add_argument(name, action='store_true')
    k.add_argument('--sizes', default='1,100,16384,1048576', type=lambda v: [int(x) for x in v.split(',') if x])
    k.add_argument('--mode', default='echo', choices=['echo', 'garbage', 'stall', 'close-mid-record', 'handshake-only'])
    k.add_argument('--connections', type=int, default=1)
    k.add_argument('--rounds', type=int, default=1)
    k.add_argument('--timeout', type=float, default=30)
    k.add_argument('--duration', type=float, default=600, help='give up after this many seconds, whatever happens')
    k.add_argument('--result-file')
    for q in (s, k):  # a Wine-hosted parent cannot signal a Linux child: it makes the stop file
        q.add_argument('--stop-file', help='leave as soon as this file exists')
        q.add_argument('--exit-on-stdin-eof', action='store_true')
    a = p.parse_args()
    return {'certs': certs, 'server': server, 'client': client}[a.cmd](a)


if __name__ == '__main__':
    sys.exit(main())
