"""`postern send` (SPEC §2) against real receiving servers: aiosmtpd from
Debian (plain, STARTTLS and implicit TLS with certificates made here by
`openssl req`, AUTH PLAIN/LOGIN), small scripted servers for what aiosmtpd
cannot show (pipelining, a refused greeting), and Postern itself (SCRAM-
SHA-256 and CRAM-MD5 submission, delivery to a Maildir). Exit codes:
0, 64 usage, 69 permanent, 75 temporary, 77 authentication failed."""
import base64
import socket
import ssl
import subprocess
import threading

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from conftest import free_port, run

EX_USAGE, EX_UNAVAILABLE, EX_TEMPFAIL, EX_NOPERM = 64, 69, 75, 77
USERS = {"sender@client.test": "s3cret pass"}


class Handler:
    """Records envelopes; RCPT to bad* is refused (550), to later* is
    deferred (451); DATA from spam@ is refused (554)."""

    def __init__(self):
        self.envelopes = []
        self.sessions = []

    async def handle_RCPT(self, server, session, envelope, address,
                          rcpt_options):
        if address.startswith("bad"):
            return "550 5.1.1 <%s>: no such user" % address
        if address.startswith("later"):
            return "451 4.2.0 mailbox busy, try later"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        if envelope.mail_from.startswith("spam@"):
            return "554 5.7.1 message refused"
        self.envelopes.append(envelope)
        auth = session.auth_data
        self.sessions.append({"ssl": session.ssl is not None,
                              "login": auth.login if auth else None})
        return "250 2.0.0 Ok: queued as AIO%d" % len(self.envelopes)


def authenticator(server, session, envelope, mechanism, auth_data):
    user = auth_data.login.decode()
    ok = USERS.get(user) == auth_data.password.decode()
    return AuthResult(success=ok, handled=False, auth_data=auth_data)


@pytest.fixture
def receiver():
    """Factory: receiver(**smtp_kwargs) -> a started aiosmtpd Controller
    on 127.0.0.1 with a Handler as .handler."""
    started = []

    def make(**kw):
        handler = Handler()
        ctl = Controller(handler, hostname="127.0.0.1", port=free_port(),
                         **kw)
        ctl.start()
        ctl.handler = handler
        started.append(ctl)
        return ctl

    yield make
    for ctl in started:
        ctl.stop()


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """Self-signed certificates: 'good' names localhost and 127.0.0.1,
    'other' only other.test."""
    d = tmp_path_factory.mktemp("certs")

    def make(name, san):
        cert, key = d / f"{name}.pem", d / f"{name}.key"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                        "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-days", "2", "-subj", f"/CN={name}",
                        "-addext", f"subjectAltName={san}",
                        "-keyout", str(key), "-out", str(cert)],
                       check=True, capture_output=True)
        return cert, key

    return {"good": make("good", "DNS:localhost,IP:127.0.0.1"),
            "other": make("other", "DNS:other.test")}


def server_ctx(cert_key):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(*map(str, cert_key))
    return ctx


def send(port, args, body="Subject: test\r\n\r\nhello\r\n", env=None,
         host="127.0.0.1"):
    return run(["send", "--server", f"{host}:{port}"] + args,
               input=body, env=env)


def test_envelope_and_body_arrive_intact_and_dot_stuffed(receiver):
    ctl = receiver()
    body = ("Subject: dots\n\n.starts with a dot\n..two dots\n.\n"
            "bare cr\rcrlf\r\nlast line without newline")
    p = send(ctl.port, ["--from", "sender@client.test",
                        "--to", "rcpt@dest.test"], body)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "rcpt@dest.test: sent: 250 2.0.0 Ok: queued as " \
                       "AIO1\n"
    [env] = ctl.handler.envelopes
    assert env.mail_from == "sender@client.test"
    assert env.rcpt_tos == ["rcpt@dest.test"]
    # aiosmtpd removes the stuffing: the content is the source, CRLF-clean
    assert env.original_content == (
        b"Subject: dots\r\n\r\n.starts with a dot\r\n..two dots\r\n.\r\n"
        b"bare cr\r\ncrlf\r\nlast line without newline\r\n")
    # SIZE= was announced (aiosmtpd offers SIZE) and was exact
    assert env.mail_options == [f"SIZE={len(env.original_content)}"]


