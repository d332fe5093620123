"""TLS of the submission role (issue #4 item 1): STARTTLS (RFC 3207) and
implicit TLS (RFC 8314) per listener; TLS 1.2 and 1.3 only, modern AEAD
suites, server preference; the STARTTLS command-injection case
(CVE-2011-0411); the session reset after STARTTLS; failed handshakes;
the Received header (RFC 3848); SIGHUP certificate reload; the self-signed
default certificate. Real clients: Python ssl/smtplib, `openssl s_client`,
swaks and curl (test_auth.py has more of the last two)."""
import datetime
import os
import re
import signal
import smtplib
import socket
import ssl
import stat
import subprocess
import time

import pytest

import conftest
import tls_util
from smtp_util import check, message, split_message, token, wait_token
from tls_util import (AUTH_OK, HOSTNAME, NEED_EHLO, PASSWORD, USER, Conn,
                      client_context, file_fingerprint,
                      make_cert, pem_fingerprint)

shared_sub = tls_util.shared_sub

ALREADY_TLS = (503, "5.5.1", "Already in TLS")
STARTTLS_UNAVAILABLE = (502, "5.5.1", "STARTTLS not available on this "
                        "listener")
RECEIVED_TLS_RE = re.compile(
    r"\(using (TLSv1\.[23]) with cipher ([A-Z0-9_-]+) \((\d+)/(\d+) "
    r"bits\)\)")


def s_client(port, *args, starttls=True, cafile=None,
             stdin="EHLO client.example\nQUIT\n"):
    """Runs `openssl s_client` against the port; returns
    (exit code, protocol, cipher, output)."""
    cmd = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}",
           "-servername", HOSTNAME, "-crlf", "-ign_eof", "-nocommands"]
    if starttls:
        cmd += ["-starttls", "smtp"]
    if cafile:
        cmd += ["-CAfile", str(cafile), "-verify_hostname", HOSTNAME,
                "-verify_return_error"]
    p = subprocess.run(cmd + list(args), input=stdin, capture_output=True,
                       text=True, timeout=20)
    out = p.stdout + p.stderr
    m = re.search(r"^New, (TLSv1\.[0-3]|\(NONE\)), Cipher is (\S+)$", out,
                  re.M)
    proto, cipher = (m.group(1), m.group(2)) if m else (None, None)
    return p.returncode, proto, cipher, out


def received_of(data):
    """The first Received header of a stored message, unfolded."""
    headers, _ = split_message(data)
    values = [v for n, v in headers if n.lower() == "received"]
    assert values, data[:600]
    return values[0]


# --- STARTTLS ----------------------------------------------------------------

def test_starttls_resets_session_and_reveals_auth(shared_sub):
    with Conn(shared_sub.ports["sub"]) as c:
        kw = c.ehlo_keywords()
        assert "STARTTLS" in kw and "AUTH" not in kw, kw
        c.starttls(client_context(cafile=shared_sub.cert))
        # RFC 3207 §4.2: the client must EHLO again; nothing said before
        # TLS counts any more.
        c.expect("MAIL FROM:<bob@example.test>", *NEED_EHLO)
        c.expect("AUTH PLAIN " + tls_util.b64(f"\0{USER}\0{PASSWORD}"),
                 *NEED_EHLO)
        kw = c.ehlo_keywords()
        assert "STARTTLS" not in kw, kw
        assert kw["AUTH"] == "SCRAM-SHA-256 PLAIN LOGIN CRAM-MD5", kw
        c.expect("STARTTLS", *ALREADY_TLS)
        check(c.auth_plain(), *AUTH_OK)
        c.expect("QUIT", 221, "2.0.0", "Bye")


def test_starttls_refused_where_not_configured(shared_sub):
    with Conn(shared_sub.port) as c:          # mx listener, tls = none
        kw = c.ehlo_keywords()
        assert "STARTTLS" not in kw and "AUTH" not in kw, kw
        c.expect("STARTTLS", *STARTTLS_UNAVAILABLE)
        c.expect("NOOP", 250, "2.0.0", "Ok")


