"""What the AUTH measurement needs besides the servers themselves: the one
certificate every server presents, the bench user's password in each
peer's stored form, and Dovecot as Postfix's SASL back end.

Credentials (build/bench/run/tls and run/creds):
- an ECDSA P-256 certificate for mx.bench.test, self-signed, that the
  load client (bench/authload.py) verifies; one key, so every server does
  the same TLS work;
- the password as an argon2id string with Postern's own parameters
  (libsodium crypto_pwhash_str_alg, OPSLIMIT/MEMLIMIT_INTERACTIVE: t=2,
  m=64 MiB, p=1), made with libsodium through ctypes, for Dovecot: both
  servers verify the same kind of hash at the same cost;
- the password as Dovecot's {SCRAM-SHA-256} (4096 iterations, as
  Postern's users.db), computed from RFC 5802;
- nothing for OpenSMTPD: Debian 12's OpenSMTPD 6.8 cannot complete a TLS
  handshake with OpenSSL 3 (servers.OpenSMTPD.skip), so it has no AUTH
  rows.

Dovecot runs as a private instance (dovecot -F) with base_dir and
state_dir under build/bench/run/dovecot, no protocols, only its auth
service, whose client socket Postfix's smtpd uses
(smtpd_sasl_type = dovecot). It is started and stopped with Postfix's
auth phase.
"""
import base64
import ctypes
import ctypes.util
import hashlib
import hmac
import os
import pwd
import statistics
import subprocess
import time

USER = "user@bench.test"
PASSWORD = "bench-password"
HOST = "mx.bench.test"
SCRAM_ITER = 4096
ARGON2_T = 2			# crypto_pwhash_OPSLIMIT_INTERACTIVE
ARGON2_M = 64 << 20		# crypto_pwhash_MEMLIMIT_INTERACTIVE


def _sodium():
    name = ctypes.util.find_library("sodium") or "libsodium.so.23"
    lib = ctypes.CDLL(name)
    if lib.sodium_init() < 0:
        raise OSError("sodium_init failed")
    return lib


def argon2id(password):
    """A libsodium argon2id string of password with Postern's parameters."""
    lib = _sodium()
    out = ctypes.create_string_buffer(128)
    pw = password.encode()
    rc = lib.crypto_pwhash_argon2id_str(
        out, pw, ctypes.c_ulonglong(len(pw)), ctypes.c_ulonglong(ARGON2_T),
        ctypes.c_size_t(ARGON2_M))
    if rc != 0:
        raise OSError("crypto_pwhash_argon2id_str failed")
    return out.value.decode()


def argon2id_verify_ms(stored, password, n=3):
    """Median milliseconds of one libsodium verification of stored: the
    cost every PLAIN handshake pays on a server that keeps argon2id."""
    lib = _sodium()
    pw = password.encode()
    times = []
    for _ in range(n):
        t0 = time.monotonic()
        rc = lib.crypto_pwhash_str_verify(stored.encode(), pw,
                                          ctypes.c_ulonglong(len(pw)))
        times.append((time.monotonic() - t0) * 1000)
        if rc != 0:
            raise OSError("crypto_pwhash_str_verify failed")
    return round(statistics.median(times), 1)


def scram_sha256(password, iters=SCRAM_ITER):
    """Dovecot's {SCRAM-SHA-256} form: iter,salt,StoredKey,ServerKey."""
    salt = os.urandom(16)
    sp = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iters)
    ckey = hmac.new(sp, b"Client Key", hashlib.sha256).digest()
    skey = hmac.new(sp, b"Server Key", hashlib.sha256).digest()

    def b64(b):
        return base64.b64encode(b).decode()
    return f"{iters},{b64(salt)},{b64(hashlib.sha256(ckey).digest())}," \
        f"{b64(skey)}"


class Credentials:
    """The certificate and the stored passwords, made once per bench."""

    def __init__(self, run_dir):
        self.dir = run_dir / "tls"
        self.cert = self.dir / "cert.pem"
        self.key = self.dir / "key.pem"
        self.user, self.password = USER, PASSWORD
        self.argon2 = None
        self.scram = None
        self.verify_ms = None

    def setup(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        p = subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj",
             f"/CN={HOST}", "-addext", f"subjectAltName=DNS:{HOST}",
             "-keyout", str(self.key), "-out", str(self.cert)],
            capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise OSError(f"openssl req: {p.stderr.strip()[-300:]}")
        self.key.chmod(0o600)
        self.argon2 = argon2id(self.password)
        self.scram = scram_sha256(self.password)
        self.verify_ms = argon2id_verify_ms(self.argon2, self.password)

    def argon2_label(self):
        return f"argon2id t={ARGON2_T}, m={ARGON2_M >> 20} MiB, p=1"


class Dovecot:
    """A private Dovecot auth service for Postfix (see the module
    comment). start() returns once its client socket exists."""

    def __init__(self, ctx, creds):
        self.ctx, self.creds = ctx, creds
        self.dir = ctx.run / "dovecot"
        self.socket = self.dir / "base" / "auth-client"
        self.proc = None
        self.logf = None
        self.version = ""

    def setup(self):
        d = self.dir
        for sub in ("base", "state"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        nobody = pwd.getpwnam("nobody")
        ids = f"{nobody.pw_uid}:{nobody.pw_gid}::/nonexistent::"
        (d / "passwd.argon2").write_text(
            f"{USER}:{{ARGON2ID}}{self.creds.argon2}:{ids}\n")
        (d / "passwd.scram").write_text(
            f"{USER}:{{SCRAM-SHA-256}}{self.creds.scram}:{ids}\n")
        for f in ("passwd.argon2", "passwd.scram"):
            (d / f).chmod(0o644)
        (d / "dovecot.conf").write_text(self._conf())
        p = subprocess.run(["dovecot", "--version"], capture_output=True,
                           text=True, timeout=30)
        self.version = "Dovecot " + p.stdout.split()[0] if p.stdout else ""

    def _conf(self):
        d = self.dir
        return f"""# generated by bench/authsetup.py
instance_name = postern-bench
base_dir = {d}/base
state_dir = {d}/state
protocols =
listen = 127.0.0.1
log_path = {d}/log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login scram-sha-256
auth_cache_size = 0
passdb {{
  driver = passwd-file
  mechanisms = plain login
  args = scheme=ARGON2ID username_format=%u {d}/passwd.argon2
}}
passdb {{
  driver = passwd-file
  mechanisms = scram-sha-256
  args = scheme=SCRAM-SHA-256 username_format=%u {d}/passwd.scram
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {d}/passwd.argon2
}}
service auth {{
  unix_listener auth-client {{
    mode = 0666
  }}
}}
"""

    def start(self):
        self.socket.unlink(missing_ok=True)
        self.logf = open(self.dir / "stderr", "ab")
        self.proc = subprocess.Popen(
            ["dovecot", "-F", "-c", str(self.dir / "dovecot.conf")],
            stdin=subprocess.DEVNULL, stdout=self.logf, stderr=self.logf,
            start_new_session=True)
        (self.ctx.pids / "dovecot.pid").write_text(str(self.proc.pid))
        deadline = time.monotonic() + 20
        while not self.socket.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                return -1
            time.sleep(0.05)
        return 0

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait()
        self.proc = None
        self.logf.close()
        (self.ctx.pids / "dovecot.pid").unlink(missing_ok=True)

    def log_tail(self, n=600):
        text = ""
        for f in ("log", "stderr"):
            try:
                text += (self.dir / f).read_text(errors="replace")
            except OSError:
                pass
        return text[-n:].strip()
