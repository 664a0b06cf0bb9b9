#!/usr/bin/python3
"""The comparison table of scripts/bench-compare.sh.

Reads parley-bench's BENCH-JSON lines (the "BENCH-JSON " prefix may be kept
or cut; other lines are skipped) from the files given, or stdin, groups them
by server (the line's "label") and scenario, and prints one row per figure:
the median of the runs for each server, the spread (min-max) of the runs,
and the ratios of the Parley column to each other server, turned so that a
ratio above 1 always means Parley did better (rates: Parley / other;
latencies, memory, CPU: other / Parley).

  bench-table.py RAW.jsonl                  # plain text table
  bench-table.py --markdown RAW.jsonl       # the same as a Markdown table
  bench-table.py --summary < one-run.out    # one line per run, for progress

Standard library only; runs with /usr/bin/python3.
"""

import argparse
import json
import statistics
import sys

HIGHER, LOWER, NEUTRAL = "higher", "lower", "neutral"


def get(d, *path):
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d


def per(numerator, denominator, scale=1.0):
    if numerator is None or not denominator:
        return None
    return numerator * scale / denominator


def server_cpu_per_login_ms(r):
    return per(get(r, "server", "cpu_s"), get(r, "login", "ok"), 1e3)


def server_cpu_per_msg_us(r):
    return per(get(r, "server", "cpu_run_s"), get(r, "chat", "delivered"), 1e6)


def server_cpu_per_presence_us(r):
    return per(get(r, "server", "cpu_run_s"), get(r, "presence", "delivered"), 1e6)


def server_cpu_per_page_ms(r):
    return per(get(r, "server", "cpu_run_s"), get(r, "mam", "answered"), 1e3)


def items_per_page(r):
    return per(get(r, "mam", "items"), get(r, "mam", "answered"))


def delivered_share(r):
    return per(get(r, "presence", "delivered"), get(r, "presence", "expected"), 100.0)


def server_cpu_per_muc_us(r):
    return per(get(r, "server", "cpu_run_s"), get(r, "muc", "delivered"), 1e6)


def muc_per_cpu_s(r):
    return per(get(r, "muc", "delivered"), get(r, "server", "cpu_run_s"))


def muc_loss(r):
    m = get(r, "muc") or {}
    return sum(m.get(k) or 0 for k in ("undelivered", "errors", "join_failed", "config_errors"))


def muc_variant(r):
    """A muc run's shape, e.g. "muc 40x50" or "muc 40x50 fast": runs of different shapes are
    different rows of the table."""
    m = get(r, "muc") or {}
    return "muc {}x{}{}".format(m.get("rooms"), m.get("occupants"), " fast" if m.get("fast") else "")


# Rows of each muc shape (the title gets the shape in front).
MUC_FIGURES = [
    ("msgs posted/s", lambda r: get(r, "muc", "sent_per_s"), NEUTRAL, 0),
    ("deliveries/s", lambda r: get(r, "muc", "delivered_per_s"), HIGHER, 0),
    ("delivery p50 ms", lambda r: get(r, "muc", "latency_ms", "p50"), LOWER, 2),
    ("delivery p99 ms", lambda r: get(r, "muc", "latency_ms", "p99"), LOWER, 2),
    ("server CPU us per delivery", server_cpu_per_muc_us, LOWER, 2),
    ("deliveries per server CPU-s", muc_per_cpu_s, HIGHER, 0),
    ("server RSS bytes per room", lambda r: get(r, "server", "rss_per_room_b"), LOWER, 0),
    ("time to enter all rooms s", lambda r: get(r, "muc", "join_s"), LOWER, 2),
    ("undelivered, bounced, not joined", muc_loss, NEUTRAL, 0),
]


def chat_loss(r):
    c = get(r, "chat") or {}
    return (c.get("undelivered") or 0) + (c.get("errors") or 0)