def test_starttls_pipelined_after_ehlo(shared_sub):
    with Conn(shared_sub.ports["sub"]) as c:
        c.send(b"EHLO client.example\r\nSTARTTLS\r\n")
        r = c.read_reply()
        assert r.code == 250 and "STARTTLS" in r.texts(), r
        check(c.read_reply(), *tls_util.STARTTLS_GO)
        assert c.buf == b""
        c.sock = client_context(cafile=shared_sub.cert).wrap_socket(
            c.sock, server_hostname=HOSTNAME)
        kw = c.ehlo_keywords()
        assert "AUTH" in kw and "STARTTLS" not in kw, kw


def test_starttls_with_arguments_is_a_syntax_error(shared_sub):
    with Conn(shared_sub.ports["sub"]) as c:
        c.ehlo()
        c.expect("STARTTLS now", 501, "5.5.4")
        c.starttls()
        c.ehlo()


def test_starttls_injection_is_discarded(postern, tmp_path):
    """CVE-2011-0411: plaintext pipelined after STARTTLS must not be
    executed inside TLS. An MX listener, where MAIL needs no AUTH, makes
    an executed injection visible."""
    srv, cert = tls_util.submission(postern, tmp_path, {
        "listener mx": {"mode": "mx", "tls": "starttls"}})
    with Conn(srv.port) as c:
        c.ehlo()
        c.send(b"STARTTLS\r\nMAIL FROM:<x@example.test>\r\n"
               b"RCPT TO:<bob@example.test>\r\n")
        check(c.read_reply(), *tls_util.STARTTLS_GO)
        assert c.buf == b"", c.buf
        c.sock = client_context(cafile=cert).wrap_socket(
            c.sock, server_hostname=HOSTNAME)
        c.quiet(0.7)          # no reply to the injected MAIL and RCPT
        c.expect("MAIL FROM:<x@example.test>", *NEED_EHLO)
        c.ehlo()
        # No transaction was opened by the injected MAIL.
        c.expect("RCPT TO:<bob@example.test>", 503, "5.5.1",
                 "Need MAIL before RCPT")
        c.expect("MAIL FROM:<x@example.test>", 250, "2.1.0", "Ok")
        c.expect("QUIT", 221, "2.0.0", "Bye")


def test_starttls_refused_inside_transaction(postern, tmp_path):
    srv, _ = tls_util.submission(postern, tmp_path, {
        "listener mx": {"mode": "mx", "tls": "starttls"}})
    with Conn(srv.port) as c:
        c.ehlo()
        c.expect("MAIL FROM:<x@example.test>", 250, "2.1.0", "Ok")
        c.expect("STARTTLS", 503, "5.5.1")
        c.expect("RSET", 250, "2.0.0", "Ok")
        c.starttls()
        c.ehlo()
        # MX STARTTLS without AUTH: ESMTPS in Received.
        tok = token()
        c.transaction("x@example.test", [USER], message(tok, to=USER))
    rcvd = received_of(wait_token(srv, USER, tok)[0])
    assert " with ESMTPS id " in rcvd, rcvd
    assert RECEIVED_TLS_RE.search(rcvd), rcvd


# --- Implicit TLS ------------------------------------------------------------

def test_implicit_tls(shared_sub):
    ctx = client_context(cafile=shared_sub.cert)
    with Conn(shared_sub.ports["smtps"], implicit=True, ctx=ctx) as c:
        assert c.cipher()[0] == "TLSv1.3"
        kw = c.ehlo_keywords()
        assert "STARTTLS" not in kw, kw
        assert kw["AUTH"] == "SCRAM-SHA-256 PLAIN LOGIN CRAM-MD5", kw
        c.expect("STARTTLS", *ALREADY_TLS)
        check(c.auth_plain(), *AUTH_OK)
        c.expect("QUIT", 221, "2.0.0", "Bye")


class NamedSMTP_SSL(smtplib.SMTP_SSL):
    """SMTP_SSL that checks the certificate for mx.example.test while
    connecting to 127.0.0.1."""

    def _get_socket(self, host, port, timeout):
        sock = socket.create_connection((host, port), timeout)
        return self.context.wrap_socket(sock, server_hostname=HOSTNAME)


def test_implicit_tls_smtplib(shared_sub):
    ctx = client_context(cafile=shared_sub.cert)
    with NamedSMTP_SSL("127.0.0.1", shared_sub.ports["smtps"],
                       context=ctx, timeout=10) as s:
        code, _ = s.ehlo("client.example")
        assert code == 250
        assert not s.has_extn("starttls")
        code, text = s.login(USER, PASSWORD)
        assert (code, text) == (235, b"2.7.0 Authentication successful")
        refused = s.sendmail(USER, [USER], message(token(), to=USER))
        assert refused == {}


