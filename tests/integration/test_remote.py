"""Remote delivery from the queue (issue #5 items 3, 4, 6; SPEC §1.4,
§1.5): MX routing against a real unbound on loopback (dns_fixture), real
receiving servers (aiosmtpd from Debian, a scripted server without
8BITMIME, and Postern itself), and the outcomes: sent, deferred with the
reply in `postern queue list`, bounced with an RFC 3464 DSN (null MX
5.1.10, NXDOMAIN 5.1.2, 5xx replies, 5.6.3, 5.6.7), partial acceptance,
fallback to the next MX, retries surviving a restart, connection reuse,
per-destination connection limit, smarthost relay.

Every receiving server listens on its own loopback address (127.0.0.2,
.3, ...) at the port the sending server uses as [delivery] remote_port;
127.0.0.9 is where nothing listens. Nothing leaves 127.0.0.0/8."""
import re
import smtplib
import socket
import ssl
import threading
import time

import pytest
from aiosmtpd.controller import Controller

import conftest
import dns_fixture
import tls_util

ID_RE = r"[0-9A-Z]{19}"
PASSWORD = "correct horse battery staple\n"
DEAD = "127.0.0.9"
NULL_MX_REPLY = "556 5.1.10 Recipient address has null MX"


def zone():
    """The test zones: name -> records."""
    return {
        "relay.test.": ["MX 10 mx.relay.test."],
        "mx.relay.test.": ["A 127.0.0.2"],
        "fallback.test.": ["MX 10 mx1.fallback.test.",
                           "MX 20 mx2.fallback.test."],
        "mx1.fallback.test.": [f"A {DEAD}"],
        "mx2.fallback.test.": ["A 127.0.0.2"],
        "down.test.": ["MX 10 mx.down.test."],
        "mx.down.test.": ["A 127.0.0.3"],
        "seven.test.": ["MX 10 mx.seven.test."],
        "mx.seven.test.": ["A 127.0.0.4"],
        "smarthost.test.": ["A 127.0.0.5"],
        "other.test.": ["MX 10 mx.other.test."],
        "mx.other.test.": [f"A {DEAD}"],
        "sub.test.": ["MX 10 mx.sub.test."],
        "mx.sub.test.": ["A 127.0.0.6"],
        "implicit.test.": ["A 127.0.0.2"],
        "v6.test.": ["MX 10 mx.v6.test."],
        "mx.v6.test.": ["AAAA ::1"],
        "stall.test.": ["MX 10 mx.stall.test."],
        "mx.stall.test.": ["A 127.0.0.8"],
        "utf8.test.": ["MX 10 mx.utf8.test."],
        "mx.utf8.test.": ["A 127.0.0.7"],
        "nullmx.test.": ["MX 0 ."],
        "self.test.": ["MX 10 mx.example.test.", "MX 20 mx.relay.test."],
        "example.test.": ["A 127.0.0.1"],
    }


# --- Receiving servers ---------------------------------------------------

class Recorder:
    """aiosmtpd handler keeping (client address, envelope) of each
    message. RCPT to reject* is refused (550 5.1.1), to later* deferred
    (451 4.2.0)."""

    def __init__(self):
        self.got = []
        self.cond = threading.Condition()

    async def handle_RCPT(self, server, session, envelope, address,
                          rcpt_options):
        local = address.split("@")[0]
        if local.startswith("reject"):
            return f"550 5.1.1 <{address}>: no such user"
        if local.startswith("later"):
            return "451 4.2.0 Mailbox busy, try later"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        with self.cond:
            self.got.append((session.peer, envelope))
            self.cond.notify_all()
            return f"250 2.0.0 Ok: queued as AIO{len(self.got)}"

    def matching(self, rcpt):
        with self.cond:
            return [(p, e) for p, e in self.got if rcpt in e.rcpt_tos]

    def wait(self, rcpt, count=1, timeout=20.0):
        """The envelopes with rcpt among their recipients, once there are
        `count` of them."""
        with self.cond:
            self.cond.wait_for(lambda: len([1 for _p, e in self.got
                                            if rcpt in e.rcpt_tos]) >=
                               count, timeout)
        got = self.matching(rcpt)
        assert len(got) >= count, f"{rcpt}: {len(got)} of {count}"
        return got


def controller(host, port, **kw):
    rec = Recorder()
    ctl = Controller(rec, hostname=host, port=port, **kw)
    ctl.start()
    ctl.rec = rec
    return ctl


