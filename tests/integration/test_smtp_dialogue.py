"""SMTP server dialogue (SPEC §5): greeting, EHLO/HELO, MAIL parameters,
RCPT, DATA, RSET, NOOP, VRFY, HELP, QUIT, command order, syntax errors and
the exact codes of each reply; a few whole sessions with smtplib and swaks.
Uses one shared server for the module (see smtp_util.shared_mx)."""
import smtplib
import subprocess

import pytest

import smtp_util
from smtp_util import (HELO_NAME, HOST, HOSTNAME, SMTPConn, cat_reply,
                       check_354, message, queued_id, split_message, token,
                       wait_token)

fake_dns = smtp_util.fake_dns
shared_mx = smtp_util.shared_mx


def test_greeting(shared_mx):
    with SMTPConn(shared_mx.port) as c:
        assert str(c.greeting) == f"220 {HOSTNAME} ESMTP Postern"


def test_ehlo_advertises_exactly_the_extensions(shared_mx):
    with SMTPConn(shared_mx.port) as c:
        r = c.cmd(f"EHLO {HELO_NAME}")
        assert r.code == 250, r
        assert all(line.startswith("250-") for line in r.lines[:-1]), r
        assert r.lines[0][4:].split()[0] == HOSTNAME, r
        keywords = [line[4:] for line in r.lines[1:]]
        # 35M default max_message_size: 35 * 1048576
        assert sorted(keywords) == sorted(
            ["PIPELINING", "SIZE 36700160", "8BITMIME",
             "ENHANCEDSTATUSCODES", "SMTPUTF8"]), r


def test_helo_has_no_extensions_and_works(shared_mx):
    tok = token()
    with SMTPConn(shared_mx.port) as c:
        r = c.cmd(f"HELO {HELO_NAME}")
        assert len(r.lines) == 1 and r.code == 250, r
        assert r.lines[0].split()[1] == HOSTNAME, r
        qid = c.transaction("alice@example.org", ["alice@example.test"],
                            message(tok))
        c.expect("QUIT", 221, "2.0.0", "Bye")
    msg = wait_token(shared_mx, "alice@example.test", tok)[0]
    headers, _ = split_message(msg)
    received = [v for n, v in headers if n.lower() == "received"][0]
    assert f" with SMTP id {qid}" in received, received


@pytest.mark.parametrize("line", ["EHLO", "HELO", "EHLO ", "HELO  "])
def test_ehlo_helo_need_a_name(shared_mx, line):
    with SMTPConn(shared_mx.port) as c:
        c.expect(line, 501, "5.5.4")
        c.expect("NOOP", 250, "2.0.0", "Ok")


def test_second_ehlo_is_accepted(shared_mx):
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        r = c.ehlo("other.example")
        assert "PIPELINING" in [line[4:] for line in r.lines], r


def test_noop(shared_mx):
    with SMTPConn(shared_mx.port) as c:
        c.expect("NOOP", 250, "2.0.0", "Ok")
        c.ehlo()
        c.expect("NOOP", 250, "2.0.0", "Ok")
        c.expect("NOOP with a string argument", 250, "2.0.0", "Ok")


def test_rset(shared_mx):
    with SMTPConn(shared_mx.port) as c:
        c.expect("RSET", 250, "2.0.0", "Ok")
        c.ehlo()
        c.expect("RSET", 250, "2.0.0", "Ok")


def test_vrfy_discloses_nothing(shared_mx):
    want = cat_reply("VRFY")
    assert want[:2] == (252, "2.0.0")
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        existing = c.expect("VRFY alice@example.test", *want)
        missing = c.expect("VRFY nosuchuser@example.test", *want)
        bare = c.expect("VRFY alice", *want)
        assert str(existing) == str(missing) == str(bare)
        assert "alice" not in str(existing).lower()


