"""`postern check ADDRESS` (SPEC §2, issue #5 item 5): the deliverability
diagnosis, black-box, against a real DNS server (unbound on loopback, see
dns_fixture.py) and real receiving servers on 127.0.0.1/::1: Postern itself
(STARTTLS with a certificate made here), aiosmtpd from Debian, and small
scripted servers for what neither shows (a 554 or 421 greeting, refused
EHLO, a TLS handshake that fails, a server that never greets). Exact exit
codes (0 deliverable, 69 permanent, 75 temporary, 64 usage, 65 bad
address), key lines in English and Japanese, and the --json fields of
docs/check.md. Every server a test starts, it stops."""
import json
import socket
import threading

import pytest
from aiosmtpd.controller import Controller

from conftest import free_port, run
from dns_fixture import usual_records, usual_refuse
from tls_util import make_cert

EX_USAGE, EX_DATAERR, EX_UNAVAILABLE, EX_TEMPFAIL = 64, 65, 69, 75
HELO = "client.example.test"    # our EHLO name, from the -c config
NULL_MX_EXPL = ("556 5.1.10 (Permanent Negative Completion: give up "
                "and do not retry unchanged): Domain does not accept mail / "
                "Recipient address has null MX. ")

# Zones the tests add to the usual ones (dns_fixture.USUAL).
EXTRA = {
    "good.test.": ["MX 10 mx.good.test."],
    "mx.good.test.": ["A 127.0.0.1"],
    "backup.test.": ["MX 10 dead.backup.test.", "MX 20 live.backup.test."],
    "dead.backup.test.": ["A 127.0.0.9"],
    "live.backup.test.": ["A 127.0.0.1"],
    "ghosty.test.": ["MX 10 ghost.ghosty.test.", "MX 20 mx.ghosty.test."],
    "mx.ghosty.test.": ["A 127.0.0.1"],
}


@pytest.fixture
def dns(dns_zone):
    records = usual_records()
    records.update(EXTRA)
    return dns_zone(records, refuse=usual_refuse())


def check(dns, address, *args, port=None, lang="en", env=None):
    """Runs postern check against the test DNS; returns the process."""
    argv = ["check", address, "--dns", dns.addr, "--timeout", "5"]
    if port is not None:
        argv += ["--port", str(port)]
    if lang is not None:
        argv += ["--lang", lang]
    return run(argv + list(args), env=env)


def lines(p):
    return p.stdout.splitlines()


def explanation(out, i, sep=" "):
    """The explanation starting at out[i] ("   = ..."), its wrapped
    continuation lines joined (sep "" for Japanese)."""
    assert out[i].startswith("   = "), out[i]
    text = out[i][5:]
    for line in out[i + 1:]:
        if not line.startswith("     "):
            break
        text += sep + line[5:]
    return text


def verdict(p):
    """The verdict line (the last one)."""
    return lines(p)[-1]


def check_json(p):
    data = json.loads(p.stdout)
    assert data["verdict"]["exit"] == p.returncode
    return data


def write_conf(tmp_path, dns, port, extra=""):
    """A config for the checking side: EHLO name, resolver and port."""
    conf = tmp_path / "check.conf"
    conf.write_text(f"[server]\nhostname = {HELO}\nspool = {tmp_path}/spool"
                    f"\n\n[listener mx]\naddress = 127.0.0.1:{free_port()}"
                    f"\nmode = mx\n\n[delivery]\ndns = {dns.addr}\n"
                    f"remote_port = {port}\n{extra}")
    return conf


@pytest.fixture
def mx_cert(tmp_path):
    """A self-signed certificate for mx.good.test (cert, key)."""
    return make_cert(tmp_path / "tls", cn="mx.good.test")


@pytest.fixture
def starttls_mx(postern, mx_cert):
    """Postern with its MX listener on STARTTLS and mx_cert."""
    cert, key = mx_cert
    return postern({"listener mx": {"mode": "mx", "tls": "starttls"},
                    "tls": {"certificate": str(cert), "key": str(key)}})


class ScriptServer:
    """Serves len(scripts) connections on host:port one after another,
    each by script(file, sock) in a thread; .error keeps what a script
    found wrong, .commands every line the client sent."""

    def __init__(self, scripts, host="127.0.0.1", port=0):
        self.scripts = list(scripts)
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else
                                  socket.AF_INET)
        self.sock.bind((host, port))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.error = None
        self.commands = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def readline(self, f):
        line = f.readline()
        self.commands.append(line.decode(errors="replace").rstrip("\r\n"))
        return line

    def _run(self):
        self.sock.settimeout(20)
        try:
            for script in self.scripts:
                conn, _ = self.sock.accept()
                with conn, conn.makefile("rb") as f:
                    conn.settimeout(10)
                    script(self, f, conn)
        except Exception as e:  # reported by the test
            self.error = repr(e)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.thread.join(30)
        self.sock.close()


def greet_and_quit(code_line):
    """A script: greeting code_line, then answer QUIT if it comes."""
    def script(srv, f, sock):
        sock.sendall(code_line.encode() + b"\r\n")
        if srv.readline(f).startswith(b"QUIT"):
            sock.sendall(b"221 2.0.0 bye\r\n")
    return script


