"""Every limit of the SMTP server (SPEC §3, §5): command line length,
max_recipients, max_message_size (SIZE= at MAIL and the real size at the
end of DATA), the idle timeout, max_connections and the error budget."""
import socket
import threading
import time

import smtp_util
from smtp_util import (HOST, HOSTNAME, SMTPConn, cat_reply, check_354,
                       dot_stuff, message, queued_id, spool_files, token,
                       token_holders, wait_token)

fake_dns = smtp_util.fake_dns
mx = smtp_util.mx
shared_mx = smtp_util.shared_mx

LINE_MAX = 2048


# --- command line length --------------------------------------------------

def test_command_line_of_2048_octets_is_accepted(shared_mx):
    line = "VRFY " + "x" * (LINE_MAX - len("VRFY ") - 2)
    assert len(line) + 2 == LINE_MAX
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        c.expect(line, *cat_reply("VRFY"))


def test_command_line_of_2049_octets_is_too_long(shared_mx):
    line = "VRFY " + "x" * (LINE_MAX - len("VRFY ") - 1)
    assert len(line) + 2 == LINE_MAX + 1
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        r = c.cmd(line)
        assert str(r) == "500 5.5.2 Line too long", r
        # the session goes on, in the same state
        c.expect("MAIL FROM:<alice@example.org>", 250, "2.1.0", "Ok")
        c.expect("NOOP", 250, "2.0.0", "Ok")


def test_rest_of_a_long_line_is_discarded(shared_mx):
    """Whatever follows the limit on the same line is not a command: a
    'QUIT' hidden after 2048 junk octets must not end the session."""
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        c.line("x" * LINE_MAX + "QUIT")
        r = c.read_reply()
        assert str(r) == "500 5.5.2 Line too long", r
        c.line("RCPT TO:<alice@example.test>" + " " * 3000 + "x")
        assert str(c.read_reply()) == "500 5.5.2 Line too long"
        c.expect("NOOP", 250, "2.0.0", "Ok")


def test_very_long_line_in_many_pieces(shared_mx):
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        c.send(b"NOOP ")
        for _ in range(20):
            c.send(b"y" * 1000)
            time.sleep(0.01)
        c.send(b"\r\nNOOP\r\n")
        assert str(c.read_reply()) == "500 5.5.2 Line too long"
        assert str(c.read_reply()) == "250 2.0.0 Ok"
        c.expect("RSET", 250, "2.0.0", "Ok")


def test_long_mail_line_is_too_long_not_a_transaction(shared_mx):
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        c.line("MAIL FROM:<alice@example.org> " + "X-PAD=" + "p" * 2100)
        assert str(c.read_reply()) == "500 5.5.2 Line too long"
        c.expect("RCPT TO:<alice@example.test>", 503, "5.5.1")


# --- recipients -----------------------------------------------------------

def test_max_recipients(mx):
    srv = mx({"server": {"max_recipients": "5"}})
    tok = token()
    rcpts = ["alice@example.test", "bob@example.test", "carol@example.org",
             "postmaster@example.test", "victim@example.test"]
    with SMTPConn(srv.port) as c:
        c.ehlo()
        c.expect("MAIL FROM:<alice@example.org>", 250, "2.1.0", "Ok")
        for r in rcpts:
            c.expect(f"RCPT TO:<{r}>", 250, "2.1.5", "Ok")
        c.expect("RCPT TO:<alice+more@example.test>", 452, "4.5.3",
                 cat_reply("TOO_MANY_RECIPIENTS")[2])
        c.expect("RCPT TO:<bob+more@example.test>", 452, "4.5.3")
        # the five accepted recipients still get the message
        check_354(c.cmd("DATA"))
        c.send(dot_stuff(message(tok)) + b".\r\n")
        queued_id(c.read_reply())
        # the limit is per transaction
        c.expect("MAIL FROM:<alice@example.org>", 250, "2.1.0", "Ok")
        for r in rcpts:
            c.expect(f"RCPT TO:<{r}>", 250, "2.1.5", "Ok")
    for r in rcpts:
        wait_token(srv, r, tok)
    time.sleep(0.3)
    assert len(token_holders(srv, tok)) == 5


