"""Helpers for the black-box tests of the submission role (issue #4):
STARTTLS, implicit TLS and SASL AUTH (test_tls.py, test_auth.py,
test_relay_dns.py).

- make_cert(): a self-signed ECDSA P-256 certificate made with the
  `openssl` command line, key mode 0600 (the server refuses anything else).
- Conn: a raw SMTP connection (smtp_util.SMTPConn) that can start TLS at
  connect (implicit, RFC 8314) or after STARTTLS (RFC 3207), bind a chosen
  loopback source address (the AUTH rate limit is per client address), and
  speak AUTH one line at a time.
- ScramClient: SCRAM-SHA-256 and SCRAM-SHA-256-PLUS (RFC 5802, RFC 7677,
  channel binding tls-unique, RFC 5929) written here from the RFCs with
  hashlib and hmac; it checks the server signature (v=).
- submission(): a started server with a STARTTLS submission listener, an
  implicit-TLS one, the test's certificate, and a user.

Everything talks to 127.0.0.0/8 only. Every server the helpers start is
started through the conftest `postern` fixture, which stops it.
"""
import base64
import hashlib
import hmac
import os
import pathlib
import queue
import re
import secrets
import signal
import socket
import ssl
import subprocess
import threading
import time

import pytest

import conftest
import smtp_util
from smtp_util import check

HOST = "127.0.0.1"
HOSTNAME = "mx.example.test"
USER = "bob@example.test"
# A password that cannot appear in a log by accident.
PASSWORD = "Xq7-secret-Zk9!pass"
MECHS_ALL = "SCRAM-SHA-256, PLAIN, LOGIN, CRAM-MD5"
NO_DNS = "127.0.0.1:9"      # discard: nothing answers DNS there

AUTH_OK = (235, "2.7.0", "Authentication successful")
AUTH_BAD = (535, "5.7.8", "Authentication credentials invalid")
AUTH_CANCELLED = (501, "5.7.0", "Authentication cancelled")
AUTH_BAD_BASE64 = (501, "5.5.2", "Cannot decode response")
AUTH_UNKNOWN = (504, "5.5.4", "Unrecognized authentication type")
AUTH_NEED_TLS = (538, "5.7.11", "Encryption required for requested "
                 "authentication mechanism")
AUTH_REQUIRED = (530, "5.7.0", "Authentication required")
AUTH_TOO_LONG = (500, "5.5.6", "Authentication exchange line is too long")
STARTTLS_GO = (220, "2.0.0", "Ready to start TLS")
NEED_EHLO = (503, "5.5.1", "Send EHLO or HELO first")


def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode()


def unb64(text):
    return base64.b64decode(text, validate=True)


# --- Certificates ------------------------------------------------------------

def make_cert(directory, name="cert", cn=HOSTNAME, days=2):
    """Writes NAME.pem and NAME.key (mode 0600) into directory; returns
    (cert path, key path)."""
    d = pathlib.Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    cert, key = d / f"{name}.pem", d / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:P-256", "-nodes", "-subj", f"/CN={cn}",
         "-addext", f"subjectAltName=DNS:{cn}", "-days", str(days),
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=30)
    os.chmod(key, 0o600)
    return cert, key


def pem_fingerprint(pem):
    """SHA-256 of the DER form of the first certificate in a PEM text."""
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()


def file_fingerprint(path):
    text = pathlib.Path(path).read_text()
    first = text[:text.index("-----END CERTIFICATE-----") + 25] + "\n"
    return pem_fingerprint(first)