def plain_esmtp(ext=b"250 8BITMIME\r\n"):
    """A script: 220, EHLO -> 250 with ext, QUIT -> 221."""
    def script(srv, f, sock):
        sock.sendall(b"220 script.test ESMTP\r\n")
        assert srv.readline(f).startswith(b"EHLO ")
        sock.sendall(b"250-script.test\r\n" + ext)
        assert srv.readline(f) == b"QUIT\r\n"
        sock.sendall(b"221 2.0.0 bye\r\n")
    return script


# --- Step 1: MX -------------------------------------------------------------

def test_null_mx_is_permanent_and_explained(dns):
    p = check(dns, "someone@nullmx.test")
    assert p.returncode == EX_UNAVAILABLE, p.stderr
    out = lines(p)
    assert out[:5] == [
        "Checking delivery to someone@nullmx.test: its domain's MX hosts, "
        "then the first one that answers. No MAIL or RCPT is sent, so the "
        "mailbox itself is not probed.",
        "",
        "1. MX records of nullmx.test",
        "nullmx.test has a null MX (RFC 7505): it accepts no mail",
        "Mail to it is refused at RCPT with \"556 5.1.10 Recipient address "
        "has null MX\", or bounced at once without retries:"]
    # the catalogue's explanation of 556 5.1.10, wrapped
    assert explanation(out, 5).startswith(NULL_MX_EXPL)
    assert "publishes a null MX" in explanation(out, 5)
    assert out[-1] == ("Verdict: not deliverable, permanently: nullmx.test "
                       "publishes a null MX and accepts no mail.")
    assert "2. Connection" not in p.stdout


def test_null_mx_in_japanese(dns):
    p = check(dns, "someone@nullmx.test", lang="ja")
    assert p.returncode == EX_UNAVAILABLE
    out = lines(p)
    assert out[2:5] == [
        "1. nullmx.test の MX レコード",
        "nullmx.test はヌル MX（RFC 7505）を公開しています。メールを一切受け"
        "付けません",
        "このドメイン宛てのメールは RCPT で「556 5.1.10 Recipient address "
        "has null MX」として拒否されるか、再試行なしでただちに返送されます："]
    assert out[5].startswith("   = 556 5.1.10（永続的否定完了応答")
    assert out[-1] == ("判定：配送できません（恒久的）。nullmx.test はヌル MX "
                       "を公開しており、メールを一切受け付けません。")


def test_language_from_the_environment(dns):
    p = check(dns, "x@nullmx.test", lang=None,
              env={"LC_ALL": "ja_JP.UTF-8"})
    assert p.returncode == EX_UNAVAILABLE
    assert verdict(p).startswith("判定：配送できません（恒久的）。")
    p = check(dns, "x@nullmx.test", lang=None, env={"LC_ALL": "C"})
    assert verdict(p).startswith("Verdict: not deliverable, permanently")


def test_null_mx_json(dns):
    p = check(dns, "someone@nullmx.test", "--json")
    assert p.returncode == EX_UNAVAILABLE
    d = check_json(p)
    assert d["address"] == "someone@nullmx.test"
    assert d["domain"] == "nullmx.test"
    assert d["lang"] == "en"
    assert d["mx"]["status"] == "NULL_MX"
    assert d["mx"]["hosts"] == []
    assert d["attempts"] == []
    assert d["server"] is None and d["greeting"] is None
    assert d["verdict"] == {
        "result": "permanent", "reason": "null_mx", "exit": 69,
        "message": "not deliverable, permanently: nullmx.test publishes "
                   "a null MX and accepts no mail."}


@pytest.mark.parametrize("address, code, reason, sentence, msg", [
    ("a@missing.test", EX_UNAVAILABLE, "no_such_domain",
     "missing.test does not exist",
     "not deliverable, permanently: the domain missing.test does not "
     "exist."),
    ("a@nodata.test", EX_UNAVAILABLE, "no_mail_host",
     "nodata.test has no MX and no A/AAAA records: it cannot receive mail",
     "not deliverable, permanently: nodata.test has neither MX nor "
     "address records, so no server receives its mail."),
    ("a@noaddr.test", EX_UNAVAILABLE, "no_address",
     "noaddr.test: no MX host has an address: mail cannot be delivered",
     "not deliverable, permanently: no MX host of noaddr.test has an "
     "address."),
])
def test_domains_that_never_take_mail(dns, address, code, reason, sentence,
                                      msg):
    p = check(dns, address)
    assert p.returncode == code, p.stdout + p.stderr
    assert lines(p)[3] == sentence
    assert verdict(p) == "Verdict: " + msg
    p = check(dns, address, "--json")
    d = check_json(p)
    assert d["verdict"]["reason"] == reason
    assert d["verdict"]["message"] == msg


