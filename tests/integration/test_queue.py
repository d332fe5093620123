"""Black-box tests of the queue and local delivery: `postern sendmail`
(headers added, -f, -t, -i, Bcc removal, errors), delivery into Maildir
(exact file contents: Return-Path, Delivered-To, Received, body, LF
endings), aliases, postmaster, plus-addressing, duplicate suppression,
bounces (RFC 3464 DSN in the sender's Maildir, field by field), the null
sender, expiry, `postern queue list|show|flush|delete` with their exit
codes, non-local recipients deferred with their reply shown, and retry
state surviving a restart."""
import email
import email.policy
import os
import re
import time

import pytest

EX_OK, EX_USAGE, EX_DATAERR, EX_TEMPFAIL = 0, 64, 65, 75
ID_RE = r"[0-9A-Z]{19}"
DATE_RE = (r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} "
           r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} "
           r"\d\d:\d\d:\d\d [+-]\d{4}")
PASSWORD = "correct horse battery staple\n"
# remote.test: the test resolver refuses it (SERVFAIL), so remote mail
# stays deferred without leaving the machine (test_remote.py covers the
# rest of remote delivery).
REMOTE_REPLY = ("451 4.4.3 DNS lookup for remote.test failed temporarily: "
                "the resolver answered SERVFAIL")


def remote_dns(dns_zone):
    return dns_zone([], refuse=["remote.test."]).addr


def add_users(srv, *addrs):
    for a in addrs:
        p = srv.cli("user", "add", a, input=PASSWORD)
        assert p.returncode == 0, p.stderr


def sendmail(srv, *args, body="Subject: test\n\nhello\n"):
    return srv.cli("sendmail", *args, input=body)


def queued(srv):
    q = srv.spool / "queue"
    return sorted(os.listdir(q)) if q.exists() else []


