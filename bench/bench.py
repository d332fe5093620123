"""make bench: Postern, Postfix, OpenSMTPD and smtp-sink side by side.

Runs inside the private mount namespace bench/run.sh sets up. Starts the
bench's unbound and makes the AUTH credentials (bench/authsetup.py), then
for each server in turn: writes its config, starts it fresh for the
idle-connection phase, stops it, starts it again for the load phase
(smtp-source at concurrency 1, 10, 50 with 1 KiB and 100 KiB messages),
waits for its queue to drain, stops it and checks that every message it
accepted is in its Maildir or still in its queue; then starts it with a
submission listener for the AUTH phase (bench/authload.py) and once more
for delivery to smtp-sink (bench/delivery.py). One server runs at a
time, so they never compete for the two cores. Every daemon it starts it
stops, also on error or ^C. Writes build/bench/results.md and
results.json and prints the table.
"""
import json
import os
import pathlib
import platform
import shutil
import signal
import sys
import time

import authsetup
import measure
import report
import scenarios
import servers


class Context:
    """Settings (from the environment) and the per-server tallies."""

    def __init__(self):
        self.root = pathlib.Path(os.environ.get(
            "BENCH_ROOT", pathlib.Path(__file__).resolve().parents[1]))
        self.bench = servers.bench_dir()
        self.run = self.bench / "run"
        self.pids = self.run / "pids"
        self.pids.mkdir(parents=True, exist_ok=True)
        # A private copy: others may rebuild build/postern meanwhile.
        self.postern = self.run / "postern-bin"
        shutil.copy2(self.root / "build" / "postern", self.postern)
        self.opensmtpd = self.bench / "opensmtpd"
        self.quick = os.environ.get("BENCH_QUICK", "") not in ("", "0")
        q = self.quick
        self.seconds = float(os.environ.get("BENCH_SECONDS",
                                            "0.5" if q else "5"))
        self.reps = 1 if q else 3
        self.warm_min = 10 if q else 20
        self.warm_timeout = 30.0 if q else 60.0
        self.max_count = 20000
        self.idle_n = 50 if q else 500
        self.idle_timeout = 15.0 if q else 30.0
        self.settle_cap = 5.0 if q else 30.0
        names = os.environ.get("BENCH_SERVERS", ",".join(servers.ORDER))
        self.names = [n for n in servers.ORDER if n in names.split(",")]
        phases = os.environ.get("BENCH_PHASES", ",".join(PHASES))
        self.phases = [p for p in PHASES if p in phases.split(",")]
        # AUTH handshakes: window per run, warm-up before it.
        self.auth_seconds = min(self.seconds, 5.0) if not q else 2.0
        self.auth_warmup = 0.5 if q else 1.0
        # Delivery to smtp-sink: messages per run, time-out of one step.
        self.deliver_n = 200 if q else 2000
        self.deliver_timeout = 120.0
        self.sink_host = servers.SINK_HOST
        self.sink_port = measure.free_port(self.sink_host)
        self.creds = authsetup.Credentials(self.run)
        # Per server: messages smtp-source got 250 for (runs that ended
        # cleanly), messages of runs that failed part way, settle misses.
        self.sent = {}
        self.uncertain = {}
        self.settle_misses = {}
        self.dns = None		# the bench's unbound (servers.Unbound)

    def account(self, srv, r):
        if r["rc"] == 0 and not r["errors"]:
            self.sent[srv.name] = self.sent.get(srv.name, 0) + r["count"]
        else:
            self.uncertain[srv.name] = \
                self.uncertain.get(srv.name, 0) + r["count"]

    def settle(self, srv, cap=None):
        """Waits until srv's queue is empty (at most cap seconds), so each
        run starts with no delivery of the previous one still going.
        Returns the seconds waited."""
        t0 = time.monotonic()
        deadline = t0 + (cap or self.settle_cap)
        while srv.queued() > 0:
            if time.monotonic() > deadline:
                self.settle_misses[srv.name] = \
                    self.settle_misses.get(srv.name, 0) + 1
                break
            time.sleep(0.05)
        return round(time.monotonic() - t0, 2)


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


PHASES = ("idle", "load", "auth", "deliver")


def run_phase(ctx, srv, phase, rows, results):
    rows = [s for s in rows if s.phase == phase and not s.derived and
            s.applies(srv)]
    if not rows:
        return
    srv.phase = phase
    srv.start()
    try:
        for i, sc in enumerate(rows):
            if i and sc.fresh:
                srv.stop()
                srv.start()
            log(f"{srv.name}: {sc.label}")
            r = sc.run(ctx, srv)
            results.setdefault(sc.key, {})[srv.name] = r
            shown = "failed" if r.get("value") is None else \
                f"{r['value']} {sc.unit}"
            log(f"{srv.name}: {sc.label}: {shown}"
                + (f" ({r['note']})" if r.get("note") else ""))
    finally:
        if phase in ("idle", "load"):
            srv.backlog = measure.listen_backlog(srv.port)
        if srv.stores:
            ctx.settle(srv, cap=max(ctx.settle_cap, 60.0))
        srv.stop()


