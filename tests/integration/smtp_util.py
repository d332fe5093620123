"""Helpers for the black-box SMTP server tests (tests/integration/test_smtp_*).

- SMTPConn: a raw-socket SMTP client that sends exact bytes and reads whole
  (multi-line) replies with a timeout, checking CRLF framing and the
  enhanced status code of every reply.
- FakeDNS: a tiny DNS responder on 127.0.0.1 so that nothing the server
  looks up leaves loopback (PTR 127.0.0.1 -> localhost, A/AAAA localhost,
  NXDOMAIN for everything else).
- Fixtures: `fake_dns` (module), `mx` (factory: a server with users and
  aliases), `shared_mx` (one such server per test module, for the tests that
  only need an ordinary configuration).
- Maildir helpers: find a delivered message by a unique token, split a
  message into unfolded headers and body.
- The reply catalogue (data/replies/server.tsv) as expected replies.
"""
import email.utils
import re
import select
import socket
import struct
import threading
import time
import uuid

import pytest

import conftest

HOST = "127.0.0.1"
HOSTNAME = "mx.example.test"
HELO_NAME = "client.example"
PASSWORD = "correct horse battery staple"
TSV = conftest.ROOT / "data" / "replies" / "server.tsv"

# Users and aliases of the ordinary test server. No alias for postmaster:
# postmaster@ every local domain must still be accepted.
USERS = ("alice@example.test", "bob@example.test", "victim@example.test",
         "user@example.test", "carol@example.org")
ALIASES = {"sales@example.test": "alice@example.test,bob@example.test",
           "info@example.org": "carol@example.org"}

QUEUED_RE = re.compile(r"^Ok: queued as ([0-9A-Z]+)$")
ENH_RE = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})(?: |$)")


class Closed(Exception):
    """The server closed the connection."""


class Reply:
    """One SMTP reply: code, enhanced code (or None) and the text of the
    last line after the enhanced code; lines holds every raw line."""

    def __init__(self, lines):
        self.lines = lines
        self.code = int(lines[-1][:3])
        last = lines[-1][4:]
        m = ENH_RE.match(last)
        self.enh = ".".join(m.groups()) if m else None
        self.text = last[m.end():] if m else last

    def texts(self):
        """The text of every line, enhanced codes removed."""
        out = []
        for line in self.lines:
            t = line[4:]
            m = ENH_RE.match(t)
            out.append(t[m.end():] if m else t)
        return out

    def __str__(self):
        return "\r\n".join(self.lines)

    __repr__ = __str__


class SMTPConn:
    """A raw SMTP connection. Every read has a deadline; a reply line must
    end in CRLF, and a multi-line reply must keep one code."""

    def __init__(self, port, host=HOST, timeout=10.0, greet=True):
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.greeting = self.read_reply() if greet else None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def line(self, text):
        self.send((text.encode() if isinstance(text, str) else text) +
                  b"\r\n")

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no complete reply; have {self.buf!r}")
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError(f"no complete reply; have {self.buf!r}")
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            raise Closed(f"connection closed; unread {self.buf!r}")
        self.buf += chunk

    def read_line(self, deadline):
        while b"\n" not in self.buf:
            self._fill(deadline)
        raw, self.buf = self.buf.split(b"\n", 1)
        assert raw.endswith(b"\r"), f"reply line without CRLF: {raw!r}"
        return raw[:-1].decode("utf-8")

    def read_reply(self, timeout=None):
        """Reads one whole reply (all lines of a multi-line one)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        lines = []
        while True:
            line = self.read_line(deadline)
            assert re.match(r"^[2-5]\d\d(?:[ -]|$)", line), \
                f"bad reply line {line!r}"
            if lines:
                assert line[:3] == lines[0][:3], \
                    f"code changed inside a reply: {lines + [line]}"
            lines.append(line)
            if len(line) == 3 or line[3] == " ":
                return Reply(lines)

    def cmd(self, text, timeout=None):
        self.line(text)
        return self.read_reply(timeout)

    def expect(self, text, code, enh=None, msg=None, timeout=None):
        """Sends a command; asserts the reply's code, enhanced code and
        (if given) text exactly. Returns the reply."""
        r = self.cmd(text, timeout)
        check(r, code, enh, msg, what=text)
        return r

    def expect_closed(self, timeout=5.0):
        """Asserts the server closes the connection without sending more."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                self._fill(deadline)
        except Closed:
            pass
        assert self.buf == b"", f"bytes before close: {self.buf!r}"

    def ehlo(self, name=HELO_NAME):
        r = self.cmd(f"EHLO {name}")
        assert r.code == 250, r
        return r

    def transaction(self, sender, rcpts, data, params=""):
        """MAIL, RCPT..., DATA, data (already a message; dot-stuffed here),
        returns the queue id. Every recipient must be accepted."""
        self.expect(f"MAIL FROM:<{sender}>{params}", 250, "2.1.0", "Ok")
        for rcpt in rcpts:
            self.expect(f"RCPT TO:<{rcpt}>", 250, "2.1.5", "Ok")
        check_354(self.cmd("DATA"))
        self.send(dot_stuff(data) + b".\r\n")
        return queued_id(self.read_reply(timeout=30))


