"""SMTP AUTH of the submission role (issue #4 items 2, 3 and 5): RFC 4954
with the 334 exchange, mechanisms PLAIN, LOGIN, SCRAM-SHA-256 (and -PLUS
with tls-unique channel binding), CRAM-MD5 only when listed; every reply
row of SPEC §5; AUTH advertised only in TLS unless plaintext = yes; the
MAIL AUTH= parameter; sender_login_match; the per-address rate limit on
failures; logs that name mechanism and user but never the secret.

Real clients: Python smtplib (login and every auth_* method, and SCRAM
through smtplib's own auth() loop), swaks, curl; SCRAM-SHA-256 is written
in tls_util from RFC 5802/7677 and checks the server signature.

The rate limit counts failures per client address, so every test that
fails an AUTH on purpose connects from its own 127.0.0.0/8 address."""
import base64
import re
import signal
import smtplib
import ssl
import subprocess
import threading
import time

import pytest

import smtp_util
import tls_util
from smtp_util import check, message, token, wait_token
from tls_util import (AUTH_BAD, AUTH_BAD_BASE64, AUTH_CANCELLED,
                      AUTH_NEED_TLS, AUTH_OK, AUTH_REQUIRED, AUTH_TOO_LONG,
                      AUTH_UNKNOWN, HOSTNAME, PASSWORD, USER, Conn, b64,
                      client_context, fresh_source, unb64)

shared_sub = tls_util.shared_sub

ALREADY_AUTH = (503, "5.5.1", "Already authenticated")
AUTH_IN_TX = (503, "5.5.1", "AUTH not permitted during a mail transaction")
TOO_MANY = (421, "4.7.0", f"{HOSTNAME} Too many failed authentication "
            "attempts, closing connection")
SENDER_MISMATCH = (553, "5.7.1", "Sender address not owned by the "
                   "authenticated user")


def tls_conn(srv, source=None, listener="sub", ctx=None):
    """A session on the STARTTLS listener, in TLS, after EHLO."""
    c = Conn(srv.ports[listener], source=source, ctx=ctx)
    c.ehlo()
    c.starttls()
    c.ehlo()
    return c


def timed(fn, *args, **kw):
    t = time.monotonic()
    r = fn(*args, **kw)
    return r, time.monotonic() - t


# --- Mechanisms that succeed -------------------------------------------------

def test_plain_with_initial_response(shared_sub):
    with tls_conn(shared_sub) as c:
        check(c.auth_plain(), *AUTH_OK)
        c.expect("MAIL FROM:<bob@example.test>", 250, "2.1.0", "Ok")


def test_plain_without_initial_response_gets_empty_challenge(shared_sub):
    with tls_conn(shared_sub) as c:
        c.send(b"AUTH PLAIN\r\n")
        # "334 " with the space, nothing else (RFC 4954 §4).
        deadline = time.monotonic() + 10
        while b"\n" not in c.buf:
            c._fill(deadline)
        assert c.buf == b"334 \r\n", c.buf
        c.buf = b""
        c.line(b64(f"\0{USER}\0{PASSWORD}"))
        check(c.read_reply(), *AUTH_OK)


def test_plain_with_own_authzid(shared_sub):
    with tls_conn(shared_sub) as c:
        check(c.auth_plain(authzid=USER), *AUTH_OK)


def test_login_prompts(shared_sub):
    with tls_conn(shared_sub) as c:
        check(c.auth_login(), *AUTH_OK)


def test_login_with_initial_response(shared_sub):
    with tls_conn(shared_sub) as c:
        r = c.cmd("AUTH LOGIN " + b64(USER))
        assert r.lines == ["334 " + b64("Password:")], r
        check(c.cmd(b64(PASSWORD)), *AUTH_OK)


def test_cram_md5(shared_sub):
    with tls_conn(shared_sub) as c:
        check(c.auth_cram(), *AUTH_OK)


def test_scram_sha256(shared_sub):
    with tls_conn(shared_sub) as c:
        r, client = c.auth_scram()
        check(r, *AUTH_OK)
        assert client.server_signature is not None
        c.expect("MAIL FROM:<bob@example.test>", 250, "2.1.0", "Ok")


def test_scram_sha256_on_implicit_tls_tls12(shared_sub):
    ctx = client_context(max_version=ssl.TLSVersion.TLSv1_2)
    with Conn(shared_sub.ports["smtps"], implicit=True, ctx=ctx) as c:
        c.ehlo()
        r, _ = c.auth_scram()
        check(r, *AUTH_OK)


def test_mechanism_names_are_case_insensitive(shared_sub):
    with tls_conn(shared_sub) as c:
        check(c.cmd("auth plain " + b64(f"\0{USER}\0{PASSWORD}")), *AUTH_OK)


def test_user_name_is_case_insensitive(shared_sub):
    with tls_conn(shared_sub) as c:
        check(c.auth_plain(user="Bob@EXAMPLE.test"), *AUTH_OK)


