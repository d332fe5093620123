"""What DATA stores (SPEC §5): the Maildir layout (Return-Path,
Delivered-To, then the stored message with Received: first), the Received
header per RFC 5321 §4.4 / RFC 3848, dot-unstuffing, messages that arrive
in many TCP segments, very long lines, 8-bit content, several recipients.
Uses one shared server for the module."""
import time

import smtp_util
from smtp_util import (HOSTNAME, SMTPConn, check_354, dot_stuff, message,
                       queued_id, received_fields, split_message, token,
                       token_holders, wait_token)

fake_dns = smtp_util.fake_dns
shared_mx = smtp_util.shared_mx


def test_maildir_layout_and_received_header(shared_mx):
    tok = token()
    with SMTPConn(shared_mx.port) as c:
        c.ehlo("sender-host.example")
        qid = c.transaction("alice@example.org", ["bob@example.test"],
                            message(tok, to="bob@example.test"))
        c.expect("QUIT", 221, "2.0.0", "Bye")
    msg = wait_token(shared_mx, "bob@example.test", tok)[0]
    assert b"\r" not in msg, "the Maildir copy has LF line endings"
    headers, body = split_message(msg)
    names = [n.lower() for n, _ in headers]
    assert names[:3] == ["return-path", "delivered-to", "received"], names
    assert headers[0][1] == "<alice@example.org>"
    assert headers[1][1] == "bob@example.test"
    assert names.count("received") == 1, names
    assert names.count("return-path") == 1 and \
        names.count("delivered-to") == 1, names
    # the client's own headers follow, unchanged and in order
    assert names[3:7] == ["from", "to", "subject", "message-id"], names
    assert body == f"{tok}\n".encode(), body
    f = received_fields(headers[2][1])
    assert f["helo"] == "sender-host.example", f
    assert f["ip"] == "127.0.0.1", f
    assert f["rdns"] in (None, "localhost", "[127.0.0.1]", "unknown"), f
    assert f["by"] == HOSTNAME, f
    assert f["proto"] == "ESMTP", f
    assert f["id"] == qid, f
    assert f["rcpt"] == "bob@example.test", f


def test_received_from_helo_says_smtp(shared_mx):
    tok = token()
    with SMTPConn(shared_mx.port) as c:
        assert c.cmd("HELO old-client.example").code == 250
        qid = c.transaction("alice@example.org", ["alice@example.test"],
                            message(tok))
    msg = wait_token(shared_mx, "alice@example.test", tok)[0]
    headers, _ = split_message(msg)
    assert headers[2][0].lower() == "received", headers[:3]
    f = received_fields(headers[2][1])
    assert (f["helo"], f["proto"], f["id"]) == \
        ("old-client.example", "SMTP", qid), f


def test_several_recipients_each_get_one_copy(shared_mx):
    tok = token()
    rcpts = ["alice@example.test", "bob@example.test", "carol@example.org"]
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        qid = c.transaction("alice@example.org", rcpts, message(tok))
    for rcpt in rcpts:
        msg = wait_token(shared_mx, rcpt, tok)[0]
        headers, _ = split_message(msg)
        assert headers[1] == ("Delivered-To", rcpt), headers[:3]
        assert received_fields(headers[2][1])["id"] == qid
    time.sleep(0.3)
    assert len(token_holders(shared_mx, tok)) == 3


def test_dot_unstuffing(shared_mx):
    tok = token()
    # the message as its author wrote it; dot_stuff() doubles each leading
    # dot on the wire and the server must remove exactly that dot again
    body = (b".x\r\n"
            b"..\r\n"
            b". leading dot and space\r\n"
            b"a.b\r\n"
            b".\r\n"
            b"last\r\n")
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        c.transaction("alice@example.org", ["alice@example.test"],
                      message(tok) + body)
    msg = wait_token(shared_mx, "alice@example.test", tok)[0]
    _, got = split_message(msg)
    assert got == f"{tok}\n".encode() + body.replace(b"\r\n", b"\n"), got


def test_dot_unstuffing_exact_wire_bytes(shared_mx):
    tok = token()
    wire = (message(tok) + b"..x\r\n...y\r\n..\r\nz..\r\n.\r\n")
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        c.expect("MAIL FROM:<alice@example.org>", 250, "2.1.0", "Ok")
        c.expect("RCPT TO:<alice@example.test>", 250, "2.1.5", "Ok")
        check_354(c.cmd("DATA"))
        c.send(wire)
        queued_id(c.read_reply())
    msg = wait_token(shared_mx, "alice@example.test", tok)[0]
    _, got = split_message(msg)
    assert got == f"{tok}\n.x\n..y\n.\nz..\n".encode(), got


def test_message_in_many_segments(shared_mx):
    tok = token()
    lines = b"".join(b"line %04d of a message sent in small pieces\r\n" % i
                     for i in range(300))
    data = dot_stuff(message(tok) + lines) + b".\r\n"
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        c.expect("MAIL FROM:<alice@example.org>", 250, "2.1.0", "Ok")
        c.expect("RCPT TO:<alice@example.test>", 250, "2.1.5", "Ok")
        check_354(c.cmd("DATA"))
        # odd-sized pieces that cut CRLFs, then the terminator byte by byte
        body, end = data[:-5], data[-5:]
        sizes = [1, 2, 3, 5, 7, 11, 13, 64, 97, 1]
        i = n = 0
        while i < len(body):
            c.send(body[i:i + sizes[n % len(sizes)]])
            i += sizes[n % len(sizes)]
            n += 1
            if n % 50 == 0:
                time.sleep(0.005)
        for b in end:
            time.sleep(0.05)
            c.send(bytes([b]))
        queued_id(c.read_reply())
        c.expect("NOOP", 250, "2.0.0", "Ok")
    msg = wait_token(shared_mx, "alice@example.test", tok)[0]
    _, got = split_message(msg)
    assert got == f"{tok}\n".encode() + lines.replace(b"\r\n", b"\n")


