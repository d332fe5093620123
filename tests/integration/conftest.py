"""Shared fixtures for the black-box tests.

Every test that needs a server asks for `postern` (a factory): it writes a
config into a temporary directory, starts the real binary ($POSTERN, the
ASan build under `make check`), waits until every listener accepts, and
stops it at the end of the test. A sanitizer report or a crash in the
server's log fails the test.
"""
import os
import pathlib
import signal
import socket
import subprocess
import time

import pytest
from dns_fixture import dns_blackhole, dns_zone  # noqa: F401

ROOT = pathlib.Path(__file__).resolve().parents[2]
POSTERN = os.environ.get("POSTERN", str(ROOT / "build" / "postern"))
NO_DNS = "127.0.0.1:9"
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "runtime error:", "SUMMARY: UndefinedBehaviorSanitizer")


def free_port():
    """A loopback TCP port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=15.0, host="127.0.0.1"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port}")


def run(args, input=None, env=None, timeout=60, check=False):
    """Runs `postern ARGS...`; returns the CompletedProcess (text mode)."""
    full_env = dict(os.environ)
    full_env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    if env:
        full_env.update(env)
    p = subprocess.run([POSTERN] + list(args), input=input, env=full_env,
                       capture_output=True, text=True, timeout=timeout)
    assert_no_sanitizer(p.stderr)
    if check and p.returncode != 0:
        raise AssertionError(f"postern {args} exited {p.returncode}: "
                             f"{p.stderr}")
    return p


def assert_no_sanitizer(text):
    for mark in SANITIZER_MARKS:
        assert mark not in text, f"sanitizer report:\n{text[-6000:]}"


class Server:
    """A running `postern serve` with its own directory, config and ports."""

    def __init__(self, base, sections, env):
        self.base = pathlib.Path(base)
        self.spool = self.base / "spool"
        self.maildir_root = self.base / "mail"
        self.conf = self.base / "postern.conf"
        self.log = self.base / "server.log"
        self.ports = {}
        self.env = env
        self.proc = None
        self.base.mkdir(parents=True, exist_ok=True)
        self._write_config(sections)

    def _write_config(self, sections):
        s = {
            "server": {"hostname": "mx.example.test",
                       "spool": str(self.spool), "timeout": "30s",
                       "workers": "2"},
            "domains": {"local": "example.test, example.org"},
            "auth": {"database": str(self.base / "users.db")},
            # Nothing a test server looks up may reach the machine's
            # resolver: unless the test names its own DNS server, look-ups
            # go to a loopback port where nothing answers (they fail as
            # temporary errors).
            "delivery": {"maildir": str(self.maildir_root / "%d" / "%u"),
                         "dns": NO_DNS},
        }
        listeners = {"mx": {"mode": "mx", "tls": "none"}}
        for name, values in sections.items():
            if name.startswith("listener "):
                listeners[name.split(" ", 1)[1]] = dict(values)
            elif values is None:
                s.pop(name, None)
            else:
                s.setdefault(name, {}).update(values)
        # A listener given as None is removed (e.g. {"listener mx": None}).
        listeners = {k: v for k, v in listeners.items() if v is not None}
        lines = []
        for name, values in s.items():
            lines.append(f"[{name}]")
            lines += [f"{k} = {v}" for k, v in values.items()]
            lines.append("")
        for name, values in listeners.items():
            port = free_port()
            self.ports[name] = port
            values.setdefault("address", f"127.0.0.1:{port}")
            lines.append(f"[listener {name}]")
            lines += [f"{k} = {v}" for k, v in values.items()]
            lines.append("")
        self.conf.write_text("\n".join(lines))

    @property
    def port(self):
        """The port of the listener named mx (the default one)."""
        return self.ports["mx"]

    def cli(self, *args, **kw):
        """Runs a postern command against this server's config."""
        return run(list(args) + ["-c", str(self.conf)], env=self.env, **kw)

    def start(self):
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
        env.update(self.env)
        self._logf = open(self.log, "ab")
        self.proc = subprocess.Popen([POSTERN, "serve", "-c", str(self.conf)],
                                     stdout=self._logf, stderr=self._logf,
                                     env=env, start_new_session=True)
        for port in self.ports.values():
            try:
                wait_port(port)
            except TimeoutError:
                self.stop()
                raise AssertionError("server did not start:\n" +
                                     self.log_text())
        return self

    def kill9(self):
        """SIGKILL the whole process group, as a crash would."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        # The children die a moment after the parent; until they are gone
        # their listening sockets keep the ports busy for a restart.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(self.proc.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.02)
        self.proc = None

    def stop(self):
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            raise AssertionError("server did not stop on SIGTERM:\n" +
                                 self.log_text())
        finally:
            self.proc = None
            self._logf.close()
        return rc

    def log_text(self):
        return self.log.read_text(errors="replace") if self.log.exists() \
            else ""

    def maildir(self, address):
        """Path of the Maildir of a local address (domain/localpart)."""
        local, domain = address.rsplit("@", 1)
        return self.maildir_root / domain.lower() / local.lower()

    def wait_delivered(self, address, count=1, timeout=15.0):
        """Waits until `count` messages are in address's Maildir new/;
        returns their contents as bytes, oldest first."""
        new = self.maildir(address) / "new"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            files = sorted(new.glob("*")) if new.exists() else []
            if len(files) >= count:
                return [f.read_bytes() for f in files]
            time.sleep(0.05)
        raise AssertionError(f"{address}: {len(files)} of {count} messages "
                             f"delivered\n{self.log_text()[-4000:]}")


@pytest.fixture
def postern(tmp_path):
    """Factory: postern(sections={...}, env={...}, start=True) -> Server."""
    servers = []

    def make(sections=None, env=None, start=True):
        srv = Server(tmp_path / f"srv{len(servers)}", sections or {},
                     env or {})
        srv.base.mkdir(parents=True, exist_ok=True)
        servers.append(srv)
        if start:
            srv.start()
        return srv

    yield make
    for srv in servers:
        rc = srv.stop()
        text = srv.log_text()
        assert_no_sanitizer(text)
        assert rc in (None, 0), f"server exited {rc}:\n{text[-4000:]}"