def test_servfail_is_temporary(dns):
    p = check(dns, "a@servfail.test")
    assert p.returncode == EX_TEMPFAIL
    assert lines(p)[3].startswith("servfail.test: temporary DNS failure (")
    assert verdict(p).startswith("Verdict: not deliverable now (temporary): "
                                 "the DNS lookup of servfail.test failed (")
    assert check_json(check(dns, "a@servfail.test", "--json"))[
        "verdict"]["reason"] == "dns_failure"


def test_dns_timeout_is_temporary(dns_blackhole):
    p = run(["check", "a@good.test", "--dns", dns_blackhole.addr,
             "--timeout", "1", "--lang", "en"])
    assert p.returncode == EX_TEMPFAIL
    assert lines(p)[3] == ("good.test: temporary DNS failure: no answer "
                           "within 1 second; try again later")
    assert verdict(p) == ("Verdict: not deliverable now (temporary): no DNS "
                          "answer for good.test within 1 s; a sender keeps "
                          "the mail queued and retries.")


SIGNED = {
    "sec.test.": ["SOA ns.sec.test. hostmaster.sec.test. 1 3600 600 86400 "
                  "300", "NS ns.sec.test.", "MX 10 mx.sec.test."],
    "ns.sec.test.": ["A 127.0.0.1"],
    "mx.sec.test.": ["A 127.0.0.1"],
}


def test_dnssec_state_is_shown(dns_zone, postern, tmp_path):
    dns = dns_zone(signed={"sec.test.": SIGNED})
    srv = postern()
    conf = write_conf(tmp_path, dns, srv.port,
                      f"trust_anchor = {dns.trust_anchor}\n")
    p = run(["check", "a@sec.test", "-c", str(conf), "--lang", "en"])
    assert p.returncode == 0, p.stdout + p.stderr
    assert lines(p)[3:5] == ["sec.test: 1 MX host in delivery order "
                             "(DNSSEC: secure)",
                             "  10 mx.sec.test -> 127.0.0.1"]
    d = check_json(run(["check", "a@sec.test", "-c", str(conf), "--json"]))
    assert d["mx"]["dnssec"] == "secure"
    assert d["mx"]["hosts"][0]["dnssec"] == "secure"


def test_dnssec_bogus_mx_is_temporary(dns_zone, tmp_path):
    dns = dns_zone(signed={"sec.test.": SIGNED},
                   tamper={("sec.test.", "MX 10 mx.sec.test."):
                           "MX 10 evil.sec.test."})
    conf = write_conf(tmp_path, dns, 25,
                      f"trust_anchor = {dns.trust_anchor}\n")
    p = run(["check", "a@sec.test", "-c", str(conf), "--lang", "en"])
    assert p.returncode == EX_TEMPFAIL, p.stdout + p.stderr
    assert lines(p)[3].startswith("sec.test: temporary DNS failure (DNSSEC "
                                  "validation failed: ")
    assert verdict(p).startswith("Verdict: not deliverable now (temporary): "
                                 "the DNS lookup of sec.test failed (DNSSEC "
                                 "validation failed: ")
    assert "2. Connection" not in p.stdout


# --- Step 2: connecting ----------------------------------------------------

def test_no_mx_reachable_is_temporary(dns):
    port = free_port()      # nothing listens on 127.0.0.9 anyway
    p = check(dns, "a@down.test", port=port)
    assert p.returncode == EX_TEMPFAIL
    out = lines(p)
    i = out.index(f"2. Connection (port {port}, at most 5 s per address)")
    assert out[i + 1] == (f"  mx.down.test 127.0.0.9:{port}: cannot connect: "
                          "Connection refused")
    assert out[-1] == ("Verdict: not deliverable now (temporary): no MX host "
                       f"of down.test answers on port {port}; a sender keeps "
                       "the mail queued and retries.")
    d = check_json(check(dns, "a@down.test", "--json", port=port))
    assert d["attempts"] == [{"host": "mx.down.test", "address": "127.0.0.9",
                              "port": port, "result": "failed",
                              "error": "Connection refused"}]
    assert d["server"] is None
    assert d["verdict"]["reason"] == "no_mx_reachable"


def test_each_address_then_the_next_mx(dns, postern):
    srv = postern()
    p = check(dns, "a@backup.test", port=srv.port)
    assert p.returncode == 0, p.stdout
    out = lines(p)
    i = out.index(f"2. Connection (port {srv.port}, at most 5 s per address)")
    assert out[i + 1:i + 3] == [
        f"  dead.backup.test 127.0.0.9:{srv.port}: cannot connect: "
        "Connection refused",
        f"  live.backup.test 127.0.0.1:{srv.port}: answered"]
    assert out[i + 4] == (f"3. Greeting and EHLO of live.backup.test "
                          f"(127.0.0.1:{srv.port})")
    assert verdict(p).startswith(f"Verdict: deliverable. live.backup.test "
                                 f"(127.0.0.1:{srv.port}) answers")


