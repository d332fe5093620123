"""AUTH handshake load for make bench: how many complete SMTP AUTH
handshakes per second a submission listener performs.

One handshake is one new TCP connection to 127.0.0.1: greeting, EHLO,
STARTTLS, a full TLS handshake (no session resumption: every connection
starts without a session), EHLO, AUTH with PLAIN (initial response,
RFC 4616) or SCRAM-SHA-256 (RFC 5802, RFC 7677: the client proof computed
here, the server's signature checked), 235, QUIT. The server certificate
is verified against the bench's own CA file and host name.

Load: `conc` handshakes in flight at all times, spread over up to two
client processes (one per core) of threads, so that the client's Python
is not a single-core bottleneck. After a warm-up the handshakes whose 235
arrives inside a window of `seconds` are counted; rate = count / window.

The SCRAM client caches SaltedPassword per (salt, iteration count), as
RFC 5802 §5.1 allows a client to do: the server always sends the same
salt for a user, so the client's PBKDF2 cost is paid once and the rate
measures the server. Run directly for a quick check:
/usr/bin/python3 bench/authload.py PORT PLAIN|SCRAM-SHA-256 USER PW CAFILE
"""
import base64
import hashlib
import hmac
import multiprocessing
import os
import socket
import ssl
import statistics
import sys
import threading
import time

HELO = "client.bench.test"
SERVER_NAME = "mx.bench.test"
TIMEOUT = 30.0
MAX_LINE = 4096


class AuthError(Exception):
    """A handshake that did not end in 235 as it should."""


class Closed(Exception):
    """The window closed while a handshake was in progress."""


class Conn:
    """One SMTP connection: a socket (plain, then TLS) and its input. No
    operation outlasts `deadline` (time.monotonic()), the end of the
    window, nor TIMEOUT seconds."""

    def __init__(self, port, deadline):
        self.deadline = deadline
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=self.left())
        self.buf = b""

    def left(self):
        t = self.deadline - time.monotonic()
        if t <= 0:
            raise Closed()
        return min(t, TIMEOUT)

    def line(self):
        while b"\n" not in self.buf:
            self.sock.settimeout(self.left())
            data = self.sock.recv(4096)
            if not data:
                raise AuthError("connection closed by the server")
            self.buf += data
            if len(self.buf) > MAX_LINE:
                raise AuthError("reply line too long")
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("ascii", "replace")

    def reply(self, want):
        """Reads one (multi-line) reply; AuthError unless its code is
        `want`. Returns the text of its last line after the code."""
        while True:
            text = self.line()
            if len(text) < 3 or not text[:3].isdigit():
                raise AuthError(f"bad reply line {text[:80]!r}")
            if len(text) == 3 or text[3] == " ":
                break
        if text[:3] != want:
            raise AuthError(f"wanted {want}, got {text[:100]!r}")
        return text[4:]

    def cmd(self, text, want):
        self.sock.settimeout(self.left())
        self.sock.sendall(text.encode("ascii") + b"\r\n")
        return self.reply(want)

    def starttls(self, tls):
        self.cmd("STARTTLS", "220")
        if self.buf:
            raise AuthError("data after the STARTTLS reply")
        self.sock.settimeout(self.left())
        self.sock = tls.wrap_socket(self.sock,
                                    server_hostname=SERVER_NAME)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def b64(data):
    return base64.b64encode(data).decode("ascii")


def _hmac(key, msg):
    return hmac.new(key, msg, hashlib.sha256).digest()


class Scram:
    """SCRAM-SHA-256 client side (no channel binding: GS2 header "n,,")."""
    cache = {}
    lock = threading.Lock()

    def __init__(self, user, password):
        self.user = user.replace("=", "=3D").replace(",", "=2C")
        self.password = password.encode()
        self.nonce = b64(os.urandom(18))
        self.bare = f"n={self.user},r={self.nonce}"
        self.server_sig = None

    def first(self):
        return b64(("n,," + self.bare).encode())

    def salted(self, salt, iters):
        key = (salt, iters)
        with self.lock:
            sp = self.cache.get(key)
        if sp is None:
            sp = hashlib.pbkdf2_hmac("sha256", self.password, salt, iters)
            with self.lock:
                self.cache[key] = sp
        return sp

    def final(self, challenge):
        """The client-final-message for the server-first-message."""
        sfirst = base64.b64decode(challenge, validate=True).decode()
        attrs = dict(a.split("=", 1) for a in sfirst.split(",") if "=" in a)
        r, s, i = attrs.get("r", ""), attrs.get("s"), attrs.get("i")
        if not r.startswith(self.nonce) or s is None or i is None:
            raise AuthError(f"bad server-first-message {sfirst[:80]!r}")
        sp = self.salted(base64.b64decode(s), int(i))
        ckey = _hmac(sp, b"Client Key")
        without = f"c={b64(b'n,,')},r={r}"
        msg = f"{self.bare},{sfirst},{without}".encode()
        sig = _hmac(hashlib.sha256(ckey).digest(), msg)
        proof = bytes(a ^ b for a, b in zip(ckey, sig))
        self.server_sig = _hmac(_hmac(sp, b"Server Key"), msg)
        return b64(f"{without},p={b64(proof)}".encode())

    def check(self, challenge):
        sfinal = base64.b64decode(challenge, validate=True).decode()
        if sfinal != "v=" + b64(self.server_sig):
            raise AuthError(f"wrong server signature {sfinal[:80]!r}")