def wait_for(pred, timeout=15.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def wait_queue_empty(srv, timeout=15.0):
    wait_for(lambda: queued(srv) == [], timeout, "an empty queue")


def wait_log(srv, pattern, timeout=15.0):
    rx = re.compile(pattern)
    return wait_for(lambda: rx.search(srv.log_text()), timeout,
                    f"log line {pattern!r}:\n{srv.log_text()[-3000:]}")


def no_cr(data):
    assert b"\r" not in data, "Maildir files use LF line endings"
    return data.decode()


@pytest.fixture
def srv(postern, dns_zone):
    s = postern(sections={"delivery": {"retry": "1h",
                                       "dns": remote_dns(dns_zone)}})
    add_users(s, "alice@example.test", "bob@example.test",
              "carol@example.org")
    return s


# --- sendmail and the delivered file ------------------------------------

def test_sendmail_delivers_exact_file(srv):
    p = sendmail(srv, "-f", "bob@example.org", "alice@example.test",
                 body="Subject: hi\nTo: alice@example.test\n\nline 1\n"
                      "..two dots stay\nlast\n")
    assert (p.returncode, p.stdout, p.stderr) == (0, "", "")
    [data] = srv.wait_delivered("alice@example.test")
    text = no_cr(data)
    m = re.fullmatch(
        r"Return-Path: <bob@example\.org>\n"
        r"Delivered-To: alice@example\.test\n"
        r"Received: from local \(uid (\d+)\)\n"
        rf"\tby mx\.example\.test \(Postern\) with local id (?P<id>{ID_RE});\n"
        rf"\t({DATE_RE})\n"
        r"Subject: hi\n"
        r"To: alice@example\.test\n"
        r"From: bob@example\.org\n"
        rf"Date: ({DATE_RE})\n"
        rf"Message-ID: <(?P<msgid>{ID_RE})@mx\.example\.test>\n"
        r"\n"
        r"line 1\n"
        r"\.\.two dots stay\n"
        r"last\n", text)
    assert m, text
    assert int(m.group(1)) == os.getuid()
    assert m.group("id") == m.group("msgid"), "Message-ID uses the queue id"
    wait_queue_empty(srv)
    assert re.search(rf"id={m.group('id')} to=<alice@example\.test> "
                     r"status=sent relay=local delay=\d+s reply=\"250 2\.0\.0",
                     srv.log_text())
    # The file name follows the Maildir convention with its size.
    [name] = os.listdir(srv.maildir("alice@example.test") / "new")
    assert re.fullmatch(r"\d+\.M\d{6}P\d+Q\d+\.mx\.example\.test,S=%d"
                        % len(data), name), name
    assert os.listdir(srv.maildir("alice@example.test") / "tmp") == []
    assert (srv.maildir("alice@example.test") / "cur").is_dir()


def test_sendmail_keeps_existing_headers_and_default_sender(srv):
    body = ("From: Alice <alice@example.test>\nDate: Mon, 1 Jan 2024 "
            "00:00:00 +0000\nMessage-ID: <given@x>\nSubject: s\n\nb\n")
    assert sendmail(srv, "alice@example.test", body=body).returncode == 0
    text = no_cr(srv.wait_delivered("alice@example.test")[0])
    user = re.escape(__import__("pwd").getpwuid(os.getuid()).pw_name)
    assert re.match(rf"Return-Path: <{user}@mx\.example\.test>\n", text)
    assert text.count("From:") == 1 and text.count("Date:") == 1
    assert text.count("Message-ID:") == 1
    assert "\nMessage-ID: <given@x>\n" in text
    assert text.endswith("\nSubject: s\n\nb\n")


def test_sendmail_fullname_and_null_sender_from(srv):
    assert sendmail(srv, "-F", "Alice Q. User", "-f", "alice@example.test",
                    "bob@example.test").returncode == 0
    text = no_cr(srv.wait_delivered("bob@example.test")[0])
    assert '\nFrom: "Alice Q. User" <alice@example.test>\n' in text


def test_dot_ends_input_without_i(srv):
    body = "Subject: dots\n\nbefore\n.\nafter\n"
    assert sendmail(srv, "alice@example.test", body=body).returncode == 0
    text = no_cr(srv.wait_delivered("alice@example.test")[0])
    assert text.endswith("\n\nbefore\n")
    assert "after" not in text


@pytest.mark.parametrize("flag", ["-i", "-oi"])
def test_dot_kept_with_i(srv, flag):
    body = "Subject: dots\r\n\r\nbefore\r\n.\r\nafter\n"
    assert sendmail(srv, flag, "alice@example.test", body=body).returncode \
        == 0
    text = no_cr(srv.wait_delivered("alice@example.test")[0])
    assert text.endswith("\n\nbefore\n.\nafter\n")


def test_t_takes_to_cc_bcc_and_removes_bcc(srv):
    body = ("To: Alice <alice@example.test>, undisclosed-recipients:;\n"
            "Cc: \"Bob, B.\" <bob@example.test> (the boss)\n"
            "Bcc: carol@example.org\n"
            "Subject: t\n\nbody\n")
    p = sendmail(srv, "-t", "-f", "alice@example.test", body=body)
    assert p.returncode == 0, p.stderr
    for rcpt in ("alice@example.test", "bob@example.test",
                 "carol@example.org"):
        text = no_cr(srv.wait_delivered(rcpt)[0])
        assert "Bcc" not in text and "carol" not in text.split("\n\n")[0] \
            .replace("Delivered-To: carol@example.org", "")
        assert "\nTo: Alice <alice@example.test>, undisclosed-recipients:;\n" \
            in text
        assert '\nCc: "Bob, B." <bob@example.test> (the boss)\n' in text


def test_t_folded_header_and_argv_recipients(srv):
    body = ("To: alice@example.test,\n\tbob@example.test\nSubject: f\n\n"
            "x\n")
    assert sendmail(srv, "-t", "carol@example.org",
                    body=body).returncode == 0
    for rcpt in ("alice@example.test", "bob@example.test",
                 "carol@example.org"):
        srv.wait_delivered(rcpt)


def test_sendmail_refusals(postern):
    srv = postern(sections={"server": {"max_message_size": "1k"}},
                  start=False)
    cases = [
        ([], "Subject: x\n\ny\n", EX_USAGE, "no recipients"),
        (["-t"], "Subject: x\n\ny\n", EX_USAGE, "no recipients"),
        (["not an address"], "x\n", EX_DATAERR, "invalid recipient"),
        (["-f", "bad@@x", "a@example.test"], "x\n", EX_DATAERR,
         "invalid sender"),
        (["-t"], "To: a@example.test, broken@\n\nx\n", EX_DATAERR,
         "invalid address in To: broken@"),
        (["a@example.test"], "Subject: big\n\n" + "x" * 2000 + "\n",
         EX_DATAERR, "exceeds max_message_size (1024 bytes)"),
        (["-bs"], "", EX_USAGE, "mode not supported"),
        (["--nope"], "", EX_USAGE, "usage:"),
    ]
    for args, body, rc, text in cases:
        p = srv.cli("sendmail", *args, input=body)
        assert p.returncode == rc, (args, p.stderr)
        assert text in p.stderr, (args, p.stderr)
        assert p.stdout == ""
    # Every refusal comes before the spool is touched.
    assert not srv.spool.exists()
    p = srv.cli("sendmail", "--help")
    assert p.returncode == 0 and "usage: postern sendmail" in p.stdout


def test_queued_while_stopped_then_delivered(postern):
    srv = postern(start=False)
    add_users(srv, "alice@example.test")
    assert sendmail(srv, "alice@example.test").returncode == 0
    [qid] = queued(srv)
    assert re.fullmatch(ID_RE, qid)
    srv.start()
    srv.wait_delivered("alice@example.test")
    wait_queue_empty(srv)


# --- local resolution --------------------------------------------------

def test_plus_addressing(srv):
    assert sendmail(srv, "Alice+News@Example.TEST").returncode == 0
    text = no_cr(srv.wait_delivered("alice@example.test")[0])
    assert text.split("\n")[1] == "Delivered-To: alice+news@example.test"


def test_alias_expansion_and_duplicates(srv):
    p = srv.cli("alias", "add", "team@example.test",
                "alice@example.test,bob@example.test")
    assert p.returncode == 0, p.stderr
    assert sendmail(srv, "team@example.test", "alice@example.test",
                    "ALICE@example.test").returncode == 0
    wait_queue_empty(srv)
    a = srv.wait_delivered("alice@example.test")
    b = srv.wait_delivered("bob@example.test")
    time.sleep(0.3)
    assert len(os.listdir(srv.maildir("alice@example.test") / "new")) == 1
    assert len(b) == 1
    assert no_cr(b[0]).split("\n")[1] == "Delivered-To: bob@example.test"
    assert no_cr(a[0]).split("\n")[1] == "Delivered-To: alice@example.test"
    assert re.search(r"to=<bob@example\.test> orig_to=<team@example\.test> "
                     r"status=sent", srv.log_text())


def test_postmaster_fallback_and_alias(srv):
    # No alias, no user: postmaster@ the first local domain, never refused.
    assert sendmail(srv, "postmaster@example.org").returncode == 0
    text = no_cr(srv.wait_delivered("postmaster@example.test")[0])
    assert text.split("\n")[1] == "Delivered-To: postmaster@example.test"
    # With an alias for the domain's postmaster, that alias wins.
    assert srv.cli("alias", "add", "postmaster@example.org",
                   "carol@example.org").returncode == 0
    assert sendmail(srv, "PostMaster@example.org").returncode == 0
    text = no_cr(srv.wait_delivered("carol@example.org")[0])
    assert text.split("\n")[1] == "Delivered-To: carol@example.org"
    wait_queue_empty(srv)


def test_alias_targets_unknown_and_remote(srv):
    assert srv.cli("alias", "add", "mixed@example.test",
                   "alice@example.test,ghost@example.test,"
                   "far@remote.test").returncode == 0
    assert sendmail(srv, "-f", "bob@example.test",
                    "mixed@example.test").returncode == 0
    srv.wait_delivered("alice@example.test")
    # ghost is unknown (permanent) but far@remote.test is only deferred:
    # the recipient waits, alice is not delivered twice on the retry.
    out = wait_attempts(srv, 1)
    assert "    <mixed@example.test>  deferred  attempts=1" in out
    assert "        last reply: " + REMOTE_REPLY in out
    qid = only_id(srv)
    state = (srv.spool / "state" / qid).read_text()
    assert "\ndelivered alice@example.test\n" in state
    assert srv.cli("queue", "flush", qid).returncode == 0
    wait_attempts(srv, 2)
    assert len(os.listdir(srv.maildir("alice@example.test") / "new")) == 1
    assert re.search(r"to=<ghost@example\.test> orig_to=<mixed@example\."
                     r"test> event=alias-target-unknown", srv.log_text())


def test_mail_loop_refused(srv):
    body = "Delivered-To: alice@example.test\nSubject: loop\n\nx\n"
    assert sendmail(srv, "-f", "bob@example.test", "alice@example.test",
                    body=body).returncode == 0
    [data] = srv.wait_delivered("bob@example.test")
    text = no_cr(data)
    assert "\nStatus: 5.4.6\nDiagnostic-Code: smtp; 554 5.4.6 Mail " \
        "forwarding loop detected\n" in text
    assert not (srv.maildir("alice@example.test") / "new").exists()


# --- bounces -------------------------------------------------------------

def dsn_parts(data):
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    parts = msg.get_payload()
    return msg, parts


def test_unknown_user_bounces_to_sender(srv):
    assert sendmail(srv, "-f", "alice@example.test", "nobody@example.test",
                    body="Subject: lost\n\nsecret body\n").returncode == 0
    [data] = srv.wait_delivered("alice@example.test")
    text = no_cr(data)
    assert text.startswith("Return-Path: <>\nDelivered-To: "
                           "alice@example.test\nReceived: by "
                           "mx.example.test (Postern) with local id ")
    msg, parts = dsn_parts(data)
    assert msg["From"] == "Mail Delivery System <MAILER-DAEMON@mx.example.test>"
    assert msg["To"] == "<alice@example.test>"
    assert msg["Subject"] == "Undelivered Mail Returned to Sender"
    assert msg["Auto-Submitted"] == "auto-replied"
    assert [p.get_content_type() for p in parts] == [
        "text/plain", "message/delivery-status", "text/rfc822-headers"]
    human = parts[0].get_payload()
    assert "<nobody@example.test>:\n    550 5.1.1 Recipient address " \
        "rejected: user unknown\n" in human
    # The delivery-status part, field by field (RFC 3464 §2.2, §2.3).
    ds = text.split("Content-Type: message/delivery-status\n\n", 1)[1]
    ds = ds.split("\n--", 1)[0]
    per_msg, per_rcpt = ds.strip("\n").split("\n\n")
    fields = dict(line.split(": ", 1) for line in per_msg.split("\n"))
    assert fields["Reporting-MTA"] == "dns; mx.example.test"
    assert re.fullmatch(DATE_RE, fields["Arrival-Date"])
    rf = per_rcpt.split("\n")
    assert rf[0] == "Final-Recipient: rfc822; nobody@example.test"
    assert rf[1] == "Action: failed"
    assert rf[2] == "Status: 5.1.1"
    assert rf[3] == ("Diagnostic-Code: smtp; 550 5.1.1 Recipient address "
                     "rejected: user unknown")
    assert re.fullmatch(rf"Last-Attempt-Date: {DATE_RE}", rf[4])
    headers = parts[2].get_payload()
    assert "Subject: lost" in headers and "secret body" not in text
    wait_queue_empty(srv)
    assert re.search(r"to=<nobody@example\.test> status=bounced relay=local",
                     srv.log_text())


def test_null_sender_never_bounced(srv):
    """No bounce goes to the null sender: the failure of a bounce is a
    double bounce for postmaster of the first local domain."""
    assert sendmail(srv, "-f", "<>", "nobody@example.test").returncode == 0
    wait_log(srv, r"to=<nobody@example\.test> event=failed "
                  rf"dsn={ID_RE} double_bounce_to=postmaster@example\.test")
    [data] = srv.wait_delivered("postmaster@example.test")
    text = no_cr(data)
    assert "\nTo: <postmaster@example.test>\n" in text
    assert "\nFinal-Recipient: rfc822; nobody@example.test\nAction: " \
        "failed\nStatus: 5.1.1\n" in text
    wait_queue_empty(srv)
    files = sorted(srv.maildir_root.rglob("new/*"))
    assert [f.parent.parent.name for f in files] == ["postmaster"]


def test_expired_remote_recipient_bounces(postern, dns_zone):
    srv = postern(sections={"delivery": {"retry": "1s",
                                          "max_queue_time": "2s",
                                          "dns": remote_dns(dns_zone)}})
    add_users(srv, "alice@example.test")
    assert sendmail(srv, "-f", "alice@example.test",
                    "far@remote.test").returncode == 0
    [data] = srv.wait_delivered("alice@example.test", timeout=20)
    text = no_cr(data)
    assert "\nFinal-Recipient: rfc822; far@remote.test\nAction: failed\n" \
        "Status: 4.4.7\nDiagnostic-Code: smtp; " + REMOTE_REPLY + "\n" in text
    assert "delivery time expired" in text
    wait_queue_empty(srv)


# --- postern queue -------------------------------------------------------

def only_id(srv):
    ids = wait_for(lambda: queued(srv), what="a queued message")
    assert len(ids) == 1
    return ids[0]


def wait_attempts(srv, n):
    return wait_for(lambda: (lambda p: p.stdout if f"attempts={n}" in
                             p.stdout else None)(srv.cli("queue", "list")),
                    what=f"attempts={n}")


def test_remote_deferred_and_listed(srv):
    assert sendmail(srv, "-f", "alice@example.test", "bob@remote.test",
                    "bob@example.test").returncode == 0
    qid = only_id(srv)
    srv.wait_delivered("bob@example.test")
    out = wait_attempts(srv, 1)
    lines = out.split("\n")
    assert re.fullmatch(r"ID\s+AGE\s+SIZE\s+SENDER", lines[0])
    assert re.fullmatch(rf"{qid}\s+\d+s\s+\d+\s+<alice@example\.test>",
                        lines[1])
    assert re.fullmatch(r"    <bob@remote\.test>  deferred  attempts=1  "
                        r"next=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(in (59m\d+s|1h0m)\)",
                        lines[2]), lines[2]
    assert lines[3] == "        last reply: " + REMOTE_REPLY
    assert lines[4].startswith("        explained: 451 ")
    assert "4.4.3 " in lines[4] and lines[4].endswith("(retry_later)")
    assert lines[5] == "    <bob@example.test>  done  attempts=1"
    assert lines[6] == "        last reply: 250 2.0.0 Ok"
    assert re.fullmatch(r"-- 1 message, \d+ bytes", lines[-2])
    assert re.search(rf"id={qid} to=<bob@remote\.test> status=deferred "
                     rf"relay=none delay=\d+s reply=\"{REMOTE_REPLY}\"",
                     srv.log_text())
    # The state file records it.
    state = (srv.spool / "state" / qid).read_text()
    assert state.startswith("POSTERN-STATE 1\nrcpt 0 deferred 1 ")
    assert "\nreply " + REMOTE_REPLY + "\n" in state


def test_queue_show(srv):
    assert sendmail(srv, "-f", "alice@example.test", "x@remote.test",
                    body="Subject: shown\nX-Test: 1\n\nbody\n"
                    ).returncode == 0
    qid = only_id(srv)
    wait_attempts(srv, 1)
    p = srv.cli("queue", "show", qid)
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert out.startswith(f"id: {qid}\narrived: ")
    for line in ("sender: <alice@example.test>", "client: local",
                 "body: 7BIT", "smtputf8: no", "recipients:",
                 "    <x@remote.test>  deferred  attempts=1  next=",
                 "        last reply: " + REMOTE_REPLY, "headers:",
                 "Subject: shown", "X-Test: 1"):
        assert "\n" + line in out, line
    assert "body\n" not in out.split("headers:")[1]
    assert "\r" not in out


def test_queue_flush_delete_and_exit_codes(srv):
    assert srv.cli("queue", "list").stdout == "Queue is empty\n"
    assert sendmail(srv, "-f", "alice@example.test",
                    "y@remote.test").returncode == 0
    qid = only_id(srv)
    wait_attempts(srv, 1)
    p = srv.cli("queue", "flush", qid)
    assert (p.returncode, p.stdout) == (0, f"Delivery of {qid} requested\n")
    wait_attempts(srv, 2)
    p = srv.cli("queue", "flush")
    assert (p.returncode, p.stdout) == (
        0, "Delivery of every queued message requested\n")
    wait_attempts(srv, 3)
    missing = "0" * 19
    for args, rc, err in [
            (["queue", "show", missing], EX_DATAERR, "no such message"),
            (["queue", "flush", missing], EX_DATAERR, "no such message"),
            (["queue", "delete", missing], EX_DATAERR, "no such message"),
            (["queue", "show", "../etc"], EX_DATAERR, "not a queue ID"),
            (["queue", "bogus"], EX_USAGE, "usage:"),
            (["queue"], EX_USAGE, "usage:"),
            (["queue", "show"], EX_USAGE, "usage:")]:
        p = srv.cli(*args)
        assert p.returncode == rc, (args, p.returncode, p.stderr)
        assert err in p.stderr, (args, p.stderr)
    p = srv.cli("queue", "--help")
    assert p.returncode == 0 and "usage: postern queue list" in p.stdout
    p = srv.cli("queue", "delete", qid)
    assert (p.returncode, p.stdout) == (0, f"Deleted {qid}\n")
    assert queued(srv) == [] and not (srv.spool / "state" / qid).exists()
    assert srv.cli("queue", "list").stdout == "Queue is empty\n"
    assert srv.cli("queue", "show", qid).returncode == EX_DATAERR
    assert srv.cli("queue", "delete", qid).returncode == EX_DATAERR
    # The delivery process copes: it forgets the message, no state returns.
    srv.cli("queue", "flush")
    time.sleep(0.5)
    assert not (srv.spool / "state" / qid).exists()


def test_retry_state_survives_restart(srv):
    assert sendmail(srv, "-f", "alice@example.test",
                    "z@remote.test").returncode == 0
    qid = only_id(srv)
    before = wait_attempts(srv, 1)
    next_at = re.search(r"next=(\S+ \S+)", before).group(1)
    assert srv.stop() == 0
    # While stopped: the queue is still readable; flush cannot reach it.
    after = srv.cli("queue", "list").stdout
    assert "attempts=1" in after and f"next={next_at}" in after
    p = srv.cli("queue", "flush", qid)
    assert p.returncode == EX_TEMPFAIL
    assert "delivery process is not running" in p.stderr
    srv.start()
    wait_log(srv, r"deliver event=started queued=1")
    time.sleep(1.0)
    out = srv.cli("queue", "list").stdout
    assert "attempts=1" in out and f"next={next_at}" in out, out
    assert srv.log_text().count(f"id={qid} to=<z@remote.test> "
                                f"status=deferred") == 1
    assert srv.cli("queue", "flush", qid).returncode == 0
    wait_attempts(srv, 2)


def test_kill9_then_restart_delivers(srv):
    srv.kill9()
    assert sendmail(srv, "alice@example.test").returncode == 0
    srv.start()
    srv.wait_delivered("alice@example.test")
    wait_queue_empty(srv)
