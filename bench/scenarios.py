"""The scenarios of the bench: each one is a row of the results table.

A scenario has a key (for results.json), a label, a unit, whether higher is
better, and a phase: the scenarios of one phase run against one fresh start
of a server (idle connections first, on a server that has not yet forked
workers for a load run, then the load runs, then AUTH handshakes on a
fresh start with a submission listener, then delivery to smtp-sink). To
add a measurement, add a class with run(ctx, srv) returning a dict with
at least "value", and list it in all_scenarios(); applies(srv) says which
servers it measures (the others show n/a). Derived rows (peak memory over
the load runs) compute their value from the other results in derive().
"""
import time

import authload
import delivery
import measure

KIB = 1024


class Scenario:
    key = "?"
    label = "?"
    unit = ""
    higher_better = True
    phase = "load"
    derived = False
    fresh = False		# run on a freshly started server

    def applies(self, srv):
        return True


class Throughput(Scenario):
    """Messages per second with smtp-source at one concurrency and size:
    a warm-up run that also sizes the timed runs to about ctx.seconds each,
    then ctx.reps timed runs (the median is the value), each starting from
    an empty queue, with the RSS of the server's processes sampled every
    100 ms."""
    unit = "msg/s"

    def __init__(self, conc, size):
        self.conc, self.size = conc, size
        self.key = f"c{conc}_{size // KIB}k"
        self.label = f"c={conc}, {size // KIB} KiB"

    def run(self, ctx, srv):
        warm_n = max(ctx.warm_min, 2 * self.conc)
        warm = self._timed(ctx, srv, warm_n, ctx.warm_timeout)
        res = {"warmup": warm, "runs": [], "peak_rss": warm["peak_rss"],
               "peak_pss": warm["peak_pss"]}
        if warm["timeout"]:
            res.update(value=warm["partial_rate"], note="stalled in the "
                       "warm-up: " + self._why(warm) + "; value = messages "
                       "done / time; timed runs skipped")
            return res
        if warm["rate"] is None:
            res.update(value=None, note=self._why(warm))
            return res
        count = min(max(int(warm["rate"] * ctx.seconds), warm_n),
                    ctx.max_count)
        res["count"] = count
        for _ in range(ctx.reps):
            r = self._timed(ctx, srv, count, max(30.0, 8 * ctx.seconds))
            res["runs"].append(r)
            res["peak_rss"] = max(res["peak_rss"], r["peak_rss"])
            res["peak_pss"] = max(res["peak_pss"], r["peak_pss"])
            if r["timeout"]:
                break
        return self._summary(ctx, res)

    def _summary(self, ctx, res):
        """The cell's value: median over the runs made, a run that stalled
        (timed out) counted at its partial rate; runs that failed with an
        error are left out. Notes say which."""
        runs = res["runs"]
        rates = [r["rate"] if r["rate"] is not None else r["partial_rate"]
                 for r in runs if r["rate"] is not None or r["timeout"]]
        res["value"] = measure.median(rates)
        notes = []
        stalled = [r for r in runs if r["timeout"]]
        failed = [r for r in runs if r["rate"] is None and not r["timeout"]]
        if stalled:
            msg = f"{len(stalled)} of {len(runs)} runs stalled: " + \
                self._why(stalled[0]) + "; counted at messages done / time"
            if len(runs) < ctx.reps:
                msg += f"; the other {ctx.reps - len(runs)} skipped"
            notes.append(msg)
        if failed:
            notes.append(f"{len(failed)} of {len(runs)} runs failed: " +
                         self._why(failed[0]))
        if notes:
            res["note"] = "; ".join(notes)
        return res

    def _timed(self, ctx, srv, count, timeout):
        settled = ctx.settle(srv)
        sampler = measure.RssSampler(srv.roots).start()
        r = measure.run_source(srv.port, self.conc, count, self.size,
                               timeout)
        sampler.stop()
        r["peak_rss"] = sampler.peak
        r["peak_pss"] = sampler.peak_pss
        r["peak_procs"] = sampler.peak_procs
        r["settle_seconds_before"] = settled
        ctx.account(srv, r)
        return r

    @staticmethod
    def _why(r):
        if r["timeout"]:
            return f"smtp-source had done {r['completed']} of " \
                f"{r['count']} messages when stopped after " \
                f"{r['seconds']:.0f} s"
        return f"smtp-source exit {r['rc']}: " + "; ".join(r["errors"][:2])


class IdleMemory(Scenario):
    """Memory per idle connection: RSS of the server's processes with n
    connections open that have read the greeting and say nothing, minus the
    RSS before they opened, per connection greeted."""
    unit = "KiB"
    higher_better = False
    phase = "idle"
    key = "idle_conn_kib"

    def __init__(self, n):
        self.n = n
        self.label = f"memory per idle connection ({n} open), RSS"

    def run(self, ctx, srv):
        # One message first, so that lazily started parts are running.
        warm = measure.run_source(srv.port, 1, 1, KIB, 30)
        ctx.account(srv, warm)
        ctx.settle(srv)
        time.sleep(0.5)
        before = measure.steady_mem(srv.roots())
        t0 = time.monotonic()
        socks, greeted = measure.open_idle(srv.port, self.n,
                                           ctx.idle_timeout)
        opened = time.monotonic() - t0
        time.sleep(1.0)
        after = measure.steady_mem(srv.roots())
        procs = len(measure.tree_pids(srv.roots()))
        measure.close_all(socks)
        res = {"before_rss": before[0], "after_rss": after[0],
               "before_pss": before[1], "after_pss": after[1],
               "opened": len(socks), "greeted": greeted,
               "seconds_to_greet_all": round(opened, 2),
               "procs_with_conns": procs}
        if greeted == 0:
            res.update(value=None, note="no connection got a greeting")
            return res
        res["value"] = round((after[0] - before[0]) / greeted / KIB, 1)
        res["pss_value"] = round((after[1] - before[1]) / greeted / KIB, 1)
        if greeted < self.n:
            res["note"] = f"only {greeted} of {self.n} connections got " \
                f"a greeting within {ctx.idle_timeout:.0f} s"
        return res