def test_wire_is_dot_stuffed_and_crlf_clean():
    got = {}

    def script(f, sock):
        sock.sendall(b"220 script ESMTP\r\n")
        f.readline()
        sock.sendall(b"250 script\r\n")
        for _ in range(3):      # MAIL, RCPT, DATA
            f.readline()
            sock.sendall(b"250 ok\r\n" if _ < 2 else b"354 go\r\n")
        data = b""
        while not data.endswith(b"\r\n.\r\n"):
            line = f.readline()
            if not line:
                break
            data += line
        got["data"] = data
        sock.sendall(b"250 2.0.0 queued\r\n")
        f.readline()
        sock.sendall(b"221 bye\r\n")

    with ScriptServer(script) as srv:
        p = send(srv.port, ["--from", "a@client.test", "--to",
                            "b@dest.test"], ".\n..x\r.y\r\nz")
    assert p.returncode == 0, p.stdout + p.stderr
    assert got["data"] == b"..\r\n...x\r\n..y\r\nz\r\n.\r\n"


def test_null_sender(receiver):
    ctl = receiver()
    p = send(ctl.port, ["--from", "", "--to", "rcpt@dest.test"])
    assert p.returncode == 0, p.stderr
    assert ctl.handler.envelopes[0].mail_from == "<>"   # aiosmtpd's way


def test_permanent_rcpt_failure_is_69(receiver):
    ctl = receiver()
    p = send(ctl.port, ["--from", "a@client.test", "--to", "ok@dest.test",
                        "--to", "bad@dest.test"])
    assert p.returncode == EX_UNAVAILABLE
    assert p.stdout.splitlines() == [
        "ok@dest.test: sent: 250 2.0.0 Ok: queued as AIO1",
        "bad@dest.test: rejected: 550 5.1.1 <bad@dest.test>: no such user"]
    assert ctl.handler.envelopes[0].rcpt_tos == ["ok@dest.test"]


def test_temporary_rcpt_failure_is_75(receiver):
    ctl = receiver()
    p = send(ctl.port, ["--from", "a@client.test", "--to",
                        "later@dest.test"])
    assert p.returncode == EX_TEMPFAIL
    assert p.stdout == "later@dest.test: deferred: 451 4.2.0 mailbox " \
                       "busy, try later\n"
    assert ctl.handler.envelopes == []


def test_refused_message_is_69(receiver):
    ctl = receiver()
    p = send(ctl.port, ["--from", "spam@client.test", "--to",
                        "x@dest.test", "--to", "y@dest.test"])
    assert p.returncode == EX_UNAVAILABLE
    assert p.stdout.splitlines() == [
        "x@dest.test: rejected: 554 5.7.1 message refused",
        "y@dest.test: rejected: 554 5.7.1 message refused"]


def test_verbose_transcript_explains_non_2xx(receiver):
    ctl = receiver()
    p = send(ctl.port, ["--from", "a@client.test", "--to", "bad@dest.test",
                        "-v"])
    assert p.returncode == EX_UNAVAILABLE
    out = p.stdout.splitlines()
    assert f"* connected to 127.0.0.1:{ctl.port}" in out
    assert "C: MAIL FROM:<a@client.test> SIZE=24" in out
    assert "C: RCPT TO:<bad@dest.test>" in out
    i = out.index("S: 550 5.1.1 <bad@dest.test>: no such user")
    # the explanation from the reply catalogue follows the reply
    assert out[i + 1].startswith("   = 550 5.1.1 (Permanent Negative "
                                 "Completion")
    expl = [out[i + 1][5:]]
    for line in out[i + 2:]:
        if not line.startswith("     "):
            break
        expl.append(line.strip())
    expl = " ".join(expl)
    assert "Bad destination mailbox address. The mailbox does not " \
           "exist" in expl, expl
    # nobody was accepted: no DATA, and 2xx replies are not explained
    assert "C: DATA" not in out
    j = out.index("S: 250 OK")
    assert not out[j + 1].startswith("   = ")
    assert out[-1] == "bad@dest.test: rejected: 550 5.1.1 <bad@dest.test>:" \
                      " no such user"


