"""A real DNS server for the black-box tests: unbound on loopback.

The `dns_zone` fixture is a factory. `dns_zone(records)` writes an
unbound.conf into the test's temporary directory, starts the `unbound`
binary (Debian's package) in the foreground on 127.0.0.1 and a free port,
waits until it answers, and returns a `DnsServer` whose `.addr` is
"127.0.0.1:PORT" (what `[delivery] dns` and `postern mx --dns` take). Every
server is stopped when the test ends.

The server answers only from local data and never asks anyone else:
`local-zone: "." refuse` refuses every name outside the test zones, and
each test zone (by default every top-level label the records use, e.g.
"test.") is `static`, so a name in it without data is NXDOMAIN and a name
with data but not of the asked type is NODATA. There are no root hints and
no forwarders: nothing leaves the machine.

Records are unbound local-data lines ("name TTL IN TYPE rdata", or without
TTL/class), as a list, or a dict {name: ["TYPE rdata", ...]}.
`usual_records()` gives the zones most tests need; USUAL names them.
Names under `refuse=` zones are answered REFUSED, which a resolver turns
into SERVFAIL (a temporary failure).

DNSSEC: `signed={zone: records}` serves each zone signed (dnssec_sign.py)
from an unbound auth-zone, with the NSEC chain; `.trust_anchor` is then a
file of their keys for `[delivery] trust_anchor`. `tamper={(name, "TYPE
rdata"): "TYPE other"}` swaps a record after signing so that it is bogus.
"""
import os
import pathlib
import random
import signal
import socket
import struct
import subprocess
import time

import pytest

from dnssec_sign import sign_zone

UNBOUND = "/usr/sbin/unbound"

# Query types the helpers know by name.
QTYPES = {"A": 1, "NS": 2, "CNAME": 5, "MX": 15, "TXT": 16, "AAAA": 28}
RCODES = {0: "NOERROR", 2: "SERVFAIL", 3: "NXDOMAIN", 5: "REFUSED"}

# The usual test zones: name -> what it is. Addresses are loopback only;
# 127.0.0.9 is where nothing listens (servers in tests bind 127.0.0.1).
USUAL = {
    "nullmx": "nullmx.test",        # MX 0 . (RFC 7505)
    "multi": "multi.test",          # MX 10 mx1, 20 mx2, 20 mx3, 30 mx4
    "aonly": "aonly.test",          # no MX, A 127.0.0.1: implicit MX
    "v6only": "v6only.test",        # no MX, AAAA ::1: implicit MX
    "missing": "missing.test",      # NXDOMAIN
    "nodata": "nodata.test",        # exists (TXT), no MX, A or AAAA
    "down": "down.test",            # MX 10 mx.down.test -> 127.0.0.9
    "mixeddot": "mixeddot.test",    # MX 0 . and MX 10 mx.mixeddot.test
    "alias": "alias.test",          # CNAME multi.test
    "noaddr": "noaddr.test",        # MX 10 ghost.noaddr.test (no address)
    "v6mx": "v6mx.test",            # MX 10 mx.v6mx.test, AAAA ::1 only
    "servfail": "servfail.test",    # refused upstream: SERVFAIL
}


def usual_records():
    """Records of the USUAL zones, for dns_zone(usual_records(),
    refuse=usual_refuse())."""
    return {
        "nullmx.test.": ["MX 0 ."],
        "multi.test.": ["MX 10 mx1.multi.test.", "MX 20 mx2.multi.test.",
                        "MX 20 mx3.multi.test.", "MX 30 mx4.multi.test."],
        "mx1.multi.test.": ["A 127.0.0.1", "AAAA ::1"],
        "mx2.multi.test.": ["A 127.0.0.2"],
        "mx3.multi.test.": ["A 127.0.0.3"],
        "mx4.multi.test.": ["A 127.0.0.4"],
        "aonly.test.": ["A 127.0.0.1"],
        "v6only.test.": ["AAAA ::1"],
        "nodata.test.": ['TXT "no mail here"'],
        "down.test.": ["MX 10 mx.down.test."],
        "mx.down.test.": ["A 127.0.0.9"],
        "mixeddot.test.": ["MX 0 .", "MX 10 mx.mixeddot.test."],
        "mx.mixeddot.test.": ["A 127.0.0.1"],
        "alias.test.": ["CNAME multi.test."],
        "noaddr.test.": ["MX 10 ghost.noaddr.test."],
        "v6mx.test.": ["MX 10 mx.v6mx.test."],
        "mx.v6mx.test.": ["AAAA ::1"],
    }


def usual_refuse():
    return ["servfail.test."]


def _free_port():
    """A port free for both UDP and TCP on 127.0.0.1 a moment ago."""
    for _ in range(50):
        port = random.randint(20000, 60000)
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u, \
                    socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                u.bind(("127.0.0.1", port))
                t.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port")


def _local_data(records):
    """Records (list of lines or dict) -> local-data lines."""
    if isinstance(records, dict):
        lines = []
        for name, rrs in records.items():
            for rr in rrs:
                lines.append(f"{name} 300 IN {rr}")
        return lines
    return list(records)


def _quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _tld(name):
    return name.rstrip(".").rsplit(".", 1)[-1].lower() + "."


def encode_query(name, qtype, qid=0x5053):
    labels = [l for l in name.rstrip(".").split(".") if l]
    qname = b"".join(bytes([len(l)]) + l.encode() for l in labels) + b"\0"
    return struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + qname + \
        struct.pack(">HH", QTYPES.get(qtype, qtype) if
                    isinstance(qtype, str) else qtype, 1)


