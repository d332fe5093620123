"""Black-box tests of `postern user` and `postern alias`: the command line,
exit codes, the SQLite store it writes (file mode, schema, WAL), the stored
secrets (argon2id checked with libsodium, SCRAM-SHA-256 keys recomputed
with hashlib/hmac) and that passwords never show in argv, ps or logs."""
import base64
import ctypes
import ctypes.util
import hashlib
import hmac
import os
import sqlite3
import stat
import subprocess
import time

import pytest

from conftest import POSTERN, run

EX_USAGE, EX_DATAERR, EX_NOINPUT, EX_CONFIG = 64, 65, 66, 78


def sodium():
    lib = ctypes.CDLL(ctypes.util.find_library("sodium") or
                      "libsodium.so.23")
    assert lib.sodium_init() >= 0
    lib.crypto_pwhash_str_verify.argtypes = [
        ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulonglong]
    return lib


def argon2_ok(hash_text, password):
    pw = password.encode()
    return sodium().crypto_pwhash_str_verify(hash_text.encode(), pw,
                                             len(pw)) == 0


def scram_keys(password, salt, iterations):
    """RFC 5802 §3 with SHA-256, independently of the C code."""
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt,
                                 iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    return hashlib.sha256(client_key).digest(), server_key


@pytest.fixture
def mk(postern, tmp_path):
    """The conftest `postern` factory. XXX conftest's Server writes its
    config before it creates its directory; making the directories first
    works with and without that fixed."""
    def make(**kw):
        for i in range(4):
            (tmp_path / f"srv{i}").mkdir(exist_ok=True)
        return postern(**kw)
    return make


@pytest.fixture
def srv(mk):
    """A config (not started): local domains example.test, example.org."""
    return mk(start=False)


def db_path(s):
    return s.base / "users.db"


def user_row(s, address):
    with sqlite3.connect(db_path(s)) as db:
        db.row_factory = sqlite3.Row
        return db.execute("SELECT * FROM users WHERE address = ?",
                          (address,)).fetchone()


def add(s, address, password="s3cret pass", **kw):
    return s.cli("user", "add", address, input=password + "\n", **kw)


def test_add_list_passwd_del(srv):
    p = add(srv, "Alice@Example.TEST")
    assert p.returncode == 0, p.stderr
    assert p.stdout == "user alice@example.test added\n"
    assert add(srv, "bob@example.org").returncode == 0
    p = srv.cli("user", "list")
    assert (p.returncode, p.stdout) == (0, "alice@example.test\n"
                                           "bob@example.org\n")

    old = user_row(srv, "alice@example.test")
    assert argon2_ok(old["argon2"], "s3cret pass")
    assert old["argon2"].startswith("$argon2id$")

    p = add(srv, "alice@example.test", "other")
    assert p.returncode == EX_DATAERR
    assert "exists" in p.stderr and "passwd" in p.stderr
    assert user_row(srv, "alice@example.test")["argon2"] == old["argon2"]

    p = srv.cli("user", "passwd", "alice@example.test", input="n3w\n")
    assert (p.returncode, p.stdout) == (
        0, "password of alice@example.test changed\n")
    new = user_row(srv, "alice@example.test")
    assert argon2_ok(new["argon2"], "n3w")
    assert not argon2_ok(new["argon2"], "s3cret pass")
    assert new["scram_salt"] != old["scram_salt"]
    assert new["scram_stored_key"] != old["scram_stored_key"]
    assert new["created"] == old["created"]

    p = srv.cli("user", "passwd", "carol@example.test", input="x\n")
    assert p.returncode == EX_DATAERR
    assert "no such user: carol@example.test" in p.stderr

    assert srv.cli("alias", "add", "team@example.test",
                   "Alice+x@example.test").returncode == 0
    p = srv.cli("user", "del", "ALICE@example.test")
    assert (p.returncode, p.stdout) == (0,
                                        "user alice@example.test deleted\n")
    assert "alias team@example.test still has target Alice+x@example.test" \
        in p.stderr
    assert srv.cli("user", "list").stdout == "bob@example.org\n"
    p = srv.cli("user", "del", "alice@example.test")
    assert p.returncode == EX_DATAERR
    assert "no such user" in p.stderr


