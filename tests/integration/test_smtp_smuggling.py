"""SMTP smuggling (SPEC §5): DATA ends only at <CRLF>.<CRLF>. The sequences
<LF>.<LF>, <LF>.<CRLF>, <CRLF>.<LF> and <CR>.<CR> followed by a fake
transaction must stay message text: exactly one message is queued, the
fake recipient gets nothing, and the fake commands arrive as body text.
A bare LF in content is stored as CRLF in the spool."""
import time

import pytest

import smtp_util
from smtp_util import (SMTPConn, check_354, message, queued_id,
                       spool_files, token, token_holders, wait_token)

fake_dns = smtp_util.fake_dns
mx = smtp_util.mx
shared_mx = smtp_util.shared_mx

SEQUENCES = {"LF.LF": b"\n.\n", "LF.CRLF": b"\n.\r\n",
             "CRLF.LF": b"\r\n.\n", "CR.CR": b"\r.\r"}


def smuggle_payload(tok, evil_tok, seq):
    fake = (b"MAIL FROM:<evil@example.org>\r\n"
            b"RCPT TO:<victim@example.test>\r\n"
            b"DATA\r\n"
            b"Subject: smuggled\r\n\r\n"
            b"SMUGGLED " + evil_tok.encode() + b"\r\n")
    return message(tok) + b"innocent text" + seq + fake + b"\r\n.\r\n"


def read_until_closed(c, timeout=10):
    out = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            out.append(c.read_reply(timeout=max(0.1,
                                                deadline - time.monotonic())))
    except smtp_util.Closed:
        return out
    raise AssertionError(f"not closed after QUIT; replies {out}")


def check_one_message(srv, c, tok, evil_tok):
    got = read_until_closed(c)
    assert len(got) == 2, f"want one 250 and the 221, got {got}"
    qid = queued_id(got[0])
    assert str(got[1]) == "221 2.0.0 Bye", got
    msg = wait_token(srv, "alice@example.test", tok)[0]
    assert b"MAIL FROM:<evil@example.org>" in msg, msg
    assert b"RCPT TO:<victim@example.test>" in msg, msg
    assert b"SMUGGLED " + evil_tok.encode() in msg, msg
    time.sleep(0.3)
    holders = token_holders(srv, evil_tok)
    assert len(holders) == 1, f"smuggled text found in {holders}"
    assert "victim" not in str(holders[0]), holders
    return qid, msg


@pytest.mark.parametrize("name", list(SEQUENCES))
def test_smuggling_in_one_write(shared_mx, name):
    tok, evil_tok = token(), token()
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        c.expect("MAIL FROM:<alice@example.org>", 250, "2.1.0", "Ok")
        c.expect("RCPT TO:<alice@example.test>", 250, "2.1.5", "Ok")
        check_354(c.cmd("DATA"))
        c.send(smuggle_payload(tok, evil_tok, SEQUENCES[name]) +
               b"QUIT\r\n")
        check_one_message(shared_mx, c, tok, evil_tok)


@pytest.mark.parametrize("name", list(SEQUENCES))
def test_smuggling_split_at_every_byte(shared_mx, name):
    """The same, with the smuggling sequence arriving one byte per
    segment (a parser that looks only inside one read misses this)."""
    tok, evil_tok = token(), token()
    seq = SEQUENCES[name]
    payload = smuggle_payload(tok, evil_tok, seq)
    cut = payload.index(b"innocent text") + len(b"innocent text")
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        c.expect("MAIL FROM:<alice@example.org>", 250, "2.1.0", "Ok")
        c.expect("RCPT TO:<alice@example.test>", 250, "2.1.5", "Ok")
        check_354(c.cmd("DATA"))
        c.send(payload[:cut])
        for i in range(len(seq)):
            time.sleep(0.03)
            c.send(seq[i:i + 1])
        time.sleep(0.03)
        c.send(payload[cut + len(seq):] + b"QUIT\r\n")
        check_one_message(shared_mx, c, tok, evil_tok)


@pytest.mark.parametrize("start", [b".\n", b".\r"], ids=["dot-LF",
                                                          "dot-CR"])