# (scenario, row title, how to read the figure from one run, which way is better, digits)
FIGURES = [
    ("login", "logins/s", lambda r: get(r, "login", "per_s"), HIGHER, 0),
    ("login", "login latency p50 ms", lambda r: get(r, "login", "latency_ms", "p50"), LOWER, 1),
    ("login", "login latency p99 ms", lambda r: get(r, "login", "latency_ms", "p99"), LOWER, 1),
    ("login", "server CPU ms per login", server_cpu_per_login_ms, LOWER, 3),
    ("login", "failed logins", lambda r: get(r, "login", "failed"), NEUTRAL, 0),
    ("hold", "sessions held", lambda r: get(r, "sessions", "peak"), NEUTRAL, 0),
    ("hold", "server RSS bytes/session", lambda r: get(r, "server", "rss_per_session_b"), LOWER, 0),
    ("hold", "RSS slope bytes/session", lambda r: get(r, "server", "rss_slope_b"), LOWER, 0),
    ("hold", "logins/s while filling", lambda r: get(r, "login", "per_s"), HIGHER, 0),
    ("chat", "chat offered msgs/s", lambda r: get(r, "chat", "sent_per_s"), NEUTRAL, 0),
    ("chat", "chat delivered msgs/s", lambda r: get(r, "chat", "delivered_per_s"), HIGHER, 0),
    ("chat", "chat latency p50 ms", lambda r: get(r, "chat", "latency_ms", "p50"), LOWER, 2),
    ("chat", "chat latency p99 ms", lambda r: get(r, "chat", "latency_ms", "p99"), LOWER, 2),
    ("chat", "server CPU us per message", server_cpu_per_msg_us, LOWER, 2),
    ("chat", "msgs undelivered or bounced", chat_loss, NEUTRAL, 0),
    ("presence", "presence deliveries/s", lambda r: get(r, "presence", "delivered_per_s"), HIGHER, 0),
    ("presence", "presence latency p50 ms", lambda r: get(r, "presence", "latency_ms", "p50"), LOWER, 2),
    ("presence", "presence latency p99 ms", lambda r: get(r, "presence", "latency_ms", "p99"), LOWER, 2),
    ("presence", "delivered of expected %", delivered_share, HIGHER, 1),
    ("presence", "server CPU us per delivery", server_cpu_per_presence_us, LOWER, 2),
    ("mam", "archive pages/s", lambda r: get(r, "mam", "answered_per_s"), HIGHER, 0),
    ("mam", "archived msgs returned/s", lambda r: get(r, "mam", "items_per_s"), HIGHER, 0),
    ("mam", "messages per page", items_per_page, NEUTRAL, 1),
    ("mam", "archive query p50 ms", lambda r: get(r, "mam", "latency_ms", "p50"), LOWER, 2),
    ("mam", "archive query p99 ms", lambda r: get(r, "mam", "latency_ms", "p99"), LOWER, 2),
    ("mam", "server CPU ms per page", server_cpu_per_page_ms, LOWER, 3),
    ("mam", "archive queries refused", lambda r: get(r, "mam", "errors"), NEUTRAL, 0),
]


def read_runs(paths):
    runs = []
    streams = [open(p) for p in paths] if paths else [sys.stdin]
    for stream in streams:
        for line in stream:
            line = line.strip()
            if line.startswith("BENCH-JSON "):
                line = line[len("BENCH-JSON "):]
            if not line.startswith("{"):
                continue
            try:
                runs.append(json.loads(line))
            except ValueError:
                continue
    return runs


def fmt(value, digits):
    if value is None:
        return "-"
    if digits == 0:
        return "{:,.0f}".format(value)
    return "{:,.{}f}".format(value, digits)


def ratio(parley, other, better):
    if parley is None or other is None or better == NEUTRAL:
        return "-"
    if better == HIGHER:
        num, den = parley, other
    else:
        num, den = other, parley
    if den <= 0 or num < 0:
        return "-"  # no ratio of a figure lost in noise (memory growth below zero)
    r = num / den
    return "{:,.0f}".format(r) if r >= 100 else "{:.2f}".format(r)


def build_rows(runs, labels, base):
    rows = []
    scenarios = {r.get("scenario") for r in runs}
    figures = list(FIGURES)
    for variant in sorted(scenarios, key=lambda v: (" fast" in str(v), str(v))):
        if str(variant).startswith("muc "):
            figures += [(variant, variant + ": " + t, read, better, digits)
                        for t, read, better, digits in MUC_FIGURES]
    for scenario, title, read, better, digits in figures:
        if scenario not in scenarios:
            continue
        medians, cells = {}, []
        for label in labels:
            values = [
                read(r)
                for r in runs
                if r.get("label") == label and r.get("scenario") == scenario
            ]
            values = [v for v in values if v is not None]
            if not values:
                medians[label] = None
                cells.append("-")
                continue
            med = statistics.median(values)
            medians[label] = med
            cell = fmt(med, digits)
            if len(values) > 1 and min(values) != max(values):
                cell += " ({}-{})".format(fmt(min(values), digits), fmt(max(values), digits))
            cells.append(cell)
        ratios = [
            ratio(medians.get(base), medians.get(other), better)
            for other in labels
            if other != base
        ]
        rows.append([title] + cells + ratios)
    return rows