def durability(ctx, srv):
    """Messages accepted vs. messages the server holds after the runs."""
    if not srv.stores:
        return None
    sent = ctx.sent.get(srv.name, 0)
    delivered, queued = srv.delivered(), srv.queued()
    d = {"accepted": sent, "uncertain": ctx.uncertain.get(srv.name, 0),
         "delivered": delivered, "queued": queued,
         "missing": max(0, sent - delivered - queued),
         "settle_timeouts": ctx.settle_misses.get(srv.name, 0)}
    return d


def bench_server(ctx, srv, rows, results):
    """Both phases of one server; returns its status dict."""
    status = {"label": srv.label, "durable": srv.durable, "note": srv.note,
              "skip": srv.skip}
    queries = ctx.dns.queries()
    try:
        srv.setup()
        status["label"] = srv.label
        status["version"] = srv.version
        for phase in ("idle", "load"):
            if phase in ctx.phases:
                run_phase(ctx, srv, phase, rows, results)
        status["listen_backlog"] = getattr(srv, "backlog", None)
        status["durability"] = durability(ctx, srv)
        status["dns_queries"] = ctx.dns.queries() - queries
        for phase in ("auth", "deliver"):
            if phase not in ctx.phases:
                continue
            # A peer that cannot do one of these still has its other rows.
            try:
                run_phase(ctx, srv, phase, rows, results)
            except servers.SetupError as e:
                log(f"{srv.name}: {phase} phase skipped: {e}")
                status[f"{phase}_error"] = str(e)
        status["label"] = srv.label
        status["log"] = str(srv.log if srv.name != "postfix"
                            else srv.dir / "maillog")
    except servers.SetupError as e:
        log(f"{srv.name}: skipped: {e}")
        status["error"] = str(e)
    return status


def meta(ctx):
    cpu = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
            "host": platform.node(), "kernel": platform.release(),
            "cpus": os.cpu_count(), "cpu": cpu, "quick": ctx.quick,
            "reps": ctx.reps, "seconds_per_run": ctx.seconds,
            "idle_connections": ctx.idle_n, "phases": ctx.phases,
            "auth_seconds": ctx.auth_seconds,
            "argon2id": ctx.creds.argon2_label(),
            "argon2id_verify_ms": ctx.creds.verify_ms,
            "deliver_n": ctx.deliver_n,
            "sink": f"{ctx.sink_host}:{ctx.sink_port}",
            "command": command()}


def command():
    """The command line that reproduces this run."""
    env = [f"{k}={os.environ[k]}" for k in
           ("BENCH_QUICK", "BENCH_SERVERS", "BENCH_PHASES", "BENCH_SECONDS")
           if os.environ.get(k)]
    return " ".join(env + ["make bench"])


def _terminate(signum, frame):
    raise SystemExit(128 + signum)


def main():
    # SIGTERM/SIGHUP unwind like ^C, through the finally blocks that stop
    # the daemons.
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    ctx = Context()
    rows = scenarios.all_scenarios(ctx)
    results, status = {}, {}
    t0 = time.monotonic()
    if "auth" in ctx.phases:
        ctx.creds.setup()
    dns = ctx.dns = servers.Unbound(ctx)
    dns.setup()
    dns.start()
    try:
        for name in ctx.names:
            srv = servers.make(name, ctx)
            log(f"{name}: port {srv.port}")
            status[name] = bench_server(ctx, srv, rows, results)
    finally:
        dns.stop()
    for sc in rows:
        if sc.derived:
            for name in ctx.names:
                results.setdefault(sc.key, {})[name] = \
                    sc.derive(results, name)
    m = meta(ctx)
    m["elapsed_seconds"] = round(time.monotonic() - t0, 1)
    doc = {"meta": m, "servers": status,
           "rows": [{"key": s.key, "label": s.label, "unit": s.unit,
                     "higher_better": s.higher_better, "phase": s.phase}
                    for s in rows if s.phase in ctx.phases],
           "results": results}
    doc["ratios"] = report.ratios(doc)
    (ctx.bench / "results.json").write_text(json.dumps(doc, indent=1) +
                                            "\n")
    md = report.markdown(doc)
    (ctx.bench / "results.md").write_text(md)
    sys.stdout.write(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