def check(r, code, enh=None, msg=None, what=""):
    assert r.code == code, f"{what!r}: want {code} {enh}, got {r}"
    if enh is not None:
        assert r.enh == enh, f"{what!r}: want {code} {enh}, got {r}"
    elif code not in (220, 354, 334) and not (code == 250 and
                                             what[:4].upper() in
                                             ("EHLO", "HELO")):
        assert r.enh is not None, f"{what!r}: no enhanced code in {r}"
    if r.enh is not None:
        assert r.enh[0] == str(code)[0], f"class mismatch: {r}"
    if msg is not None:
        assert r.text == msg, f"{what!r}: want text {msg!r}, got {r}"


def check_354(r):
    assert str(r) == "354 End data with <CR><LF>.<CR><LF>", r


def queued_id(r):
    """Asserts r is '250 2.0.0 Ok: queued as ID'; returns the ID."""
    check(r, 250, "2.0.0", what="end of DATA")
    m = QUEUED_RE.match(r.text)
    assert m, f"not a queued reply: {r}"
    return m.group(1)


def dot_stuff(data):
    """CRLF-terminated message -> SMTP DATA content (without the final
    '.CRLF'): lines starting with '.' get another '.'."""
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    out = re.sub(rb"(^|\r\n)\.", rb"\1..", data)
    return out


def token():
    return "tok-" + uuid.uuid4().hex


def message(tok, subject="test", body=b"", sender="alice@example.org",
            to="alice@example.test"):
    """A small RFC 5322 message (CRLF) whose body carries `tok`."""
    if isinstance(body, str):
        body = body.encode()
    return (f"From: <{sender}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n"
            f"Message-ID: <{tok}@client.example>\r\n"
            f"Date: {email.utils.formatdate()}\r\n\r\n{tok}\r\n").encode() \
        + body


def send_message(port, rcpts, data, sender="alice@example.org",
                 helo=HELO_NAME):
    """One whole session (EHLO, one transaction, QUIT); returns the ID."""
    with SMTPConn(port) as c:
        c.ehlo(helo)
        qid = c.transaction(sender, rcpts, data)
        c.expect("QUIT", 221, "2.0.0", "Bye")
    return qid


def catalogue():
    """data/replies/server.tsv as {id: (code, enhanced or None, text)}."""
    out = {}
    for line in TSV.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        rid, code, enh, text = line.split("\t")
        out[rid] = (int(code), enh or None, text)
    return out


def cat_reply(rid, *args):
    """(code, enh, text) the catalogue gives for reply `rid`."""
    code, enh, text = catalogue()[rid]
    return code, enh, text % args if args else text


