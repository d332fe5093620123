"""PIPELINING (RFC 2920): commands sent in one write get their replies in
order, each one exactly what it would get alone; swaks --pipeline."""
import subprocess
import time

import smtp_util
from smtp_util import (HELO_NAME, HOST, SMTPConn, cat_reply, check,
                       check_354, dot_stuff, message, queued_id, token,
                       token_holders, wait_token)

fake_dns = smtp_util.fake_dns
shared_mx = smtp_util.shared_mx


def replies(c, n, timeout=10):
    return [c.read_reply(timeout) for _ in range(n)]


def test_mail_rcpt_rcpt_data_in_one_write(shared_mx):
    tok = token()
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        c.send(b"MAIL FROM:<alice@example.org>\r\n"
               b"RCPT TO:<alice@example.test>\r\n"
               b"RCPT TO:<bob@example.test>\r\n"
               b"DATA\r\n")
        r = replies(c, 4)
        check(r[0], 250, "2.1.0", "Ok", "MAIL")
        check(r[1], 250, "2.1.5", "Ok", "RCPT")
        check(r[2], 250, "2.1.5", "Ok", "RCPT")
        check_354(r[3])
        c.send(dot_stuff(message(tok)) + b".\r\nQUIT\r\n")
        qid = queued_id(c.read_reply())
        assert str(c.read_reply()) == "221 2.0.0 Bye"
        c.expect_closed()
    for rcpt in ("alice@example.test", "bob@example.test"):
        msg = wait_token(shared_mx, rcpt, tok)[0]
        assert f" id {qid}".encode() in msg.replace(b"\n\t", b" ") \
            .replace(b"\n ", b" ")


def test_replies_keep_order_with_failures(shared_mx):
    tok = token()
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        c.send(b"MAIL FROM:<alice@example.org>\r\n"
               b"RCPT TO:<nosuchuser@example.test>\r\n"
               b"RCPT TO:<alice@example.test>\r\n"
               b"RCPT TO:<someone@remote.example>\r\n"
               b"RCPT TO:<bob@@example.test>\r\n"
               b"RCPT TO:<bob@example.test>\r\n"
               b"DATA\r\n")
        r = replies(c, 7)
        check(r[0], 250, "2.1.0", "Ok", "MAIL")
        check(r[1], *cat_reply("UNKNOWN_USER"), "RCPT unknown")
        check(r[2], 250, "2.1.5", "Ok", "RCPT")
        check(r[3], 554, "5.7.1", "Relay access denied", "RCPT remote")
        check(r[4], 501, "5.1.3", None, "RCPT bad")
        check(r[5], 250, "2.1.5", "Ok", "RCPT")
        check_354(r[6])
        c.send(dot_stuff(message(tok)) + b".\r\n")
        queued_id(c.read_reply())
    wait_token(shared_mx, "alice@example.test", tok)
    wait_token(shared_mx, "bob@example.test", tok)
    time.sleep(0.3)
    assert len(token_holders(shared_mx, tok)) == 2


def test_failed_mail_fails_the_whole_group(shared_mx):
    """MAIL refused: the pipelined RCPTs and DATA fail too and no 354 is
    sent, so the client never sends the body as commands."""
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        c.send(b"MAIL FROM:<alice@@example.org>\r\n"
               b"RCPT TO:<alice@example.test>\r\n"
               b"DATA\r\n"
               b"NOOP\r\n")
        r = replies(c, 4)
        check(r[0], 501, "5.1.7", None, "MAIL")
        check(r[1], 503, "5.5.1", None, "RCPT")
        check(r[2], 503, "5.5.1", None, "DATA")
        check(r[3], 250, "2.0.0", "Ok", "NOOP")


def test_no_valid_recipient_group(shared_mx):
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        c.send(b"MAIL FROM:<alice@example.org>\r\n"
               b"RCPT TO:<nosuchuser@example.test>\r\n"
               b"DATA\r\n"
               b"RSET\r\n")
        r = replies(c, 4)
        check(r[0], 250, "2.1.0", "Ok", "MAIL")
        check(r[1], 550, "5.1.1", None, "RCPT")
        check(r[2], *cat_reply("NO_VALID_RECIPIENTS"), "DATA")
        check(r[3], 250, "2.0.0", "Ok", "RSET")


def test_non_transaction_commands_in_one_write(shared_mx):
    with SMTPConn(shared_mx.port) as c:
        c.send(f"EHLO {HELO_NAME}\r\nNOOP\r\nVRFY bob\r\nRSET\r\nHELP\r\n"
               "FOO\r\nNOOP\r\nQUIT\r\n".encode())
        r = replies(c, 8)
        assert r[0].code == 250 and "PIPELINING" in str(r[0]), r[0]
        check(r[1], 250, "2.0.0", "Ok", "NOOP")
        check(r[2], *cat_reply("VRFY"), "VRFY")
        check(r[3], 250, "2.0.0", "Ok", "RSET")
        check(r[4], 214, "2.0.0", None, "HELP")
        check(r[5], 500, "5.5.2", None, "FOO")
        check(r[6], 250, "2.0.0", "Ok", "NOOP")
        assert str(r[7]) == "221 2.0.0 Bye"
        c.expect_closed()