def test_terminator_split_after_every_byte(shared_mx):
    """'\\r\\n.\\r\\n' split across writes must still end the data, and
    the pieces must not end it early."""
    tok = token()
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        c.expect("MAIL FROM:<alice@example.org>", 250, "2.1.0", "Ok")
        c.expect("RCPT TO:<alice@example.test>", 250, "2.1.5", "Ok")
        check_354(c.cmd("DATA"))
        c.send(message(tok) + b"end")
        for piece in (b"\r", b"\n", b".", b"\r", b"\n"):
            time.sleep(0.1)
            c.send(piece)
        queued_id(c.read_reply())
    msg = wait_token(shared_mx, "alice@example.test", tok)[0]
    _, got = split_message(msg)
    assert got == f"{tok}\nend\n".encode()


def test_very_long_body_line_is_kept(shared_mx):
    tok = token()
    longline = (b"0123456789abcdef" * 6400)   # 100 KiB, no newline
    assert len(longline) == 102400
    data = message(tok) + longline + b"\r\nafter\r\n"
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        c.transaction("alice@example.org", ["alice@example.test"], data)
        c.expect("NOOP", 250, "2.0.0", "Ok")
    msg = wait_token(shared_mx, "alice@example.test", tok)[0]
    _, got = split_message(msg)
    assert got == f"{tok}\n".encode() + longline + b"\nafter\n"


def test_long_body_line_with_leading_dot(shared_mx):
    tok = token()
    longline = b"." + b"x" * 5000
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        c.transaction("alice@example.org", ["alice@example.test"],
                      message(tok) + longline + b"\r\n")
    msg = wait_token(shared_mx, "alice@example.test", tok)[0]
    _, got = split_message(msg)
    assert got == f"{tok}\n".encode() + longline + b"\n"


def test_eight_bit_body_is_kept(shared_mx):
    tok = token()
    body = bytes(range(0x80, 0x100)) + b"\r\n" + "日本語\r\n".encode()
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        c.transaction("alice@example.org", ["alice@example.test"],
                      message(tok) + body, params=" BODY=8BITMIME")
    msg = wait_token(shared_mx, "alice@example.test", tok)[0]
    _, got = split_message(msg)
    assert got == f"{tok}\n".encode() + body.replace(b"\r\n", b"\n")


def test_empty_message(shared_mx):
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        c.expect("MAIL FROM:<alice@example.org>", 250, "2.1.0", "Ok")
        c.expect("RCPT TO:<victim@example.test>", 250, "2.1.5", "Ok")
        check_354(c.cmd("DATA"))
        c.send(b".\r\n")
        qid = queued_id(c.read_reply())
    deadline = time.monotonic() + 15
    found = None
    while found is None and time.monotonic() < deadline:
        for p in shared_mx.maildir("victim@example.test").glob("new/*"):
            headers, body = split_message(p.read_bytes())
            if any(n.lower() == "received" and f" id {qid}" in v
                   for n, v in headers):
                found = (headers, body)
        time.sleep(0.05)
    assert found is not None, f"empty message {qid} not delivered"
    headers, body = found
    assert [n.lower() for n, _ in headers] == \
        ["return-path", "delivered-to", "received"], headers
    assert body == b"", body


def test_header_only_message_without_final_newline(shared_mx):
    """A message whose last line has no CRLF: the CRLF of '.CRLF' ends
    it (RFC 5321 §4.1.1.4), nothing is lost."""
    tok = token()
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        c.expect("MAIL FROM:<alice@example.org>", 250, "2.1.0", "Ok")
        c.expect("RCPT TO:<alice@example.test>", 250, "2.1.5", "Ok")
        check_354(c.cmd("DATA"))
        c.send(f"Subject: {tok}\r\n.\r\n".encode())
        queued_id(c.read_reply())
    msg = wait_token(shared_mx, "alice@example.test", tok)[0]
    headers, _ = split_message(msg)
    assert ("Subject", tok) in headers, headers


def test_crlf_in_received_helo_is_impossible(shared_mx):
    """The HELO name lands in Received: a name with odd characters must be
    refused or stored harmlessly, never split the header."""
    tok = token()
    with SMTPConn(shared_mx.port) as c:
        r = c.cmd("EHLO evil.example\rX-Injected: yes")
        if r.code != 250:
            assert r.code in (500, 501) and r.enh in ("5.5.2", "5.5.4"), r
            c.ehlo()
        c.transaction("alice@example.org", ["alice@example.test"],
                      message(tok))
    msg = wait_token(shared_mx, "alice@example.test", tok)[0]
    assert b"\nX-Injected" not in msg and b"\rX-Injected" not in msg
    headers, _ = split_message(msg)
    assert headers[2][0].lower() == "received"


def test_helo_name_appears_once_per_session(shared_mx):
    """A later EHLO in the same session changes the name in Received."""
    tok = token()
    with SMTPConn(shared_mx.port) as c:
        c.ehlo("first.example")
        c.ehlo("second.example")
        c.transaction("alice@example.org", ["alice@example.test"],
                      message(tok))
    msg = wait_token(shared_mx, "alice@example.test", tok)[0]
    headers, _ = split_message(msg)
    assert received_fields(headers[2][1])["helo"] == "second.example"