def test_ipv6_address_first_then_ipv4(dns, postern):
    # mx1.multi.test has ::1 and 127.0.0.1; the server listens on IPv4 only
    srv = postern()
    p = check(dns, "a@multi.test", port=srv.port)
    assert p.returncode == 0, p.stdout
    out = lines(p)
    assert out[3] == "multi.test: 4 MX hosts in delivery order (DNSSEC: " \
                     "insecure)"
    i = out.index(f"2. Connection (port {srv.port}, at most 5 s per address)")
    assert out[i + 1:i + 3] == [
        f"  mx1.multi.test [::1]:{srv.port}: cannot connect: "
        "Connection refused",
        f"  mx1.multi.test 127.0.0.1:{srv.port}: answered"]


def test_mx_host_without_address_is_skipped(dns, postern):
    srv = postern()
    p = check(dns, "a@ghosty.test", port=srv.port)
    assert p.returncode == 0, p.stdout
    out = lines(p)
    i = out.index(f"2. Connection (port {srv.port}, at most 5 s per address)")
    assert out[i + 1:i + 3] == [
        "  ghost.ghosty.test: skipped, it has no address (NXDOMAIN)",
        f"  mx.ghosty.test 127.0.0.1:{srv.port}: answered"]
    d = check_json(check(dns, "a@ghosty.test", "--json", port=srv.port))
    assert d["attempts"][0] == {"host": "ghost.ghosty.test", "address": None,
                                "port": srv.port, "result": "no_address",
                                "error": "NXDOMAIN"}


def test_server_that_never_greets(dns):
    def silent(srv, f, sock):
        f.read()        # until the client gives up and closes

    with ScriptServer([silent]) as ss:
        p = run(["check", "a@good.test", "--dns", dns.addr, "--port",
                 str(ss.port), "--timeout", "1", "--lang", "en"])
    assert ss.error is None, ss.error
    assert p.returncode == EX_TEMPFAIL
    assert f"  mx.good.test 127.0.0.1:{ss.port}: connected, but no greeting " \
           "within 1 s" in lines(p)
    assert verdict(p).startswith("Verdict: not deliverable now (temporary): "
                                 "no MX host of good.test answers")


# --- Step 3: greeting and EHLO ----------------------------------------------

def test_554_greeting_is_permanent_and_explained(dns):
    with ScriptServer([greet_and_quit("554 5.7.1 no service for you")]) as ss:
        p = check(dns, "a@good.test", port=ss.port)
    assert ss.error is None, ss.error
    assert p.returncode == EX_UNAVAILABLE, p.stdout
    out = lines(p)
    i = out.index("3. Greeting and EHLO of mx.good.test "
                  f"(127.0.0.1:{ss.port})")
    assert out[i + 1] == "  greeting: 554 5.7.1 no service for you"
    assert explanation(out, i + 2).startswith("554 5.7.1 (Permanent Negative "
                                 "Completion: give up and do not retry "
                                 "unchanged): Transaction failed / Delivery "
                                 "not authorized, message refused.")
    assert out[-1] == ("Verdict: not deliverable, permanently: mx.good.test "
                       "refuses the session with 554 at its greeting (often "
                       "a refusal of this host's address only).")
    assert "4. STARTTLS" not in out
    # no mailbox probing: at most a QUIT after the refusal ("" is EOF)
    assert set(ss.commands) <= {"QUIT", ""}


def test_554_greeting_in_japanese_and_json(dns):
    with ScriptServer([greet_and_quit("554 5.7.1 no service for you")] * 2) \
            as ss:
        p = check(dns, "a@good.test", port=ss.port, lang="ja")
        pj = check(dns, "a@good.test", "--json", port=ss.port, lang="ja")
    assert ss.error is None, ss.error
    assert p.returncode == EX_UNAVAILABLE
    assert "  グリーティング：554 5.7.1 no service for you" in lines(p)
    assert verdict(p) == ("判定：配送できません（恒久的）。mx.good.test は"
                          "グリーティングで 554 を返し、セッションを拒否してい"
                          "ます（このホストのアドレスだけを拒否していることが"
                          "よくあります）。")
    d = check_json(pj)
    assert d["server"] == {"host": "mx.good.test", "address": "127.0.0.1",
                           "port": ss.port}
    g = d["greeting"]
    assert (g["code"], g["enhanced"], g["text"]) == \
        (554, "5.7.1", "no service for you")
    assert g["explanation"].startswith("554 5.7.1（永続的否定完了応答")
    assert d["ehlo"] is None and d["tls"] is None
    assert d["verdict"]["reason"] == "greeting_refused"
    assert d["verdict"]["result"] == "permanent"


def test_421_greeting_is_temporary(dns):
    with ScriptServer([greet_and_quit("421 4.3.2 busy, come back later")]) \
            as ss:
        p = check(dns, "a@good.test", port=ss.port)
    assert ss.error is None, ss.error
    assert p.returncode == EX_TEMPFAIL
    out = lines(p)
    assert "  greeting: 421 4.3.2 busy, come back later" in out
    i = out.index("  greeting: 421 4.3.2 busy, come back later")
    assert out[i + 1].startswith("   = 421 4.3.2 (Transient Negative "
                                 "Completion")
    assert out[-1] == ("Verdict: not deliverable now (temporary): "
                       "mx.good.test answers 421 at its greeting; a sender "
                       "retries later.")