def test_scram_columns_match_python(srv):
    password = "correct horse battery staple"
    assert add(srv, "scram@example.test", password).returncode == 0
    row = user_row(srv, "scram@example.test")
    salt, iterations = row["scram_salt"], row["scram_iter"]
    assert isinstance(salt, bytes) and len(salt) == 16
    assert iterations >= 4096
    stored, server = scram_keys(password, salt, iterations)
    assert row["scram_stored_key"] == stored
    assert row["scram_server_key"] == server
    assert scram_keys("correct horse battery stapl", salt,
                      iterations)[0] != stored
    assert row["cram_secret"] is None
    # A second user with the same password gets another salt and keys.
    assert add(srv, "twin@example.test", password).returncode == 0
    twin = user_row(srv, "twin@example.test")
    assert twin["scram_salt"] != salt
    assert twin["scram_stored_key"] != stored


def test_cram_secret_only_when_configured(mk):
    s = mk(sections={"auth": {
        "mechanisms": "SCRAM-SHA-256, PLAIN, LOGIN, CRAM-MD5"}},
        start=False)
    p = add(s, "c@example.test", "cram pw")
    assert (p.returncode, p.stdout) == (
        0, "user c@example.test added (with a CRAM-MD5 secret)\n")
    assert user_row(s, "c@example.test")["cram_secret"] == "cram pw"
    assert s.cli("user", "list").stdout == "c@example.test cram\n"
    # CRAM-MD5 needs the password itself: at most 255 bytes then.
    p = add(s, "long@example.test", "x" * 256)
    assert p.returncode == EX_DATAERR and "CRAM-MD5" in p.stderr

    plain = mk(start=False)
    assert add(plain, "c@example.test", "cram pw").returncode == 0
    assert user_row(plain, "c@example.test")["cram_secret"] is None
    assert plain.cli("user", "list").stdout == "c@example.test\n"
    assert add(plain, "long@example.test", "x" * 1024).returncode == 0
    assert add(plain, "longer@example.test", "x" * 1025).returncode == \
        EX_DATAERR


@pytest.mark.parametrize("args,stdin,code,message", [
    (["user", "add", "bob@elsewhere.test"], "pw\n", EX_DATAERR,
     "elsewhere.test is not a local domain"),
    (["user", "add", "bob+tag@example.test"], "pw\n", EX_DATAERR,
     "'+' is the address tag separator"),
    (["user", "add", "not-an-address"], "pw\n", EX_DATAERR,
     "invalid address"),
    (["user", "add", "a b@example.test"], "pw\n", EX_DATAERR,
     "invalid address"),
    (["user", "add", '"q"@example.test'], "pw\n", EX_DATAERR,
     "Maildir"),
    (["user", "add", "a/b@example.test"], "pw\n", EX_DATAERR, "Maildir"),
    (["user", "add", "bob@example.test"], "", EX_DATAERR,
     "empty password"),
    (["user", "add", "bob@example.test"], "\n", EX_DATAERR,
     "empty password"),
    (["user", "add", "bob@example.test"], "a\x01b\n", EX_DATAERR,
     "SASLprep"),
    (["user", "add"], "pw\n", EX_USAGE, "one ADDRESS wanted"),
    (["user", "add", "a@example.test", "b@example.test"], "pw\n", EX_USAGE,
     "one ADDRESS wanted"),
    (["user", "list", "extra"], "", EX_USAGE, "no operands wanted"),
    (["user"], "", EX_USAGE, "add, passwd, del or list?"),
    (["user", "frob", "a@example.test"], "", EX_USAGE,
     "unknown subcommand 'frob'"),
    (["user", "add", "a@example.test", "--bogus"], "pw\n", EX_USAGE,
     "bad option"),
    (["user", "del", "a@example.test", "--password-file", "/dev/null"], "",
     EX_USAGE, "--password-file is for add and passwd"),
    (["alias", "add", "x@elsewhere.test", "a@example.test"], "", EX_DATAERR,
     "elsewhere.test is not a local domain"),
    (["alias", "add", "x+y@example.test", "a@example.test"], "", EX_DATAERR,
     "tag separator"),
    (["alias", "add", "x@example.test", "bad target"], "", EX_DATAERR,
     "invalid target address: bad target"),
    (["alias", "add", "x@example.test", "a@example.test,,b@example.test"],
     "", EX_DATAERR, "empty target"),
    (["alias", "add", "x@example.test", "X+self@example.test"], "",
     EX_DATAERR, "cannot be a target of itself"),
    (["alias", "add", "x@example.test"], "", EX_USAGE,
     "ADDRESS TARGET[,TARGET...] wanted"),
    (["alias", "del"], "", EX_USAGE, "ADDRESS [TARGET...] wanted"),
    (["alias", "del", "nope@example.test"], "", EX_DATAERR,
     "no such alias: nope@example.test"),
    (["alias"], "", EX_USAGE, "add, del or list?"),
])
def test_errors_and_exit_codes(srv, args, stdin, code, message):
    assert add(srv, "a@example.test").returncode == 0
    p = srv.cli(*args, input=stdin)
    assert p.returncode == code, p.stderr
    assert message in p.stderr
    assert p.stdout == ""
    assert srv.cli("user", "list").stdout == "a@example.test\n"