def test_rejected_recipients_do_not_count(mx):
    srv = mx({"server": {"max_recipients": "2"}})
    with SMTPConn(srv.port) as c:
        c.ehlo()
        c.expect("MAIL FROM:<alice@example.org>", 250, "2.1.0", "Ok")
        c.expect("RCPT TO:<nosuchuser@example.test>", 550, "5.1.1")
        c.expect("RCPT TO:<alice@example.test>", 250, "2.1.5", "Ok")
        c.expect("RCPT TO:<bob@example.test>", 250, "2.1.5", "Ok")
        c.expect("RCPT TO:<carol@example.org>", 452, "4.5.3")


# --- message size ---------------------------------------------------------

def test_size_is_advertised(mx):
    srv = mx({"server": {"max_message_size": "10k"}})
    with SMTPConn(srv.port) as c:
        r = c.ehlo()
        assert "250-SIZE 10240" in r.lines or "250 SIZE 10240" in r.lines, r


def test_size_parameter_over_the_limit(mx):
    srv = mx({"server": {"max_message_size": "10k"}})
    want = cat_reply("SIZE_EXCEEDED")
    with SMTPConn(srv.port) as c:
        c.ehlo()
        c.expect("MAIL FROM:<alice@example.org> SIZE=10241", *want)
        # no transaction was opened
        c.expect("RCPT TO:<alice@example.test>", 503, "5.5.1")
        c.expect("MAIL FROM:<alice@example.org> SIZE=99999999999999", *want)
        c.expect("MAIL FROM:<alice@example.org> SIZE=10240", 250, "2.1.0",
                 "Ok")


def test_size_parameter_beyond_64_bits(mx):
    srv = mx({"server": {"max_message_size": "10k"}})
    with SMTPConn(srv.port) as c:
        c.ehlo()
        r = c.cmd("MAIL FROM:<alice@example.org> SIZE=" + "9" * 40)
        assert (r.code, r.enh) in ((552, "5.3.4"), (501, "5.5.4")), r
        c.expect("RCPT TO:<alice@example.test>", 503, "5.5.1")


def test_body_over_the_limit_is_refused_and_not_queued(mx):
    srv = mx({"server": {"max_message_size": "10k"}})
    tok = token()
    big = b"".join(b"%05d " % i + b"z" * 73 + b"\r\n" for i in range(256))
    assert len(big) > 20000
    with SMTPConn(srv.port) as c:
        c.ehlo()
        c.expect("MAIL FROM:<alice@example.org>", 250, "2.1.0", "Ok")
        c.expect("RCPT TO:<alice@example.test>", 250, "2.1.5", "Ok")
        check_354(c.cmd("DATA"))
        c.send(dot_stuff(message(tok) + big) + b".\r\n")
        r = c.read_reply(timeout=15)
        assert (r.code, r.enh, r.text) == cat_reply("SIZE_EXCEEDED"), r
        # the transaction is over; the session goes on and can send mail
        c.expect("RCPT TO:<alice@example.test>", 503, "5.5.1")
        small = token()
        c.transaction("alice@example.org", ["alice@example.test"],
                      message(small, body=b"y" * 4000 + b"\r\n"))
    wait_token(srv, "alice@example.test", small)
    time.sleep(0.5)
    assert token_holders(srv, tok) == [], "the oversized message was delivered"
    assert spool_files(srv, "queue") == []
    assert spool_files(srv, "tmp") == []


def test_body_over_the_limit_without_size_parameter_after_lying(mx):
    """SIZE= said small, the body is big: still refused at the end."""
    srv = mx({"server": {"max_message_size": "10k"}})
    tok = token()
    with SMTPConn(srv.port) as c:
        c.ehlo()
        c.expect("MAIL FROM:<alice@example.org> SIZE=100", 250, "2.1.0", "Ok")
        c.expect("RCPT TO:<alice@example.test>", 250, "2.1.5", "Ok")
        check_354(c.cmd("DATA"))
        c.send(dot_stuff(message(tok) + b"q" * 30000 + b"\r\n") + b".\r\n")
        r = c.read_reply(timeout=15)
        assert (r.code, r.enh) == (552, "5.3.4"), r
        c.expect("NOOP", 250, "2.0.0", "Ok")
    time.sleep(0.3)
    assert token_holders(srv, tok) == []