def test_auth_plain_and_login(receiver):
    for mech in ("PLAIN", "LOGIN"):
        ctl = receiver(authenticator=authenticator, auth_require_tls=False)
        pw = ctl.handler  # noqa: F841 (keeps the handler alive)
        p = send_auth(ctl.port, mech, "s3cret pass")
        assert p.returncode == 0, p.stdout + p.stderr
        assert f"C: AUTH {mech}" in p.stdout
        assert "* authenticated as sender@client.test with " + mech \
            in p.stdout
        # credentials never appear in the transcript
        for secret in ("s3cret pass", b64("s3cret pass"),
                       b64("\0sender@client.test\0s3cret pass"),
                       b64("sender@client.test")):
            assert secret not in p.stdout
        assert ctl.handler.sessions[0]["login"] == b"sender@client.test"


def b64(s):
    return base64.b64encode(s.encode()).decode()


def send_auth(port, mech, password, extra=(), tmp=None):
    import tempfile
    with tempfile.NamedTemporaryFile("w", suffix=".pw") as f:
        f.write(password + "\n")
        f.flush()
        args = ["--from", "sender@client.test", "--to", "r@dest.test",
                "--user", "sender@client.test", "--password-file", f.name,
                "-v"] + (["--mech", mech] if mech else []) + list(extra)
        return send(port, args)


def test_auth_failure_is_77(receiver):
    ctl = receiver(authenticator=authenticator, auth_require_tls=False)
    p = send_auth(ctl.port, "PLAIN", "wrong")
    assert p.returncode == EX_NOPERM, p.stdout + p.stderr
    assert "S: 535 5.7.8 Authentication credentials invalid" in p.stdout
    assert p.stderr.splitlines() == [
        f"postern send: 127.0.0.1:{ctl.port}: AUTH PLAIN refused",
        "postern send: the server said: 535 5.7.8 Authentication "
        "credentials invalid"]
    assert ctl.handler.envelopes == []


def test_auth_not_offered_is_69(receiver):
    ctl = receiver()
    p = send_auth(ctl.port, None, "x")
    assert p.returncode == EX_UNAVAILABLE
    assert f"127.0.0.1:{ctl.port}: the server does not offer AUTH" in \
        p.stderr


def test_mechanism_not_offered(receiver):
    ctl = receiver(authenticator=authenticator, auth_require_tls=False)
    p = send_auth(ctl.port, "CRAM-MD5", "s3cret pass")
    assert p.returncode == EX_UNAVAILABLE
    assert "the server does not offer AUTH CRAM-MD5 (it offers: LOGIN " \
           "PLAIN )" in p.stderr


def test_starttls_verified_with_cafile(receiver, certs):
    ctl = receiver(tls_context=server_ctx(certs["good"]),
                   require_starttls=True)
    p = send(ctl.port, ["--tls", "starttls", "--cafile",
                        str(certs["good"][0]), "--from", "a@client.test",
                        "--to", "r@dest.test", "-v"])
    assert p.returncode == 0, p.stdout + p.stderr
    assert "C: STARTTLS" in p.stdout
    assert any(line.startswith("* TLS TLSv1.3 ") and
               line.endswith("; certificate verified: /CN=good")
               for line in p.stdout.splitlines()), p.stdout
    # EHLO is said again inside TLS
    assert p.stdout.count("C: EHLO ") == 2
    assert ctl.handler.sessions[0]["ssl"] is True


def test_starttls_self_signed_refused_without_cafile(receiver, certs):
    ctl = receiver(tls_context=server_ctx(certs["good"]))
    p = send(ctl.port, ["--tls", "starttls", "--from", "a@client.test",
                        "--to", "r@dest.test"],
             env={"SSL_CERT_FILE": "/nonexistent", "SSL_CERT_DIR":
                  "/nonexistent"})
    assert p.returncode == EX_TEMPFAIL
    assert f"127.0.0.1:{ctl.port}: server certificate not verified: " \
           "self-signed certificate" in p.stderr
    assert "--cafile" in p.stderr
    assert ctl.handler.envelopes == []