def test_ehlo_refused_then_helo_refused(dns, tmp_path):
    def script(srv, f, sock):
        sock.sendall(b"220 script.test ESMTP\r\n")
        assert srv.readline(f) == f"EHLO {HELO}\r\n".encode()
        sock.sendall(b"550 5.7.1 not you\r\n")
        assert srv.readline(f) == f"HELO {HELO}\r\n".encode()
        sock.sendall(b"550 5.7.1 not you either\r\n")
        f.read()

    with ScriptServer([script]) as ss:
        conf = write_conf(tmp_path, dns, ss.port)
        p = run(["check", "a@good.test", "-c", str(conf), "--lang", "en"])
    assert ss.error is None, ss.error
    assert p.returncode == EX_UNAVAILABLE, p.stdout
    out = lines(p)
    i = out.index(f"  EHLO {HELO}: refused: 550 5.7.1 not you")
    assert out[i + 1].startswith("   = 550 5.7.1 (Permanent Negative")
    assert f"  HELO {HELO}: refused: 550 5.7.1 not you either" in out
    assert out[-1] == ("Verdict: not deliverable, permanently: mx.good.test "
                       "refuses EHLO/HELO with 550.")


def test_ehlo_refused_helo_accepted_is_deliverable(dns, tmp_path):
    def script(srv, f, sock):
        sock.sendall(b"220 script.test SMTP\r\n")
        srv.readline(f)
        sock.sendall(b"502 5.5.1 EHLO not implemented\r\n")
        srv.readline(f)
        sock.sendall(b"250 script.test\r\n")
        assert srv.readline(f) == b"QUIT\r\n"
        sock.sendall(b"221 2.0.0 bye\r\n")

    with ScriptServer([script]) as ss:
        conf = write_conf(tmp_path, dns, ss.port)
        p = run(["check", "-c", str(conf), "a@good.test", "--lang", "en"])
    assert ss.error is None, ss.error
    assert p.returncode == 0, p.stdout
    assert ss.commands == [f"EHLO {HELO}", f"HELO {HELO}", "QUIT"]
    out = lines(p)
    assert f"  HELO {HELO}: accepted; without EHLO the server offers no " \
           "extensions (no STARTTLS, SIZE, 8BITMIME or SMTPUTF8)" in out
    i = out.index("4. STARTTLS")
    assert out[i + 1] == ("  STARTTLS is not offered: mail to this server "
                          "travels unencrypted (not a failure: it is still "
                          "delivered)")


def test_ehlo_4xx_is_temporary(dns):
    def script(srv, f, sock):
        sock.sendall(b"220 script.test ESMTP\r\n")
        srv.readline(f)
        sock.sendall(b"421 4.7.0 try again later\r\n")
        f.read()

    with ScriptServer([script]) as ss:
        p = check(dns, "a@good.test", "--json", port=ss.port)
    assert ss.error is None, ss.error
    assert p.returncode == EX_TEMPFAIL
    d = check_json(p)
    assert d["verdict"]["reason"] == "ehlo_deferred"
    assert d["ehlo"]["accepted"] is False
    assert d["ehlo"]["reply"]["code"] == 421
    assert d["ehlo"]["reply"]["explanation"].startswith("421 4.7.0 ")


# --- Step 4 and the whole walk against Postern ------------------------------

def test_deliverable_over_verified_starttls(dns, starttls_mx, mx_cert,
                                            tmp_path):
    srv = starttls_mx
    conf = write_conf(tmp_path, dns, srv.port)
    p = run(["check", "alice@good.test", "-c", str(conf), "--cafile",
             str(mx_cert[0]), "--lang", "en"])
    assert p.returncode == 0, p.stdout + p.stderr
    out = lines(p)
    port = srv.port
    tls = [i for i, l in enumerate(out) if l.startswith("  TLS established")]
    assert len(tls) == 1
    assert out[tls[0]].startswith("  TLS established: TLSv1.3, cipher TLS_")
    out[tls[0]] = "TLS"
    assert out == [
        "Checking delivery to alice@good.test: its domain's MX hosts, then "
        "the first one that answers. No MAIL or RCPT is sent, so the "
        "mailbox itself is not probed.",
        "",
        "1. MX records of good.test",
        "good.test: 1 MX host in delivery order (DNSSEC: insecure)",
        "  10 mx.good.test -> 127.0.0.1",
        "",
        f"2. Connection (port {port}, at most 10 s per address)",
        f"  mx.good.test 127.0.0.1:{port}: answered",
        "",
        f"3. Greeting and EHLO of mx.good.test (127.0.0.1:{port})",
        "  greeting: 220 mx.example.test ESMTP Postern",
        f"  EHLO {HELO}: accepted; extensions offered:",
        "    PIPELINING - several commands per round trip (RFC 2920)",
        "    SIZE 36700160 - messages up to 35.0 MiB (RFC 1870)",
        "    8BITMIME - 8-bit message bodies (RFC 6152)",
        "    ENHANCEDSTATUSCODES - enhanced status codes in replies "
        "(RFC 2034)",
        "    STARTTLS - encryption with TLS (RFC 3207)",
        "    SMTPUTF8 - UTF-8 addresses and headers (RFC 6531)",
        "",
        "4. STARTTLS",
        "TLS",
        "  certificate: verified for mx.good.test",
        "  certificate subject: /CN=mx.good.test",
        f"  EHLO {HELO} again inside TLS: accepted",
        "",
        f"Verdict: deliverable. mx.good.test (127.0.0.1:{port}) answers and "
        "accepts a session; whether the mailbox alice@good.test exists is "
        "not checked."]


