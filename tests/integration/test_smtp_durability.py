"""Durability (SPEC §1.3): every message that got 250 after DATA survives a
SIGKILL of the whole server. 40 concurrent clients send messages in a loop,
each carrying a unique token; the server's process group is killed mid-load
and restarted on the same config; then every confirmed token must be in
the Maildir exactly once, no half-received message may be delivered, and
no spool/tmp leftover may count as queued."""
import collections
import re
import threading
import time

import smtp_util
from smtp_util import (SMTPConn, check_354, dot_stuff, message, queued_id,
                       received_fields, spool_files, split_message, token)

fake_dns = smtp_util.fake_dns
mx = smtp_util.mx

N_CLIENTS = 40
RCPT = "alice@example.test"
TOKEN_RE = re.compile(rb"tok-[0-9a-f]{32}")
FILLER = b"".join(b"filler line %03d of a durable message\r\n" % i
                  for i in range(20))


class Ledger:
    """What each client knows about each message it tried to send."""

    def __init__(self):
        self.lock = threading.Lock()
        self.state = {}       # token -> "partial" | "sent" | "ok"
        self.qid = {}         # token -> queue id from the 250
        self.errors = []      # failures while the server was up

    def set(self, tok, state, qid=None):
        with self.lock:
            self.state[tok] = state
            if qid:
                self.qid[tok] = qid

    def count(self, state):
        with self.lock:
            return sum(1 for s in self.state.values() if s == state)


def one_message(c, ledger, idx):
    tok = token()
    c.expect("MAIL FROM:<load%d@example.org>" % idx, 250, "2.1.0", "Ok")
    c.expect(f"RCPT TO:<{RCPT}>", 250, "2.1.5", "Ok")
    check_354(c.cmd("DATA"))
    data = dot_stuff(message(tok, subject=f"load {idx}") + FILLER)
    half = len(data) // 2
    ledger.set(tok, "partial")
    c.send(data[:half])
    time.sleep(0.002)
    c.send(data[half:] + b".\r\n")
    ledger.set(tok, "sent")
    ledger.set(tok, "ok", queued_id(c.read_reply(timeout=20)))


def client(port, ledger, idx, killed):
    while not killed.is_set():
        try:
            with SMTPConn(port, timeout=20) as c:
                c.ehlo(f"load{idx}.example")
                for _ in range(10):
                    if killed.is_set():
                        return
                    one_message(c, ledger, idx)
                c.expect("QUIT", 221, "2.0.0", "Bye")
        except (OSError, TimeoutError, smtp_util.Closed, AssertionError) as e:
            if killed.is_set():
                return
            with ledger.lock:
                ledger.errors.append(f"client {idx}: {e!r}")
            return


def maildir_tokens(srv):
    """token -> [(path, bytes)] over every delivered file of RCPT."""
    found = collections.defaultdict(list)
    for p in smtp_util.maildir_files(srv, RCPT):
        try:
            data = p.read_bytes()
        except FileNotFoundError:
            continue
        for tok in set(TOKEN_RE.findall(data)):
            found[tok.decode()].append((p, data))
    return found


def wait_drained(srv, want_tokens, timeout):
    """Waits until every wanted token is delivered and spool/queue is
    empty; returns the final token map."""
    deadline = time.monotonic() + timeout
    while True:
        found = maildir_tokens(srv)
        missing = [t for t in want_tokens if t not in found]
        queued = spool_files(srv, "queue")
        if (not missing and not queued) or time.monotonic() > deadline:
            return found, missing, queued
        time.sleep(0.2)


def test_sigkill_under_load_loses_nothing(mx):
    srv = mx({"server": {"max_connections": "200"}})
    ledger = Ledger()
    killed = threading.Event()
    threads = [threading.Thread(target=client,
                                args=(srv.port, ledger, i, killed))
               for i in range(N_CLIENTS)]
    for t in threads:
        t.start()
    start = time.monotonic()
    while time.monotonic() - start < 8.0:
        time.sleep(0.1)
        if time.monotonic() - start > 1.5 and ledger.count("ok") >= 150:
            break
    with ledger.lock:
        errors = list(ledger.errors)
    killed.set()
    srv.kill9()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads)
    assert errors == [], "failures before the kill:\n" + "\n".join(errors[:10])

    states = dict(ledger.state)
    ok = [t for t, s in states.items() if s == "ok"]
    partial = [t for t, s in states.items() if s == "partial"]
    assert len(ok) >= 40, f"only {len(ok)} messages accepted before the kill"
    tmp_left = spool_files(srv, "tmp")

    srv.start()
    found, missing, queued = wait_drained(srv, ok, timeout=60)
    assert missing == [], f"{len(missing)} of {len(ok)} messages that got " \
        f"250 were lost, e.g. {missing[:3]}\n{srv.log_text()[-3000:]}"
    assert queued == [], f"still queued after delivery: {queued[:5]}"
    time.sleep(1.0)
    found = maildir_tokens(srv)

    half = [t for t in partial if t in found]
    assert half == [], f"half-received messages delivered: {half[:3]}"
    unknown = [t for t in found if t not in states]
    assert unknown == [], f"tokens nobody sent: {unknown[:3]}"

    # each delivered copy carries the queue id its 250 reply named
    for tok in ok:
        data = found[tok][0][1]
        headers, body = split_message(data)
        assert headers[2][0].lower() == "received", headers[:3]
        assert received_fields(headers[2][1])["id"] == ledger.qid[tok]
        assert body.endswith(FILLER.replace(b"\r\n", b"\n")), body[-200:]

    # nothing left in spool/tmp by the kill is a queued message
    listing = srv.cli("queue", "list")
    if listing.returncode == 0:
        for name in tmp_left + spool_files(srv, "tmp"):
            assert name not in listing.stdout, \
                f"tmp file {name} listed as queued:\n{listing.stdout}"
    for name in spool_files(srv, "tmp"):
        assert not (srv.spool / "queue" / name).exists()

    # checked last: a crash between the Maildir rename and the record of
    # the result must not deliver the message again after the restart
    twice = {t: [p.name for p, _ in v] for t, v in found.items()
             if len(v) > 1}
    assert twice == {}, f"{len(twice)} of {len(found)} messages delivered " \
        f"more than once: {list(twice.items())[:3]}"
