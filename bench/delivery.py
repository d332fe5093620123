"""Delivery throughput for make bench: messages per second from a server's
queue to Postfix's smtp-sink.

The sink listens on 127.0.0.9 (a loopback address of its own; Linux routes
all of 127/8 to lo), and the bench's unbound answers sink.test MX 10
mx.sink.test, mx.sink.test A 127.0.0.9. Each server delivers there by its
ordinary remote route: an MX lookup at the bench's unbound, then SMTP to
the sink's port (Postern: [delivery] remote_port; Postfix: a transport
map entry sink.test -> smtp:sink.test:PORT, DNS on for its smtp client).

One run, identical for every server:
1. with the sink NOT listening, inject n messages (1 KiB body, to
   user@sink.test) with the server's own sendmail, 4 at a time;
2. wait until every one has had a failed attempt (connection refused)
   and sits deferred;
3. start the sink; start the clock; ask for a flush (`postern queue
   flush` / `postqueue -f`); stop the clock when the queue is empty
   (polled every 20 ms);
4. stop the sink and check its counter: it must have received n.
rate = n / seconds. Injection is not timed, so the figure is the delivery
side alone: queue scan, connection handling, the SMTP client, and
removing each message.
"""
import concurrent.futures
import re
import subprocess
import time

SENDER = "from@bench.test"
RCPT = "user@sink.test"
INJECT_PARALLEL = 4


def message(i, size):
    head = (f"From: <{SENDER}>\r\nTo: <{RCPT}>\r\n"
            f"Subject: bench delivery {i}\r\n\r\n").encode()
    line = b"x" * 70 + b"\r\n"
    body = (line * (size // len(line) + 1))[:size - 2] + b"\r\n"
    return head + body


class Sink:
    """smtp-sink on host:port for the duration of one run; its -c counter
    on stdout says how many messages it received."""

    def __init__(self, ctx, host, port):
        self.ctx, self.host, self.port = ctx, host, port
        self.out = ctx.run / "deliver-sink.out"
        self.proc = None
        self.outf = None

    def start(self):
        self.outf = open(self.out, "wb")
        self.proc = subprocess.Popen(
            ["smtp-sink", "-c", "-4", "-u", "nobody", "-m", "1024",
             f"{self.host}:{self.port}", "256"],
            stdin=subprocess.DEVNULL, stdout=self.outf,
            stderr=subprocess.STDOUT, start_new_session=True)
        (self.ctx.pids / "deliver-sink.pid").write_text(str(self.proc.pid))
        deadline = time.monotonic() + 10
        while not _listening(self.host, self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                return -1
            time.sleep(0.02)
        return 0

    def stop(self):
        """Stops it; returns the messages it counted."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        self.outf.close()
        (self.ctx.pids / "deliver-sink.pid").unlink(missing_ok=True)
        counts = re.findall(rb"mesg=(\d+)", self.out.read_bytes())
        return int(counts[-1]) if counts else 0


def _listening(host, port):
    out = subprocess.run(["ss", "-Hltn", "src", f"{host}:{port}"],
                         capture_output=True, text=True, timeout=10).stdout
    return "LISTEN" in out


def _wait(pred, timeout, step=0.05):
    """Polls pred() until true or timeout; returns seconds waited or
    None on time-out."""
    t0 = time.monotonic()
    while not pred():
        if time.monotonic() - t0 > timeout:
            return None
        time.sleep(step)
    return time.monotonic() - t0


def inject(srv, n, size):
    """n messages through srv.inject, INJECT_PARALLEL at a time; returns
    how many were refused."""
    def one(i):
        try:
            return srv.inject(message(i, size), SENDER, RCPT)
        except (OSError, subprocess.SubprocessError):
            return -1
    with concurrent.futures.ThreadPoolExecutor(INJECT_PARALLEL) as ex:
        return sum(1 for rc in ex.map(one, range(n)) if rc != 0)


def run_once(ctx, srv, n, size, timeout):
    """One run (see the module comment). Returns a dict: rate (None
    unless every message reached the sink), seconds, received, left
    (still queued at the end), errors."""
    res = {"count": n, "errors": []}
    if _wait(lambda: srv.queued() == 0, 60) is None:
        srv.purge()
    t0 = time.monotonic()
    refused = inject(srv, n, size)
    res["inject_seconds"] = round(time.monotonic() - t0, 2)
    if refused:
        res["errors"].append(f"{refused} of {n} injections refused")
    n -= refused
    waited = _wait(lambda: srv.deferred() >= n, timeout, 0.5)
    res["defer_seconds"] = None if waited is None else round(waited, 2)
    if waited is None:
        res["errors"].append(f"only {srv.deferred()} of {n} deferred "
                             f"after {timeout:.0f} s")
    sink = Sink(ctx, ctx.sink_host, ctx.sink_port)
    if sink.start() != 0:
        res["errors"].append("smtp-sink did not start")
        return res
    try:
        queries = ctx.dns.queries()
        t0 = time.monotonic()
        srv.flush()
        waited = _wait(lambda: srv.queued() == 0, timeout, 0.02)
        seconds = time.monotonic() - t0
        res["dns_queries_timed"] = ctx.dns.queries() - queries
    finally:
        received = sink.stop()
    left = srv.queued()
    if left:
        srv.purge()
    res.update(seconds=round(seconds, 3), received=received, left=left,
               partial_rate=round((n - left) / seconds, 1))
    if waited is None:
        res["errors"].append(f"{left} of {n} still queued after "
                             f"{timeout:.0f} s")
    elif received != n:
        res["errors"].append(f"smtp-sink counted {received} of {n}")
    res["rate"] = None if res["errors"] else round(n / seconds, 1)
    return res
