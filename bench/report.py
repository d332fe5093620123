"""The bench's report: the Markdown table (rows = scenarios, columns = the
servers and Postern's ratio to each peer), the servers' notes, the
durability check, and the ratios for results.json. Reads only the results
document bench.py builds, so a saved results.json can be rendered again:
/usr/bin/python3 bench/report.py build/bench/results.json
"""
import json
import sys

SUBJECT = "postern"
PEERS = ("postfix", "opensmtpd", "sink")
ORDER = ("postern",) + PEERS


def _value(doc, key, name):
    r = doc["results"].get(key, {}).get(name)
    return None if r is None else r.get("value")


def ratios(doc):
    """{peer: {row key: Postern value / peer value}} where both exist."""
    out = {}
    for peer in PEERS:
        for row in doc["rows"]:
            a = _value(doc, row["key"], SUBJECT)
            b = _value(doc, row["key"], peer)
            if a is not None and b:
                out.setdefault(peer, {})[row["key"]] = float(f"{a / b:.4g}")
    return out


def _num(v, unit):
    if v is None:
        return "n/a"
    if unit in ("msg/s", "auth/s"):
        return f"{v:,.0f}" if v >= 100 else f"{v:.1f}"
    return f"{v:,.1f}"


def _short(doc, name):
    st = doc["servers"].get(name, {})
    label = {"postern": "Postern", "postfix": "Postfix",
             "opensmtpd": "OpenSMTPD", "sink": "smtp-sink"}[name]
    return label + ("" if st.get("durable", True) or name == "sink"
                    else " (not durable)")


def _header(doc, names):
    peers = [p for p in PEERS if p in names] if SUBJECT in names else []
    cols = ["scenario", "unit"] + [_short(doc, n) for n in names] + \
        [f"Postern/{_short(doc, p).split(' ')[0]}" for p in peers]
    lines = ["| " + " | ".join(cols) + " |",
             "|" + "|".join(["---", "---"] + ["--:"] *
                            (len(cols) - 2)) + "|"]
    return lines, peers


def table(doc):
    """The results table and its footnotes (cells with a note)."""
    names = [n for n in ORDER if n in doc["servers"]]
    lines, peers = _header(doc, names)
    notes = []
    rat = doc.get("ratios") or ratios(doc)
    for row in doc["rows"]:
        cells = [row["label"], row["unit"]]
        for n in names:
            r = doc["results"].get(row["key"], {}).get(n)
            if r is None:
                cells.append("-")
                continue
            cell = _num(r.get("value"), row["unit"])
            if r.get("note"):
                notes.append(f"{_short(doc, n)}, {row['label']}: "
                             f"{r['note']}")
                cell += f" [{len(notes)}]"
            cells.append(cell)
        for p in peers:
            v = rat.get(p, {}).get(row["key"])
            if v is None and p not in doc["results"].get(row["key"], {}):
                cells.append("-")
                continue
            cells.append("n/a" if v is None else
                         f"{v:.2f}x" if v >= 0.1 else f"{v:.2g}x")
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines += [f"[{i}] {t}" for i, t in enumerate(notes, 1)]
    lines += ["", "n/a: measured, no figure (see the note); -: not "
              "measured for that server (see Servers below)."]
    return lines


def servers_section(doc):
    lines = ["", "Servers:", ""]
    for n in ORDER:
        st = doc["servers"].get(n)
        if st is None:
            continue
        if st.get("error"):
            lines.append(f"- {_short(doc, n)}: not measured: "
                         f"{st['error']}")
            continue
        bl = st.get("listen_backlog")
        text = f"- {_short(doc, n)}: {st.get('version') or ''}"
        if set(doc["meta"].get("phases", ("load",))) & {"idle", "load"}:
            text += f"; DNS queries during its idle and load runs: " \
                f"{st.get('dns_queries', '?')}; listen backlog " \
                f"{bl if bl is not None else '?'}"
        if bl is not None and bl < 50:
            text += f" (as shipped, not patched): at concurrency above " \
                f"{bl} connections it has not accepted yet wait in " \
                f"the kernel, then for the client's SYN retransmission"
        lines.append(text + (f"; {st['note']}" if st.get("note") else ""))
        for phase in ("auth", "deliver"):
            why = st.get(f"{phase}_error") or \
                (st.get("skip") or {}).get(phase)
            if why and phase in doc["meta"].get("phases", ()):
                lines.append(f"  - {phase} rows not measured: {why}")
    return lines