def test_starttls_insecure_skips_verification(receiver, certs):
    ctl = receiver(tls_context=server_ctx(certs["other"]))
    p = send(ctl.port, ["--tls", "starttls", "--insecure", "--from",
                        "a@client.test", "--to", "r@dest.test", "-v"])
    assert p.returncode == 0, p.stdout + p.stderr
    assert "; certificate NOT verified: " in p.stdout
    assert ctl.handler.sessions[0]["ssl"] is True


def test_certificate_name_must_match(receiver, certs):
    ctl = receiver(tls_context=server_ctx(certs["other"]))
    p = send(ctl.port, ["--tls", "starttls", "--cafile",
                        str(certs["other"][0]), "--from", "a@client.test",
                        "--to", "r@dest.test"])
    assert p.returncode == EX_TEMPFAIL
    assert "server certificate not verified: " in p.stderr
    assert "mismatch" in p.stderr
    # by host name: the certificate names localhost
    ctl2 = receiver(tls_context=server_ctx(certs["good"]))
    p = send(ctl2.port, ["--tls", "starttls", "--cafile",
                         str(certs["good"][0]), "--from", "a@client.test",
                         "--to", "r@dest.test"], host="localhost")
    assert p.returncode == 0, p.stderr


def test_ssl_cert_file_is_the_trust_store(receiver, certs):
    ctl = receiver(tls_context=server_ctx(certs["good"]))
    p = send(ctl.port, ["--tls", "starttls", "--from", "a@client.test",
                        "--to", "r@dest.test"],
             env={"SSL_CERT_FILE": str(certs["good"][0])})
    assert p.returncode == 0, p.stderr


def test_large_message_over_tls(receiver, certs):
    ctl = receiver(tls_context=server_ctx(certs["good"]))
    lines = [f".{i:07d} " + "x" * 70 for i in range(40000)]   # ~3 MB
    body = "Subject: big\n\n" + "\n".join(lines) + "\n"
    p = send(ctl.port, ["--tls", "starttls", "--cafile",
                        str(certs["good"][0]), "--from", "a@client.test",
                        "--to", "r@dest.test"], body)
    assert p.returncode == 0, p.stdout + p.stderr
    [env] = ctl.handler.envelopes
    assert env.original_content == body.replace("\n", "\r\n").encode()


def test_opportunistic_tls_as_delivery_does_it(receiver, certs):
    # offered: used, and an unverifiable certificate is only noted
    ctl = receiver(tls_context=server_ctx(certs["other"]))
    p = send(ctl.port, ["--tls", "opportunistic", "--from", "a@client.test",
                        "--to", "r@dest.test", "-v"])
    assert p.returncode == 0, p.stdout + p.stderr
    assert "C: STARTTLS" in p.stdout
    assert "; certificate NOT verified: " in p.stdout
    assert ctl.handler.sessions[0]["ssl"] is True
    # not offered: plain text
    ctl = receiver()
    p = send(ctl.port, ["--tls", "opportunistic", "--from", "a@client.test",
                        "--to", "r@dest.test", "-v"])
    assert p.returncode == 0, p.stdout + p.stderr
    assert "C: STARTTLS" not in p.stdout
    assert ctl.handler.sessions[0]["ssl"] is False