def test_utf8_password_every_mechanism(postern, tmp_path):
    """A UTF-8 password (already in SASLprep form, RFC 4013) works with
    every mechanism; the user name's case does not matter."""
    pw = "Pässwörd-✓-密码"
    srv, _ = tls_util.submission(postern, tmp_path, users=((USER, pw),))
    with tls_conn(srv) as c:
        check(c.auth_plain(password=pw), *AUTH_OK)
    with tls_conn(srv) as c:
        check(c.auth_login(password=pw), *AUTH_OK)
    with tls_conn(srv) as c:
        check(c.auth_cram(password=pw), *AUTH_OK)
    with tls_conn(srv) as c:
        r, _ = c.auth_scram(user="Bob@Example.TEST", password=pw)
        check(r, *AUTH_OK)
    tls_util.assert_no_secret(srv, password=pw)


def test_concurrent_sessions_every_mechanism(shared_sub):
    """Twelve sessions authenticate at once (the SASL steps share a small
    thread pool): each gets its own right answer."""
    results = {}

    def one(i):
        mech = ("PLAIN", "LOGIN", "CRAM-MD5", "SCRAM")[i % 4]
        good = i % 3 != 0
        pw = PASSWORD if good else PASSWORD + "x"
        try:
            with tls_conn(shared_sub, source=sources[i]) as c:
                if mech == "PLAIN":
                    r = c.auth_plain(password=pw)
                elif mech == "LOGIN":
                    r = c.auth_login(password=pw)
                elif mech == "CRAM-MD5":
                    r = c.auth_cram(password=pw)
                else:
                    r, _ = c.auth_scram(password=pw)
                results[i] = (good, (r.code, r.enh, r.text))
        except Exception as e:       # reported below, with its index
            results[i] = (good, repr(e))

    sources = [fresh_source() for _ in range(12)]
    assert len(set(sources)) == 12
    threads = [threading.Thread(target=one, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 12, results
    for i, (good, got) in sorted(results.items()):
        assert got == (AUTH_OK if good else AUTH_BAD), (i, got)


def test_auth_pipelined_with_mail(shared_sub):
    tok = token()
    with tls_conn(shared_sub) as c:
        c.send(f"AUTH PLAIN {b64(chr(0) + USER + chr(0) + PASSWORD)}\r\n"
               f"MAIL FROM:<{USER}>\r\nRCPT TO:<{USER}>\r\n".encode())
        check(c.read_reply(), *AUTH_OK)
        check(c.read_reply(), 250, "2.1.0", "Ok")
        check(c.read_reply(), 250, "2.1.5", "Ok")
        check(c.cmd("DATA"), 354)
        c.send(message(tok, to=USER, sender=USER) + b".\r\n")
        smtp_util.queued_id(c.read_reply())
    wait_token(shared_sub, USER, tok)


# --- Every reply row of SPEC §5 ----------------------------------------------

def test_wrong_password(shared_sub):
    src = fresh_source()
    with tls_conn(shared_sub, source=src) as c:
        check(c.auth_plain(password="wrong"), *AUTH_BAD)
        # The session goes on; a right password still works.
        check(c.auth_plain(), *AUTH_OK)


@pytest.mark.parametrize("mech,user,pw", [
    ("PLAIN", "nosuch@example.test", PASSWORD),
    ("LOGIN", USER, "wrong"),
    ("CRAM-MD5", "nosuch@example.test", PASSWORD),
    ("SCRAM", "nosuch@example.test", PASSWORD),
    ("SCRAM", USER, "wrong"),
    ("SCRAM", "not an address", PASSWORD),
    ("PLAIN-AUTHZID", USER, PASSWORD),
])
def test_unknown_user_and_wrong_password_look_the_same(shared_sub, mech,
                                                       user, pw):
    with tls_conn(shared_sub, source=fresh_source()) as c:
        if mech == "PLAIN":
            r = c.auth_plain(user=user, password=pw)
        elif mech == "PLAIN-AUTHZID":
            # Right password, but acting for someone else: no proxy
            # authorization here.
            r = c.auth_plain(user=user, password=pw,
                             authzid="alice@example.test")
        elif mech == "LOGIN":
            r = c.auth_login(user=user, password=pw)
        elif mech == "CRAM-MD5":
            r = c.auth_cram(user=user, password=pw)
        else:
            r, _ = c.auth_scram(user=user, password=pw)
        check(r, *AUTH_BAD)
        check(c.auth_plain(), *AUTH_OK)


def test_scram_unknown_user_gets_a_stable_salt(shared_sub):
    """A user that does not exist gets a salt and iteration count too,
    the same each time (else the salt would tell who exists)."""
    seen = []
    for _ in range(2):
        with tls_conn(shared_sub) as c:
            client = tls_util.ScramClient("ghost@example.test", "x")
            r = c.cmd(f"AUTH SCRAM-SHA-256 {b64(client.first())}")
            assert r.code == 334, r
            first = unb64(r.lines[0][4:]).decode()
            attrs = dict(a.split("=", 1) for a in first.split(","))
            seen.append((attrs["s"], attrs["i"]))
            check(c.cmd("*"), *AUTH_CANCELLED)
    assert seen[0] == seen[1], seen
    assert int(seen[0][1]) >= 4096 and len(base64.b64decode(seen[0][0])) \
        >= 16, seen


def test_cancel_with_star(shared_sub):
    with tls_conn(shared_sub) as c:
        r = c.cmd("AUTH PLAIN")
        assert r.lines == ["334 "], r
        check(c.cmd("*"), *AUTH_CANCELLED)
        r = c.cmd("AUTH LOGIN")
        assert r.code == 334, r
        check(c.cmd(b64(USER)), 334)
        check(c.cmd("*"), *AUTH_CANCELLED)
        # Cancelling is no failure and leaves the session usable.
        check(c.auth_plain(), *AUTH_OK)


@pytest.mark.parametrize("response", ["not base64!", "AAA", "A===",
                                      "AB=C", "QUJD\tRA=="])
def test_bad_base64(shared_sub, response):
    with tls_conn(shared_sub) as c:
        check(c.cmd(f"AUTH PLAIN {response}"), *AUTH_BAD_BASE64)
        r = c.cmd("AUTH LOGIN")
        assert r.code == 334, r
        check(c.cmd(response), *AUTH_BAD_BASE64)
        check(c.auth_plain(), *AUTH_OK)


@pytest.mark.parametrize("mech", ["FOO", "GSSAPI", "XOAUTH2", "DIGEST-MD5",
                                  "SCRAM-SHA-1", "SCRAM-SHA-256-PLUS",
                                  "PLAINX"])
def test_unknown_mechanism(shared_sub, mech):
    with tls_conn(shared_sub) as c:
        check(c.cmd(f"AUTH {mech}"), *AUTH_UNKNOWN)
        check(c.cmd(f"AUTH {mech} {b64('x')}"), *AUTH_UNKNOWN)
        check(c.auth_plain(), *AUTH_OK)


def test_auth_without_mechanism(shared_sub):
    with tls_conn(shared_sub) as c:
        c.expect("AUTH", 501, "5.5.4")
        check(c.auth_plain(), *AUTH_OK)


def test_already_authenticated(shared_sub):
    with tls_conn(shared_sub) as c:
        check(c.auth_plain(), *AUTH_OK)
        check(c.cmd("AUTH PLAIN " + b64(f"\0{USER}\0{PASSWORD}")),
              *ALREADY_AUTH)
        check(c.cmd("AUTH LOGIN"), *ALREADY_AUTH)
        kw = c.ehlo_keywords()
        assert "AUTH" not in kw, kw
        # EHLO does not undo AUTH (RFC 4954 §4): still authenticated.
        check(c.cmd("AUTH LOGIN"), *ALREADY_AUTH)
        c.expect("MAIL FROM:<bob@example.test>", 250, "2.1.0", "Ok")


def test_auth_needs_ehlo(shared_sub):
    with Conn(shared_sub.ports["smtps"], implicit=True) as c:
        c.expect("AUTH PLAIN " + b64(f"\0{USER}\0{PASSWORD}"),
                 *tls_util.NEED_EHLO)


def test_tls_required_first(shared_sub):
    with Conn(shared_sub.ports["sub"]) as c:
        c.ehlo()
        for cmd in ("AUTH PLAIN " + b64(f"\0{USER}\0{PASSWORD}"),
                    "AUTH LOGIN", "AUTH SCRAM-SHA-256", "AUTH CRAM-MD5"):
            check(c.cmd(cmd), *AUTH_NEED_TLS)
        c.expect("MAIL FROM:<bob@example.test>", *AUTH_REQUIRED)
        c.starttls()
        c.ehlo()
        check(c.auth_plain(), *AUTH_OK)
    # The password sent in the clear was not logged either.
    tls_util.assert_no_secret(shared_sub)


def test_mail_before_auth_on_submission(shared_sub):
    for listener in ("sub", "smtps"):
        with Conn(shared_sub.ports[listener], implicit=listener == "smtps") \
                as c:
            c.ehlo()
            if listener == "sub":
                c.starttls()
                c.ehlo()
            c.expect("MAIL FROM:<bob@example.test>", *AUTH_REQUIRED)
            c.expect("RCPT TO:<bob@example.test>", 503, "5.5.1")
            check(c.auth_plain(), *AUTH_OK)
            c.expect("MAIL FROM:<bob@example.test>", 250, "2.1.0", "Ok")


def test_response_too_long(shared_sub):
    with tls_conn(shared_sub) as c:
        r = c.cmd("AUTH PLAIN")
        assert r.lines == ["334 "], r
        check(c.cmd("A" * 20000), *AUTH_TOO_LONG)
        c.expect("NOOP", 250, "2.0.0", "Ok")
        # A long response is still read and decoded (here it is not
        # base64); one over 12288 octets is refused unread.
        r = c.cmd("AUTH PLAIN")
        assert r.lines == ["334 "], r
        check(c.cmd("A" * 12284 + "!!"), *AUTH_BAD_BASE64)
        r = c.cmd("AUTH PLAIN")
        assert r.lines == ["334 "], r
        check(c.cmd("A" * 12289), *AUTH_TOO_LONG)
        c.expect("NOOP", 250, "2.0.0", "Ok")
        check(c.auth_plain(), *AUTH_OK)


def test_response_of_12288_octets_is_read(shared_sub):
    with tls_conn(shared_sub) as c:
        r = c.cmd("AUTH PLAIN")
        assert r.lines == ["334 "], r
        check(c.cmd("A" * 12286 + "!!"), *AUTH_BAD_BASE64)


def test_empty_initial_response_is_equals_sign(shared_sub):
    """"=" is a zero-length initial response (RFC 4954 §4), not base64:
    PLAIN then has an empty message, which is a failed attempt."""
    with tls_conn(shared_sub, source=fresh_source()) as c:
        check(c.cmd("AUTH PLAIN ="), *AUTH_BAD)
        check(c.auth_plain(), *AUTH_OK)


def test_mail_auth_parameter(shared_sub):
    with tls_conn(shared_sub) as c:
        check(c.auth_plain(), *AUTH_OK)
        c.expect("MAIL FROM:<bob@example.test> AUTH=<>", 250, "2.1.0", "Ok")
        c.expect("RSET", 250, "2.0.0", "Ok")
        c.expect("MAIL FROM:<bob@example.test> AUTH=bob+40example.test",
                 250, "2.1.0", "Ok")
        c.expect("RSET", 250, "2.0.0", "Ok")
        c.expect("MAIL FROM:<bob@example.test> AUTH=bob+40example.test "
                 "BODY=8BITMIME SIZE=1000", 250, "2.1.0", "Ok")
    # On the MX listener, from an unauthenticated client (RFC 4954 §5:
    # accepted, not trusted).
    with Conn(shared_sub.port) as c:
        c.ehlo()
        c.expect("MAIL FROM:<someone@example.org> AUTH=someone+40example.org",
                 250, "2.1.0", "Ok")


def test_mail_auth_parameter_cannot_forge_log_lines(shared_sub):
    """The AUTH= value is xtext (RFC 3461 §4): "+0A" decodes to LF. Such a
    value must neither reach the log raw (a forged line) nor be taken as
    an identity."""
    with tls_conn(shared_sub) as c:
        check(c.auth_plain(), *AUTH_OK)
        r = c.cmd("MAIL FROM:<bob@example.test> "
                  "AUTH=x+0D+0Aevent+3Dforged+20user+3Dadmin")
        assert (r.code, r.enh) in ((250, "2.1.0"), (501, "5.5.4")), r
    time.sleep(0.3)
    for line in shared_sub.log_text().splitlines():
        assert not line.startswith("event=forged"), line
        assert "\r" not in line, repr(line)


# --- Where AUTH is offered ---------------------------------------------------

def test_mx_listener_offers_no_auth(shared_sub):
    with Conn(shared_sub.port) as c:
        kw = c.ehlo_keywords()
        assert "AUTH" not in kw, kw
        check(c.cmd("AUTH PLAIN " + b64(f"\0{USER}\0{PASSWORD}")), 503,
              "5.5.1")


def test_default_mechanisms_have_no_cram_md5(postern, tmp_path):
    srv, _ = tls_util.submission(postern, tmp_path,
                                 {"auth": {"mechanisms":
                                           "SCRAM-SHA-256, PLAIN, LOGIN"}})
    with tls_conn(srv) as c:
        kw = c.ehlo_keywords()
        assert kw["AUTH"] == "SCRAM-SHA-256 PLAIN LOGIN", kw
        check(c.cmd("AUTH CRAM-MD5"), *AUTH_UNKNOWN)
        check(c.auth_login(), *AUTH_OK)


def test_plaintext_yes_and_scram_plus(postern, tmp_path):
    """plaintext = yes offers AUTH without TLS, but never -PLUS there;
    SCRAM-SHA-256-PLUS works over TLS 1.2 with tls-unique."""
    srv, cert = tls_util.submission(postern, tmp_path, {
        "listener mx": {"mode": "mx", "tls": "starttls",
                        "auth": "optional"},
        "auth": {"plaintext": "yes", "mechanisms":
                 "SCRAM-SHA-256-PLUS, SCRAM-SHA-256, PLAIN"}})
    with Conn(srv.port) as c:
        kw = c.ehlo_keywords()
        assert kw["AUTH"] == "SCRAM-SHA-256 PLAIN", kw
        check(c.cmd("AUTH SCRAM-SHA-256-PLUS"), *AUTH_NEED_TLS)
        r, _ = c.auth_scram()
        check(r, *AUTH_OK)
        # STARTTLS forgets the AUTH of the plaintext part (RFC 3207 §4.2).
        c.starttls()
        kw = c.ehlo_keywords()
        assert "AUTH" in kw, kw
        c.expect(f"MAIL FROM:<{USER}>", 250, "2.1.0", "Ok")
        c.expect("RCPT TO:<someone@remote.example>", 554, "5.7.1",
                 "Relay access denied")
        c.expect("RSET", 250, "2.0.0", "Ok")
        check(c.auth_plain(), *AUTH_OK)
    ctx12 = client_context(max_version=ssl.TLSVersion.TLSv1_2)
    for listener in ("sub", "smtps"):
        with Conn(srv.ports[listener], implicit=listener == "smtps",
                  ctx=ctx12) as c:
            if listener == "sub":
                c.ehlo()
                c.starttls()
            kw = c.ehlo_keywords()
            assert kw["AUTH"] == "SCRAM-SHA-256-PLUS SCRAM-SHA-256 PLAIN", kw
            r, client = c.auth_scram(plus=True)
            check(r, *AUTH_OK)
            assert client.cbflag == "p=tls-unique"
    with Conn(srv.ports["smtps"], implicit=True, ctx=ctx12,
              source=fresh_source()) as c:
        c.ehlo()
        # Channel-binding data of another connection: refused.
        client = tls_util.ScramClient(USER, PASSWORD, cb=b"\0" * 12)
        r = c.cmd(f"AUTH SCRAM-SHA-256-PLUS {b64(client.first())}")
        assert r.code == 334, r
        check(c.cmd(b64(client.final(unb64(r.lines[0][4:]).decode()))),
              *AUTH_BAD)
    with Conn(srv.ports["smtps"], implicit=True, ctx=ctx12,
              source=fresh_source()) as c:
        c.ehlo()
        # "y": the client could bind but believes the server cannot;
        # the server offers -PLUS, so this is a downgrade (RFC 5802 §6).
        r, _ = c.auth_scram(cbflag="y")
        check(r, *AUTH_BAD)
        # "n" with plain SCRAM-SHA-256 stays fine.
        r, _ = c.auth_scram(cbflag="n")
        check(r, *AUTH_OK)


def test_scram_plus_tls13_exporter(postern, tmp_path):
    """SCRAM-SHA-256-PLUS over TLS 1.3 binds to tls-exporter (RFC 9266):
    `openssl s_client -keymatexport` gives the client the value."""
    srv, cert = tls_util.submission(postern, tmp_path, {
        "auth": {"mechanisms": "SCRAM-SHA-256-PLUS, SCRAM-SHA-256"}})
    for listener in ("smtps", "sub"):
        with tls_util.SClient(srv.ports[listener], "-tls1_3",
                              starttls=listener == "sub") as sc:
            exporter = sc.exporter()
            assert len(exporter) == 32
            if listener == "smtps":
                check(sc.reply(), 220)
            sc.sync()
            r = sc.cmd("EHLO client.example")
            assert "AUTH SCRAM-SHA-256-PLUS SCRAM-SHA-256" in r.texts(), r
            client = tls_util.ScramClient(USER, PASSWORD, cb=exporter,
                                          cbflag="p=tls-exporter")
            r = sc.cmd(f"AUTH SCRAM-SHA-256-PLUS {b64(client.first())}")
            assert r.code == 334, r
            r = sc.cmd(b64(client.final(unb64(r.lines[0][4:]).decode())))
            assert r.code == 334, r
            client.verify(unb64(r.lines[0][4:]).decode())
            check(sc.cmd(""), *AUTH_OK)
            check(sc.cmd("QUIT"), 221, "2.0.0", "Bye")
    # tls-unique does not exist in TLS 1.3 (RFC 9266 §3).
    with Conn(srv.ports["smtps"], implicit=True,
              source=fresh_source()) as c:
        c.ehlo()
        client = tls_util.ScramClient(USER, PASSWORD, cb=b"\1" * 12,
                                      cbflag="p=tls-unique")
        r = c.cmd(f"AUTH SCRAM-SHA-256-PLUS {b64(client.first())}")
        if r.code == 334:
            r = c.cmd(b64(client.final(unb64(r.lines[0][4:]).decode())))
        check(r, *AUTH_BAD)


def test_auth_optional_on_mx_and_in_transaction(postern, tmp_path):
    srv, _ = tls_util.submission(postern, tmp_path, {
        "listener mx": {"mode": "mx", "tls": "starttls",
                        "auth": "optional"}})
    with Conn(srv.port) as c:
        kw = c.ehlo_keywords()
        assert "AUTH" not in kw, kw      # not before TLS
        c.starttls()
        kw = c.ehlo_keywords()
        assert kw["AUTH"] == "SCRAM-SHA-256 PLAIN LOGIN CRAM-MD5", kw
        c.expect("MAIL FROM:<someone@example.org>", 250, "2.1.0", "Ok")
        check(c.cmd("AUTH PLAIN " + b64(f"\0{USER}\0{PASSWORD}")),
              *AUTH_IN_TX)
        c.expect("RSET", 250, "2.0.0", "Ok")
        check(c.auth_plain(), *AUTH_OK)


def test_sender_login_match(postern, tmp_path):
    srv, _ = tls_util.submission(postern, tmp_path, {
        "auth": {"sender_login_match": "yes"}},
        users=((USER, PASSWORD), ("alice@example.test", "alice-pw")),
        start=False)
    srv.cli("alias", "add", "bob.alias@example.test", USER, check=True)
    srv.cli("alias", "add", "team@example.test",
            f"{USER},alice@example.test", check=True)
    srv.start()
    with tls_conn(srv) as c:
        check(c.auth_plain(), *AUTH_OK)
        for sender, ok in (("bob@example.test", True),
                           ("BOB@Example.Test", True),
                           ("bob.alias@example.test", True),
                           ("team@example.test", True),
                           ("", True),
                           ("alice@example.test", False),
                           ("bob@example.org", False),
                           ("bob@remote.example", False)):
            r = c.cmd(f"MAIL FROM:<{sender}>")
            if ok:
                check(r, 250, "2.1.0", "Ok", what=sender)
                c.expect("RSET", 250, "2.0.0", "Ok")
            else:
                check(r, *SENDER_MISMATCH, what=sender)


def test_no_sender_login_match_by_default(shared_sub):
    with tls_conn(shared_sub) as c:
        check(c.auth_plain(), *AUTH_OK)
        c.expect("MAIL FROM:<alice@example.test>", 250, "2.1.0", "Ok")


# --- Rate limit --------------------------------------------------------------

def test_rate_limit(postern, tmp_path):
    srv, _ = tls_util.submission(postern, tmp_path, {
        "auth": {"max_failures": "3", "failure_window": "10m"}})
    src = fresh_source()
    with tls_conn(srv, source=src) as c:
        # Cancelling and bad base64 are no failed attempts: no delay.
        # Timing bounds are generous: argon2id under ASan on a busy
        # machine is slow. What matters: 1 s, then about 1 s more.
        r, t = timed(c.auth_plain, password="x", initial=True)
        check(r, *AUTH_BAD)
        assert 0.9 <= t <= 6, t                         # 1 s
        for _ in range(2):
            r = c.cmd("AUTH PLAIN")
            assert r.lines == ["334 "], r
            check(c.cmd("*"), *AUTH_CANCELLED)
            check(c.cmd("AUTH PLAIN %%%%"), *AUTH_BAD_BASE64)
    # The count belongs to the address, not the connection.
    with tls_conn(srv, source=src) as c:
        r, t2 = timed(c.auth_login, password="y")
        check(r, *AUTH_BAD)
        assert 1.9 <= t2 <= 8 and 0.4 <= t2 - t <= 3.5, (t, t2)  # 2 s
        r, t3 = timed(c.auth_plain, password="z")
        check(r, *TOO_MANY)
        assert t3 < t2 - 0.9, (t2, t3)          # no 4 s wait before 421
        c.expect_closed()
    # Blocked now, whatever the password, at once, on every listener.
    with tls_conn(srv, source=src) as c:
        r, t = timed(c.auth_plain)
        check(r, *TOO_MANY)
        assert t < 1.5, t
        c.expect_closed()
    with Conn(srv.ports["smtps"], implicit=True, source=src) as c:
        c.ehlo()
        check(c.cmd("AUTH LOGIN"), *TOO_MANY)
        c.expect_closed()
    # Another client is not affected.
    with tls_conn(srv, source=fresh_source()) as c:
        check(c.auth_plain(), *AUTH_OK)
    failures = tls_util.log_lines(srv, "auth-failure")
    assert len([f for f in failures if "reason=invalid-credentials" in f]) \
        >= 2, failures
    tls_util.assert_no_secret(srv)
    for pw in ("x", "y", "z"):
        assert f"password={pw}" not in srv.log_text()


def test_rate_limit_failures_age_out(postern, tmp_path):
    srv, _ = tls_util.submission(postern, tmp_path, {
        "auth": {"max_failures": "2", "failure_window": "2s"}})
    src = fresh_source()
    with tls_conn(srv, source=src) as c:
        r, t1 = timed(c.auth_plain, password="x")
        check(r, *AUTH_BAD)
        time.sleep(2.5)        # the window passes without a failure
        r, t2 = timed(c.auth_plain, password="x")
        check(r, *AUTH_BAD)    # counted from 0 again: no 421
        assert 0.9 <= t2 <= 6 and abs(t2 - t1) < 0.9, (t1, t2)
        r = c.auth_plain(password="x")
        check(r, *TOO_MANY)    # the second failure within the window
        c.expect_closed()


def test_rate_limit_scram_failures_count(postern, tmp_path):
    srv, _ = tls_util.submission(postern, tmp_path, {
        "auth": {"max_failures": "2"}})
    src = fresh_source()
    with Conn(srv.ports["smtps"], implicit=True, source=src) as c:
        c.ehlo()
        (r, _), t = timed(c.auth_scram, password="wrong")
        check(r, *AUTH_BAD)
        assert 0.9 <= t <= 6, t
        (r, _), t = timed(c.auth_scram, password="wrong")
        check(r, *TOO_MANY)
        c.expect_closed()


# --- Connections that go away ------------------------------------------------

def test_disconnects_in_the_middle_of_auth(postern, tmp_path):
    """Clients that vanish at every step of AUTH (waiting for a 334
    answer, while the password is checked, during the failure delay)
    leave a server that serves on and exits cleanly (under ASan: without
    a leak); SIGTERM while a failed AUTH waits for its delay still gets
    the 535 out, then 421 at the next command."""
    srv, _ = tls_util.submission(postern, tmp_path)
    src = fresh_source()
    c = tls_conn(srv, source=src)
    assert c.cmd("AUTH LOGIN").code == 334
    c.close()
    c = tls_conn(srv, source=src)
    client = tls_util.ScramClient(USER, PASSWORD)
    assert c.cmd(f"AUTH SCRAM-SHA-256 {b64(client.first())}").code == 334
    c.close()
    for password in (PASSWORD, "wrong"):
        c = tls_conn(srv, source=fresh_source())
        c.line("AUTH PLAIN " + b64(f"\0{USER}\0{password}"))
        c.close()             # while argon2id runs, or during the delay
    c = Conn(srv.ports["smtps"], implicit=True, source=src)
    c.ehlo()
    c.line("AUTH PLAIN " + b64(f"\0{USER}\0wrong"))
    time.sleep(0.3)
    c.close()
    time.sleep(1.5)
    with tls_conn(srv) as c:
        check(c.auth_plain(), *AUTH_OK)
    # SIGTERM during the delay.
    c = tls_conn(srv, source=fresh_source())
    try:
        c.line("AUTH PLAIN " + b64(f"\0{USER}\0wrong"))
        time.sleep(0.3)
        srv.proc.send_signal(signal.SIGTERM)
        check(c.read_reply(), *AUTH_BAD)
        c.expect("NOOP", 421, "4.3.2")
        c.expect_closed()
    finally:
        c.close()
    assert srv.proc.wait(timeout=20) == 0, srv.log_text()[-3000:]


# --- Logs --------------------------------------------------------------------

def test_log_names_mechanism_and_user_not_secret(shared_sub):
    with tls_conn(shared_sub) as c:
        check(c.auth_login(), *AUTH_OK)
    with tls_conn(shared_sub, source=fresh_source()) as c:
        check(c.auth_cram(password=PASSWORD + "-wrong"), *AUTH_BAD)
    with tls_conn(shared_sub, source=fresh_source()) as c:
        check(c.auth_plain(password=PASSWORD + "-typo"), *AUTH_BAD)
    text = shared_sub.log_text()
    assert re.search(r"event=auth-success mech=LOGIN user=bob@example\.test",
                     text), text[-3000:]
    assert re.search(r"event=auth-failure mech=CRAM-MD5 "
                     r"user=bob@example\.test", text), text[-3000:]
    assert re.search(r"event=auth-failure mech=PLAIN user=bob@example\.test",
                     text), text[-3000:]
    tls_util.assert_no_secret(shared_sub)
    for pw in (PASSWORD + "-wrong", PASSWORD + "-typo"):
        tls_util.assert_no_secret(shared_sub, password=pw)


def test_claimed_user_cannot_forge_log_fields(shared_sub):
    """The user name a client claims is logged on failure; spaces in it
    must not make key=value pairs of their own."""
    claimed = "x reason=none event=auth-success mech=PLAIN user=admin"
    with tls_conn(shared_sub, source=fresh_source()) as c:
        check(c.auth_plain(user=claimed, password="guess"), *AUTH_BAD)
    time.sleep(0.3)
    lines = [x for x in shared_sub.log_text().splitlines()
             if "event=auth-" in x and "admin" in x]
    assert lines, shared_sub.log_text()[-2000:]
    for line in lines:
        fields = re.findall(r" (\w+)=", line)
        assert fields.count("event") == 1 and fields.count("mech") == 1 \
            and fields.count("user") == 1 and \
            fields.count("reason") <= 1, line


# --- Real clients ------------------------------------------------------------

class StartTLSNamed(smtplib.SMTP):
    """smtplib.SMTP that checks the certificate for mx.example.test."""

    def starttls(self, **kw):
        self._host = HOSTNAME
        return super().starttls(**kw)


def smtplib_session(srv, ctx=None):
    s = StartTLSNamed("127.0.0.1", srv.ports["sub"], timeout=15)
    s.ehlo("client.example")
    s.starttls(context=ctx or client_context(cafile=srv.cert))
    s.ehlo("client.example")
    return s


def test_smtplib_login_and_every_auth_method(shared_sub):
    tok = token()
    s = smtplib_session(shared_sub)
    try:
        # login() picks CRAM-MD5 first of what the server offers.
        assert s.login(USER, PASSWORD) == \
            (235, b"2.7.0 Authentication successful")
        assert s.sendmail(USER, [USER], message(tok, to=USER,
                                                sender=USER)) == {}
    finally:
        s.quit()
    wait_token(shared_sub, USER, tok)
    for mech, method, initial in (("PLAIN", "auth_plain", True),
                                  ("PLAIN", "auth_plain", False),
                                  ("LOGIN", "auth_login", True),
                                  ("LOGIN", "auth_login", False),
                                  ("CRAM-MD5", "auth_cram_md5", False)):
        s = smtplib_session(shared_sub)
        try:
            s.user, s.password = USER, PASSWORD
            assert s.auth(mech, getattr(s, method),
                          initial_response_ok=initial) == \
                (235, b"2.7.0 Authentication successful"), (mech, initial)
            assert s.mail(USER) == (250, b"2.1.0 Ok")
        finally:
            s.quit()


def test_smtplib_wrong_password_raises(shared_sub):
    s = StartTLSNamed("127.0.0.1", shared_sub.ports["sub"], timeout=15,
                      source_address=(fresh_source(), 0))
    try:
        s.ehlo("client.example")
        s.starttls(context=client_context(cafile=shared_sub.cert))
        s.ehlo("client.example")
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            s.user, s.password = USER, "not-the-password"
            s.auth("PLAIN", s.auth_plain)
        assert e.value.smtp_code == 535
        assert e.value.smtp_error == b"5.7.8 Authentication credentials " \
            b"invalid"
    finally:
        s.quit()


def test_smtplib_scram_through_auth_loop(shared_sub):
    """SCRAM-SHA-256 through smtplib's own 334 loop: the authobject gets
    each decoded challenge and returns the next response."""
    s = smtplib_session(shared_sub)
    client = tls_util.ScramClient(USER, PASSWORD)
    steps = []

    def scram(challenge=None):
        steps.append(challenge)
        if challenge is None:
            return client.first()
        text = challenge.decode()
        if text.startswith("r="):
            return client.final(text)
        client.verify(text)
        return ""

    try:
        assert s.auth("SCRAM-SHA-256", scram) == \
            (235, b"2.7.0 Authentication successful")
        assert len(steps) == 3 and steps[2].startswith(b"v="), steps
    finally:
        s.quit()


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN", "CRAM-MD5"])
def test_swaks_auth_mechanisms(shared_sub, mech):
    tok = token()
    p = subprocess.run(
        ["swaks", "--server", f"127.0.0.1:{shared_sub.ports['sub']}",
         "--tls", "--auth", mech, "--auth-user", USER, "--auth-password",
         PASSWORD, "--from", USER, "--to", USER, "--helo", "client.example",
         "--header", f"Subject: {tok}", "--body", tok, "--pipeline",
         "--timeout", "20"],
        capture_output=True, text=True, timeout=40)
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"~> AUTH {mech}" in p.stdout, p.stdout
    assert "<~  235 2.7.0 Authentication successful" in p.stdout, p.stdout
    assert re.search(r"<~  250 2\.0\.0 Ok: queued as [0-9A-Z]+", p.stdout), \
        p.stdout
    wait_token(shared_sub, USER, tok)


def test_swaks_wrong_password(shared_sub):
    p = subprocess.run(
        ["swaks", "--server", f"127.0.0.1:{shared_sub.ports['smtps']}",
         "--tls-on-connect", "--auth", "LOGIN", "--auth-user", USER,
         "--auth-password", "nope", "--from", USER, "--to", USER,
         "--timeout", "20", "--local-interface", fresh_source()],
        capture_output=True, text=True, timeout=40)
    assert p.returncode != 0, p.stdout
    assert "<~* 535 5.7.8 Authentication credentials invalid" in p.stdout, \
        p.stdout


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN", "CRAM-MD5"])
def test_curl_login_options(shared_sub, tmp_path, mech):
    tok = token()
    msg = tmp_path / "msg.eml"
    msg.write_bytes(message(tok, to=USER, sender=USER))
    port = shared_sub.ports["sub"]
    p = subprocess.run(
        ["curl", "-sS", "-v", "--max-time", "30",
         f"smtp://{HOSTNAME}:{port}/client.example", "--ssl-reqd",
         "--cacert", str(shared_sub.cert), "--resolve",
         f"{HOSTNAME}:{port}:127.0.0.1", "--user", f"{USER}:{PASSWORD}",
         "--login-options", f"AUTH={mech}", "--mail-from", USER,
         "--mail-rcpt", USER, "--upload-file", str(msg)],
        capture_output=True, text=True, timeout=40)
    assert p.returncode == 0, p.stderr
    assert f"> AUTH {mech}" in p.stderr, p.stderr
    assert "< 235 2.7.0 Authentication successful" in p.stderr, p.stderr
    wait_token(shared_sub, USER, tok)


def test_curl_wrong_password(shared_sub, tmp_path):
    msg = tmp_path / "msg.eml"
    msg.write_bytes(message(token(), to=USER, sender=USER))
    port = shared_sub.ports["smtps"]
    p = subprocess.run(
        ["curl", "-sS", "--max-time", "30",
         f"smtps://{HOSTNAME}:{port}/client.example",
         "--cacert", str(shared_sub.cert), "--resolve",
         f"{HOSTNAME}:{port}:127.0.0.1", "--user", f"{USER}:bad",
         "--login-options", "AUTH=PLAIN", "--mail-from", USER,
         "--mail-rcpt", USER, "--upload-file", str(msg),
         "--interface", fresh_source()],
        capture_output=True, text=True, timeout=40)
    assert p.returncode == 67, (p.returncode, p.stderr)   # login denied


def test_no_secret_in_log_after_module(shared_sub):
    """Runs last in this module: nothing above logged the password."""
    tls_util.assert_no_secret(shared_sub)
    assert PASSWORD not in shared_sub.log_text()