def test_expn_discloses_nothing(shared_mx):
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        r = c.cmd("EXPN sales@example.test")
        assert r.code in (500, 502) and r.enh in ("5.5.2", "5.5.1"), r
        assert "alice" not in str(r) and "bob" not in str(r), r
        c.expect("NOOP", 250, "2.0.0", "Ok")


def test_help(shared_mx):
    with SMTPConn(shared_mx.port) as c:
        r = c.cmd("HELP")
        assert r.code == 214 and r.enh == "2.0.0", r
        assert all(line.startswith("214") for line in r.lines), r
        c.expect("HELP MAIL", 214, "2.0.0")


def test_quit_says_bye_and_closes(shared_mx):
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        r = c.cmd("QUIT")
        assert str(r) == "221 2.0.0 Bye", r
        c.expect_closed()


def test_quit_before_ehlo(shared_mx):
    with SMTPConn(shared_mx.port) as c:
        assert str(c.cmd("QUIT")) == "221 2.0.0 Bye"
        c.expect_closed()


@pytest.mark.parametrize("line", [
    "FOO", "XYZZY bar", "MAILFROM:<a@example.org>", "HELLO x",
    "\x01\x02\x03", "EHL0 x",
])
def test_unknown_command(shared_mx, line):
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        c.expect(line, 500, "5.5.2", cat_reply("UNKNOWN_COMMAND")[2])
        c.expect("NOOP", 250, "2.0.0", "Ok")


def test_empty_line_is_an_error_not_a_hang(shared_mx):
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        r = c.cmd("")
        assert r.code == 500 and r.enh in ("5.5.2", "5.5.4"), r
        c.expect("NOOP", 250, "2.0.0", "Ok")


def test_commands_are_case_insensitive(shared_mx):
    tok = token()
    with SMTPConn(shared_mx.port) as c:
        assert c.cmd(f"ehlo {HELO_NAME}").code == 250
        c.expect("mail from:<alice@example.org>", 250, "2.1.0", "Ok")
        c.expect("Rcpt To:<alice@example.test>", 250, "2.1.5", "Ok")
        check_354(c.cmd("data"))
        c.send(message(tok) + b".\r\n")
        queued_id(c.read_reply())
        c.expect("NoOp", 250, "2.0.0", "Ok")
        c.expect("quit", 221, "2.0.0", "Bye")
    wait_token(shared_mx, "alice@example.test", tok)


def test_mail_before_ehlo(shared_mx):
    with SMTPConn(shared_mx.port) as c:
        c.expect("MAIL FROM:<alice@example.org>", 503, "5.5.1",
                 cat_reply("NEED_EHLO")[2])
        c.expect("RCPT TO:<alice@example.test>", 503, "5.5.1")
        c.expect("DATA", 503, "5.5.1")
        c.ehlo()
        c.expect("MAIL FROM:<alice@example.org>", 250, "2.1.0", "Ok")


def test_rcpt_before_mail(shared_mx):
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        c.expect("RCPT TO:<alice@example.test>", 503, "5.5.1",
                 cat_reply("NEED_MAIL")[2])


def test_data_before_mail_and_before_rcpt(shared_mx):
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        c.expect("DATA", 503, "5.5.1")
        c.expect("MAIL FROM:<alice@example.org>", 250, "2.1.0", "Ok")
        c.expect("DATA", 503, "5.5.1", cat_reply("NEED_RCPT")[2])
        # the transaction is still open: a recipient can still be added
        c.expect("RCPT TO:<alice@example.test>", 250, "2.1.5", "Ok")


def test_nested_mail(shared_mx):
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        c.expect("MAIL FROM:<alice@example.org>", 250, "2.1.0", "Ok")
        c.expect("MAIL FROM:<bob@example.org>", 503, "5.5.1",
                 cat_reply("NESTED_MAIL")[2])