def test_verbose_transcript_has_no_mail_or_rcpt(dns, starttls_mx, mx_cert):
    p = check(dns, "alice@good.test", "-v", "--cafile", str(mx_cert[0]),
              port=starttls_mx.port)
    assert p.returncode == 0, p.stdout
    sent = [l for l in lines(p) if l.startswith("C: ")]
    host = sent[0][len("C: EHLO "):]
    assert sent == [f"C: EHLO {host}", "C: STARTTLS", f"C: EHLO {host}",
                    "C: QUIT"]
    assert "S: 220 mx.example.test ESMTP Postern" in lines(p)
    assert "S: 221 2.0.0 Bye" in lines(p)


def test_certificate_not_verified_is_reported_not_fatal(dns, starttls_mx):
    # the system store does not trust the test's self-signed certificate
    p = check(dns, "alice@good.test", port=starttls_mx.port,
              env={"SSL_CERT_FILE": "/nonexistent", "SSL_CERT_DIR":
                   "/nonexistent"})
    assert p.returncode == 0, p.stdout
    out = lines(p)
    i = out.index("  certificate: NOT verified for mx.good.test: self-signed "
                  "certificate")
    assert out[i + 1] == "  certificate subject: /CN=mx.good.test"
    assert out[i + 2].startswith("  opportunistic TLS, as used between MX "
                                 "hosts, still encrypts the mail but does not "
                                 "authenticate the server")


def test_certificate_for_another_name(dns, postern, tmp_path):
    cert, key = make_cert(tmp_path / "other", cn="other.test")
    srv = postern({"listener mx": {"mode": "mx", "tls": "starttls"},
                   "tls": {"certificate": str(cert), "key": str(key)}})
    p = check(dns, "alice@good.test", "--cafile", str(cert), port=srv.port)
    assert p.returncode == 0, p.stdout
    assert "  certificate: NOT verified for mx.good.test: hostname mismatch" \
        in lines(p)
    d = check_json(check(dns, "alice@good.test", "--cafile", str(cert),
                         "--json", port=srv.port))
    assert d["tls"]["result"] == "established"
    assert d["tls"]["verified"] is False
    assert d["tls"]["verify_error"] == "hostname mismatch"
    assert d["tls"]["subject"] == "/CN=other.test"


def test_deliverable_in_japanese(dns, starttls_mx, mx_cert):
    port = starttls_mx.port
    p = check(dns, "alice@good.test", "--cafile", str(mx_cert[0]), port=port,
              lang="ja")
    assert p.returncode == 0, p.stdout
    out = lines(p)
    assert out[0] == ("alice@good.test への配送を診断します。ドメインの MX "
                      "ホストを調べ、応答する最初のホストに接続します。"
                      "MAIL・RCPT は送らないため、メールボックスの有無は"
                      "確かめません。")
    assert "good.test：配送順の MX ホスト 1 件（DNSSEC：insecure）" in out
    assert f"2. 接続（ポート {port}、アドレスごとに最長 5 秒）" in out
    assert f"  mx.good.test 127.0.0.1:{port}：応答あり" in out
    assert "  グリーティング：220 mx.example.test ESMTP Postern" in out
    assert "    STARTTLS：TLS で暗号化できます（RFC 3207）" in out
    assert "    SIZE 36700160：35.0 MiB までのメッセージを受け付けます" \
           "（RFC 1870）" in out
    assert "  証明書：mx.good.test として検証できました" in out
    assert out[-1] == (f"判定：配送できます。mx.good.test（127.0.0.1:{port}）"
                       "が応答し、セッションを受け付けます。メールボックス "
                       "alice@good.test の有無は確かめていません。")