def test_pipelined_group_split_at_every_byte(shared_mx):
    tok = token()
    group = (b"MAIL FROM:<alice@example.org> BODY=8BITMIME\r\n"
             b"RCPT TO:<alice@example.test>\r\n"
             b"DATA\r\n")
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        for i in range(len(group)):
            c.send(group[i:i + 1])
            if i % 8 == 0:
                time.sleep(0.002)
        r = replies(c, 3)
        check(r[0], 250, "2.1.0", "Ok", "MAIL")
        check(r[1], 250, "2.1.5", "Ok", "RCPT")
        check_354(r[2])
        c.send(dot_stuff(message(tok)) + b".\r\n")
        queued_id(c.read_reply())
    wait_token(shared_mx, "alice@example.test", tok)


def test_two_transactions_back_to_back(shared_mx):
    """After the end of DATA the next transaction's group can follow in
    the same write as the terminating dot."""
    t1, t2 = token(), token()
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        c.send(b"MAIL FROM:<alice@example.org>\r\n"
               b"RCPT TO:<alice@example.test>\r\nDATA\r\n")
        r = replies(c, 3)
        check_354(r[2])
        c.send(dot_stuff(message(t1)) + b".\r\n"
               b"MAIL FROM:<bob@example.org>\r\n"
               b"RCPT TO:<bob@example.test>\r\nDATA\r\n")
        q1 = queued_id(c.read_reply())
        r = replies(c, 3)
        check(r[0], 250, "2.1.0", "Ok", "MAIL")
        check(r[1], 250, "2.1.5", "Ok", "RCPT")
        check_354(r[2])
        c.send(dot_stuff(message(t2)) + b".\r\nQUIT\r\n")
        q2 = queued_id(c.read_reply())
        assert str(c.read_reply()) == "221 2.0.0 Bye"
        assert q1 != q2
    m1 = wait_token(shared_mx, "alice@example.test", t1)[0]
    m2 = wait_token(shared_mx, "bob@example.test", t2)[0]
    assert m1.startswith(b"Return-Path: <alice@example.org>\n")
    assert m2.startswith(b"Return-Path: <bob@example.org>\n")
    assert t2.encode() not in m1 and t1.encode() not in m2


def test_rset_in_a_pipelined_group(shared_mx):
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        c.send(b"MAIL FROM:<alice@example.org>\r\n"
               b"RCPT TO:<alice@example.test>\r\n"
               b"RSET\r\n"
               b"DATA\r\n"
               b"MAIL FROM:<bob@example.org>\r\n")
        r = replies(c, 5)
        check(r[0], 250, "2.1.0", "Ok", "MAIL")
        check(r[1], 250, "2.1.5", "Ok", "RCPT")
        check(r[2], 250, "2.0.0", "Ok", "RSET")
        check(r[3], 503, "5.5.1", None, "DATA")
        check(r[4], 250, "2.1.0", "Ok", "MAIL")


def test_swaks_pipeline(shared_mx):
    tok = token()
    p = subprocess.run(
        ["swaks", "--server", f"{HOST}:{shared_mx.port}", "--pipeline",
         "--helo", HELO_NAME, "--from", "bob@example.org",
         "--to", "alice@example.test,bob@example.test",
         "--header", f"Subject: pipelined {tok}",
         "--header", "X-Test: swaks",
         "--body", f"pipelined body {tok}\n.dotted line\n", "--timeout", "10"],
        capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "<-  250 2.1.0 Ok" in p.stdout, p.stdout
    assert p.stdout.count("<-  250 2.1.5 Ok") == 2, p.stdout
    assert "<-  354 End data with <CR><LF>.<CR><LF>" in p.stdout, p.stdout
    assert "<-  250 2.0.0 Ok: queued as " in p.stdout, p.stdout
    for rcpt in ("alice@example.test", "bob@example.test"):
        msg = wait_token(shared_mx, rcpt, tok)[0]
        assert b"X-Test: swaks\n" in msg
        assert f"Subject: pipelined {tok}\n".encode() in msg
        assert f"pipelined body {tok}\n.dotted line\n".encode() in msg


def test_swaks_pipeline_with_refused_recipient(shared_mx):
    p = subprocess.run(
        ["swaks", "--server", f"{HOST}:{shared_mx.port}", "--pipeline",
         "--helo", HELO_NAME, "--from", "bob@example.org",
         "--to", "nosuchuser@example.test", "--timeout", "10"],
        capture_output=True, text=True, timeout=30)
    assert p.returncode != 0, p.stdout
    assert "550 5.1.1 " in p.stdout, p.stdout
    assert "queued as" not in p.stdout, p.stdout