def test_data_with_only_rejected_recipients(shared_mx):
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        c.expect("MAIL FROM:<alice@example.org>", 250, "2.1.0", "Ok")
        c.expect("RCPT TO:<nosuchuser@example.test>", 550, "5.1.1")
        c.expect("RCPT TO:<someone@remote.example>", 554, "5.7.1",
                 "Relay access denied")
        c.expect("DATA", 554, "5.5.1", cat_reply("NO_VALID_RECIPIENTS")[2])
        # not in DATA: the session still takes commands
        c.expect("RSET", 250, "2.0.0", "Ok")
        c.expect("NOOP", 250, "2.0.0", "Ok")


def test_rset_clears_the_transaction(shared_mx):
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        c.expect("MAIL FROM:<alice@example.org>", 250, "2.1.0", "Ok")
        c.expect("RCPT TO:<alice@example.test>", 250, "2.1.5", "Ok")
        c.expect("RSET", 250, "2.0.0", "Ok")
        c.expect("DATA", 503, "5.5.1")
        c.expect("RCPT TO:<alice@example.test>", 503, "5.5.1")
        # not nested: the old sender is gone
        c.expect("MAIL FROM:<bob@example.org>", 250, "2.1.0", "Ok")


def test_ehlo_resets_the_transaction(shared_mx):
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        c.expect("MAIL FROM:<alice@example.org>", 250, "2.1.0", "Ok")
        c.expect("RCPT TO:<alice@example.test>", 250, "2.1.5", "Ok")
        c.ehlo()
        c.expect("DATA", 503, "5.5.1")
        c.expect("MAIL FROM:<bob@example.org>", 250, "2.1.0", "Ok")


def test_helo_resets_the_transaction(shared_mx):
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        c.expect("MAIL FROM:<alice@example.org>", 250, "2.1.0", "Ok")
        assert c.cmd(f"HELO {HELO_NAME}").code == 250
        c.expect("MAIL FROM:<bob@example.org>", 250, "2.1.0", "Ok")


@pytest.mark.parametrize("line", ["DATA x", "RSET now"])
def test_commands_without_arguments(shared_mx, line):
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        c.expect(line, 501, "5.5.4")
        c.expect("NOOP", 250, "2.0.0", "Ok")


@pytest.mark.parametrize("line,code,enh", [
    ("MAIL", 501, "5.5.4"),
    ("MAIL TO:<alice@example.org>", 501, "5.5.4"),
    ("MAIL FROM", 501, "5.5.4"),
    ("MAIL FROM:", 501, "5.5.4"),
    ("MAIL FROM:<alice@@example.org>", 501, "5.1.7"),
    ("MAIL FROM:<alice@>", 501, "5.1.7"),
    ("MAIL FROM:<@example.org>", 501, "5.1.7"),
    ("MAIL FROM:<alice@example..org>", 501, "5.1.7"),
    ("MAIL FROM:<alice example@example.org>", 501, "5.1.7"),
    ("MAIL FROM:<alice@example.org", 501, "5.1.7"),
    ("MAIL FROM:<alice@-example.org>", 501, "5.1.7"),
])
def test_mail_syntax_errors(shared_mx, line, code, enh):
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        r = c.expect(line, code, enh)
        if enh == "5.1.7":
            assert r.text == cat_reply("BAD_SENDER")[2], r
        # the error opened no transaction
        c.expect("RCPT TO:<alice@example.test>", 503, "5.5.1")
        c.expect("MAIL FROM:<alice@example.org>", 250, "2.1.0", "Ok")


@pytest.mark.parametrize("line,code,enh", [
    ("RCPT", 501, "5.5.4"),
    ("RCPT FROM:<alice@example.test>", 501, "5.5.4"),
    ("RCPT TO:", 501, "5.5.4"),
    ("RCPT TO:<>", 501, "5.1.3"),
    ("RCPT TO:<alice@@example.test>", 501, "5.1.3"),
    ("RCPT TO:<alice@>", 501, "5.1.3"),
    ("RCPT TO:<alice@example..test>", 501, "5.1.3"),
    ("RCPT TO:<alice example@example.test>", 501, "5.1.3"),
    ("RCPT TO:<alice@example.test", 501, "5.1.3"),
])
def test_rcpt_syntax_errors(shared_mx, line, code, enh):
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        c.expect("MAIL FROM:<alice@example.org>", 250, "2.1.0", "Ok")
        r = c.expect(line, code, enh)
        if enh == "5.1.3":
            assert r.text == cat_reply("BAD_RECIPIENT")[2], r
        c.expect("RCPT TO:<alice@example.test>", 250, "2.1.5", "Ok")