class PeakMemory(Scenario):
    """Peak RSS sum (or PSS sum, sampled every second) of the server's
    processes over all the load runs."""
    unit = "MiB"
    higher_better = False
    derived = True

    def __init__(self, field="peak_rss"):
        self.field = field
        self.key = f"{field}_mib"
        self.label = "peak memory during the load runs" + \
            (", RSS" if field == "peak_rss" else ", PSS")

    def derive(self, results, name):
        peaks = [r[name][self.field] for r in results.values()
                 if name in r and self.field in r[name]]
        if not peaks:
            return {"value": None}
        return {"value": round(max(peaks) / (KIB * KIB), 1)}


class IdlePss(Scenario):
    """The PSS figure of the IdleMemory run (shared pages split among the
    processes that map them: fairer to one-process-per-connection
    servers than the RSS sum)."""
    key = "idle_conn_pss_kib"
    unit = "KiB"
    higher_better = False
    derived = True
    phase = "idle"

    def __init__(self, n):
        self.label = f"memory per idle connection ({n} open), PSS"

    def derive(self, results, name):
        r = results.get(IdleMemory.key, {}).get(name) or {}
        return {"value": r.get("pss_value")}


class AuthRate(Scenario):
    """Complete AUTH handshakes per second on the submission listener
    (bench/authload.py): ctx.reps runs of ctx.auth_seconds each after a
    warm-up, the median is the value."""
    unit = "auth/s"
    phase = "auth"
    # Each row on a fresh start: one row's overload (e.g. Postfix
    # throttling its smtpd after fatal errors) must not spill into the next.
    fresh = True

    def __init__(self, mech, conc):
        self.mech, self.conc = mech, conc
        short = "plain" if mech == "PLAIN" else "scram"
        self.key = f"auth_{short}_c{conc}"
        self.label = f"AUTH {mech} over STARTTLS, c={conc}"

    def applies(self, srv):
        return self.mech in srv.auth_mechs

    def run(self, ctx, srv):
        res = {"verified": srv.auth_verified(self.mech), "runs": []}
        if measure.wait_greeting(srv.sub_port) != 0:
            res.update(value=None, note="the submission listener did not "
                       "answer")
            return res
        c = ctx.creds
        fatal0 = len(srv.fatal_lines())
        for _ in range(ctx.reps):
            r = authload.run(srv.sub_port, self.mech, c.user, c.password,
                             str(c.cert), self.conc, ctx.auth_seconds,
                             ctx.auth_warmup)
            res["runs"].append(r)
        runs = res["runs"]
        res["value"] = measure.median([r["rate"] for r in runs])
        res["tls"] = next((r["tls"] for r in runs if r["tls"]), None)
        res["median_ms"] = measure.median([r["median_ms"] for r in runs])
        res["note"] = self._notes(runs, srv.fatal_lines()[fatal0:])
        return res

    @staticmethod
    def _notes(runs, fatal):
        notes = []
        bad = [r for r in runs if r["errors"]]
        if bad:
            notes.append(f"{sum(r['errors'] for r in bad)} failed "
                         f"handshakes in {len(bad)} of {len(runs)} runs: " +
                         "; ".join(bad[0]["error_samples"][:2]))
        idle = [r for r in runs if not r["count"] and not r["errors"]]
        if idle:
            notes.append(f"{len(idle)} of {len(runs)} runs completed no "
                         "handshake in the window (stalled; counted as 0)")
        if fatal:
            notes.append(f"the server logged {len(fatal)} fatal or err "
                         f"lines, e.g. \"{fatal[0][-120:]}\"")
        return "; ".join(notes) or None


class DeliveryRate(Scenario):
    """Messages per second from the queue to smtp-sink
    (bench/delivery.py): ctx.reps runs of ctx.deliver_n messages, the
    median is the value."""
    unit = "msg/s"
    phase = "deliver"
    key = "deliver_sink_1k"

    def __init__(self, n):
        self.n = n
        self.label = f"delivery to smtp-sink ({n} queued, 1 KiB)"

    def applies(self, srv):
        return srv.sink_delivery

    def run(self, ctx, srv):
        queries = ctx.dns.queries()
        runs = [delivery.run_once(ctx, srv, self.n, KIB,
                                  ctx.deliver_timeout)
                for _ in range(ctx.reps)]
        res = {"runs": runs, "dns_queries": ctx.dns.queries() - queries}
        rates = [r.get("rate") for r in runs]
        res["value"] = measure.median(rates)
        bad = [r for r in runs if r["errors"]]
        if bad:
            res["note"] = f"{len(bad)} of {len(runs)} runs failed: " + \
                "; ".join(bad[0]["errors"][:2])
            if res["value"] is None:
                res["partial_rate"] = measure.median(
                    [r.get("partial_rate") for r in runs])
        return res


def auth_rows(ctx):
    concs = (10,) if ctx.quick else (1, 10, 50)
    return [AuthRate(m, c) for m in ("PLAIN", "SCRAM-SHA-256")
            for c in concs]


def all_scenarios(ctx):
    rows = [Throughput(c, s * KIB) for s in (1, 100) for c in (1, 10, 50)]
    return rows + [PeakMemory("peak_rss"), PeakMemory("peak_pss"),
                   IdleMemory(ctx.idle_n), IdlePss(ctx.idle_n)] + \
        auth_rows(ctx) + [DeliveryRate(ctx.deliver_n)]
