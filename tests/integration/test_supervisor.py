"""The supervisor of `postern serve`: restarting children that die,
reloading on SIGHUP without dropping sessions, stopping cleanly on SIGTERM,
and dropping privileges to [server] user."""
import os
import pathlib
import pwd
import re
import signal
import subprocess
import time

import conftest
from conftest import free_port
from smtp_util import (HOSTNAME, SMTPConn, check_354, fake_dns,  # noqa: F401
                       message, mx, queued_id, token, wait_token)


def children(srv):
    """{pid: kind} of the server's children, from /proc."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        if ppid == srv.proc.pid:
            out[int(entry)] = None
    for m in re.finditer(r"event=child-started kind=(\w+) pid=(\d+)",
                         srv.log_text()):
        if int(m.group(2)) in out:
            out[int(m.group(2))] = m.group(1)
    return out


def wait_log(srv, pattern, count=1, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(re.findall(pattern, srv.log_text())) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"{pattern!r} x{count} not in log:\n"
                         f"{srv.log_text()[-3000:]}")


def deliver_one(srv, rcpt="alice@example.test"):
    tok = token()
    with SMTPConn(srv.port) as c:
        c.ehlo()
        c.transaction("alice@example.org", [rcpt], message(tok))
    wait_token(srv, rcpt, tok)


def test_dead_worker_is_restarted(mx):
    srv = mx({"server": {"workers": "2"}})
    kids = children(srv)
    smtp = [pid for pid, kind in kids.items() if kind == "smtp"]
    assert len(smtp) == 2, kids
    os.kill(smtp[0], signal.SIGKILL)
    wait_log(srv, r"event=child-died kind=smtp signal=9")
    wait_log(srv, r"event=child-started kind=smtp", count=3)
    after = children(srv)
    assert smtp[0] not in after
    assert sorted(k for k in after.values()) == ["delivery", "smtp", "smtp"]
    # Both workers serve, and the dead one's connection slot is free again.
    for _ in range(6):
        deliver_one(srv)


def test_dead_delivery_process_is_restarted(mx):
    srv = mx()
    kids = children(srv)
    delivery = [pid for pid, kind in kids.items() if kind == "delivery"]
    assert len(delivery) == 1, kids
    os.kill(delivery[0], signal.SIGKILL)
    wait_log(srv, r"event=child-died kind=delivery signal=9")
    wait_log(srv, r"event=child-started kind=delivery", count=2)
    deliver_one(srv)


def test_sighup_reloads_without_dropping_a_session(mx):
    srv = mx({"server": {"max_recipients": "1"}})
    tok = token()
    with SMTPConn(srv.port) as old:
        old.ehlo()
        old.expect("MAIL FROM:<alice@example.org>", 250, "2.1.0", "Ok")
        old.expect("RCPT TO:<alice@example.test>", 250, "2.1.5", "Ok")
        # The new config raises the limit and adds a listener.
        text = srv.conf.read_text().replace("max_recipients = 1",
                                            "max_recipients = 5")
        extra = free_port()
        text += f"\n[listener extra]\naddress = 127.0.0.1:{extra}\n"
        srv.conf.write_text(text)
        srv.proc.send_signal(signal.SIGHUP)
        wait_log(srv, r"event=reloaded")
        # The session that began before the reload finishes under the old
        # rules and gets its 250.
        old.expect("RCPT TO:<bob@example.test>", 452, "4.5.3",
                   "Too many recipients")
        check_354(old.cmd("DATA"))
        old.send(message(tok) + b".\r\n")
        qid = queued_id(old.read_reply())
        assert qid
    wait_token(srv, "alice@example.test", tok)
    with SMTPConn(srv.port) as new:
        new.ehlo()
        new.expect("MAIL FROM:<alice@example.org>", 250, "2.1.0", "Ok")
        new.expect("RCPT TO:<alice@example.test>", 250, "2.1.5", "Ok")
        new.expect("RCPT TO:<bob@example.test>", 250, "2.1.5", "Ok")
    with SMTPConn(extra) as c:
        c.ehlo()


def test_sighup_with_a_broken_config_keeps_running(mx):
    srv = mx()
    good = srv.conf.read_text()
    srv.conf.write_text(good + "\n[server]\nno_such_key = 1\n")
    srv.proc.send_signal(signal.SIGHUP)
    wait_log(srv, r"event=reload-failed")
    assert srv.proc.poll() is None
    deliver_one(srv)
    srv.conf.write_text(good)


def test_sigterm_ends_sessions_at_transaction_boundaries(mx):
    srv = mx()
    want = (421, "4.3.2", f"{HOSTNAME} Service shutting down, try again later")
    idle = SMTPConn(srv.port)
    idle.ehlo()
    busy = SMTPConn(srv.port)
    busy.ehlo()
    busy.expect("MAIL FROM:<alice@example.org>", 250, "2.1.0", "Ok")
    srv.proc.send_signal(signal.SIGTERM)
    # An idle session is told at once, without a command.
    r = idle.read_reply(timeout=10)
    assert (r.code, r.enh, r.text) == want
    idle.expect_closed()
    idle.close()
    # A session inside a transaction may finish its message...
    tok = token()
    busy.expect("RCPT TO:<alice@example.test>", 250, "2.1.5", "Ok")
    check_354(busy.cmd("DATA"))
    busy.send(message(tok) + b".\r\n")
    assert queued_id(busy.read_reply())
    # ...and is told at its next command.
    r = busy.cmd("MAIL FROM:<alice@example.org>")
    assert (r.code, r.enh, r.text) == want
    busy.expect_closed()
    busy.close()
    assert srv.proc.wait(timeout=25) == 0
    srv.proc = None
    srv._logf.close()
    assert "event=stopped" in srv.log_text()
    # The message that got its 250 is in the queue (or already delivered).
    queued = os.listdir(srv.spool / "queue")
    delivered = srv.maildir("alice@example.test") / "new"
    assert len(queued) + len(list(delivered.glob("*"))
                             if delivered.exists() else []) == 1


def test_workers_drop_to_the_configured_user(mx, tmp_path):
    nobody = pwd.getpwnam("nobody")
    # The user store in a directory of its own, which `postern user add`
    # creates for the configured user.
    db = tmp_path / "srv0" / "state" / "users.db"
    srv = mx({"server": {"user": "nobody"}, "auth": {"database": str(db)}},
             start=False)
    assert os.stat(db.parent).st_uid == nobody.pw_uid
    srv.maildir_root.mkdir(parents=True, exist_ok=True)
    os.chown(srv.maildir_root, nobody.pw_uid, nobody.pw_gid)
    # The unprivileged workers must reach the state below the test's
    # private temporary directories.
    for d in [srv.base, *srv.base.parents]:
        if d == pathlib.Path("/tmp"):
            break
        os.chmod(d, os.stat(d).st_mode | 0o111)
    srv.start()
    for pid in children(srv):
        with open(f"/proc/{pid}/status") as f:
            uid = re.search(r"^Uid:\s+(\d+)\s+(\d+)", f.read(), re.M)
        assert uid.groups() == (str(nobody.pw_uid), str(nobody.pw_uid))
    assert os.stat(srv.spool / "queue").st_uid == nobody.pw_uid
    deliver_one(srv)
    new = srv.maildir("alice@example.test") / "new"
    assert all(os.stat(p).st_uid == nobody.pw_uid for p in new.iterdir())


def test_user_store_directory_must_be_writable_by_the_user(mx):
    """With [server] user set, a user store whose directory the user cannot
    write (SQLite's -wal/-shm files) stops the start with a clear reason."""
    srv = mx({"server": {"user": "nobody"}}, start=False)
    proc = subprocess.run([conftest.POSTERN, "serve", "-c", str(srv.conf)],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1
    assert "must be writable by user nobody" in proc.stderr
    assert "event=startup-failed" in proc.stderr