def test_null_sender_is_accepted_and_delivered(shared_mx):
    tok = token()
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        c.transaction("", ["bob@example.test"], message(tok))
    msg = wait_token(shared_mx, "bob@example.test", tok)[0]
    assert msg.startswith(b"Return-Path: <>\n"), msg[:200]


@pytest.mark.parametrize("params", [
    " FOO=bar", " NOTIFY=NEVER", " RET=FULL", " X", " SIZE",
])
def test_unknown_mail_parameter(shared_mx, params):
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        r = c.cmd(f"MAIL FROM:<alice@example.org>{params}")
        if params == " SIZE":
            assert r.code == 501 and r.enh == "5.5.4", r
            return
        assert (r.code, r.enh, r.text) == cat_reply("UNKNOWN_PARAMETER"), r
        c.expect("MAIL FROM:<alice@example.org>", 250, "2.1.0", "Ok")


@pytest.mark.parametrize("params", [" NOTIFY=NEVER", " ORCPT=rfc822;a@b.c",
                                    " FOO"])
def test_unknown_rcpt_parameter(shared_mx, params):
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        c.expect("MAIL FROM:<alice@example.org>", 250, "2.1.0", "Ok")
        r = c.cmd(f"RCPT TO:<alice@example.test>{params}")
        assert (r.code, r.enh, r.text) == cat_reply("UNKNOWN_PARAMETER"), r
        c.expect("RCPT TO:<alice@example.test>", 250, "2.1.5", "Ok")


@pytest.mark.parametrize("params", [" BODY=7BIT", " BODY=8BITMIME",
                                    " SIZE=1000", " SIZE=0",
                                    " BODY=8BITMIME SIZE=5000 SMTPUTF8",
                                    " body=8bitmime"])
def test_good_mail_parameters(shared_mx, params):
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        c.expect(f"MAIL FROM:<alice@example.org>{params}", 250, "2.1.0",
                 "Ok")


@pytest.mark.parametrize("params", [" BODY=FOO", " BODY=BINARYMIME",
                                    " BODY="])
def test_bad_body_parameter(shared_mx, params):
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        r = c.cmd(f"MAIL FROM:<alice@example.org>{params}")
        assert (r.code, r.enh) == (501, "5.5.4"), r
        if params == " BODY=FOO":
            assert r.text == cat_reply("BAD_BODY")[2], r


@pytest.mark.parametrize("params", [" SIZE=abc", " SIZE=-1", " SIZE=",
                                    " SIZE=12x"])
def test_bad_size_parameter(shared_mx, params):
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        c.expect(f"MAIL FROM:<alice@example.org>{params}", 501, "5.5.4")
        c.expect("MAIL FROM:<alice@example.org>", 250, "2.1.0", "Ok")


def test_non_ascii_sender_needs_smtputf8(shared_mx):
    sender = "jörg@example.org"
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        r = c.cmd(f"MAIL FROM:<{sender}>")
        assert (r.code, r.enh, r.text) == cat_reply("NEED_SMTPUTF8"), r
        c.expect(f"MAIL FROM:<{sender}> SMTPUTF8", 250, "2.1.0", "Ok")