# --- Maildir -------------------------------------------------------------

def maildir_files(srv, address):
    root = srv.maildir(address)
    files = []
    for sub in ("new", "cur"):
        d = root / sub
        if d.is_dir():
            files += sorted(p for p in d.iterdir() if p.is_file())
    return files


def all_maildir_files(srv):
    if not srv.maildir_root.exists():
        return []
    return sorted(p for p in srv.maildir_root.rglob("*")
                  if p.is_file() and p.parent.name in ("new", "cur"))


def wait_token(srv, address, tok, count=1, timeout=15.0):
    """Waits until `count` messages in address's Maildir contain tok;
    returns their bytes."""
    want = tok.encode() if isinstance(tok, str) else tok
    deadline = time.monotonic() + timeout
    while True:
        found = []
        for p in maildir_files(srv, address):
            try:
                data = p.read_bytes()
            except FileNotFoundError:
                continue
            if want in data:
                found.append(data)
        if len(found) >= count or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(found) >= count, \
        f"{address}: {len(found)} of {count} messages with {tok} " \
        f"delivered\n{srv.log_text()[-3000:]}"
    return found


def token_holders(srv, tok):
    """Every Maildir file of the server holding tok."""
    want = tok.encode() if isinstance(tok, str) else tok
    return [p for p in all_maildir_files(srv) if want in p.read_bytes()]


def split_message(data):
    """Maildir bytes -> ([(name, unfolded value)], body bytes)."""
    head, _, body = data.partition(b"\n\n")
    headers = []
    for line in head.decode("utf-8", "replace").split("\n"):
        if not line:
            continue
        if line[:1] in (" ", "\t") and headers:
            name, value = headers[-1]
            headers[-1] = (name, value + " " + line.strip())
        else:
            name, _, value = line.partition(":")
            headers.append((name, value.strip()))
    headers = [(n, re.sub(r"\s+", " ", v)) for n, v in headers]
    return headers, body


def spool_files(srv, sub):
    d = srv.spool / sub
    return sorted(p.name for p in d.iterdir()) if d.is_dir() else []


# --- A DNS responder on loopback -----------------------------------------

def _dns_name(data, off):
    labels = []
    while True:
        n = data[off]
        off += 1
        if n == 0:
            return ".".join(labels).lower(), off
        if n & 0xC0:
            raise ValueError("compressed name in a question")
        labels.append(data[off:off + n].decode("ascii", "replace"))
        off += n


def _dns_encode(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\x00"


class FakeDNS:
    """Answers the server's DNS queries on 127.0.0.1 (UDP): PTR of
    127.0.0.1 is localhost, localhost has A 127.0.0.1 and AAAA ::1, every
    other name is NXDOMAIN. Records each question in `queries`."""

    RECORDS = {
        ("1.0.0.127.in-addr.arpa", 12): _dns_encode("localhost"),
        ("localhost", 1): socket.inet_pton(socket.AF_INET, "127.0.0.1"),
        ("localhost", 28): socket.inet_pton(socket.AF_INET6, "::1"),
    }

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, 0))
        self.port = self.sock.getsockname()[1]
        self.queries = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def address(self):
        return f"{HOST}:{self.port}"

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()

    def _serve(self):
        while not self._stop.is_set():
            r, _, _ = select.select([self.sock], [], [], 0.1)
            if not r:
                continue
            try:
                data, peer = self.sock.recvfrom(4096)
                out = self.answer(data)
                if out:
                    self.sock.sendto(out, peer)
            except (OSError, ValueError, IndexError, struct.error):
                continue

    def answer(self, data):
        qid, flags, qd = struct.unpack(">HHH", data[:6])
        if flags & 0x8000 or qd != 1:
            return None
        name, off = _dns_name(data, 12)
        qtype, _qclass = struct.unpack(">HH", data[off:off + 4])
        question = data[12:off + 4]
        self.queries.append((name, qtype))
        rflags = 0x8000 | 0x0400 | (flags & 0x0100) | 0x0080
        rdata = self.RECORDS.get((name, qtype))
        if rdata is not None:
            rr = b"\xc0\x0c" + struct.pack(">HHIH", qtype, 1, 60,
                                           len(rdata)) + rdata
            return struct.pack(">HHHHHH", qid, rflags, 1, 1, 0, 0) + \
                question + rr
        known = any(n == name for n, _t in self.RECORDS)
        rcode = 0 if known else 3
        soa = _dns_encode("invalid") + _dns_encode("hostmaster.invalid") + \
            struct.pack(">IIIII", 1, 3600, 600, 86400, 60)
        auth = b"\x00" + struct.pack(">HHIH", 6, 1, 60, len(soa)) + soa
        return struct.pack(">HHHHHH", qid, rflags | rcode, 1, 0, 1, 0) + \
            question + auth