def test_opportunistic_tls_refused_goes_on_in_plain_text():
    seen = []

    def script(f, sock):
        sock.sendall(b"220 script ESMTP\r\n")
        f.readline()
        sock.sendall(b"250-script\r\n250 STARTTLS\r\n")
        seen.append(f.readline())
        sock.sendall(b"454 4.7.0 TLS not available now\r\n")
        for reply in (b"250 ok\r\n", b"250 ok\r\n", b"354 go\r\n"):
            seen.append(f.readline())
            sock.sendall(reply)
        while f.readline() != b".\r\n":
            pass
        sock.sendall(b"250 queued\r\n")
        f.readline()
        sock.sendall(b"221 bye\r\n")

    with ScriptServer(script) as srv:
        p = send(srv.port, ["--tls", "opportunistic", "--from",
                            "a@client.test", "--to", "r@dest.test", "-v"])
    assert srv.error is None, srv.error
    assert p.returncode == 0, p.stdout + p.stderr
    assert seen[0] == b"STARTTLS\r\n"
    assert seen[1] == b"MAIL FROM:<a@client.test>\r\n"
    assert "* STARTTLS refused; going on without TLS" in p.stdout


def test_implicit_tls(receiver, certs):
    ctl = receiver(ssl_context=server_ctx(certs["good"]))
    p = send(ctl.port, ["--tls", "implicit", "--cafile",
                        str(certs["good"][0]), "--from", "a@client.test",
                        "--to", "r@dest.test", "-v"])
    assert p.returncode == 0, p.stdout + p.stderr
    assert "C: STARTTLS" not in p.stdout
    # the handshake comes before the greeting: nothing is in the clear
    assert p.stdout.index("* TLS ") < p.stdout.index("S: 220 ")
    assert len(ctl.handler.envelopes) == 1


def test_starttls_required_but_not_offered_is_69(receiver):
    ctl = receiver()
    p = send(ctl.port, ["--tls", "starttls", "--from", "a@client.test",
                        "--to", "r@dest.test"])
    assert p.returncode == EX_UNAVAILABLE
    assert p.stderr == f"postern send: 127.0.0.1:{ctl.port}: the server " \
                       "does not offer STARTTLS\n"


def test_ipv6_server_address():
    handler = Handler()
    ctl = Controller(handler, hostname="::1", port=free_port())
    ctl.start()
    try:
        p = run(["send", "--server", f"[::1]:{ctl.port}", "--from",
                 "a@client.test", "--to", "r@dest.test", "-v"],
                input="x\n")
    finally:
        ctl.stop()
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"* connected to [::1]:{ctl.port}" in p.stdout
    assert len(handler.envelopes) == 1


def test_server_by_name(receiver):
    ctl = receiver()
    p = send(ctl.port, ["--from", "a@client.test", "--to", "r@dest.test",
                        "-v"], host="localhost")
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"* connected to 127.0.0.1:{ctl.port}" in p.stdout


def test_connection_refused_is_75():
    port = free_port()
    p = send(port, ["--from", "a@client.test", "--to", "r@dest.test"])
    assert p.returncode == EX_TEMPFAIL
    assert p.stderr == f"postern send: 127.0.0.1:{port}: Connection " \
                       "refused\n"


def test_smtputf8_and_8bitmime(receiver):
    ctl = receiver(enable_SMTPUTF8=True)
    p = send(ctl.port, ["--from", "a@client.test", "--to",
                        "j\u00f6rg@dest.test"],
             "Subject: caf\u00e9\r\n\r\nna\u00efve\r\n")
    assert p.returncode == 0, p.stdout + p.stderr
    env = ctl.handler.envelopes[0]
    assert env.rcpt_tos == ["j\u00f6rg@dest.test"]
    assert "BODY=8BITMIME" in env.mail_options
    assert "SMTPUTF8" in env.mail_options


def test_smtputf8_needed_but_not_offered():
    def script(f, sock):
        sock.sendall(b"220 script ESMTP\r\n")
        f.readline()
        sock.sendall(b"250-script\r\n250 8BITMIME\r\n")
        seen.append(f.readline())
        sock.sendall(b"221 bye\r\n")

    seen = []
    with ScriptServer(script) as srv:
        p = send(srv.port, ["--from", "a@client.test", "--to",
                            "j\u00f6rg@dest.test"])
    assert p.returncode == EX_UNAVAILABLE
    assert p.stdout == (f"j\u00f6rg@dest.test: rejected: 553 5.6.7 the "
                        f"message needs SMTPUTF8 and 127.0.0.1:{srv.port} "
                        "does not offer it (no server reply)\n")
    # nothing of the transaction was sent
    assert seen == [b"QUIT\r\n"]


