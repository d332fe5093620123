"""Measuring tools of the bench: the smtp-source load runs, the RSS sampler,
idle connections, listen backlogs, medians.

Everything here talks to 127.0.0.1 only. Nothing here knows which server it
measures: a server is a port, a set of root pids and a queue count
(bench/servers.py).
"""
import os
import re
import selectors
import socket
import statistics
import subprocess
import threading
import time

SOURCE = "smtp-source"
FROM = "from@bench.test"
TO = "user@bench.test"
HELO = "bench.test"
PAGE = os.sysconf("SC_PAGE_SIZE")


# --- process trees and RSS -------------------------------------------------

def _proc_table():
    """{pid: (ppid, rss_bytes)} of every process, from /proc/PID/stat."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                data = f.read()
        except OSError:
            continue
        # The command name is in parentheses and may hold spaces.
        rest = data[data.rfind(b")") + 2:].split()
        # rest[0] is the state (field 3); ppid is field 4, rss field 24.
        table[int(entry.name)] = (int(rest[1]), int(rest[21]) * PAGE)
    return table


def tree_pids(roots, table=None):
    """The root pids and all their descendants that are alive."""
    table = table if table is not None else _proc_table()
    children = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    seen, todo = set(), [p for p in roots if p in table]
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        todo.extend(children.get(pid, ()))
    return seen


def tree_rss(roots):
    """(sum of RSS in bytes, number of processes) of the trees at roots."""
    table = _proc_table()
    pids = tree_pids(roots, table)
    return sum(table[p][1] for p in pids), len(pids)


def _pss(pid):
    """Proportional set size of one process in bytes (shared pages divided
    among the processes that map them), 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def tree_pss(roots):
    """Sum of PSS in bytes of the trees at roots. Costlier than tree_rss
    (the kernel walks each process's page tables)."""
    return sum(_pss(p) for p in tree_pids(roots))


class RssSampler:
    """Samples the RSS sum of a server's process trees every `interval`
    seconds in a thread, between start() and stop(), and the PSS sum every
    `pss_every` samples (reading PSS is too costly for every sample);
    keeps the peak of each."""

    def __init__(self, roots_fn, interval=0.1, pss_every=10):
        self.roots_fn = roots_fn
        self.interval = interval
        self.pss_every = pss_every
        self.peak = 0
        self.peak_pss = 0
        self.peak_procs = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = None

    def _loop(self):
        while True:
            roots = self.roots_fn()
            rss, n = tree_rss(roots)
            if rss > self.peak:
                self.peak, self.peak_procs = rss, n
            if self.samples % self.pss_every == 0:
                self.peak_pss = max(self.peak_pss, tree_pss(roots))
            self.samples += 1
            if self._stop.wait(self.interval):
                return

    def start(self):
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join()
        return self.peak


def steady_mem(roots, samples=5, interval=0.1):
    """(RSS sum, PSS sum) in bytes, medians over a few samples: a
    quiet-state figure."""
    rss, pss = [], []
    for _ in range(samples):
        rss.append(tree_rss(roots)[0])
        pss.append(tree_pss(roots))
        time.sleep(interval)
    return statistics.median(rss), statistics.median(pss)


# --- smtp-source -----------------------------------------------------------

def source_argv(port, conc, count, size):
    """smtp-source: `conc` parallel sessions, `count` messages in all, each
    with a `size`-byte body, a new connection per message (its default);
    -c prints a running count of completed messages on stdout."""
    return [SOURCE, "-c", "-4", "-s", str(conc), "-m", str(count),
            "-l", str(size), "-M", HELO, "-f", FROM, "-t", TO,
            f"127.0.0.1:{port}"]


def _text(b):
    if isinstance(b, bytes):
        return b.decode(errors="replace")
    return b or ""