@pytest.fixture(scope="module")
def fake_dns():
    dns = FakeDNS()
    yield dns
    dns.stop()


def _with_dns(sections, dns):
    out = {k: (dict(v) if v is not None else None)
           for k, v in (sections or {}).items()}
    if out.get("delivery", {}) is not None:
        out.setdefault("delivery", {}).setdefault("dns", dns.address)
    return out


def add_users(srv, users=USERS, aliases=ALIASES):
    for u in users:
        srv.cli("user", "add", u, input=PASSWORD + "\n", check=True)
    for a, targets in aliases.items():
        srv.cli("alias", "add", a, targets, check=True)


@pytest.fixture
def mx(postern, fake_dns):
    """Factory: mx(sections=None, users=USERS, aliases=ALIASES) -> a started
    Server whose DNS goes to fake_dns and whose users exist."""

    def make(sections=None, users=USERS, aliases=ALIASES, start=True):
        srv = postern(_with_dns(sections, fake_dns), start=False)
        add_users(srv, users, aliases)
        if start:
            srv.start()
        return srv

    return make


@pytest.fixture(scope="module")
def shared_mx(tmp_path_factory, fake_dns):
    """One ordinary server (USERS, ALIASES, default limits) for a module."""
    base = tmp_path_factory.mktemp("shared_mx")
    srv = conftest.Server(base, _with_dns({}, fake_dns), {})
    srv.base.mkdir(parents=True, exist_ok=True)
    add_users(srv)
    srv.start()
    yield srv
    rc = srv.stop()
    text = srv.log_text()
    conftest.assert_no_sanitizer(text)
    assert rc in (None, 0), f"server exited {rc}:\n{text[-4000:]}"


def received_fields(value):
    """Parses an unfolded Received value of the form
    'from HELO (NAME [IP]) by HOST (Postern) with PROTO id ID [for <R>];
    DATE' into a dict; asserts the shape. RFC 5321 §4.4 TCP-info lets the
    NAME part be absent ('([IP])'); rdns is then None."""
    m = re.match(r"^from (?P<helo>\S+) \((?:(?P<rdns>\S+) )?\[(?P<ip>"
                 r"[0-9.:a-fA-F]+|IPv6:[0-9.:a-fA-F]+)\]\) "
                 r"by (?P<by>\S+) \(Postern\) with (?P<proto>[A-Z]+) "
                 r"id (?P<id>[0-9A-Z]+)(?: for <(?P<rcpt>[^>]*)>)?; "
                 r"(?P<date>.+)$", value)
    assert m, f"Received header not in the expected form: {value!r}"
    fields = m.groupdict()
    when = email.utils.parsedate_to_datetime(fields["date"])
    assert when.tzinfo is not None, f"Received date without zone: {value!r}"
    age = time.time() - when.timestamp()
    assert -120 < age < 600, f"Received date not now: {value!r}"
    return fields