def test_smuggling_sequence_at_start_of_data(shared_mx, start):
    """Right after 354 there is an implicit line start: '.LF' or '.CR'
    there must not end the data."""
    tok, evil_tok = token(), token()
    fake = (b"MAIL FROM:<evil@example.org>\r\nRCPT TO:<victim@example.test>"
            b"\r\nDATA\r\nSMUGGLED " + evil_tok.encode() + b"\r\n")
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        c.expect("MAIL FROM:<alice@example.org>", 250, "2.1.0", "Ok")
        c.expect("RCPT TO:<alice@example.test>", 250, "2.1.5", "Ok")
        check_354(c.cmd("DATA"))
        c.send(start + fake + tok.encode() + b"\r\n.\r\nQUIT\r\n")
        check_one_message(shared_mx, c, tok, evil_tok)


def test_bare_lf_is_stored_as_crlf(mx):
    """The spool copy has CRLF everywhere (a blocked Maildir keeps the
    message in spool/queue so the test can read it); the Maildir copy,
    written after the block is lifted, has LF."""
    srv = mx({"delivery": {"retry": "1h"}}, start=False)
    blocker = srv.maildir("alice@example.test")
    blocker.parent.mkdir(parents=True)
    blocker.write_text("not a Maildir\n")
    srv.start()
    tok = token()
    with SMTPConn(srv.port) as c:
        c.ehlo()
        c.expect("MAIL FROM:<bob@example.test>", 250, "2.1.0", "Ok")
        c.expect("RCPT TO:<alice@example.test>", 250, "2.1.5", "Ok")
        check_354(c.cmd("DATA"))
        c.send(f"Subject: bare lf\nX-Token: {tok}\n\n".encode() +
               b"one\ntwo\r\nthree\n\nfour\r\n.\r\n")
        qid = queued_id(c.read_reply())
    path = srv.spool / "queue" / qid
    assert path.exists(), f"{qid} left the queue with a blocked Maildir: " \
        f"{spool_files(srv, 'queue')}\n{srv.log_text()[-3000:]}"
    data = path.read_bytes()
    assert data.startswith(b"POSTERN-QUEUE 1\n"), data[:100]
    content = data.split(b"\n\n", 1)[1]
    assert content.startswith(b"Received: "), content[:200]
    i = content.index(b"Subject: bare lf")
    assert content[i:] == (f"Subject: bare lf\r\nX-Token: {tok}\r\n\r\n"
                           "one\r\ntwo\r\nthree\r\n\r\nfour\r\n").encode()
    lone_lf = [j for j, b in enumerate(content) if b == 10 and
               (j == 0 or content[j - 1] != 13)]
    assert lone_lf == [], f"bare LF at {lone_lf[:5]} in the spool copy"
    assert token_holders(srv, tok) == []


def test_bare_lf_body_in_maildir(shared_mx):
    tok = token()
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        c.expect("MAIL FROM:<alice@example.org>", 250, "2.1.0", "Ok")
        c.expect("RCPT TO:<alice@example.test>", 250, "2.1.5", "Ok")
        check_354(c.cmd("DATA"))
        c.send(f"Subject: {tok}\n\nalpha\nbeta\r\n.\r\n".encode())
        queued_id(c.read_reply())
    msg = wait_token(shared_mx, "alice@example.test", tok)[0]
    assert b"\r" not in msg
    assert msg.endswith(f"Subject: {tok}\n\nalpha\nbeta\n".encode()), msg


def test_lone_dot_lf_line_is_text(shared_mx):
    """'.' followed by a bare LF on a line of its own, then more text and a
    real end: the text after it belongs to the same message."""
    tok = token()
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        c.expect("MAIL FROM:<alice@example.org>", 250, "2.1.0", "Ok")
        c.expect("RCPT TO:<alice@example.test>", 250, "2.1.5", "Ok")
        check_354(c.cmd("DATA"))
        c.send(f"Subject: {tok}\r\n\r\nbefore\r\n.\nafter-{tok}\r\n"
               ".\r\nNOOP\r\n".encode())
        queued_id(c.read_reply())
        assert str(c.read_reply()) == "250 2.0.0 Ok"
    msg = wait_token(shared_mx, "alice@example.test", tok)[0]
    assert f"after-{tok}\n".encode() in msg
    assert msg.index(b"before") < msg.index(b"after-")