def test_non_ascii_recipient_needs_smtputf8(shared_mx):
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        c.expect("MAIL FROM:<alice@example.org>", 250, "2.1.0", "Ok")
        r = c.cmd("RCPT TO:<jörg@example.test>")
        assert (r.code, r.enh, r.text) == cat_reply("NEED_SMTPUTF8"), r
        c.expect("RSET", 250, "2.0.0", "Ok")
        c.expect("MAIL FROM:<alice@example.org> SMTPUTF8", 250, "2.1.0", "Ok")
        # well-formed now, but nobody of that name: the user lookup answers
        c.expect("RCPT TO:<jörg@example.test>", 550, "5.1.1")


def test_smtputf8_message_is_delivered(shared_mx):
    tok = token()
    data = message(tok, subject="Grüße", body="Ünïcödé body ✓\r\n",
                   sender="jörg@example.org")
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        c.transaction("jörg@example.org", ["alice@example.test"], data,
                      params=" SMTPUTF8 BODY=8BITMIME")
    msg = wait_token(shared_mx, "alice@example.test", tok)[0]
    assert msg.startswith("Return-Path: <jörg@example.org>\n".encode()), msg
    assert "Ünïcödé body ✓\n".encode() in msg
    assert "Subject: Grüße\n".encode() in msg


def test_two_transactions_in_one_session(shared_mx):
    t1, t2 = token(), token()
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        q1 = c.transaction("alice@example.org", ["alice@example.test"],
                           message(t1))
        q2 = c.transaction("bob@example.org", ["bob@example.test"],
                           message(t2))
        assert q1 != q2
        c.expect("QUIT", 221, "2.0.0", "Bye")
    m1 = wait_token(shared_mx, "alice@example.test", t1)[0]
    m2 = wait_token(shared_mx, "bob@example.test", t2)[0]
    assert t2.encode() not in m1 and t1.encode() not in m2
    assert m2.startswith(b"Return-Path: <bob@example.org>\n")


def test_smtplib_session(shared_mx):
    tok = token()
    data = message(tok, subject="smtplib")
    with smtplib.SMTP(HOST, shared_mx.port, local_hostname=HELO_NAME,
                      timeout=10) as s:
        code, banner = s.ehlo()
        assert code == 250 and s.has_extn("pipelining")
        assert s.has_extn("8bitmime") and s.has_extn("smtputf8")
        assert s.has_extn("enhancedstatuscodes")
        assert not s.has_extn("starttls") and not s.has_extn("auth")
        refused = s.sendmail("alice@example.org",
                             ["alice@example.test", "bob@example.test"],
                             data)
        assert refused == {}
        with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
            s.sendmail("alice@example.org", ["nosuchuser@example.test"], data)
        code, text = e.value.recipients["nosuchuser@example.test"]
        assert code == 550 and text.startswith(b"5.1.1 ")
        assert s.noop() == (250, b"2.0.0 Ok")
    wait_token(shared_mx, "alice@example.test", tok)
    wait_token(shared_mx, "bob@example.test", tok)


def test_swaks_session(shared_mx):
    tok = token()
    p = subprocess.run(
        ["swaks", "--server", f"{HOST}:{shared_mx.port}", "--helo", HELO_NAME,
         "--from", "carol@example.org", "--to", "carol@example.org",
         "--header", f"Subject: swaks {tok}", "--body", f"body {tok}",
         "--timeout", "10"],
        capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"<-  220 {HOSTNAME} ESMTP Postern" in p.stdout, p.stdout
    assert "<-  250 2.1.0 Ok" in p.stdout, p.stdout
    assert "<-  250 2.1.5 Ok" in p.stdout, p.stdout
    assert "<-  354 End data with <CR><LF>.<CR><LF>" in p.stdout, p.stdout
    assert "<-  250 2.0.0 Ok: queued as " in p.stdout, p.stdout
    assert "<-  221 2.0.0 Bye" in p.stdout, p.stdout
    msg = wait_token(shared_mx, "carol@example.org", tok)[0]
    assert f"Subject: swaks {tok}\n".encode() in msg
    assert f"\n\nbody {tok}\n".encode() in msg
