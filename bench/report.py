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
    if unit == "msg/s":
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
            r = doc["results"].get(row["key"], {}).get(n) or {}
            cell = _num(r.get("value"), row["unit"])
            if r.get("note"):
                notes.append(f"{_short(doc, n)}, {row['label']}: "
                             f"{r['note']}")
                cell += f" [{len(notes)}]"
            cells.append(cell)
        for p in peers:
            v = rat.get(p, {}).get(row["key"])
            cells.append("n/a" if v is None else
                         f"{v:.2f}x" if v >= 0.1 else f"{v:.2g}x")
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines += [f"[{i}] {t}" for i, t in enumerate(notes, 1)]
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
        text = f"- {_short(doc, n)}: {st.get('version') or ''}; " \
            f"DNS queries during its runs: {st.get('dns_queries', '?')}; " \
            f"listen backlog {bl if bl is not None else '?'}"
        if bl is not None and bl < 50:
            text += f" (as shipped, not patched): at concurrency above " \
                f"{bl} connections it has not accepted yet wait in " \
                f"the kernel, then for the client's SYN retransmission"
        lines.append(text + (f"; {st['note']}" if st.get("note") else ""))
    return lines


def durability_section(doc):
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
           f"a time. Ratios: Postern's value / the peer's (for msg/s "
           f"higher is better, for memory lower is better).", ""]
    out += table(doc)
    out += servers_section(doc)
    out += durability_section(doc)
    out += ["", f"Total time: {m.get('elapsed_seconds', '?')} s. Details "
            "(every run, counts, RSS, errors): build/bench/results.json.",
            ""]
    return "\n".join(out)


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        sys.stdout.write(markdown(json.load(f)))