def test_bad_config_exits_78(srv):
    srv.conf.write_text(srv.conf.read_text() + "\n[auth]\nbogus = 1\n")
    p = srv.cli("user", "list")
    assert p.returncode == EX_CONFIG
    assert "bogus" in p.stderr


def test_options_before_or_after_operands(srv):
    p = run(["user", "add", "-c", str(srv.conf), "pre@example.test"],
            input="pw\n")
    assert p.returncode == 0, p.stderr
    p = run(["user", "add", "post@example.test", "-c", str(srv.conf)],
            input="pw\n")
    assert p.returncode == 0, p.stderr
    p = run(["user", "--config", str(srv.conf), "list"])
    assert p.stdout == "post@example.test\npre@example.test\n"


@pytest.mark.parametrize("command", ["user", "alias"])
def test_help(command):
    p = run([command, "--help"])
    assert p.returncode == 0
    assert p.stdout.startswith(f"usage: postern {command} add ADDRESS")
    assert "-c, --config FILE" in p.stdout


def test_password_file(srv, tmp_path):
    pwfile = tmp_path / "pw"
    pwfile.write_text("from file\nsecond line ignored\n")
    for mode in (0o644, 0o640, 0o604):
        os.chmod(pwfile, mode)
        p = srv.cli("user", "add", "f@example.test", "--password-file",
                    str(pwfile))
        assert p.returncode == EX_DATAERR
        assert "readable by group or others" in p.stderr
        assert "chmod 600" in p.stderr
    assert not db_path(srv).exists() or \
        user_row(srv, "f@example.test") is None
    os.chmod(pwfile, 0o600)
    p = srv.cli("user", "add", "f@example.test", "--password-file",
                str(pwfile))
    assert p.returncode == 0, p.stderr
    row = user_row(srv, "f@example.test")
    assert argon2_ok(row["argon2"], "from file")
    assert not argon2_ok(row["argon2"], "from file\nsecond line ignored")

    # CRLF line end, passwd from a file too.
    pwfile.write_bytes(b"crlf pw\r\n")
    p = srv.cli("user", "passwd", "f@example.test", "--password-file",
                str(pwfile))
    assert p.returncode == 0, p.stderr
    assert argon2_ok(user_row(srv, "f@example.test")["argon2"], "crlf pw")

    p = srv.cli("user", "add", "g@example.test", "--password-file",
                str(tmp_path / "missing"))
    assert p.returncode == EX_NOINPUT
    p = srv.cli("user", "add", "g@example.test", "--password-file",
                str(tmp_path))
    assert p.returncode == EX_DATAERR and "not a regular file" in p.stderr