def handshake(port, tls, mech, user, password, deadline):
    """One complete handshake; returns (TLS version, cipher name)."""
    c = Conn(port, deadline)
    try:
        c.reply("220")
        c.cmd(f"EHLO {HELO}", "250")
        c.starttls(tls)
        c.cmd(f"EHLO {HELO}", "250")
        if mech == "PLAIN":
            resp = b64(f"\0{user}\0{password}".encode())
            c.cmd(f"AUTH PLAIN {resp}", "235")
        else:
            s = Scram(user, password)
            ch = c.cmd(f"AUTH SCRAM-SHA-256 {s.first()}", "334")
            ch = c.cmd(s.final(ch), "334")
            s.check(ch)
            c.cmd("", "235")
        c.cmd("QUIT", "221")
        return c.sock.version(), c.sock.cipher()[0]
    finally:
        c.close()


def tls_context(cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def _thread(job, tls, out):
    """Handshakes until the window closes; appends the latencies of those
    that ended inside it to out["lat"]."""
    port, mech, user, pw, start, end = job
    while True:
        t0 = time.monotonic()
        if t0 >= end:
            return
        try:
            ver = handshake(port, tls, mech, user, pw, end)
        except Closed:
            return
        except (OSError, ValueError, ssl.SSLError, AuthError) as e:
            if time.monotonic() >= end:
                return		# cut off by the end of the window
            out["errors"] += 1
            if len(out["samples"]) < 3:
                out["samples"].append(f"{type(e).__name__}: {e}"[:200])
            time.sleep(0.05)
            continue
        t1 = time.monotonic()
        out["tls"] = ver
        if start <= t1 < end:
            out["lat"].append(t1 - t0)


def _process(job, nthreads, cafile, conn):
    """One client process: nthreads threads; sends its tally on conn."""
    tls = tls_context(cafile)
    outs = [{"lat": [], "errors": 0, "samples": [], "tls": None}
            for _ in range(nthreads)]
    threads = [threading.Thread(target=_thread, args=(job, tls, o))
               for o in outs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    tally = {"lat": [x for o in outs for x in o["lat"]],
             "errors": sum(o["errors"] for o in outs),
             "samples": [s for o in outs for s in o["samples"]][:3],
             "tls": next((o["tls"] for o in outs if o["tls"]), None)}
    conn.send(tally)
    conn.close()


def run(port, mech, user, password, cafile, conc, seconds, warmup=1.0):
    """One timed run. Returns {rate, count, errors, error_samples,
    median_ms, tls, conc, seconds}; rate is 0 if no handshake ended in
    the window."""
    nproc = max(1, min(conc, os.cpu_count() or 1, 2))
    start = time.monotonic() + 0.3 + warmup
    end = start + seconds
    job = (port, mech, user, password, start, end)
    mp = multiprocessing.get_context("fork")
    procs, pipes = [], []
    for i in range(nproc):
        n = conc // nproc + (1 if i < conc % nproc else 0)
        rd, wr = mp.Pipe(duplex=False)
        p = mp.Process(target=_process, args=(job, n, cafile, wr))
        p.start()
        wr.close()
        procs.append(p)
        pipes.append(rd)
    tallies = []
    for rd, p in zip(pipes, procs):
        try:
            if rd.poll(seconds + warmup + 2 * TIMEOUT + 10):
                tallies.append(rd.recv())
        except EOFError:
            pass
        p.join(5)
        if p.is_alive():
            p.kill()
            p.join()
    lat = [x for t in tallies for x in t["lat"]]
    errors = sum(t["errors"] for t in tallies)
    if len(tallies) < nproc:
        errors += 1
    tls = next((t["tls"] for t in tallies if t["tls"]), None)
    return {"rate": round(len(lat) / seconds, 2),
            "count": len(lat), "errors": errors,
            "error_samples": [s for t in tallies for s in t["samples"]][:3],
            "median_ms": round(statistics.median(lat) * 1000, 1)
            if lat else None,
            "tls": f"{tls[0]} {tls[1]}" if tls else None,
            "conc": conc, "seconds": seconds}


if __name__ == "__main__":
    a = sys.argv[1:]
    if len(a) < 5:
        sys.exit(__doc__.strip().splitlines()[-1])
    print(run(int(a[0]), a[1], a[2], a[3], a[4],
              int(a[5]) if len(a) > 5 else 1, 3.0))