def test_deliverable_json(dns, starttls_mx, mx_cert):
    port = starttls_mx.port
    p = check(dns, "alice@good.test", "--json", "-v", "--cafile",
              str(mx_cert[0]), port=port)
    assert p.returncode == 0, p.stdout
    d = check_json(p)
    assert d["mx"] == {"status": "OK", "dnssec": "insecure", "literal": False,
                       "implicit": False, "cname": None, "error": None,
                       "hosts": [{"name": "mx.good.test", "preference": 10,
                                  "status": "OK", "dnssec": "insecure",
                                  "addresses": ["127.0.0.1"]}]}
    assert d["port"] == port and d["timeout"] == 5
    assert d["attempts"] == [{"host": "mx.good.test", "address": "127.0.0.1",
                              "port": port, "result": "answered",
                              "error": None}]
    assert d["greeting"]["code"] == 220
    assert d["greeting"]["explanation"] is None
    e = d["ehlo"]
    assert e["command"] == "EHLO" and e["accepted"] is True
    assert e["extensions"] == ["PIPELINING", "SIZE 36700160", "8BITMIME",
                               "ENHANCEDSTATUSCODES", "STARTTLS", "SMTPUTF8"]
    assert (e["pipelining"], e["size"], e["8bitmime"], e["smtputf8"],
            e["starttls"]) == (True, 36700160, True, True, True)
    t = d["tls"]
    assert t["result"] == "established"
    assert t["starttls_reply"]["code"] == 220
    assert t["version"] == "TLSv1.3"
    assert t["verified"] is True and t["verify_error"] == ""
    assert t["ehlo_reply"]["code"] == 250
    assert d["verdict"]["result"] == "deliverable"
    assert d["verdict"]["reason"] == "deliverable"
    sent = [l for l in d["transcript"] if l.startswith("C: ")]
    assert [s.split(" ")[1] for s in sent] == ["EHLO", "STARTTLS", "EHLO",
                                               "QUIT"]


def test_no_starttls_means_unencrypted_not_failure(dns, postern):
    srv = postern()     # MX listener without TLS
    p = check(dns, "alice@good.test", port=srv.port)
    assert p.returncode == 0, p.stdout
    out = lines(p)
    assert "  not offered: STARTTLS" in out
    i = out.index("4. STARTTLS")
    assert out[i + 1] == ("  STARTTLS is not offered: mail to this server "
                          "travels unencrypted (not a failure: it is still "
                          "delivered)")
    d = check_json(check(dns, "alice@good.test", "--json", port=srv.port))
    assert d["tls"]["result"] == "not_offered"
    assert d["ehlo"]["starttls"] is False


def test_starttls_refused(dns):
    def script(srv, f, sock):
        sock.sendall(b"220 script.test ESMTP\r\n")
        srv.readline(f)
        sock.sendall(b"250-script.test\r\n250 STARTTLS\r\n")
        assert srv.readline(f) == b"STARTTLS\r\n"
        sock.sendall(b"454 4.7.0 TLS not available due to temporary "
                     b"reason\r\n")
        assert srv.readline(f) == b"QUIT\r\n"
        sock.sendall(b"221 2.0.0 bye\r\n")

    with ScriptServer([script]) as ss:
        p = check(dns, "a@good.test", port=ss.port)
    assert ss.error is None, ss.error
    assert p.returncode == 0, p.stdout
    out = lines(p)
    i = out.index("  STARTTLS is offered but refused: 454 4.7.0 TLS not "
                  "available due to temporary reason; mail travels "
                  "unencrypted")
    assert out[i + 1].startswith("   = 454 4.7.0 (Transient Negative")


def test_tls_handshake_failure_is_retried_in_plain_text(dns):
    def broken_tls(srv, f, sock):
        sock.sendall(b"220 script.test ESMTP\r\n")
        srv.readline(f)
        sock.sendall(b"250-script.test\r\n250 STARTTLS\r\n")
        assert srv.readline(f) == b"STARTTLS\r\n"
        sock.sendall(b"220 2.0.0 go ahead\r\n")
        # and then no TLS at all: the connection closes

    with ScriptServer([broken_tls, plain_esmtp(b"250 STARTTLS\r\n")]) as ss:
        p = check(dns, "a@good.test", port=ss.port)
    assert ss.error is None, ss.error
    assert p.returncode == 0, p.stdout
    out = lines(p)
    i = out.index("4. STARTTLS")
    assert out[i + 1].startswith("  STARTTLS is offered, but the TLS "
                                 "handshake fails: TLS handshake failed")
    assert out[i + 2] == ("  without TLS the session works: a sender that "
                          "falls back to plain text after a failed handshake "
                          "(opportunistic TLS) delivers, unencrypted")
    # the second connection did not try STARTTLS again
    assert ss.commands.count("STARTTLS") == 1


# --- SMTPUTF8, aiosmtpd, literals, local domains -----------------------------

class Recorder:
    """An aiosmtpd handler that records MAIL and RCPT (there must be
    none)."""

    def __init__(self):
        self.calls = []

    async def handle_MAIL(self, server, session, envelope, address, opts):
        self.calls.append(("MAIL", address))
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, opts):
        self.calls.append(("RCPT", address))
        return "250 OK"


@pytest.fixture
def aio():
    started = []

    def make(**kw):
        rec = Recorder()
        ctl = Controller(rec, hostname="127.0.0.1", port=free_port(),
                         server_hostname="aio.example.test",
                         ident="aiosmtpd", **kw)
        ctl.start()
        ctl.recorder = rec
        started.append(ctl)
        return ctl

    yield make
    for ctl in started:
        ctl.stop()


def test_aiosmtpd_deliverable_and_never_probed(dns, aio):
    ctl = aio()
    p = check(dns, "bob@good.test", port=ctl.port)
    assert p.returncode == 0, p.stdout
    out = lines(p)
    assert "  greeting: 220 aio.example.test aiosmtpd" in out
    assert "    HELP" in out
    assert "  not offered: PIPELINING, STARTTLS" in out
    assert ctl.recorder.calls == []