@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_db_file_mode_and_schema(srv, umask):
    old = os.umask(umask)
    try:
        assert add(srv, "m@example.test").returncode == 0
    finally:
        os.umask(old)
    st = os.stat(db_path(srv))
    assert stat.S_IMODE(st.st_mode) == 0o600
    with sqlite3.connect(db_path(srv)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 1
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        cols = [r[1] for r in db.execute("PRAGMA table_info(users)")]
    assert cols == ["address", "argon2", "scram_salt", "scram_iter",
                    "scram_stored_key", "scram_server_key", "cram_secret",
                    "created"]


def test_db_in_new_directory(mk, tmp_path):
    where = tmp_path / "deep" / "er" / "users.db"
    s = mk(sections={"auth": {"database": str(where)}}, start=False)
    assert add(s, "d@example.test").returncode == 0
    assert stat.S_IMODE(os.stat(where).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(where.parent).st_mode) == 0o700


def test_list_without_database_creates_nothing(srv):
    for args in (["user", "list"], ["alias", "list"]):
        p = srv.cli(*args)
        assert (p.returncode, p.stdout) == (0, "")
    p = srv.cli("user", "del", "x@example.test")
    assert p.returncode == EX_DATAERR and "no such user" in p.stderr
    assert not db_path(srv).exists()


def test_aliases(srv):
    for u in ("alice@example.test", "bob@example.test"):
        assert add(srv, u).returncode == 0
    p = srv.cli("alias", "add", "Postmaster@Example.test",
                "alice@example.test,bob@example.test", "Ext@Remote.TEST")
    assert p.returncode == 0, p.stderr
    assert p.stdout == "alias postmaster@example.test: 3 targets added\n"
    # Appending: only new targets count; unknown local ones get a warning.
    p = srv.cli("alias", "add", "postmaster@example.test",
                "bob@example.test, ghost@example.org")
    assert p.returncode == 0
    assert p.stdout == "alias postmaster@example.test: 1 target added\n"
    assert "ghost@example.org is neither a user nor an alias" in p.stderr
    p = srv.cli("alias", "add", "team@example.org", "alice@example.test")
    assert p.returncode == 0
    p = srv.cli("alias", "list")
    assert p.stdout == (
        "postmaster@example.test -> alice@example.test, bob@example.test, "
        "Ext@remote.test, ghost@example.org\n"
        "team@example.org -> alice@example.test\n")

    # Users and aliases never share an address.
    p = srv.cli("alias", "add", "alice@example.test", "bob@example.test")
    assert p.returncode == EX_DATAERR and "is a user" in p.stderr
    p = add(srv, "team@example.org")
    assert p.returncode == EX_DATAERR and "is an alias" in p.stderr

    p = srv.cli("alias", "del", "postmaster@example.test",
                "ghost@example.org,Ext@remote.test")
    assert (p.returncode, p.stdout) == (
        0, "alias postmaster@example.test: 2 targets deleted\n")
    p = srv.cli("alias", "del", "postmaster@example.test",
                "nobody@example.test")
    assert p.returncode == EX_DATAERR and "is not a target" in p.stderr
    p = srv.cli("alias", "del", "team@example.org")
    assert (p.returncode, p.stdout) == (0,
                                        "alias team@example.org deleted\n")
    assert srv.cli("alias", "list").stdout == (
        "postmaster@example.test -> alice@example.test, bob@example.test\n")


def test_password_not_in_argv_ps_or_output(srv):
    password = "Pw-only-on-stdin-7f3a9c"
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    proc = subprocess.Popen(
        [POSTERN, "user", "add", "ps@example.test", "-c", str(srv.conf)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, env=env, text=True)
    try:
        # While it waits for the password, nothing shows it; then while it
        # hashes, neither.
        time.sleep(0.3)
        ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True,
                            text=True).stdout
        assert f"{proc.pid} " in ps
        assert password not in ps
        proc.stdin.write(password + "\n")
        proc.stdin.flush()
        ps = subprocess.run(["ps", "-eo", "args"], capture_output=True,
                            text=True).stdout
        assert password not in ps
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert password not in out + err
    p = srv.cli("user", "passwd", "ps@example.test", input=password + "x\n")
    assert p.returncode == 0
    assert password not in p.stdout + p.stderr


def test_concurrent_writers(srv):
    """Several CLI writers at once: WAL and the busy timeout serialise
    them; none fails."""
    assert add(srv, "first@example.test").returncode == 0
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    procs = [subprocess.Popen(
        [POSTERN, "user", "add", f"u{i}@example.test", "-c", str(srv.conf)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, env=env, text=True) for i in range(6)]
    procs += [subprocess.Popen(
        [POSTERN, "alias", "add", f"a{i}@example.test", "first@example.test",
         "-c", str(srv.conf)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
        for i in range(4)]
    results = [p.communicate(input="pw\n" if p.stdin else None, timeout=60)
               for p in procs]
    for p, (out, err) in zip(procs, results):
        assert p.returncode == 0, err
    users = srv.cli("user", "list").stdout.split()
    assert users == sorted(["first@example.test"] +
                           [f"u{i}@example.test" for i in range(6)])
    assert len(srv.cli("alias", "list").stdout.splitlines()) == 4


def test_cli_writes_while_server_runs(mk):
    """The running server holds the store open; the CLI still writes, and
    the password never reaches the server's log."""
    s = mk()
    password = "Pw-while-serving-51be"
    p = add(s, "live@example.test", password)
    assert p.returncode == 0, p.stderr
    p = s.cli("alias", "add", "postmaster@example.test", "live@example.test")
    assert p.returncode == 0, p.stderr
    assert s.cli("user", "list").stdout == "live@example.test\n"
    assert argon2_ok(user_row(s, "live@example.test")["argon2"], password)
    assert password not in s.log_text()


def _read_until(fd, marker, timeout=30.0):
    """Bytes read from fd until marker shows up (or the time is out)."""
    import select
    buf = b""
    deadline = time.monotonic() + timeout
    while marker not in buf and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            buf += chunk
    assert marker in buf, buf
    return buf


def _echo_off(fd, timeout=30.0):
    import termios
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not termios.tcgetattr(fd)[3] & termios.ECHO:
            return
        time.sleep(0.02)
    raise AssertionError("echo never turned off")


def _drain(fd):
    import select
    out = b""
    try:
        while select.select([fd], [], [], 0.2)[0]:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            out += chunk
    except OSError:     # EIO once the terminal's last user is gone
        pass
    return out


@pytest.mark.parametrize("second,code", [("Tty-pass-93c1", 0),
                                         ("Tty-pass-other", EX_DATAERR)])
def test_password_prompt_on_terminal(srv, second, code):
    """On a terminal the password is asked twice, without echo."""
    import pty
    password = "Tty-pass-93c1"
    master, slave = pty.openpty()
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    proc = subprocess.Popen(
        [POSTERN, "user", "add", "tty@example.test", "-c", str(srv.conf)],
        stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=env)
    os.close(slave)
    try:
        err = _read_until(proc.stderr.fileno(), b"Password: ")
        _echo_off(master)
        os.write(master, password.encode() + b"\n")
        err += _read_until(proc.stderr.fileno(), b"Retype password: ")
        os.write(master, second.encode() + b"\n")
        out, rest = proc.communicate(timeout=60)
        err += rest
        echoed = _drain(master)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    assert proc.returncode == code, err
    assert password.encode() not in echoed + out + err
    if code == 0:
        assert out == b"user tty@example.test added\n"
        assert argon2_ok(user_row(srv, "tty@example.test")["argon2"],
                         password)
    else:
        assert b"the passwords do not match" in err
        assert out == b""


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown")
def test_new_database_given_to_server_user(mk, tmp_path):
    """Run as root with [server] user set, a new store (and the directory
    made for it) belongs to that user, so the server can open it after
    dropping privileges."""
    import pwd
    nobody = pwd.getpwnam("nobody")
    where = tmp_path / "lib" / "users.db"
    s = mk(sections={"server": {"user": "nobody"},
                     "auth": {"database": str(where)}}, start=False)
    p = add(s, "n@example.test")
    assert p.returncode == 0, p.stderr
    for path in (where, where.parent):
        st = os.stat(path)
        assert (st.st_uid, st.st_gid) == (nobody.pw_uid, nobody.pw_gid)
    assert stat.S_IMODE(os.stat(where).st_mode) == 0o600
    # An existing store keeps its owner.
    os.chown(where, 0, 0)
    assert add(s, "m@example.test").returncode == 0
    assert os.stat(where).st_uid == 0