def run_source(port, conc, count, size, timeout):
    """Runs smtp-source once and times it (wall clock). Returns a dict:
    count, seconds, rate (messages/s; None unless it ended cleanly), rc,
    errors (the warning/fatal lines it printed), timeout (bool), completed
    (messages it counted as done) and partial_rate (completed / seconds,
    the figure to show for a run that stalled)."""
    argv = source_argv(port, conc, count, size)
    t0 = time.monotonic()
    try:
        p = subprocess.run(argv, capture_output=True, timeout=timeout)
        rc, out, err, timed_out = p.returncode, p.stdout, p.stderr, False
    except subprocess.TimeoutExpired as e:
        rc, out, err, timed_out = None, e.stdout, e.stderr, True
    seconds = time.monotonic() - t0
    out, err = _text(out), _text(err)
    done = [int(t) for t in re.split(r"[\r\n]+", out) if t.isdigit()]
    completed = done[-1] if done else 0
    errors = [line for line in err.splitlines()
              if re.search(r"\b(warning|fatal|error)\b", line)]
    ok = rc == 0 and not errors
    return {"count": count, "seconds": round(seconds, 4),
            "rate": round(count / seconds, 2) if ok else None,
            "completed": completed,
            "partial_rate": round(completed / seconds, 2),
            "rc": rc, "timeout": timed_out, "errors": errors[:5],
            "argv": " ".join(argv)}


# --- idle connections ------------------------------------------------------

def _connect(port, sel, socks, bufs):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    if s.connect_ex(("127.0.0.1", port)) not in (0, 115):  # EINPROGRESS
        s.close()
        return 0
    socks.append(s)
    bufs[s] = b""
    sel.register(s, selectors.EVENT_READ)
    return 1


def open_idle(port, n, timeout, inflight=4):
    """Opens n connections to 127.0.0.1:port and reads each one's
    greeting, with at most `inflight` of them waiting for it at a time (so
    that a small listen backlog does not turn this into a test of SYN
    retransmission), `timeout` seconds in all. Returns (sockets, number
    greeted with 220); the sockets stay open, saying nothing."""
    sel = selectors.DefaultSelector()
    socks, bufs, greeted, pending, started = [], {}, 0, 0, 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (started < n or pending):
        while started < n and pending < inflight:
            started += 1
            pending += _connect(port, sel, socks, bufs)
        for key, _ in sel.select(max(0.0, deadline - time.monotonic())):
            s = key.fileobj
            try:
                data = s.recv(512)
            except OSError:
                data = b""
            bufs[s] += data
            if not data or b"\n" in bufs[s]:
                sel.unregister(s)
                pending -= 1
                if bufs[s].startswith(b"220"):
                    greeted += 1
    sel.close()
    return socks, greeted


def close_all(socks):
    for s in socks:
        try:
            s.setblocking(True)
            s.settimeout(0.2)
            s.sendall(b"QUIT\r\n")
        except OSError:
            pass
        s.close()


# --- sockets and numbers ---------------------------------------------------

def free_port(host="127.0.0.1"):
    """A TCP port on the loopback address host that was free a moment
    ago."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_greeting(port, timeout=20.0):
    """Waits until 127.0.0.1:port answers with a 220 greeting. 0 or -1."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port),
                                          timeout=2) as s:
                s.settimeout(5)
                if s.recv(512).startswith(b"220"):
                    s.sendall(b"QUIT\r\n")
                    return 0
        except OSError:
            pass
        time.sleep(0.1)
    return -1


def listen_backlog(port):
    """The listen(2) backlog of the socket on 127.0.0.1:port, as the kernel
    reports it (`ss -ltn`, Send-Q of a LISTEN socket), or None."""
    try:
        out = subprocess.run(["ss", "-Hltn", f"sport = :{port}"],
                             capture_output=True, text=True,
                             timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 4 and f[0] == "LISTEN" and f[3].endswith(f":{port}"):
            return int(f[2])
    return None


def count_files(*dirs):
    """Number of entries (not starting with '.') in the given directories,
    missing ones counting 0."""
    n = 0
    for d in dirs:
        try:
            with os.scandir(d) as it:
                n += sum(1 for e in it if not e.name.startswith("."))
        except FileNotFoundError:
            pass
    return n


def count_tree(root):
    """Number of regular files anywhere under root."""
    n = 0
    for _, _, files in os.walk(root):
        n += len(files)
    return n


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None