def test_smtplib_starttls_verifies_certificate(shared_sub):
    with smtplib.SMTP("127.0.0.1", shared_sub.ports["sub"],
                      timeout=10) as s:
        s.ehlo("client.example")
        assert s.has_extn("starttls") and not s.has_extn("auth")
        s._host = HOSTNAME     # the name the certificate is checked for
        code, text = s.starttls(context=client_context(
            cafile=shared_sub.cert))
        assert (code, text) == (220, b"2.0.0 Ready to start TLS")
        s.ehlo("client.example")
        assert s.esmtp_features["auth"].strip() == \
            "SCRAM-SHA-256 PLAIN LOGIN CRAM-MD5"
        assert s.sock.version() == "TLSv1.3"


# --- Versions and cipher suites ----------------------------------------------

@pytest.mark.parametrize("version,expect_proto,expect_cipher", [
    ("-tls1_2", "TLSv1.2", "ECDHE-ECDSA-AES256-GCM-SHA384"),
    ("-tls1_3", "TLSv1.3", "TLS_AES_256_GCM_SHA384"),
])
@pytest.mark.parametrize("listener", ["sub", "smtps"])
def test_s_client_versions(shared_sub, listener, version, expect_proto,
                           expect_cipher):
    rc, proto, cipher, out = s_client(
        shared_sub.ports[listener], version,
        starttls=listener == "sub", cafile=shared_sub.cert)
    assert (proto, cipher) == (expect_proto, expect_cipher), out
    assert "Verify return code: 0 (ok)" in out, out
    assert "250-AUTH SCRAM-SHA-256 PLAIN LOGIN CRAM-MD5" in out, out
    assert "221 2.0.0 Bye" in out, out


@pytest.mark.parametrize("listener", ["sub", "smtps"])
def test_tls11_refused(shared_sub, listener):
    before = len(tls_util.log_lines(shared_sub, "tls-failed"))
    rc, proto, cipher, out = s_client(
        shared_sub.ports[listener], "-tls1_1", "-cipher",
        "DEFAULT@SECLEVEL=0", starttls=listener == "sub")
    assert rc != 0, out
    assert proto in (None, "(NONE)") and cipher in (None, "(NONE)", "0000"),\
        out
    assert "250-AUTH" not in out and "221 2.0.0" not in out, out
    # The server refused it, saying why.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = tls_util.log_lines(shared_sub, "tls-failed")
        if len(lines) > before:
            break
        time.sleep(0.05)
    assert len(lines) > before, shared_sub.log_text()[-2000:]
    assert re.search(r'reason="[^"]*(unsupported protocol|version)',
                     lines[-1]), lines[-1]


def test_server_cipher_preference_tls12(shared_sub):
    # The client prefers CHACHA20 and AES128; the server's order wins.
    rc, proto, cipher, out = s_client(
        shared_sub.ports["smtps"], "-tls1_2", "-cipher",
        "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256:"
        "ECDHE-ECDSA-AES256-GCM-SHA384", starttls=False)
    assert (proto, cipher) == ("TLSv1.2", "ECDHE-ECDSA-AES256-GCM-SHA384"), \
        out


def test_server_cipher_preference_tls13(shared_sub):
    rc, proto, cipher, out = s_client(
        shared_sub.ports["smtps"], "-tls1_3", "-ciphersuites",
        "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:"
        "TLS_AES_256_GCM_SHA384", starttls=False)
    assert (proto, cipher) == ("TLSv1.3", "TLS_AES_256_GCM_SHA384"), out


@pytest.mark.parametrize("suite", [
    "ECDHE-ECDSA-AES128-SHA",        # CBC, not AEAD
    "ECDHE-ECDSA-AES256-SHA384",     # CBC with SHA-2, not AEAD
    "AES256-GCM-SHA384",             # no forward secrecy
])
def test_weak_tls12_suites_refused(shared_sub, suite):
    ctx = client_context(max_version=ssl.TLSVersion.TLSv1_2,
                         ciphers=suite + ":@SECLEVEL=0")
    with pytest.raises(ssl.SSLError):
        Conn(shared_sub.ports["smtps"], implicit=True, ctx=ctx)
    # The server is still fine.
    with Conn(shared_sub.ports["smtps"], implicit=True) as c:
        c.ehlo()