def test_utf8_address_needs_smtputf8(dns, aio):
    plain = aio(enable_SMTPUTF8=False)
    p = check(dns, "jörg@good.test", port=plain.port)
    assert p.returncode == EX_UNAVAILABLE, p.stdout
    assert verdict(p) == ("Verdict: not deliverable, permanently: "
                          "jörg@good.test is not ASCII and needs SMTPUTF8 "
                          "(RFC 6531), which mx.good.test does not offer.")
    assert check_json(check(dns, "jörg@good.test", "--json",
                            port=plain.port))["verdict"]["reason"] == \
        "smtputf8_missing"
    utf8 = aio(enable_SMTPUTF8=True)
    p = check(dns, "jörg@good.test", port=utf8.port)
    assert p.returncode == 0, p.stdout
    assert plain.recorder.calls == [] and utf8.recorder.calls == []


def test_implicit_mx(dns, postern):
    srv = postern()
    p = check(dns, "a@aonly.test", port=srv.port)
    assert p.returncode == 0, p.stdout
    out = lines(p)
    assert out[3:5] == ["aonly.test: no MX; using the implicit MX (A/AAAA of "
                        "aonly.test) (DNSSEC: insecure)",
                        "  0 aonly.test -> 127.0.0.1"]
    assert f"  aonly.test 127.0.0.1:{srv.port}: answered" in out
    assert check_json(check(dns, "a@aonly.test", "--json", port=srv.port))[
        "mx"]["implicit"] is True


def test_address_literal_needs_no_dns(postern):
    srv = postern()
    p = run(["check", "a@[127.0.0.1]", "--port", str(srv.port), "--lang",
             "en", "--dns", "127.0.0.1:9"])
    assert p.returncode == 0, p.stdout
    out = lines(p)
    assert out[3] == ("[127.0.0.1] is an address literal: no DNS lookup; mail "
                      "goes straight to 127.0.0.1")
    assert f"  127.0.0.1 127.0.0.1:{srv.port}: answered" in out


def test_config_gives_resolver_port_and_name_and_local_note(dns, postern,
                                                            tmp_path):
    srv = postern()
    conf = write_conf(tmp_path, dns, srv.port,
                      "\n[domains]\nlocal = good.test\n")
    p = run(["check", "-v", "-c", str(conf), "a@GOOD.test", "--lang", "en"])
    assert p.returncode == 0, p.stdout + p.stderr
    out = lines(p)
    assert out[3] == ("note: good.test is a local domain in this server's "
                      "configuration: Postern delivers its mail to Maildir "
                      "itself. What follows is what other servers find.")
    assert f"C: EHLO {HELO}" in out
    assert f"  mx.good.test 127.0.0.1:{srv.port}: answered" in out


# --- usage ------------------------------------------------------------------

@pytest.mark.parametrize("args, code", [
    ([], EX_USAGE),
    (["a@good.test", "b@good.test"], EX_USAGE),
    (["a@good.test", "--port", "0"], EX_USAGE),
    (["a@good.test", "--port", "70000"], EX_USAGE),
    (["a@good.test", "--timeout", "x"], EX_USAGE),
    (["a@good.test", "--lang", "fr"], EX_USAGE),
    (["a@good.test", "--bogus"], EX_USAGE),
    (["not an address"], EX_DATAERR),
    (["nobody"], EX_DATAERR),
    (["a@b@c.test"], EX_DATAERR),
    (["a@[300.1.1.1]"], EX_DATAERR),
    (["a@[tag:whatever]"], EX_DATAERR),
    (["a@-bad-.test"], EX_DATAERR),
])
def test_bad_arguments(args, code):
    p = run(["check"] + args)
    assert p.returncode == code, (args, p.stdout, p.stderr)
    assert p.stdout == ""
    assert p.stderr != ""


def test_unusable_resolver_or_ca_file_fails_before_any_output(tmp_path):
    p = run(["check", "a@good.test", "--dns", "not-an-address"])
    assert p.returncode == EX_USAGE
    assert p.stdout == ""
    assert "not an IP address" in p.stderr
    p = run(["check", "a@[127.0.0.1]", "--cafile",
             str(tmp_path / "missing.pem")])
    assert p.returncode == 66       # EX_NOINPUT
    assert p.stdout == ""
    assert p.stderr.startswith(f"postern check: {tmp_path}/missing.pem: "
                               "cannot load the CA file")


def test_bad_address_message():
    p = run(["check", "nobody"])
    assert p.stderr == ("postern check: 'nobody' is not a valid address "
                        "(expected local@domain, e.g. "
                        "postmaster@example.org)\n")


def test_help():
    p = run(["check", "--help"])
    assert p.returncode == 0
    assert p.stdout.startswith("usage: postern check ADDRESS ")
    assert "No MAIL or RCPT is ever sent: the mailbox itself is not probed" \
        in p.stdout
    assert "75 not now" in p.stdout.replace("\n", " ")