def test_body_under_the_limit_is_accepted(mx):
    srv = mx({"server": {"max_message_size": "10k"}})
    tok = token()
    body = b"w" * 70 + b"\r\n"
    with SMTPConn(srv.port) as c:
        c.ehlo()
        c.transaction("alice@example.org", ["alice@example.test"],
                      message(tok, body=body * 100), params=" SIZE=7500")
    wait_token(srv, "alice@example.test", tok)


# --- idle timeout ---------------------------------------------------------

def _idle(port, setup, results, key):
    start = time.monotonic()
    try:
        with SMTPConn(port) as c:
            setup(c)
            start = time.monotonic()
            r = c.read_reply(timeout=10)
            elapsed = time.monotonic() - start
            c.expect_closed(timeout=5)
            results[key] = (str(r), elapsed)
    except Exception as e:  # reported by the test thread
        results[key] = (f"error: {e!r}", time.monotonic() - start)


def _in_data(c):
    c.ehlo()
    c.expect("MAIL FROM:<alice@example.org>", 250, "2.1.0", "Ok")
    c.expect("RCPT TO:<alice@example.test>", 250, "2.1.5", "Ok")
    check_354(c.cmd("DATA"))
    c.send(b"Subject: never finished " + _in_data.tok.encode() + b"\r\n\r\n"
           b"partial line")


def test_idle_timeout(mx):
    srv = mx({"server": {"timeout": "2s"}})
    _in_data.tok = token()
    setups = {"greeting": lambda c: None,
              "after EHLO": lambda c: c.ehlo(),
              "in DATA": _in_data}
    results = {}
    threads = [threading.Thread(target=_idle, args=(srv.port, f, results, k))
               for k, f in setups.items()]
    for t in threads:
        t.start()
    # a client that talks every second is never cut off
    with SMTPConn(srv.port) as busy:
        busy.ehlo()
        for _ in range(4):
            time.sleep(0.9)
            busy.expect("NOOP", 250, "2.0.0", "Ok")
        busy.expect("QUIT", 221, "2.0.0", "Bye")
    for t in threads:
        t.join(timeout=20)
    want = f"421 4.4.2 {HOSTNAME} Error: timeout exceeded"
    for k in setups:
        text, elapsed = results[k]
        assert text == want, f"{k}: {text}"
        assert 1.5 <= elapsed <= 6.0, f"{k}: timed out after {elapsed:.1f}s"
    time.sleep(0.3)
    assert token_holders(srv, _in_data.tok) == []
    assert spool_files(srv, "queue") == []


def test_data_trickle_is_cut_off(mx):
    """A client that keeps DATA alive with a byte a second, under the idle
    timeout, is cut off once the timeout has passed at too low a rate, and
    nothing of it is queued; a fast client in the same span is not."""
    srv = mx({"server": {"timeout": "2s"}})
    tok = token()
    with SMTPConn(srv.port) as c:
        c.ehlo()
        c.expect("MAIL FROM:<alice@example.org>", 250, "2.1.0", "Ok")
        c.expect("RCPT TO:<alice@example.test>", 250, "2.1.5", "Ok")
        check_354(c.cmd("DATA"))
        c.send(f"Subject: trickle {tok}\r\n\r\n".encode())
        start = time.monotonic()
        reply = None
        while time.monotonic() - start < 10:
            time.sleep(0.5)
            try:
                c.send(b"x")
                reply = c.read_reply(timeout=0.3)
                break
            except Exception:
                continue
        elapsed = time.monotonic() - start
    assert reply is not None, "never cut off"
    assert str(reply) == f"421 4.4.2 {HOSTNAME} Error: timeout exceeded"
    assert 2.0 <= elapsed <= 6.0, f"cut off after {elapsed:.1f}s"
    time.sleep(0.3)
    assert token_holders(srv, tok) == []
    assert spool_files(srv, "queue") == []


# --- max_connections ------------------------------------------------------