def print_table(rows, header, markdown):
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "|".join(["---"] + ["--:"] * (len(header) - 1)) + "|")
        for row in rows:
            print("| " + " | ".join(row) + " |")
        return
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    line = lambda r: "  ".join(
        (c.ljust(widths[i]) if i == 0 else c.rjust(widths[i])) for i, c in enumerate(r)
    )
    print(line(header))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line(row))


def summary(run):
    """One line for one run: the figures that matter for its scenario."""
    s = run.get("scenario")
    parts = ["{} {}:".format(run.get("label") or "?", s)]
    if s in ("login", "hold", "setup-rosters"):
        parts.append("{} logins ok, {} failed, {}/s".format(
            get(run, "login", "ok"), get(run, "login", "failed"), fmt(get(run, "login", "per_s"), 0)))
    if s == "hold":
        parts.append("peak {} sessions, {} B/session".format(
            get(run, "sessions", "peak"), fmt(get(run, "server", "rss_per_session_b"), 0)))
    if s == "chat":
        parts.append("{} sent/s, {} delivered/s, p50 {} ms, p99 {} ms, {} undelivered".format(
            fmt(get(run, "chat", "sent_per_s"), 0), fmt(get(run, "chat", "delivered_per_s"), 0),
            fmt(get(run, "chat", "latency_ms", "p50"), 2),
            fmt(get(run, "chat", "latency_ms", "p99"), 2), chat_loss(run)))
    if s == "presence":
        parts.append("{} deliveries/s of {} expected, p50 {} ms, p99 {} ms".format(
            fmt(get(run, "presence", "delivered_per_s"), 0), get(run, "presence", "expected"),
            fmt(get(run, "presence", "latency_ms", "p50"), 2),
            fmt(get(run, "presence", "latency_ms", "p99"), 2)))
    if s == "mam":
        parts.append("{} pages/s, {} messages/s, p50 {} ms, p99 {} ms, {} refused".format(
            fmt(get(run, "mam", "answered_per_s"), 0), fmt(get(run, "mam", "items_per_s"), 0),
            fmt(get(run, "mam", "latency_ms", "p50"), 2),
            fmt(get(run, "mam", "latency_ms", "p99"), 2), get(run, "mam", "errors")))
    if s == "muc":
        parts.append("{}: {} of {} joined in {} s, {} posted/s, {} deliveries/s, p50 {} ms, "
                     "p99 {} ms, {} B/room, {} undelivered/bounced/not joined".format(
                         muc_variant(run), get(run, "muc", "joined"),
                         get(run, "muc", "memberships"), fmt(get(run, "muc", "join_s"), 2),
                         fmt(get(run, "muc", "sent_per_s"), 0),
                         fmt(get(run, "muc", "delivered_per_s"), 0),
                         fmt(get(run, "muc", "latency_ms", "p50"), 2),
                         fmt(get(run, "muc", "latency_ms", "p99"), 2),
                         fmt(get(run, "server", "rss_per_room_b"), 0), muc_loss(run)))
    if s == "setup-rosters":
        parts.append("{} rosters complete".format(get(run, "rosters", "complete")))
    parts.append("errors {}".format(run.get("errors")))
    return " ".join(parts)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("files", nargs="*", help="files of BENCH-JSON lines (default: stdin)")
    p.add_argument("--markdown", action="store_true", help="print a Markdown table")
    p.add_argument("--summary", action="store_true", help="one line per run instead of a table")
    p.add_argument("--base", default="parley",
                   help="label whose column the ratios are taken of (default: parley)")
    a = p.parse_args()

    runs = read_runs(a.files)
    if a.summary:
        for run in runs:
            print(summary(run))
        return 0
    runs = [r for r in runs if r.get("scenario") != "setup-rosters"]
    for r in runs:
        if r.get("scenario") == "muc":
            r["scenario"] = muc_variant(r)
    if not runs:
        print("bench-table: no BENCH-JSON lines", file=sys.stderr)
        return 1
    labels = []
    for r in runs:
        if r.get("label") not in labels:
            labels.append(r.get("label"))
    base = a.base if a.base in labels else labels[0]
    others = [l for l in labels if l != base]
    labels = [base] + others
    header = ["figure (median, min-max of runs)"] + labels
    header += ["{}/{}".format(base, o) for o in others]
    rows = build_rows(runs, labels, base)
    count = {}
    for r in runs:
        count[r.get("label")] = count.get(r.get("label"), 0) + 1
    print_table(rows, header, a.markdown)
    print()
    print("Ratios: above 1 means {} is better (rates: {} / other; latency, memory and CPU: "
          "other / {}).".format(base, base, base))
    print("Runs per server: " + ", ".join("{} {}".format(l, count.get(l, 0)) for l in labels) + ".")
    return 0


if __name__ == "__main__":
    sys.exit(main())