def test_usage_errors():
    cases = [
        ([], "postern send: --server is required\n"),
        (["--server", "127.0.0.1:25", "--to", "a@b.test"],
         "postern send: --from is required ('' for the null sender)\n"),
        (["--server", "127.0.0.1:25", "--from", "a@b.test"],
         "postern send: at least one --to is required\n"),
        (["--server", "127.0.0.1:25", "--from", "a@b.test", "--to",
          "c@d.test", "--tls", "ssl"],
         "postern send: --tls takes none, starttls, implicit or "
         "opportunistic\n"),
        (["--server", "127.0.0.1:25", "--from", "a@b.test", "--to",
          "c@d.test", "--cafile", "x", "--insecure"],
         "postern send: --cafile and --insecure exclude each other\n"),
        (["--server", "127.0.0.1:25", "--from", "a@b.test", "--to",
          "c@d.test", "--user", "u"],
         "postern send: --user and --password-file go together\n"),
        (["--server", "127.0.0.1:25", "--from", "a@b.test", "--to",
          "not an address"],
         "postern send: 'not an address' is not a valid address\n"),
    ]
    for args, err in cases:
        p = run(["send"] + args, input="")
        assert p.returncode == EX_USAGE, args
        assert p.stderr == err, args


def test_help():
    p = run(["send", "--help"])
    assert p.returncode == 0
    assert p.stdout.startswith("usage: postern send --server HOST:PORT ")


class ScriptServer:
    """One connection on 127.0.0.1, handled by script(file, sock) in a
    thread; .error keeps what the script found wrong."""

    def __init__(self, script):
        self.script = script
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        self.sock.settimeout(20)
        try:
            conn, _ = self.sock.accept()
            with conn, conn.makefile("rb") as f:
                conn.settimeout(10)
                self.script(f, conn)
        except Exception as e:  # reported by the test
            self.error = repr(e)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.thread.join(30)
        self.sock.close()


def pending(sock, timeout=0.3):
    """True if the client sent more before our reply (no pipelining)."""
    sock.settimeout(timeout)
    try:
        return len(sock.recv(1, socket.MSG_PEEK)) > 0
    except socket.timeout:
        return False
    finally:
        sock.settimeout(10)