def test_python_tls12_chacha_when_client_has_nothing_better(shared_sub):
    ctx = client_context(max_version=ssl.TLSVersion.TLSv1_2,
                         ciphers="ECDHE-ECDSA-CHACHA20-POLY1305")
    with Conn(shared_sub.ports["sub"], ctx=ctx) as c:
        c.ehlo()
        c.starttls()
        assert c.cipher() == ("TLSv1.2", "ECDHE-ECDSA-CHACHA20-POLY1305")
        c.ehlo()


@pytest.mark.parametrize("listener", ["sub", "smtps"])
def test_quit_ends_tls_with_close_notify(shared_sub, listener):
    """RFC 8446 §6.1: each side sends close_notify before closing its
    write side; a client that sees none cannot tell the end from a cut."""
    sock = socket.create_connection(("127.0.0.1", shared_sub.ports[listener]),
                                    timeout=10)
    ctx = client_context(cafile=shared_sub.cert)
    ctx.options &= ~ssl.OP_IGNORE_UNEXPECTED_EOF
    with Conn.__new__(Conn) as c:
        c.timeout, c.buf, c.ctx, c.sock = 10.0, b"", ctx, sock
        if listener == "smtps":
            c.sock = ctx.wrap_socket(sock, server_hostname=HOSTNAME,
                                     suppress_ragged_eofs=False)
        check(c.read_reply(), 220)
        if listener == "sub":
            c.ehlo()
            c.expect("STARTTLS", *tls_util.STARTTLS_GO)
            c.sock = ctx.wrap_socket(sock, server_hostname=HOSTNAME,
                                     suppress_ragged_eofs=False)
        c.ehlo()
        c.expect("QUIT", 221, "2.0.0", "Bye")
        # A clean TLS end reads as b""; a bare TCP close raises.
        assert c.sock.recv(100) == b""


# --- Failed handshakes -------------------------------------------------------

def test_garbage_instead_of_handshake(shared_sub):
    before = len(tls_util.log_lines(shared_sub, "tls-failed"))
    with Conn(shared_sub.ports["sub"]) as c:
        c.ehlo()
        c.expect("STARTTLS", *tls_util.STARTTLS_GO)
        c.send(b"EHLO this is not a TLS ClientHello\r\n" * 4)
        c.sock.settimeout(5)
        try:
            data = c.sock.recv(4096)
        except ConnectionResetError:
            data = b""
        # At most a TLS alert record (content type 21), never SMTP.
        assert data == b"" or data[:1] == b"\x15", data
    with Conn(shared_sub.ports["smtps"], greet=False) as c:
        c.send(b"\x16\x03\x01\x00\x05hello")      # a broken record
        c.sock.settimeout(5)
        try:
            c.sock.recv(4096)
        except ConnectionResetError:
            pass
    line = tls_util.wait_log(shared_sub, r"event=tls-failed")
    deadline = time.monotonic() + 5
    while len(tls_util.log_lines(shared_sub, "tls-failed")) < before + 2:
        assert time.monotonic() < deadline, shared_sub.log_text()[-3000:]
        time.sleep(0.05)
    for line in tls_util.log_lines(shared_sub, "tls-failed")[before:]:
        assert re.search(r'reason="[^"]+"', line), line
    # The worker survived both and serves TLS.
    with Conn(shared_sub.ports["sub"]) as c:
        c.ehlo()
        c.starttls()
        c.ehlo()


def test_client_gone_during_handshake(shared_sub):
    for _ in range(3):
        with Conn(shared_sub.ports["sub"]) as c:
            c.ehlo()
            c.expect("STARTTLS", *tls_util.STARTTLS_GO)
        s = socket.create_connection(("127.0.0.1",
                                      shared_sub.ports["smtps"]))
        s.close()
    with Conn(shared_sub.ports["smtps"], implicit=True) as c:
        c.ehlo()
        c.expect("QUIT", 221, "2.0.0", "Bye")


# --- Received (RFC 3848) -----------------------------------------------------