def _first(doc, prefix, name, field):
    """field of the first result of a row whose key starts with prefix."""
    for row in doc["rows"]:
        r = doc["results"].get(row["key"], {}).get(name) or {}
        if row["key"].startswith(prefix) and r.get(field):
            return r[field]
    return None


def auth_section(doc):
    """Which hash or key each server verified, and the TLS it spoke."""
    m = doc["meta"]
    if "auth" not in m.get("phases", ()):
        return []
    lines = ["", "AUTH handshakes (connect, EHLO, STARTTLS, EHLO, AUTH, "
             "235, QUIT; a full TLS handshake each, certificate "
             "verified; the median of "
             f"{m['reps']} windows of {m['auth_seconds']:g} s). The rate "
             "of PLAIN is set by the password hash each server verifies: "
             f"one {m['argon2id']} verification took "
             f"{m['argon2id_verify_ms']} ms here (libsodium, median of 3).",
             ""]
    for n in ORDER:
        plain = _first(doc, "auth_plain", n, "verified")
        scram = _first(doc, "auth_scram", n, "verified")
        if not plain and not scram:
            continue
        tls = _first(doc, "auth_", n, "tls")
        text = f"- {_short(doc, n)}: PLAIN checks " + \
            (plain or "n/a") + "; SCRAM-SHA-256: " + \
            (scram or "not offered") + f"; TLS: {tls or '?'}"
        lines.append(text)
    return lines


def deliver_section(doc):
    m = doc["meta"]
    if "deliver" not in m.get("phases", ()):
        return []
    lines = ["", f"Delivery: {m['deliver_n']} messages injected with the "
             "server's sendmail while smtp-sink is down (all deferred), "
             f"then the sink started on {m['sink']}, a flush, and the time "
             "until the queue is empty; route: MX lookup of sink.test at "
             "the bench's unbound.", ""]
    for n in ORDER:
        r = doc["results"].get("deliver_sink_1k", {}).get(n)
        if not r or not r.get("runs"):
            continue
        got = sum(x.get("received", 0) for x in r["runs"])
        sent = sum(x.get("count", 0) for x in r["runs"])
        lines.append(f"- {_short(doc, n)}: smtp-sink received {got} of "
                     f"{sent}; DNS queries during the runs: "
                     f"{r.get('dns_queries', '?')}")
    return lines


def durability_section(doc):
    if "load" not in doc["meta"].get("phases", ("load",)):
        return []
    lines = ["", "Durability check (after the runs; delivered = files in "
             "the Maildir, queued = still in the queue):", ""]
    for n in ORDER:
        d = (doc["servers"].get(n) or {}).get("durability")
        if not d:
            continue
        verdict = "all there" if d["missing"] == 0 else \
            f"**{d['missing']} MISSING**"
        extra = ""
        if d["uncertain"]:
            extra += f"; {d['uncertain']} more were sent in runs that " \
                "failed part way"
        if d["settle_timeouts"]:
            extra += f"; the queue did not drain within the settle time " \
                f"{d['settle_timeouts']} times"
        lines.append(f"- {_short(doc, n)}: {d['accepted']} accepted, "
                     f"{d['delivered']} delivered, {d['queued']} queued: "
                     f"{verdict}{extra}")
    return lines


def markdown(doc):
    m = doc["meta"]
    out = [f"# Postern benchmark ({m['date']})", "",
           f"`{m['command']}` on {m['host']}: {m['cpus']} CPUs "
           f"({m['cpu']}), Linux {m['kernel']}. Load: Postfix's smtp-source "
           f"on 127.0.0.1, a new connection per message; each cell is the "
           f"median of {m['reps']} timed runs of about "
           f"{m['seconds_per_run']:g} s after a warm-up; one server runs at "
           f"a time. AUTH rows: bench/authload.py; delivery: "
           f"bench/delivery.py (both described below the table). "
           f"Ratios: Postern's value / the peer's (for msg/s and auth/s "
           f"higher is better, for memory lower is better).", ""]
    out += table(doc)
    out += servers_section(doc)
    out += auth_section(doc)
    out += deliver_section(doc)
    out += durability_section(doc)
    out += ["", f"Total time: {m.get('elapsed_seconds', '?')} s. Details "
            "(every run, counts, RSS, errors): build/bench/results.json.",
            ""]
    return "\n".join(out)


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        sys.stdout.write(markdown(json.load(f)))