def hold_slots(port, n, timeout=5.0):
    """Opens n greeted connections. The fixture's readiness probe (a
    connect and close) may hold a slot for a moment after the start, so a
    421 here is retried until the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        conns = [SMTPConn(port, greet=False) for _ in range(n)]
        codes = [c.read_reply().code for c in conns]
        if codes == [220] * n:
            return conns
        for c in conns:
            c.close()
        assert time.monotonic() < deadline, f"greetings {codes}"
        time.sleep(0.1)


def test_max_connections(mx):
    srv = mx({"server": {"max_connections": "3"}})
    want = f"421 4.3.2 {HOSTNAME} Too many connections, try again later"
    conns = hold_slots(srv.port, 3)
    try:
        for c in conns:
            c.ehlo()
        with SMTPConn(srv.port, greet=False) as fourth:
            r = fourth.read_reply()
            assert str(r) == want, r
            assert r.code == 421 and r.enh == "4.3.2", r
            fourth.expect_closed()
        # the three still work
        for c in conns:
            c.expect("NOOP", 250, "2.0.0", "Ok")
        conns[0].expect("QUIT", 221, "2.0.0", "Bye")
        conns[0].expect_closed()
        conns[0].close()
        # a slot is free again (the server may need a moment to notice)
        deadline = time.monotonic() + 5
        while True:
            with SMTPConn(srv.port, greet=False) as c:
                r = c.read_reply()
                if r.code == 220:
                    c.ehlo()
                    c.expect("QUIT", 221, "2.0.0", "Bye")
                    break
                assert str(r) == want, r
            assert time.monotonic() < deadline, "no slot after a QUIT"
            time.sleep(0.1)
    finally:
        for c in conns:
            c.close()


def test_many_refused_connections_do_not_leak_slots(mx):
    srv = mx({"server": {"max_connections": "2"}})
    held = hold_slots(srv.port, 2)
    try:
        for _ in range(20):
            with SMTPConn(srv.port, greet=False) as c:
                assert c.read_reply().code == 421
    finally:
        for c in held:
            c.close()
    deadline = time.monotonic() + 5
    ok = 0
    while ok < 2 and time.monotonic() < deadline:
        with SMTPConn(srv.port, greet=False) as c1, \
                SMTPConn(srv.port, greet=False) as c2:
            codes = [c1.read_reply().code, c2.read_reply().code]
            ok = codes.count(220)
        if ok < 2:
            time.sleep(0.1)
    assert ok == 2, "slots of refused or closed connections were not freed"


def test_abrupt_disconnects_free_their_slots(mx):
    srv = mx({"server": {"max_connections": "3"}})
    for _ in range(10):
        s = socket.create_connection((HOST, srv.port), timeout=5)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                     b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()     # RST, no QUIT
    time.sleep(0.5)
    conns = []
    try:
        deadline = time.monotonic() + 5
        while len(conns) < 3 and time.monotonic() < deadline:
            c = SMTPConn(srv.port, greet=False)
            if c.read_reply().code == 220:
                conns.append(c)
            else:
                c.close()
                time.sleep(0.1)
        assert len(conns) == 3
    finally:
        for c in conns:
            c.close()


# --- error budget ---------------------------------------------------------

def _garbage_replies(port, n):
    """Sends n unknown commands in one write; returns the replies read
    until the server closes or a reply is missing."""
    replies = []
    with SMTPConn(port) as c:
        c.ehlo()
        c.send(b"".join(b"GARBAGE%d\r\n" % i for i in range(n)))
        closed = False
        try:
            while len(replies) < n:
                replies.append(c.read_reply(timeout=8))
                if replies[-1].code == 421:
                    c.expect_closed(timeout=5)
                    closed = True
                    break
        except smtp_util.Closed:
            closed = True
        if not closed:
            c.expect("NOOP", 250, "2.0.0", "Ok")
    return replies, closed


def test_few_errors_are_tolerated(shared_mx):
    replies, closed = _garbage_replies(shared_mx.port, 5)
    assert not closed
    assert [(r.code, r.enh) for r in replies] == [(500, "5.5.2")] * 5


def test_many_errors_end_in_421(shared_mx):
    replies, closed = _garbage_replies(shared_mx.port, 30)
    assert closed, "30 errors did not close the session"
    last = replies[-1]
    assert str(last) == f"421 4.7.0 {HOSTNAME} Too many errors, closing " \
        "connection", last
    assert all((r.code, r.enh) == (500, "5.5.2") for r in replies[:-1]), \
        replies
    assert len(replies) >= 6