def test_pipelining_sends_envelope_in_one_go():
    seen = {}

    def script(f, sock):
        sock.sendall(b"220 script ESMTP\r\n")
        assert f.readline().startswith(b"EHLO ")
        sock.sendall(b"250-script\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
        # every envelope command arrives before any reply is sent
        seen["cmds"] = [f.readline() for _ in range(4)]
        sock.sendall(b"250 2.1.0 ok\r\n250 2.1.5 ok\r\n550 5.1.1 no\r\n"
                     b"354 go\r\n")
        while f.readline() != b".\r\n":
            pass
        sock.sendall(b"250 2.0.0 queued\r\n")
        seen["quit"] = f.readline()
        sock.sendall(b"221 bye\r\n")

    with ScriptServer(script) as srv:
        p = send(srv.port, ["--from", "a@client.test", "--to",
                            "one@dest.test", "--to", "two@dest.test"])
    assert srv.error is None, srv.error
    assert seen["cmds"] == [b"MAIL FROM:<a@client.test>\r\n",
                            b"RCPT TO:<one@dest.test>\r\n",
                            b"RCPT TO:<two@dest.test>\r\n", b"DATA\r\n"]
    assert seen["quit"] == b"QUIT\r\n"
    assert p.returncode == EX_UNAVAILABLE
    assert p.stdout.splitlines() == [
        "one@dest.test: sent: 250 2.0.0 queued",
        "two@dest.test: rejected: 550 5.1.1 no"]


def test_no_pipelining_when_not_offered():
    seen = {"early": []}

    def script(f, sock):
        sock.sendall(b"220 script ESMTP\r\n")
        f.readline()
        sock.sendall(b"250 script\r\n")
        for reply in (b"250 ok\r\n", b"250 ok\r\n", b"354 go\r\n"):
            cmd = f.readline()
            if pending(sock):
                seen["early"].append(cmd)
            sock.sendall(reply)
        while f.readline() != b".\r\n":
            pass
        sock.sendall(b"250 2.0.0 queued\r\n")
        f.readline()
        sock.sendall(b"221 bye\r\n")

    with ScriptServer(script) as srv:
        p = send(srv.port, ["--from", "a@client.test", "--to",
                            "one@dest.test"])
    assert srv.error is None, srv.error
    assert seen["early"] == []
    assert p.returncode == 0, p.stdout + p.stderr


def test_ehlo_refused_falls_back_to_helo():
    seen = {}

    def script(f, sock):
        sock.sendall(b"220 old server\r\n")
        seen["ehlo"] = f.readline()
        sock.sendall(b"502 5.5.1 command not implemented\r\n")
        seen["helo"] = f.readline()
        sock.sendall(b"250 old server\r\n")
        seen["mail"] = f.readline()
        sock.sendall(b"250 ok\r\n")
        f.readline()
        sock.sendall(b"250 ok\r\n")
        f.readline()
        sock.sendall(b"354 go\r\n")
        while f.readline() != b".\r\n":
            pass
        sock.sendall(b"250 queued\r\n")
        f.readline()
        sock.sendall(b"221 bye\r\n")

    with ScriptServer(script) as srv:
        p = send(srv.port, ["--from", "a@client.test", "--to",
                            "one@dest.test", "--helo", "me.client.test"],
                 "x\r\n")
    assert srv.error is None, srv.error
    assert seen["ehlo"] == b"EHLO me.client.test\r\n"
    assert seen["helo"] == b"HELO me.client.test\r\n"
    # no SIZE= without the SIZE extension
    assert seen["mail"] == b"MAIL FROM:<a@client.test>\r\n"
    assert p.returncode == 0, p.stderr


def test_refused_greeting_is_69():
    def script(f, sock):
        sock.sendall(b"554 5.3.2 no service here\r\n")
        f.readline()

    with ScriptServer(script) as srv:
        p = send(srv.port, ["--from", "a@client.test", "--to",
                            "one@dest.test"])
    assert p.returncode == EX_UNAVAILABLE
    assert p.stderr.splitlines() == [
        f"postern send: 127.0.0.1:{srv.port}: the server refused the "
        "session",
        "postern send: the server said: 554 5.3.2 no service here"]


def test_malformed_reply_is_a_temporary_failure():
    def script(f, sock):
        sock.sendall(b"220 ok\r\n")
        f.readline()
        sock.sendall(b"250-first\r\n251 other code\r\n")
        f.readline()

    with ScriptServer(script) as srv:
        p = send(srv.port, ["--from", "a@client.test", "--to",
                            "one@dest.test"])
    assert p.returncode == EX_TEMPFAIL
    assert p.stderr == f"postern send: 127.0.0.1:{srv.port}: malformed " \
                       "reply: code differs between lines\n"


def test_overlong_reply_line_is_refused():
    def script(f, sock):
        sock.sendall(b"220 " + b"x" * 5000 + b"\r\n")
        f.readline()

    with ScriptServer(script) as srv:
        p = send(srv.port, ["--from", "a@client.test", "--to",
                            "one@dest.test"])
    assert p.returncode == EX_TEMPFAIL
    assert "reply line too long" in p.stderr


def test_reply_timeout_is_75():
    def script(f, sock):
        sock.sendall(b"220 ok\r\n")
        f.readline()            # EHLO, never answered
        f.readline()

    with ScriptServer(script) as srv:
        p = send(srv.port, ["--from", "a@client.test", "--to",
                            "one@dest.test", "--timeout", "1"])
    assert p.returncode == EX_TEMPFAIL
    assert p.stderr == f"postern send: 127.0.0.1:{srv.port}: no reply " \
                       "within the time limit\n"


# ---- Postern itself as the receiving side ----

POSTERN_PW = "correct horse battery staple"


@pytest.fixture
def postern_sub(postern, certs):
    """A Postern with a STARTTLS submission listener (certificate 'good')
    offering every mechanism, and the user alice@example.test."""
    cert, key = certs["good"]
    srv = postern({"tls": {"certificate": str(cert), "key": str(key)},
                   "auth": {"mechanisms": "SCRAM-SHA-256, PLAIN, LOGIN, "
                            "CRAM-MD5"},
                   "listener sub": {"mode": "submission",
                                    "tls": "starttls"}}, start=False)
    srv.cli("user", "add", "alice@example.test", input=POSTERN_PW + "\n",
            check=True)
    return srv.start()


def send_postern(srv, mech, password, tmp_path, body):
    pw = tmp_path / "pw"
    pw.write_text(password + "\n")
    return send(srv.ports["sub"], [
        "--tls", "starttls", "--cafile", str(certs_good(srv)),
        "--user", "alice@example.test", "--password-file", str(pw),
        "--mech", mech, "--from", "alice@example.test",
        "--to", "alice@example.test", "-v"], body)


def certs_good(srv):
    for line in srv.conf.read_text().splitlines():
        if line.startswith("certificate = "):
            return line.split(" = ", 1)[1]
    raise AssertionError("no certificate in the config")


def test_submission_to_postern_with_each_mechanism(postern_sub, tmp_path):
    mechs = ("SCRAM-SHA-256", "CRAM-MD5", "PLAIN", "LOGIN")
    for i, mech in enumerate(mechs):
        body = f"Subject: via {mech}\n\n.dot line {i}\n"
        p = send_postern(postern_sub, mech, POSTERN_PW, tmp_path, body)
        assert p.returncode == 0, p.stdout + p.stderr
        assert f"* authenticated as alice@example.test with {mech}" in \
            p.stdout
        assert "; certificate verified: /CN=good" in p.stdout
        assert POSTERN_PW not in p.stdout
        # Postern offers PIPELINING: the envelope went out in one go
        out = p.stdout.splitlines()
        size = len(body.replace("\n", "\r\n"))
        k = out.index(f"C: MAIL FROM:<alice@example.test> SIZE={size}")
        assert out[k + 1:k + 3] == ["C: RCPT TO:<alice@example.test>",
                                    "C: DATA"]
    msgs = postern_sub.wait_delivered("alice@example.test", len(mechs))
    for i, mech in enumerate(mechs):
        assert any(m.endswith(f"Subject: via {mech}\n\n.dot line {i}\n"
                              .encode()) for m in msgs), mech
    assert all(b" with ESMTPSA id " in m for m in msgs)


def test_wrong_password_at_postern_is_77(postern_sub, tmp_path):
    for mech in ("SCRAM-SHA-256", "PLAIN"):
        p = send_postern(postern_sub, mech, "not the password", tmp_path,
                         "x\n")
        assert p.returncode == EX_NOPERM, p.stdout + p.stderr
        assert "S: 535 5.7.8 Authentication credentials invalid" in \
            p.stdout


def test_mx_delivery_to_postern(postern, dns_zone):
    # The MX listener checks an outside sender's domain for a null MX.
    dns = dns_zone({"client.test.": ["A 127.0.0.1"]})
    srv = postern({"delivery": {"dns": dns.addr}}, start=False)
    srv.cli("user", "add", "bob@example.test", input=POSTERN_PW + "\n",
            check=True)
    srv.start()
    body = "Subject: to bob\n\n.\n..\nend\n"
    p = send(srv.port, ["--from", "someone@client.test", "--to",
                        "bob@example.test", "--to", "nobody@example.test"],
             body)
    assert p.returncode == EX_UNAVAILABLE
    out = p.stdout.splitlines()
    assert out[0].startswith("bob@example.test: sent: 250 2.0.0 Ok: queued "
                             "as ")
    assert out[1].startswith("nobody@example.test: rejected: 550 5.1.1 ")
    [msg] = srv.wait_delivered("bob@example.test")
    # Maildir files use the local line ending, LF
    assert msg.endswith(b"Subject: to bob\n\n.\n..\nend\n")
    assert msg.startswith(b"Return-Path: <someone@client.test>\n")