def test_received_esmtpsa_tls13(shared_sub):
    tok = token()
    with Conn(shared_sub.ports["sub"]) as c:
        c.ehlo()
        c.starttls()
        c.ehlo()
        check(c.auth_plain(), *AUTH_OK)
        c.transaction(USER, [USER], message(tok, to=USER, sender=USER))
    rcvd = received_of(wait_token(shared_sub, USER, tok)[0])
    assert " with ESMTPSA id " in rcvd, rcvd
    m = RECEIVED_TLS_RE.search(rcvd)
    assert m and m.groups() == ("TLSv1.3", "TLS_AES_256_GCM_SHA384", "256",
                                "256"), rcvd
    assert rcvd.startswith("from client.example ([127.0.0.1])"), rcvd


def test_received_esmtpsa_tls12_implicit(shared_sub):
    tok = token()
    ctx = client_context(max_version=ssl.TLSVersion.TLSv1_2)
    with Conn(shared_sub.ports["smtps"], implicit=True, ctx=ctx) as c:
        c.ehlo()
        check(c.auth_login(), *AUTH_OK)
        c.transaction(USER, [USER], message(tok, to=USER, sender=USER))
    rcvd = received_of(wait_token(shared_sub, USER, tok)[0])
    assert " with ESMTPSA id " in rcvd, rcvd
    m = RECEIVED_TLS_RE.search(rcvd)
    assert m and m.groups() == ("TLSv1.2", "ECDHE-ECDSA-AES256-GCM-SHA384",
                                "256", "256"), rcvd


def test_received_plain_mx(shared_sub):
    tok = token()
    with Conn(shared_sub.port) as c:
        c.ehlo()
        c.transaction("someone@example.org", [USER], message(tok, to=USER))
    rcvd = received_of(wait_token(shared_sub, USER, tok)[0])
    assert " with ESMTP id " in rcvd, rcvd
    assert "(using" not in rcvd, rcvd


# --- Certificates: SIGHUP reload, self-signed default, key secrecy -----------

def _replace_certificate(srv, cert, tmp_path):
    """Replaces the certificate and key files atomically (as an ACME
    client does), sends SIGHUP and waits for the reload; returns the new
    fingerprint."""
    new_cert, new_key = make_cert(tmp_path / "new", cn=HOSTNAME)
    new_fp = file_fingerprint(new_cert)
    assert new_fp != file_fingerprint(cert)
    os.replace(new_key, cert.with_suffix(".key"))
    os.replace(new_cert, cert)
    tls_util.sighup(srv)
    tls_util.wait_log(srv, r"event=tls-reloaded")
    return new_fp


def _peer_fingerprint(conn):
    return pem_fingerprint(ssl.DER_cert_to_PEM_cert(
        conn.sock.getpeercert(binary_form=True)))


def test_sighup_new_connections_get_new_certificate(postern, tmp_path):
    srv, cert = tls_util.submission(postern, tmp_path)
    old_fp = file_fingerprint(cert)
    assert pem_fingerprint(ssl.get_server_certificate(
        ("127.0.0.1", srv.ports["smtps"]))) == old_fp
    new_fp = _replace_certificate(srv, cert, tmp_path)
    deadline = time.monotonic() + 10
    while True:
        pem = ssl.get_server_certificate(("127.0.0.1", srv.ports["smtps"]))
        if pem_fingerprint(pem) == new_fp or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert pem_fingerprint(pem) == new_fp
    with Conn(srv.ports["sub"]) as c:
        c.ehlo()
        c.starttls(client_context(cafile=cert))
        assert _peer_fingerprint(c) == new_fp
        c.ehlo()
        check(c.auth_plain(), *AUTH_OK)
    rc, proto, cipher, out = s_client(srv.ports["sub"], cafile=cert)
    assert proto == "TLSv1.3" and "Verify return code: 0 (ok)" in out, out