def client_context(cafile=None, min_version=None, max_version=None,
                   ciphers=None):
    """A client context: verifies the server against cafile (and the name
    mx.example.test) when given, else accepts any certificate."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cafile is not None:
        ctx.load_verify_locations(cafile=str(cafile))
        ctx.check_hostname = True
        ctx.verify_mode = ssl.CERT_REQUIRED
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if min_version is not None:
        ctx.minimum_version = min_version
    if max_version is not None:
        ctx.maximum_version = max_version
    if ciphers is not None:
        ctx.set_ciphers(ciphers)
    return ctx


# --- A raw SMTP connection with TLS ------------------------------------------

class Conn(smtp_util.SMTPConn):
    """smtp_util.SMTPConn plus TLS and a chosen source address.
    implicit: the TLS handshake happens at connect (ctx or an accepting
    default context)."""

    def __init__(self, port, implicit=False, ctx=None, source=None,
                 timeout=10.0, greet=True):
        self.timeout = timeout
        self.buf = b""
        self.ctx = ctx or client_context()
        self.sock = socket.create_connection(
            (HOST, port), timeout=timeout,
            source_address=(source, 0) if source else None)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if implicit:
            self.sock = self.ctx.wrap_socket(self.sock,
                                             server_hostname=HOSTNAME)
        self.greeting = self.read_reply() if greet else None
        if greet:
            check(self.greeting, 220, None, what="greeting")
            assert str(self.greeting) == f"220 {HOSTNAME} ESMTP Postern"

    @property
    def tls(self):
        return isinstance(self.sock, ssl.SSLSocket)

    def starttls(self, ctx=None):
        """STARTTLS, then the handshake. Nothing may follow the 220."""
        self.expect("STARTTLS", *STARTTLS_GO)
        assert self.buf == b"", f"plaintext after 220: {self.buf!r}"
        self.sock = (ctx or self.ctx).wrap_socket(self.sock,
                                                  server_hostname=HOSTNAME)
        return self

    def ehlo_keywords(self, name=smtp_util.HELO_NAME):
        """EHLO; returns {KEYWORD: parameters} of the reply."""
        r = self.ehlo(name)
        out = {}
        for text in r.texts()[1:]:
            kw, _, params = text.partition(" ")
            out[kw.upper()] = params
        return out

    def cipher(self):
        """(version, cipher name) of the TLS session."""
        name, version, _bits = self.sock.cipher()
        return version, name

    def quiet(self, seconds=0.5):
        """Asserts the server sends nothing for `seconds`."""
        self.sock.settimeout(seconds)
        try:
            data = self.sock.recv(4096)
        except (socket.timeout, TimeoutError):
            return
        except ssl.SSLWantReadError:
            return
        finally:
            self.sock.settimeout(self.timeout)
        raise AssertionError(f"unexpected bytes from the server: {data!r}")

    # AUTH helpers: each returns the final reply.

    def auth_plain(self, user=USER, password=PASSWORD, authzid="",
                   initial=True):
        blob = b64(f"{authzid}\0{user}\0{password}")
        if initial:
            return self.cmd(f"AUTH PLAIN {blob}")
        r = self.cmd("AUTH PLAIN")
        assert r.lines == ["334 "], r
        return self.cmd(blob)

    def auth_login(self, user=USER, password=PASSWORD):
        r = self.cmd("AUTH LOGIN")
        assert r.lines == ["334 " + b64("Username:")], r
        r = self.cmd(b64(user))
        assert r.lines == ["334 " + b64("Password:")], r
        return self.cmd(b64(password))

    def auth_cram(self, user=USER, password=PASSWORD):
        r = self.cmd("AUTH CRAM-MD5")
        assert r.code == 334, r
        challenge = unb64(r.lines[0][4:])
        assert re.fullmatch(rb"<[^<>@\s]+@[^<>@\s]+>", challenge), challenge
        digest = hmac.new(password.encode(), challenge, "md5").hexdigest()
        return self.cmd(b64(f"{user} {digest}"))

    def auth_scram(self, user=USER, password=PASSWORD, plus=False,
                   cbflag=None):
        """A whole SCRAM-SHA-256(-PLUS) exchange; returns (final reply,
        client). The server signature is checked when the server sends
        one."""
        cb = None
        if plus or cbflag == "p=tls-unique":
            cb = self.sock.get_channel_binding("tls-unique")
        client = ScramClient(user, password, cb=cb, cbflag=cbflag)
        mech = "SCRAM-SHA-256-PLUS" if plus else "SCRAM-SHA-256"
        r = self.cmd(f"AUTH {mech} {b64(client.first())}")
        if r.code != 334:
            return r, client
        final = client.final(unb64(r.lines[0][4:]).decode())
        r = self.cmd(b64(final))
        if r.code != 334:
            return r, client
        client.verify(unb64(r.lines[0][4:]).decode())
        return self.cmd(""), client


# --- openssl s_client as an interactive client -------------------------------

class SClient:
    """`openssl s_client` driven line by line: for what Python's ssl module
    cannot do, such as exporting keying material (the tls-exporter channel
    binding of RFC 9266 for SCRAM-*-PLUS over TLS 1.3). SMTP replies are
    picked out of its output; -keymatexport prints the exporter value."""

    EXPORTER_LABEL = "EXPORTER-Channel-Binding"

    def __init__(self, port, *args, starttls=False, timeout=15.0):
        cmd = ["openssl", "s_client", "-connect", f"{HOST}:{port}",
               "-servername", HOSTNAME, "-crlf", "-ign_eof", "-nocommands",
               "-keymatexport", self.EXPORTER_LABEL, "-keymatexportlen",
               "32"]
        if starttls:
            cmd += ["-starttls", "smtp"]
        self.timeout = timeout
        self.lines = queue.Queue()
        self.output = []
        self.proc = subprocess.Popen(cmd + list(args), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True,
                                     bufsize=1)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\r\n"))
        self.lines.put(None)

    def _next(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("s_client: nothing more:\n" +
                               "\n".join(self.output[-40:]))
        try:
            line = self.lines.get(timeout=left)
        except queue.Empty:
            raise TimeoutError("s_client: nothing more:\n" +
                               "\n".join(self.output[-40:]))
        if line is None:
            raise smtp_util.Closed("s_client ended:\n" +
                                   "\n".join(self.output[-40:]))
        self.output.append(line)
        return line

    def exporter(self):
        """The exported keying material (bytes)."""
        deadline = time.monotonic() + self.timeout
        while True:
            m = re.match(r"^\s*Keying material: ([0-9A-F]+)$",
                         self._next(deadline))
            if m:
                return bytes.fromhex(m.group(1))

    def reply(self):
        """The next whole SMTP reply in the output, as a Reply."""
        deadline = time.monotonic() + self.timeout
        lines = []
        while True:
            line = self._next(deadline)
            if not re.match(r"^[2-5]\d\d(?:[ -]|$)", line):
                continue            # s_client's own report lines
            lines.append(line)
            if len(line) == 3 or line[3] == " ":
                return smtp_util.Reply(lines)

    def sync(self):
        """NOOP, then skips every reply up to its "250 2.0.0 Ok" (with
        -starttls smtp, s_client echoes a line of its own EHLO exchange)."""
        r = self.cmd("NOOP")
        while r.lines != ["250 2.0.0 Ok"]:
            r = self.reply()

    def cmd(self, text):
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        return self.reply()

    def close(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# --- SCRAM (RFC 5802, RFC 7677) ----------------------------------------------

def _hmac(key, msg):
    return hmac.new(key, msg.encode() if isinstance(msg, str) else msg,
                    hashlib.sha256).digest()


def saslname(name):
    return name.replace("=", "=3D").replace(",", "=2C")


class ScramClient:
    """The client side of SCRAM-SHA-256. cb: channel-binding data for
    -PLUS (tls-unique); cbflag overrides the GS2 flag ('n', 'y' or
    'p=...')."""

    def __init__(self, user, password, cb=None, cbflag=None, nonce=None):
        self.user = user
        self.password = password
        self.cb = cb
        self.cbflag = cbflag or ("p=tls-unique" if cb is not None else "n")
        self.gs2 = f"{self.cbflag},,"
        self.nonce = nonce or base64.b64encode(
            secrets.token_bytes(18)).decode()
        self.bare = f"n={saslname(user)},r={self.nonce}"
        self.server_signature = None
        self.salt = None
        self.iterations = None

    def first(self):
        return self.gs2 + self.bare

    def final(self, server_first):
        attrs = dict(a.split("=", 1) for a in server_first.split(","))
        assert attrs["r"].startswith(self.nonce) and \
            len(attrs["r"]) > len(self.nonce), server_first
        self.salt = base64.b64decode(attrs["s"])
        self.iterations = int(attrs["i"])
        assert self.iterations >= 4096, server_first   # RFC 7677 §4
        cbind = self.gs2.encode() + (self.cb or b"")
        without_proof = f"c={b64(cbind)},r={attrs['r']}"
        salted = hashlib.pbkdf2_hmac("sha256", self.password.encode(),
                                     self.salt, self.iterations)
        client_key = _hmac(salted, "Client Key")
        stored_key = hashlib.sha256(client_key).digest()
        auth_message = f"{self.bare},{server_first},{without_proof}"
        signature = _hmac(stored_key, auth_message)
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        server_key = _hmac(salted, "Server Key")
        self.server_signature = _hmac(server_key, auth_message)
        return f"{without_proof},p={b64(proof)}"

    def verify(self, server_final):
        assert server_final.startswith("v="), server_final
        got = base64.b64decode(server_final[2:])
        assert hmac.compare_digest(got, self.server_signature), \
            "server signature (v=) does not verify"


# --- Servers -----------------------------------------------------------------

def submission(postern, tmp_path, sections=None, users=((USER, PASSWORD),),
               dns=None, start=True):
    """A server with listeners mx (plain), sub (submission, STARTTLS) and
    smtps (submission, implicit TLS), the test's certificate, all four
    mechanisms and the given users. Returns (server, cert path)."""
    cert, key = make_cert(tmp_path / "tls")
    conf = {
        "listener sub": {"mode": "submission", "tls": "starttls"},
        "listener smtps": {"mode": "submission", "tls": "implicit"},
        "tls": {"certificate": str(cert), "key": str(key)},
        "auth": {"mechanisms": MECHS_ALL},
    }
    # Nothing may ask a resolver off loopback: without a test DNS server,
    # a loopback port where none listens (every look-up fails at once).
    conf["delivery"] = {"dns": dns or NO_DNS}
    for name, values in (sections or {}).items():
        if values is None or name.startswith("listener "):
            conf[name] = values
        else:
            conf.setdefault(name, {}).update(values)
    srv = postern(conf, start=False)
    for user, password in users:
        srv.cli("user", "add", user, input=password + "\n", check=True)
    if start:
        srv.start()
    return srv, cert


def log_lines(srv, event):
    """The server log lines with event=EVENT."""
    return [line for line in srv.log_text().splitlines()
            if f"event={event}" in line]


def wait_log(srv, pattern, timeout=10.0):
    """Waits until a server log line matches the regex; returns it."""
    rx = re.compile(pattern)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in srv.log_text().splitlines():
            if rx.search(line):
                return line
        time.sleep(0.05)
    raise AssertionError(f"no log line matching {pattern!r}:\n"
                         f"{srv.log_text()[-3000:]}")


def sighup(srv):
    """SIGHUP to a started server, once it takes signals: its listening
    sockets accept before the supervisor blocks SIGHUP (src/proc/
    supervisor.c binds, then sets the signal mask), and a SIGHUP in
    between would end the process; "event=listening" comes after."""
    wait_log(srv, r"event=listening")
    srv.proc.send_signal(signal.SIGHUP)


def assert_no_secret(srv, password=PASSWORD, user=USER):
    """The password appears in the server log in no form: clear, base64 of
    itself, or inside a PLAIN blob."""
    text = srv.log_text()
    forms = {password, b64(password), b64(f"\0{user}\0{password}")}
    for form in forms:
        assert form not in text, f"secret {form!r} in the server log"


_source_counter = [10]


def fresh_source():
    """A loopback source address no other test of this run used: the AUTH
    rate limit counts failures per client address."""
    _source_counter[0] += 1
    n = _source_counter[0]
    return f"127.0.{n // 250}.{n % 250 + 2}"


@pytest.fixture(scope="module")
def shared_sub(tmp_path_factory):
    """One server per module as submission() builds it (listeners mx, sub,
    smtps; user bob), with DNS on a loopback responder that knows no
    domain. srv.cert is the certificate's path."""
    base = tmp_path_factory.mktemp("shared_sub")
    dns = smtp_util.FakeDNS()
    cert, key = make_cert(base / "tls")
    srv = conftest.Server(base / "srv", {
        "listener sub": {"mode": "submission", "tls": "starttls"},
        "listener smtps": {"mode": "submission", "tls": "implicit"},
        "tls": {"certificate": str(cert), "key": str(key)},
        "auth": {"mechanisms": MECHS_ALL},
        "delivery": {"dns": dns.address},
    }, {})
    srv.cert = cert
    try:
        srv.cli("user", "add", USER, input=PASSWORD + "\n", check=True)
        srv.start()
        yield srv
    finally:
        rc = srv.stop()
        dns.stop()
    text = srv.log_text()
    conftest.assert_no_sanitizer(text)
    assert rc in (None, 0), f"server exited {rc}:\n{text[-4000:]}"
