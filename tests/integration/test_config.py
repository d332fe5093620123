"""`postern config check|show` and `postern version` (SPEC §2, §3, §4):
exit 0 with "FILE: ok" and the listeners, or exit 78 with the exact
"FILE:LINE: message"; the example config passes; -c before or after the
operand; the built-in defaults; version lists every linked library."""
import os
import re
import ssl
import sqlite3
import subprocess

import pytest

from conftest import POSTERN, ROOT, run

LISTENER = "[listener mx]\naddress = 127.0.0.1:2525\n"
DEFAULTS_SUMMARY = ("listeners: mx 127.0.0.1:2525 (mx, tls starttls, auth "
                    "optional); submission 127.0.0.1:5587 (submission, tls "
                    "starttls, auth required)\n")


def run_in(cwd, args):
    """Runs postern in directory cwd (for the ./postern.conf lookup)."""
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1")
    p = subprocess.run([POSTERN] + args, cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=60)
    assert "ERROR: AddressSanitizer" not in p.stderr, p.stderr
    assert "runtime error:" not in p.stderr, p.stderr
    return p


def write(tmp_path, text, name="t.conf"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_example_config_passes():
    path = str(ROOT / "postern.conf.example")
    p = run(["config", "check", "-c", path])
    assert p.returncode == 0, p.stderr
    assert p.stdout == (
        f"{path}: ok\n"
        "listeners: mx 0.0.0.0:25 (mx, tls starttls, auth off); "
        "mx6 [::]:25 (mx, tls starttls, auth off); "
        "submission 0.0.0.0:587 (submission, tls starttls, auth required); "
        "submissions 0.0.0.0:465 (submission, tls implicit, auth required)\n")
    assert p.stderr == ""


def test_example_config_documents_every_key():
    """Every key that `config show` prints appears in the example."""
    shown = run(["config", "show"], check=True).stdout
    example = (ROOT / "postern.conf.example").read_text()
    doc = (ROOT / "docs" / "configuration.md").read_text()
    keys = re.findall(r"^(\w+) =", shown, re.M)
    assert len(set(keys)) == 28
    for key in set(keys):
        assert re.search(rf"^#? ?{key} =", example, re.M), key
        assert f"`{key}`" in doc, key


def test_defaults_without_file(tmp_path):
    p = run_in(tmp_path, ["config", "check"])
    assert p.returncode == 0, p.stderr
    assert p.stdout == "(defaults): ok\n" + DEFAULTS_SUMMARY


def test_default_file_in_cwd(tmp_path):
    (tmp_path / "postern.conf").write_text(LISTENER)
    p = run_in(tmp_path, ["config", "check"])
    assert p.returncode == 0, p.stderr
    assert p.stdout == ("./postern.conf: ok\nlisteners: mx 127.0.0.1:2525 "
                        "(mx, tls none, auth off)\n")
    (tmp_path / "postern.conf").write_text("[server]\nbogus = 1\n")
    p = run_in(tmp_path, ["config", "check"])
    assert p.returncode == 78
    assert p.stderr == "./postern.conf:2: unknown key 'bogus' in [server]\n"


@pytest.mark.parametrize("args", [
    ["config", "check", "-c", "{}"],
    ["config", "-c", "{}", "check"],
    ["config", "--config", "{}", "check"],
    ["config", "check", "--config={}"],
])
def test_option_before_or_after_operand(tmp_path, args):
    path = write(tmp_path, LISTENER + "mode = mx\n")
    p = run([a.format(path) for a in args])
    assert p.returncode == 0, p.stderr
    assert p.stdout == (f"{path}: ok\nlisteners: mx 127.0.0.1:2525 (mx, tls "
                        "none, auth off)\n")


BAD = [
    ("[server]\nfoo = 1\n" + LISTENER, "2: unknown key 'foo' in [server]"),
    (LISTENER + "\n[mail]\n",
     "4: unknown section [mail] (known: server, listener NAME, tls, auth, "
     "domains, delivery)"),
    ("[server]\nmaildir = /m/%u\n",
     "2: unknown key 'maildir' in [server] (it belongs in [delivery])"),
    ("# c\n[server]\nhostname mx.example\n",
     "3: syntax error: expected 'key = value', '[section]' or a comment"),
    ("[server]\ntimeout = 5m\ntimeout = 6m\n",
     "3: duplicate key 'timeout' (first set at line 2)"),
    (LISTENER + "[listener mx]\naddress = 127.0.0.1:2526\n",
     "3: duplicate listener name 'mx' (first at line 1)"),
    (LISTENER + "[listener b]\naddress = 127.0.0.1:2525\n",
     "4: listener 'b': address 127.0.0.1:2525 collides with listener 'mx' "
     "(127.0.0.1:2525, line 2)"),
    ("[server]\ntimeout = 5m\n[listener mx]\nmode = mx\n",
     "3: listener 'mx' has no address (e.g. address = 0.0.0.0:25)"),
    ("[server]\ntimeout = 5m\n", "2: no [listener NAME] section: at least "
     "one listener is needed"),
    (LISTENER + "[server]\ntimeout = 5x\n",
     "4: timeout: bad duration '5x' (e.g. 30s, 5m, 1h, 5d)"),
    (LISTENER + "[server]\nmax_message_size = 35Q\n",
     "4: max_message_size: bad size '35Q' (e.g. 512k, 35M, 1G)"),
    (LISTENER + "[server]\nmax_recipients = 0\n",
     "4: max_recipients: 0 is out of range (1 to 100000)"),
    (LISTENER + "[auth]\nplaintext = maybe\n",
     "4: plaintext: bad boolean 'maybe' (use yes or no)"),
    (LISTENER + "[auth]\nmechanisms = PLAIN, GSSAPI\n",
     "4: mechanisms: unknown mechanism 'GSSAPI' (known: PLAIN, LOGIN, "
     "SCRAM-SHA-256, SCRAM-SHA-256-PLUS, CRAM-MD5)"),
    ("[listener v6]\naddress = ::1:25\n",
     "2: address: an IPv6 address needs brackets: [ADDRESS]:PORT"),
    ("[listener mx]\naddress = mx.example.org:25\n",
     "2: address: 'mx.example.org' is not an IP address (use 0.0.0.0, [::], "
     "* or a numeric address)"),
    (LISTENER + "mode = submission\nauth = off\n",
     "4: listener 'mx': a submission listener needs auth = optional or "
     "required"),
    (LISTENER + "[delivery]\nretry = 1m, 5m, soon\n",
     "4: retry: bad duration 'soon' (e.g. 30s, 5m, 1h, 5d)"),
    (LISTENER + "[delivery]\nmaildir = /var/mail/%d\n",
     "4: maildir: the pattern needs %u (the user), e.g. /var/mail/%d/%u"),
    (LISTENER + "[domains]\nlocal = example.org, example.org\n",
     "4: local: 'example.org' is listed twice"),
    (LISTENER + "[delivery]\ndns = resolver.example\n",
     "4: dns: 'resolver.example' is not an IP address (the resolver "
     "address cannot itself be looked up)"),
]


@pytest.mark.parametrize("text,want", BAD, ids=[w.split(":")[1].strip()[:30]
                                                 for _, w in BAD])
def test_bad_file(tmp_path, text, want):
    path = write(tmp_path, text)
    p = run(["config", "check", "-c", path])
    assert p.returncode == 78
    assert p.stdout == ""
    assert p.stderr == f"{path}:{want}\n"


def test_missing_file(tmp_path):
    path = str(tmp_path / "nope.conf")
    p = run(["config", "check", "-c", path])
    assert p.returncode == 78
    assert p.stderr == f"{path}: No such file or directory\n"


def test_key_file_permissions(tmp_path):
    key = tmp_path / "key.pem"
    key.write_text("not really a key\n")
    key.chmod(0o640)
    path = write(tmp_path, LISTENER + f"[tls]\nkey = {key}\n")
    p = run(["config", "check", "-c", path])
    assert p.returncode == 78
    assert p.stderr == (f"{path}:4: key: {key} is accessible by group or "
                        "others (mode 0640); chmod 600 it\n")
    key.chmod(0o600)
    p = run(["config", "check", "-c", path])
    assert p.returncode == 0, p.stderr
    key.unlink()
    p = run(["config", "check", "-c", path])
    assert p.returncode == 0, p.stderr


def test_warnings_do_not_fail(tmp_path):
    path = write(tmp_path, LISTENER + "[auth]\nmechanisms = PLAIN, CRAM-MD5\n"
                 "[listener sub]\naddress = 127.0.0.1:2526\n"
                 "mode = submission\n")
    p = run(["config", "check", "-c", path])
    assert p.returncode == 0
    assert p.stderr == (
        f"{path}:5: warning: listener 'sub': AUTH is never offered (tls = "
        "none and [auth] plaintext = no)\n"
        f"{path}:4: warning: CRAM-MD5 needs a plaintext-equivalent secret "
        "stored for each user\n")
    assert p.stdout.endswith("sub 127.0.0.1:2526 (submission, tls none, "
                             "auth required)\n")


def test_show_round_trips(tmp_path):
    src = write(tmp_path, "[server]\nhostname = mx.example.test\n"
                "timeout = 90\nmax_message_size = 10240\n" + LISTENER +
                "[delivery]\nrelay = [smtp.example.net]\nretry = 1h30m\n"
                "dns = [::1]:5353\n")
    shown = run(["config", "show", "-c", src], check=True).stdout
    assert "hostname = mx.example.test\n" in shown
    assert "timeout = 90s\n" in shown
    assert "max_message_size = 10k\n" in shown
    assert "relay = smtp.example.net:25\n" in shown
    assert "retry = 90m\n" in shown
    assert "dns = [::1]:5353\n" in shown
    assert "[listener mx]\naddress = 127.0.0.1:2525\nmode = mx\n" \
           "tls = none\nauth = off\n" in shown
    again = write(tmp_path, shown, "shown.conf")
    assert run(["config", "show", "-c", again], check=True).stdout == shown


def test_fixture_config_is_valid(postern):
    """The config the black-box fixture writes passes the checker."""
    srv = postern(start=False)
    p = srv.cli("config", "check")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith(f"{srv.conf}: ok\nlisteners: mx 127.0.0.1:")


@pytest.mark.parametrize("args,code", [
    (["config"], 64),
    (["config", "verify"], 64),
    (["config", "check", "extra"], 64),
    (["config", "check", "-x"], 64),
    (["config", "check", "-c"], 64),
])
def test_usage_errors(args, code):
    p = run(args)
    assert p.returncode == code
    assert "usage: postern config check [-c FILE]" in p.stderr


def test_help():
    for args in (["config", "--help"], ["config", "check", "--help"]):
        p = run(args)
        assert p.returncode == 0
        assert p.stdout.startswith("usage: postern config check [-c FILE]\n"
                                   "       postern config show [-c FILE]\n")
    p = run(["version", "--help"])
    assert p.returncode == 0
    assert p.stdout.startswith("usage: postern version\n")


def test_other_commands_refuse_bad_config(tmp_path):
    path = write(tmp_path, "[server]\nworkers = 1000\n" + LISTENER)
    p = run(["serve", "-c", path], timeout=30)
    assert p.returncode == 78
    assert f"{path}:2: workers: 1000 is out of range (0 to 256)" in p.stderr


def test_version():
    p = run(["version"])
    assert p.returncode == 0
    lines = p.stdout.splitlines()
    assert len(lines) == 7
    assert lines[0] == "postern 0.1.0"
    assert re.fullmatch(r"libevent 2\.1\.\d+-stable", lines[1])
    # Python's ssl and sqlite3 modules use the same system libraries.
    assert lines[2] == ssl.OPENSSL_VERSION
    assert re.fullmatch(r"GNU SASL \d+\.\d+\.\d+", lines[3])
    assert re.fullmatch(r"libunbound 1\.\d+\.\d+", lines[4])
    assert lines[5] == f"SQLite {sqlite3.sqlite_version}"
    assert re.fullmatch(r"libsodium 1\.\d+\.\d+", lines[6])
    assert run(["version", "extra"]).returncode == 64