def test_sighup_keeps_open_tls_sessions(postern, tmp_path):
    srv, cert = tls_util.submission(postern, tmp_path)
    old_fp = file_fingerprint(cert)
    old = Conn(srv.ports["smtps"], implicit=True,
               ctx=client_context(cafile=cert))
    old_sub = Conn(srv.ports["sub"])
    try:
        old.ehlo()
        check(old.auth_plain(), *AUTH_OK)
        old_sub.ehlo()
        old_sub.starttls()
        old_sub.ehlo()
        new_fp = _replace_certificate(srv, cert, tmp_path)
        time.sleep(0.5)
        with Conn(srv.ports["smtps"], implicit=True) as c:
            assert _peer_fingerprint(c) == new_fp
        # The sessions opened before the reload go on, on the old one.
        assert _peer_fingerprint(old) == old_fp
        old.expect("NOOP", 250, "2.0.0", "Ok")
        tok = token()
        old.transaction(USER, [USER], message(tok, to=USER, sender=USER))
        old.expect("QUIT", 221, "2.0.0", "Bye")
        old_sub.expect("NOOP", 250, "2.0.0", "Ok")
        check(old_sub.auth_plain(), *AUTH_OK)
        old_sub.expect("QUIT", 221, "2.0.0", "Bye")
        wait_token(srv, USER, tok)
    finally:
        old.close()
        old_sub.close()


def test_sighup_with_broken_key_keeps_old_certificate(postern, tmp_path):
    srv, cert = tls_util.submission(postern, tmp_path)
    fp = file_fingerprint(cert)
    key = cert.with_suffix(".key")
    os.chmod(key, 0o644)             # now refused
    tls_util.sighup(srv)
    # Refused by the config check or by the TLS reload: either way the
    # running certificate stays.
    line = tls_util.wait_log(srv, r"event=(tls-)?reload-failed")
    assert str(key) in line and "chmod 600" in line, line
    time.sleep(0.5)
    pem = ssl.get_server_certificate(("127.0.0.1", srv.ports["smtps"]))
    assert pem_fingerprint(pem) == fp


def _selfsigned_server(postern, tmp_path, monkeypatch):
    """A server with TLS listeners and no [tls] section, started in
    tmp_path (a default path relative to the working directory must not
    land in the source tree). Returns (server, cert path, key path) as
    logged by the server."""
    monkeypatch.chdir(tmp_path)
    srv = postern({"listener sub": {"mode": "submission",
                                    "tls": "starttls"},
                   "listener smtps": {"mode": "submission",
                                      "tls": "implicit"},
                   "delivery": {"dns": tls_util.NO_DNS}}, start=False)
    srv.cli("user", "add", USER, input=PASSWORD + "\n", check=True)
    srv.start()
    # The ports accept before the certificate is made: wait for the log.
    tls_util.wait_log(srv, r"event=listening")
    lines = tls_util.log_lines(srv, "tls-selfsigned-created")
    assert len(lines) == 1, srv.log_text()[-2000:]
    m = re.search(r"hostname=(\S+) cert=(\S+) key=(\S+)", lines[0])
    assert m and m.group(1) == HOSTNAME, lines[0]
    return srv, tmp_path / m.group(2), tmp_path / m.group(3)


def test_self_signed_default_certificate(postern, tmp_path, monkeypatch):
    srv, cert, key = _selfsigned_server(postern, tmp_path, monkeypatch)
    assert cert.is_file() and key.is_file()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(cert.stat().st_mode) == 0o644
    assert stat.S_IMODE(cert.parent.stat().st_mode) == 0o700
    info = subprocess.run(["openssl", "x509", "-in", str(cert), "-noout",
                           "-subject", "-ext",
                           "subjectAltName,extendedKeyUsage", "-enddate"],
                          capture_output=True, text=True, check=True).stdout
    assert re.search(r"subject=CN\s*=\s*mx\.example\.test", info), info
    assert "DNS:mx.example.test" in info, info
    assert "TLS Web Server Authentication" in info, info
    end = datetime.datetime.strptime(
        re.search(r"notAfter=(.*)", info).group(1).strip(),
        "%b %d %H:%M:%S %Y GMT").replace(tzinfo=datetime.timezone.utc)
    days = (end.timestamp() - time.time()) / 86400
    assert 364 <= days <= 366, info
    key_info = subprocess.run(["openssl", "pkey", "-in", str(key), "-noout",
                               "-text"], capture_output=True, text=True,
                              check=True).stdout
    assert "prime256v1" in key_info or "P-256" in key_info, key_info
    fp = file_fingerprint(cert)
    # The server uses it, it verifies for the hostname, and works.
    with Conn(srv.ports["sub"]) as c:
        c.ehlo()
        c.starttls(client_context(cafile=cert))
        assert _peer_fingerprint(c) == fp
        c.ehlo()
        check(c.auth_plain(), *AUTH_OK)
    # A restart keeps it.
    assert srv.stop() == 0
    srv.start()
    assert file_fingerprint(cert) == fp
    pem = ssl.get_server_certificate(("127.0.0.1", srv.ports["smtps"]))
    assert pem_fingerprint(pem) == fp
    assert len(tls_util.log_lines(srv, "tls-selfsigned-created")) == 1, \
        srv.log_text()[-3000:]