class SevenBitServer:
    """A scripted SMTP server that offers no 8BITMIME (RFC 6152): it
    counts sessions and records MAIL commands."""

    def __init__(self, host, port):
        self.sock = socket.create_server((host, port))
        self.sock.settimeout(0.2)
        self.sessions = 0
        self.mails = []
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.sessions += 1
            threading.Thread(target=self._session, args=(conn,),
                             daemon=True).start()

    def _session(self, conn):
        with conn, conn.makefile("rb") as f:
            conn.sendall(b"220 seven.test ESMTP\r\n")
            for line in f:
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    conn.sendall(b"250-seven.test\r\n250-PIPELINING\r\n"
                                 b"250 SIZE 1000000\r\n")
                elif verb == b"MAIL":
                    self.mails.append(line)
                    conn.sendall(b"250 2.1.0 Ok\r\n")
                elif verb == b"QUIT":
                    conn.sendall(b"221 2.0.0 Bye\r\n")
                    return
                else:
                    conn.sendall(b"250 2.0.0 Ok\r\n")

    def stop(self):
        self.stopping = True
        self.thread.join(timeout=5)
        self.sock.close()


# --- Helpers -------------------------------------------------------------

def wait_for(pred, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def log_line(srv, pattern, timeout=20.0):
    rx = re.compile(pattern)
    return wait_for(lambda: rx.search(srv.log_text()), timeout,
                    f"log {pattern!r}:\n{srv.log_text()[-4000:]}").group(0)


def sendmail(srv, *args, body="Subject: test\n\nhello\n"):
    """Injects a message (the last argument is its first recipient);
    returns its queue ID, from the delivery log line of that recipient."""
    rx = re.compile(rf"id=({ID_RE}) to=<{re.escape(args[-1])}> ")
    before = set(rx.findall(srv.log_text()))
    p = srv.cli("sendmail", *args, input=body)
    assert p.returncode == 0, p.stderr
    return wait_for(lambda: set(rx.findall(srv.log_text())) - before,
                    what=f"a delivery attempt to {args[-1]}").pop()


def sendmail_quiet(srv, *args, body="Subject: test\n\nhello\n"):
    """Injects a message; returns its queue ID (the only one queued)."""
    p = srv.cli("sendmail", *args, input=body)
    assert p.returncode == 0, p.stderr
    return wait_for(lambda: queued(srv), what="a queued message")[0]


def queued(srv):
    q = srv.spool / "queue"
    return sorted(p.name for p in q.iterdir()) if q.exists() else []


def dsn(srv, rcpt, address="alice@example.test"):
    """The bounce for rcpt in address's Maildir: (text part, per-recipient
    delivery-status fields)."""
    kind = "rfc822" if rcpt.isascii() else "utf-8"     # RFC 6533
    final = f"{kind}; {rcpt}"

    def find():
        new = srv.maildir(address) / "new"
        for f in sorted(new.glob("*")) if new.exists() else []:
            data = f.read_bytes()
            if f"Final-Recipient: {final}".encode() in data:
                return data
        return None
    data = wait_for(find, what=f"a DSN for {rcpt}")
    text = data.decode()
    assert "Content-Type: multipart/report; report-type=delivery-status;" \
        in text
    human = text.split("Content-Type: text/plain; charset=utf-8\n\n")[1]
    human = human.split("\n--")[0]
    status = re.split(r"Content-Type: message/(?:global-)?delivery-status"
                      r"\n\n", text)[1].split("\n--")[0]
    fields = {}
    for block in status.split("\n\n")[1:]:
        f = dict(line.split(": ", 1) for line in block.strip().split("\n"))
        if f.get("Final-Recipient") == final:
            fields = f
    return human, fields


def rcpt_lines(srv, qid, rcpt):
    return re.findall(rf"id={qid} to=<{re.escape(rcpt)}> status=\S+ .*",
                      srv.log_text())


def queue_entry(srv, qid):
    out = srv.cli("queue", "list").stdout
    return out.split(qid, 1)[1].split("\n-- ")[0] if qid in out else ""


# --- The shared setup ----------------------------------------------------

class Net:
    pass


def sender_sections(dns, port, extra=None):
    s = {"delivery": {"dns": dns.addr, "remote_port": str(port),
                      "retry": "1h"}}
    for k, v in (extra or {}).items():
        s.setdefault(k, {}).update(v)
    return s


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    """DNS, an aiosmtpd receiver for relay.test (127.0.0.2), the 7-bit
    server (127.0.0.4), and a sending Postern with a STARTTLS submission
    listener whose remote_port is theirs."""
    base = tmp_path_factory.mktemp("remote")
    n = Net()
    n.port = conftest.free_port()
    n.dns = dns_fixture.DnsServer(base / "dns", zone(),
                                  refuse=["servfail.test."]).start()
    n.mx = controller("127.0.0.2", n.port, enable_SMTPUTF8=False)
    n.seven = SevenBitServer("127.0.0.4", n.port)
    cert, key = tls_util.make_cert(base / "tls")
    n.srv = conftest.Server(base / "srv", sender_sections(n.dns, n.port, {
        "listener sub": {"mode": "submission", "tls": "starttls"},
        "tls": {"certificate": str(cert), "key": str(key)},
    }), {})
    try:
        for user in ("alice@example.test", tls_util.USER):
            n.srv.cli("user", "add", user, input=PASSWORD, check=True)
        n.srv.start()
        yield n
    finally:
        rc = n.srv.stop()
        n.mx.stop()
        n.seven.stop()
        n.dns.stop()
    text = n.srv.log_text()
    conftest.assert_no_sanitizer(text)
    assert rc in (None, 0), f"server exited {rc}:\n{text[-4000:]}"


# --- Sent ----------------------------------------------------------------

def test_authenticated_submission_relayed_to_the_mx(net):
    body = ("From: bob@example.test\r\nTo: dest@relay.test\r\n"
            "Subject: relayed\r\n\r\n.leading dot\r\n..two dots\r\n.\r\n"
            "caf\xe9 8-bit line\r\nlast\r\n").encode("latin-1")
    with smtplib.SMTP("127.0.0.1", net.srv.ports["sub"], timeout=10) as s:
        s.starttls(context=ssl._create_unverified_context())
        s.ehlo()
        s.user, s.password = tls_util.USER, PASSWORD.strip()
        code, _ = s.auth("PLAIN", s.auth_plain)
        assert code == 235
        s.sendmail("bob@example.test", ["dest@relay.test"], body,
                   mail_options=["BODY=8BITMIME"])
    [(peer, env)] = net.mx.rec.wait("dest@relay.test")
    assert env.mail_from == "bob@example.test"
    assert env.rcpt_tos == ["dest@relay.test"]
    assert "BODY=8BITMIME" in env.mail_options
    size = [o for o in env.mail_options if o.startswith("SIZE=")]
    assert size and int(size[0][5:]) >= len(body)
    # Our Received: first, then the message exactly as submitted: the
    # dot-stuffing was undone by the receiver, lines are CRLF.
    content = env.original_content
    assert content.startswith(b"Received: from ")
    assert content.endswith(b"\r\n\r\n" + body.split(b"\r\n\r\n", 1)[1])
    assert body.split(b"\r\n\r\n")[0] in content
    assert b"\n" not in content.replace(b"\r\n", b"")
    line = log_line(net.srv, r"to=<dest@relay\.test> status=sent .*")
    assert re.search(rf"status=sent relay=mx\.relay\.test\[127\.0\.0\.2\]:"
                     rf"{net.port} delay=\d+s tls=none reply=\"250 2\.0\.0 "
                     r"Ok: queued as AIO\d+\"", line), line


def test_fallback_to_the_next_mx(net):
    qid = sendmail(net.srv, "-f", "alice@example.test", "fb@fallback.test")
    [(_peer, env)] = net.mx.rec.wait("fb@fallback.test")
    assert env.mail_from == "alice@example.test"
    log = net.srv.log_text()
    assert re.search(rf"host=mx1\.fallback\.test event=connect-failed "
                     rf"kind=connect reason=\"mx1\.fallback\.test\[{DEAD}\]:"
                     rf"{net.port}: Connection refused\"", log)
    assert re.search(rf"id={qid} to=<fb@fallback\.test> status=sent "
                     rf"relay=mx2\.fallback\.test\[127\.0\.0\.2\]:{net.port} ",
                     log)
    wait_for(lambda: qid not in queued(net.srv), what="message removed")


def test_implicit_mx_from_the_a_record(net):
    sendmail(net.srv, "-f", "alice@example.test", "imp@implicit.test")
    [(_peer, env)] = net.mx.rec.wait("imp@implicit.test")
    log_line(net.srv, r"to=<imp@implicit\.test> status=sent "
             r"relay=implicit\.test\[127\.0\.0\.2\]")


def test_ipv6_mx_host(net):
    ctl = controller("::1", net.port)
    try:
        sendmail(net.srv, "-f", "alice@example.test", "six@v6.test")
        [(peer, _env)] = ctl.rec.wait("six@v6.test")
        assert peer[0] == "::1"
        log_line(net.srv, rf"to=<six@v6\.test> status=sent "
                 rf"relay=mx\.v6\.test\[::1\]:{net.port} ")
    finally:
        ctl.stop()


# --- Bounced -------------------------------------------------------------

def test_null_mx_bounces_at_once_never_retried(net):
    qid = sendmail(net.srv, "-f", "alice@example.test", "nobody@nullmx.test")
    text, f = dsn(net.srv, "nobody@nullmx.test")
    assert f["Action"] == "failed"
    assert f["Status"] == "5.1.10"
    assert f["Diagnostic-Code"] == "smtp; " + NULL_MX_REPLY
    assert "Remote-MTA" not in f
    assert "<nobody@nullmx.test>:\n    " + NULL_MX_REPLY in text
    assert "(5.1.10: " in text           # the catalogue's title
    wait_for(lambda: qid not in queued(net.srv), what="message removed")
    assert not (net.srv.spool / "state" / qid).exists()
    assert len(rcpt_lines(net.srv, qid, "nobody@nullmx.test")) == 1
    assert re.search(rf"id={qid} to=<nobody@nullmx\.test> status=bounced "
                     rf"relay=none delay=\d+s reply=\"{NULL_MX_REPLY}\"",
                     net.srv.log_text())


def test_bounce_of_a_bounce_goes_to_postmaster_once(net):
    """A failed message with the null sender gets no bounce of its own:
    a double bounce goes to postmaster, and a failed message for a
    postmaster address with the null sender (a failed double bounce) is
    only logged."""
    qid = sendmail(net.srv, "-f", "<>", "nobody2@nullmx.test")
    log_line(net.srv, rf"id={qid} to=<nobody2@nullmx\.test> event=failed "
             rf"dsn={ID_RE} double_bounce_to=postmaster@example\.test")
    _text, f = dsn(net.srv, "nobody2@nullmx.test",
                   address="postmaster@example.test")
    assert f["Status"] == "5.1.10"
    qid = sendmail(net.srv, "-f", "<>", "postmaster@nullmx.test")
    log_line(net.srv, rf"id={qid} to=<postmaster@nullmx\.test> "
             r"event=failed dsn=none \(null sender\)")
    wait_for(lambda: qid not in queued(net.srv), what="message removed")


def test_nxdomain_bounces_5_1_2(net):
    qid = sendmail(net.srv, "-f", "alice@example.test", "x@missing.test")
    _text, f = dsn(net.srv, "x@missing.test")
    assert f["Status"] == "5.1.2"
    assert f["Diagnostic-Code"] == ("smtp; 550 5.1.2 Recipient domain "
                                    "missing.test does not exist")
    wait_for(lambda: qid not in queued(net.srv), what="message removed")


def test_our_own_best_mx_is_a_loop(net):
    sendmail(net.srv, "-f", "alice@example.test", "x@self.test")
    _text, f = dsn(net.srv, "x@self.test")
    assert f["Status"] == "5.4.6"
    assert f["Diagnostic-Code"] == (
        "smtp; 554 5.4.6 Mail for self.test loops back to myself: "
        "mx.example.test is its best MX host")


def test_5xx_reply_bounces_with_that_reply(net):
    qid = sendmail(net.srv, "-f", "alice@example.test",
                   "reject1@relay.test")
    text, f = dsn(net.srv, "reject1@relay.test")
    reply = "550 5.1.1 <reject1@relay.test>: no such user"
    assert f["Status"] == "5.1.1"
    assert f["Remote-MTA"] == "dns; mx.relay.test"
    assert f["Diagnostic-Code"] == "smtp; " + reply
    assert "    " + reply + "\n" in text
    wait_for(lambda: qid not in queued(net.srv), what="message removed")
    assert net.mx.rec.matching("reject1@relay.test") == []


def test_partial_acceptance(net):
    qid = sendmail(net.srv, "-f", "alice@example.test", "reject2@relay.test",
                   "ok2@relay.test")
    [(_peer, env)] = net.mx.rec.wait("ok2@relay.test")
    assert env.rcpt_tos == ["ok2@relay.test"]   # one transaction, one 550
    assert env.mail_from == "alice@example.test"
    _text, f = dsn(net.srv, "reject2@relay.test")
    assert f["Status"] == "5.1.1"
    wait_for(lambda: qid not in queued(net.srv), what="message removed")
    log = net.srv.log_text()
    assert re.search(rf"id={qid} to=<ok2@relay\.test> status=sent ", log)
    assert re.search(rf"id={qid} to=<reject2@relay\.test> status=bounced ",
                     log)


def test_8bit_to_a_peer_without_8bitmime_bounces_5_6_3(net):
    before = len(net.seven.mails)
    sendmail(net.srv, "-f", "alice@example.test", "u@seven.test",
             body="Subject: 8bit\n\ncaf\xe9\n")
    _text, f = dsn(net.srv, "u@seven.test")
    assert f["Status"] == "5.6.3"
    assert f["Diagnostic-Code"] == (
        f"smtp; 554 5.6.3 The message has 8-bit content and "
        f"mx.seven.test[127.0.0.4]:{net.port} does not offer 8BITMIME")
    assert len(net.seven.mails) == before
    # A 7-bit message goes through the same server, without BODY=.
    sendmail(net.srv, "-f", "alice@example.test", "v@seven.test")
    wait_for(lambda: len(net.seven.mails) > before,
             what="MAIL at the 7-bit server")
    assert re.fullmatch(rb"MAIL FROM:<alice@example\.test> SIZE=\d+\r\n",
                        net.seven.mails[before]), net.seven.mails


def test_message_over_the_peer_size_limit_bounces_5_3_4(net):
    mails = len(net.seven.mails)
    big = "Subject: big\n\n" + ("x" * 998 + "\n") * 1100
    sendmail(net.srv, "-f", "alice@example.test", "big@seven.test",
             body=big)
    _text, f = dsn(net.srv, "big@seven.test")
    assert f["Status"] == "5.3.4"
    assert re.fullmatch(r"smtp; 552 5\.3\.4 message size \d+ exceeds the "
                        rf"limit of 127\.0\.0\.4:{net.port} \(1000000\)",
                        f["Diagnostic-Code"]), f["Diagnostic-Code"]
    assert len(net.seven.mails) == mails


def test_smtputf8_needed_but_not_offered_bounces_5_6_7(net):
    sendmail(net.srv, "-f", "alice@example.test", "j\u00fcrgen@relay.test")
    _text, f = dsn(net.srv, "j\u00fcrgen@relay.test")
    assert f["Status"] == "5.6.7"
    assert f["Diagnostic-Code"] == (
        f"smtp; 553 5.6.7 The message needs SMTPUTF8 and "
        f"mx.relay.test[127.0.0.2]:{net.port} does not offer it")
    assert net.mx.rec.matching("j\u00fcrgen@relay.test") == []
    # A server that offers SMTPUTF8 gets it, with MAIL ... SMTPUTF8.
    ctl = controller("127.0.0.7", net.port, enable_SMTPUTF8=True)
    try:
        sendmail(net.srv, "-f", "alice@example.test", "j\u00fcrgen@utf8.test")
        [(_p, env)] = ctl.rec.wait("j\u00fcrgen@utf8.test")
        assert "SMTPUTF8" in env.mail_options
    finally:
        ctl.stop()


# --- Deferred ------------------------------------------------------------

def test_4xx_deferred_and_listed_with_explanation(net):
    qid = sendmail(net.srv, "-f", "alice@example.test", "later1@relay.test")
    entry = wait_for(lambda: (lambda e: e if "attempts=1" in e else None)(
        queue_entry(net.srv, qid)), what="attempts=1")
    lines = entry.split("\n")
    assert re.fullmatch(r"    <later1@relay\.test>  deferred  attempts=1  "
                        r"next=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(in "
                        r"(59m\d+s|1h0m)\)", lines[1]), lines
    assert lines[2] == "        last reply: 451 4.2.0 Mailbox busy, try later"
    assert lines[3].startswith("        explained: 451 ")
    assert "4.2.0 " in lines[3] and lines[3].endswith("(retry_later)")
    assert re.search(rf"id={qid} to=<later1@relay\.test> status=deferred "
                     rf"relay=mx\.relay\.test\[127\.0\.0\.2\]:{net.port} "
                     r"delay=\d+s tls=none reply=\"451 4\.2\.0 Mailbox busy",
                     net.srv.log_text())
    net.srv.cli("queue", "delete", qid, check=True)


def test_dns_failure_deferred_4_4_3(net):
    qid = sendmail(net.srv, "-f", "alice@example.test", "x@servfail.test")
    entry = wait_for(lambda: (lambda e: e if "attempts=1" in e else None)(
        queue_entry(net.srv, qid)), what="attempts=1")
    assert "        last reply: 451 4.4.3 DNS lookup for servfail.test " \
        "failed temporarily" in entry
    net.srv.cli("queue", "delete", qid, check=True)


def test_receiver_down_deferred_then_delivered_on_flush(net):
    qid = sendmail(net.srv, "-f", "alice@example.test", "back@down.test")
    reply = (f"451 4.4.1 No MX host of down.test accepted a connection; "
             f"last: mx.down.test[127.0.0.3]:{net.port}: Connection refused")
    entry = wait_for(lambda: (lambda e: e if "attempts=1" in e else None)(
        queue_entry(net.srv, qid)), what="attempts=1")
    assert "        last reply: " + reply + "\n" in entry
    assert "explained: 451 " in entry and "4.4.1 " in entry
    ctl = controller("127.0.0.3", net.port)
    try:
        assert net.srv.cli("queue", "flush", qid).returncode == 0
        [(_p, env)] = ctl.rec.wait("back@down.test")
        assert env.mail_from == "alice@example.test"
        wait_for(lambda: qid not in queued(net.srv), what="message removed")
    finally:
        ctl.stop()
    lines = rcpt_lines(net.srv, qid, "back@down.test")
    assert [re.search(r"status=(\S+)", x).group(1) for x in lines] == [
        "deferred", "sent"]


# --- Connections ---------------------------------------------------------

def test_one_connection_reused_for_several_messages(net):
    before = len(net.mx.rec.got)
    for i in range(4):
        sendmail(net.srv, "-f", "alice@example.test", f"reuse{i}@relay.test")
        net.mx.rec.wait(f"reuse{i}@relay.test")
    got = net.mx.rec.got[before:]
    peers = {p for p, e in got if e.rcpt_tos[0].startswith("reuse")}
    assert len(peers) == 1, peers


def test_connection_limit_per_destination(postern, dns_zone):
    """Six messages waiting at start-up: at most two connections to the
    destination, each carrying several messages."""
    dns = dns_zone(zone())
    port = conftest.free_port()
    ctl = controller("127.0.0.2", port)
    try:
        srv = postern(sender_sections(dns, port), start=False)
        for i in range(6):
            p = srv.cli("sendmail", "-f", "alice@example.test",
                        f"many{i}@relay.test", input="Subject: x\n\nx\n")
            assert p.returncode == 0, p.stderr
        srv.start()
        for i in range(6):
            ctl.rec.wait(f"many{i}@relay.test")
        peers = {p for p, _e in ctl.rec.got}
        assert 1 <= len(peers) <= 2, peers
        wait_for(lambda: queued(srv) == [], what="an empty queue")
        # idle connections are closed with QUIT after a few seconds
        closed = wait_for(lambda: re.findall(
            r"event=closed transactions=(\d+)", srv.log_text())
            if len(re.findall(r"event=closed", srv.log_text())) ==
            len(peers) else None, timeout=15, what="idle connections closed")
        assert sum(map(int, closed)) == 6
    finally:
        ctl.stop()


def test_retry_schedule_survives_restart(postern, dns_zone):
    dns = dns_zone(zone())
    srv = postern(sender_sections(dns, conftest.free_port()))
    qid = sendmail(srv, "-f", "alice@example.test", "z@down.test")
    entry = wait_for(lambda: (lambda e: e if "attempts=1" in e else None)(
        queue_entry(srv, qid)), what="attempts=1")
    next_at = re.search(r"next=(\S+ \S+)", entry).group(1)
    state = (srv.spool / "state" / qid).read_text()
    assert re.search(r"^rcpt 0 deferred 1 \d+ \d+ z@down\.test$", state,
                     re.M)
    assert srv.stop() == 0
    srv.start()
    log_line(srv, r"deliver event=started queued=1")
    time.sleep(1.0)
    assert (srv.spool / "state" / qid).read_text() == state
    assert f"next={next_at}" in queue_entry(srv, qid)
    assert len(rcpt_lines(srv, qid, "z@down.test")) == 1


def test_smarthost_takes_everything_in_one_transaction(postern, dns_zone):
    dns = dns_zone(zone())
    port = conftest.free_port()
    ctl = controller("127.0.0.5", port)
    try:
        srv = postern(sender_sections(dns, conftest.free_port(), {
            "delivery": {"relay": f"smarthost.test:{port}"}}))
        qid = sendmail(srv, "-f", "alice@example.test", "b@relay.test",
                       "a@other.test")
        [(_p, env)] = ctl.rec.wait("a@other.test")
        assert env.rcpt_tos == ["b@relay.test", "a@other.test"]
        wait_for(lambda: queued(srv) == [], what="an empty queue")
        log = srv.log_text()
        for rcpt in ("a@other\\.test", "b@relay\\.test"):
            assert re.search(rf"id={qid} to=<{rcpt}> status=sent relay="
                             rf"smarthost\.test\[127\.0\.0\.5\]:{port} ", log)
        assert "domain=other.test" not in log     # no MX lookup
    finally:
        ctl.stop()


def test_postern_to_postern_over_starttls(postern, dns_zone, tmp_path):
    """The receiving side is Postern too: its MX listener on 127.0.0.6
    offers STARTTLS with a self-signed certificate; the sender takes it
    (unverified) and the message lands in the receiver's Maildir."""
    dns = dns_zone(zone())
    port = conftest.free_port()
    cert, key = tls_util.make_cert(tmp_path / "tls", cn="mx.sub.test")
    rx = postern({"server": {"hostname": "mx.sub.test"},
                  "domains": {"local": "sub.test"},
                  "tls": {"certificate": str(cert), "key": str(key)},
                  "delivery": {"dns": dns.addr},
                  "listener in": {"mode": "mx", "tls": "starttls",
                                  "address": f"127.0.0.6:{port}"}},
                 start=False)
    rx.ports.pop("in")
    rx.cli("user", "add", "carol@sub.test", input=PASSWORD, check=True)
    rx.start()
    conftest.wait_port(port, host="127.0.0.6")
    tx = postern(sender_sections(dns, port))
    qid = sendmail(tx, "-f", "alice@example.test", "carol@sub.test",
                   body="Subject: p2p\n\n.dot line\nbody\n")
    [data] = rx.wait_delivered("carol@sub.test")
    text = data.decode()
    assert "\nSubject: p2p\n" in text
    assert text.endswith("\n\n.dot line\nbody\n")
    assert text.startswith("Return-Path: <alice@example.test>\n"
                           "Delivered-To: carol@sub.test\n")
    assert "with ESMTPS" in text      # RFC 3848: it came over TLS
    line = log_line(tx, rf"id={qid} to=<carol@sub\.test> status=sent .*")
    assert re.search(rf"relay=mx\.sub\.test\[127\.0\.0\.6\]:{port} "
                     r"delay=\d+s tls=TLSv1\.3/unverified reply=\"250 2\.0\.0 "
                     rf"Ok: queued as {ID_RE}\"", line), line
    assert re.search(r"event=connected tls=TLSv1\.3/unverified cipher=\S+ "
                     r"verify_error=", tx.log_text())


def test_stop_interrupts_a_stalled_delivery(postern, dns_zone):
    """SIGTERM while a server holds the session (no greeting): the
    delivery process does not wait for the 5-minute reply time-out; the
    recipient is deferred and stays queued."""
    dns = dns_zone(zone())
    port = conftest.free_port()
    with socket.create_server(("127.0.0.8", port)) as stall:
        srv = postern(sender_sections(dns, port))
        qid = sendmail_quiet(srv, "-f", "alice@example.test",
                             "x@stall.test")
        stall.settimeout(20)
        conn, _ = stall.accept()      # the delivery is in progress
        with conn:
            started = time.monotonic()
            assert srv.stop() == 0
            assert time.monotonic() - started < 10
    log = srv.log_text()
    assert re.search(r"id=\S+ to=<x@stall\.test> status=deferred relay=none "
                     r"delay=\d+s reply=\"451 4\.3\.2 Delivery interrupted: "
                     r"the server is shutting down\"", log), log[-3000:]
    assert queued(srv) == [qid]