def query(port, name, qtype="A", timeout=1.0, host="127.0.0.1"):
    """One UDP query; returns (rcode name, answer count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(encode_query(name, qtype), (host, port))
        data = s.recv(65535)
    if len(data) < 12:
        raise AssertionError("short DNS reply")
    qid, flags, _qd, an = struct.unpack(">HHHH", data[:8])
    assert qid == 0x5053
    return RCODES.get(flags & 0xF, str(flags & 0xF)), an


class DnsServer:
    """A running unbound serving the given records on 127.0.0.1."""

    def __init__(self, base, records, zones=None, refuse=(), extra=(),
                 signed=None, tamper=None):
        self.base = pathlib.Path(base)
        self.base.mkdir(parents=True, exist_ok=True)
        self.conf = self.base / "unbound.conf"
        self.log = self.base / "unbound.log"
        self.records = _local_data(records or [])
        names = [line.split()[0] for line in self.records]
        self.signed = dict(signed or {})
        self.tamper = dict(tamper or {})
        self.trust_anchor = None
        zoneset = set(zones or []) | {_tld(n) for n in names} | \
            {_tld(n) for n in refuse} | {_tld(z) for z in self.signed}
        self.zones = sorted(zoneset or {"test."})
        self.refuse = list(refuse)
        self.extra = list(extra)
        self.port = None
        self.proc = None

    @property
    def addr(self):
        return f"127.0.0.1:{self.port}"

    def _write_config(self):
        lines = [
            "server:",
            f"\tinterface: 127.0.0.1@{self.port}",
            f"\tport: {self.port}",
            "\tdo-daemonize: no",
            '\tchroot: ""',
            '\tusername: ""',
            f"\tdirectory: {_quote(str(self.base))}",
            f"\tpidfile: {_quote(str(self.base / 'unbound.pid'))}",
            '\tlogfile: ""',
            "\tuse-syslog: no",
            "\tverbosity: 1",
            "\tnum-threads: 1",
            "\tdo-ip6: no",
            "\tso-reuseport: no",
            "\toutgoing-range: 16",
            "\tnum-queries-per-thread: 64",
            "\taccess-control: 127.0.0.0/8 allow",
            "\tdo-not-query-localhost: no",
            '\tmodule-config: "iterator"',
            # Nothing is resolved from outside: every name not in a test
            # zone is refused, every test zone answers from local data.
            '\tlocal-zone: "." refuse',
        ]
        for z in self.zones:
            lines.append(f"\tlocal-zone: {_quote(z)} static")
        for z in self.refuse:
            lines.append(f"\tlocal-zone: {_quote(z)} always_refuse")
        for rr in self.records:
            lines.append(f"\tlocal-data: {_quote(rr)}")
        lines += [f"\t{x}" for x in self.extra]
        lines += self._signed_config()
        self.conf.write_text("\n".join(lines) + "\n")

    def _signed_config(self):
        """Local zones that let the signed zones through to their
        auth-zone clauses; writes the zone files and the trust anchors."""
        local, auth, anchors = [], [], []
        for zone, records in self.signed.items():
            text, anchor = sign_zone(zone, records, tamper=self.tamper)
            path = self.base / f"{zone.rstrip('.')}.zone"
            path.write_text(text)
            anchors.append(anchor)
            local.append(f"\tlocal-zone: {_quote(zone)} transparent")
            auth += ["auth-zone:", f"\tname: {_quote(zone)}",
                     f"\tzonefile: {_quote(str(path))}",
                     "\tfor-downstream: yes", "\tfor-upstream: no",
                     "\tfallback-enabled: no"]
        if anchors:
            self.trust_anchor = self.base / "trust-anchors"
            self.trust_anchor.write_text("".join(anchors))
        return local + auth

    def start(self):
        for _attempt in range(3):
            self.port = _free_port()
            self._write_config()
            check = subprocess.run([UNBOUND.replace("unbound",
                                    "unbound-checkconf"), str(self.conf)],
                                   capture_output=True, text=True)
            if check.returncode != 0:
                raise AssertionError("bad unbound.conf: " + check.stdout +
                                     check.stderr)
            self._logf = open(self.log, "ab")
            self.proc = subprocess.Popen([UNBOUND, "-d", "-c",
                                          str(self.conf)],
                                         stdout=self._logf,
                                         stderr=self._logf,
                                         start_new_session=True)
            if self._wait_ready():
                return self
            self.stop()
        raise AssertionError("unbound did not start:\n" + self.log_text())

    def _wait_ready(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                # any reply at all means it serves; "." is refused
                query(self.port, "ready.invalid", "A", timeout=0.2)
                return True
            except (OSError, socket.timeout):
                time.sleep(0.05)
        return False

    def query(self, name, qtype="A"):
        return query(self.port, name, qtype)

    def log_text(self):
        return self.log.read_text(errors="replace") if self.log.exists() \
            else ""

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None
        self._logf.close()


class BlackHole:
    """A UDP socket on 127.0.0.1 that reads queries and never answers:
    a DNS server that times out."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    @property
    def addr(self):
        return f"127.0.0.1:{self.port}"

    def close(self):
        self.sock.close()


@pytest.fixture
def dns_zone(tmp_path):
    """Factory: dns_zone(records, zones=None, refuse=(), extra=(),
    signed=None, tamper=None) -> a started DnsServer; dns_zone.usual()
    serves usual_records()."""
    servers = []

    def make(records=None, zones=None, refuse=(), extra=(), signed=None,
             tamper=None):
        srv = DnsServer(tmp_path / f"dns{len(servers)}", records, zones,
                        refuse, extra, signed, tamper)
        servers.append(srv)
        return srv.start()

    make.usual = lambda: make(usual_records(), refuse=usual_refuse())
    yield make
    for srv in servers:
        srv.stop()


@pytest.fixture
def dns_blackhole():
    hole = BlackHole()
    yield hole
    hole.close()