def test_self_signed_default_is_under_spool(postern, tmp_path, monkeypatch):
    srv, cert, key = _selfsigned_server(postern, tmp_path, monkeypatch)
    assert cert.resolve() == (srv.spool / "tls" / "cert.pem").resolve()
    assert key.resolve() == (srv.spool / "tls" / "key.pem").resolve()


def _serve_expect_failure(srv):
    """Runs `postern serve` that must refuse to start; returns its log."""
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    p = subprocess.Popen([conftest.POSTERN, "serve", "-c", str(srv.conf)],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         env=env, start_new_session=True, text=True)
    try:
        out, _ = p.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        raise AssertionError("server started with an unusable key")
    conftest.assert_no_sanitizer(out)
    assert p.returncode != 0, out
    return out


def test_group_readable_key_refused(postern, tmp_path):
    cert, key = make_cert(tmp_path / "tls")
    os.chmod(key, 0o640)
    srv = postern({"listener sub": {"mode": "submission", "tls": "starttls"},
                   "tls": {"certificate": str(cert), "key": str(key)}},
                  start=False)
    out = _serve_expect_failure(srv)
    assert str(key) in out and "chmod 600" in out, out


def test_mismatched_key_refused(postern, tmp_path):
    cert, _ = make_cert(tmp_path / "a", name="a")
    _, key = make_cert(tmp_path / "b", name="b")
    srv = postern({"listener sub": {"mode": "submission", "tls": "starttls"},
                   "tls": {"certificate": str(cert), "key": str(key)}},
                  start=False)
    out = _serve_expect_failure(srv)
    assert "event=startup-failed" in out, out
    assert re.search(r"key values mismatch|key does not match", out), out


# --- Other real clients ------------------------------------------------------

def test_swaks_tls_and_tls_on_connect(shared_sub):
    for opts, port in ((["--tls"], shared_sub.ports["sub"]),
                       (["--tls-on-connect"], shared_sub.ports["smtps"])):
        tok = token()
        p = subprocess.run(
            ["swaks", "--server", f"127.0.0.1:{port}", *opts,
             "--auth", "PLAIN", "--auth-user", USER, "--auth-password",
             PASSWORD, "--from", USER, "--to", USER, "--helo",
             "client.example", "--header", f"Subject: {tok}",
             "--body", tok, "--timeout", "20"],
            capture_output=True, text=True, timeout=40)
        assert p.returncode == 0, p.stdout + p.stderr
        assert "<~  235 2.7.0 Authentication successful" in p.stdout, \
            p.stdout
        assert re.search(r"<~  250 2\.0\.0 Ok: queued as [0-9A-Z]+",
                         p.stdout), p.stdout
        rcvd = received_of(wait_token(shared_sub, USER, tok)[0])
        assert " with ESMTPSA id " in rcvd, rcvd


def test_curl_ssl_reqd_and_smtps(shared_sub, tmp_path):
    for scheme, port, extra in (
            ("smtp", shared_sub.ports["sub"], ["--ssl-reqd"]),
            ("smtps", shared_sub.ports["smtps"], [])):
        tok = token()
        msg = tmp_path / f"{tok}.eml"
        msg.write_bytes(message(tok, to=USER, sender=USER))
        # --resolve: the name the certificate is for, without any DNS.
        p = subprocess.run(
            ["curl", "-sS", "--max-time", "30",
             f"{scheme}://{HOSTNAME}:{port}/client.example", *extra,
             "--cacert", str(shared_sub.cert), "--resolve",
             f"{HOSTNAME}:{port}:127.0.0.1", "--user", f"{USER}:{PASSWORD}",
             "--login-options", "AUTH=PLAIN", "--mail-from", USER,
             "--mail-rcpt", USER, "--upload-file", str(msg)],
            capture_output=True, text=True, timeout=40)
        assert p.returncode == 0, p.stderr
        rcvd = received_of(wait_token(shared_sub, USER, tok)[0])
        assert " with ESMTPSA id " in rcvd, rcvd
