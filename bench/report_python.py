"""The "Python" table of BENCHMARKS.md (issue 19 item 5), for bench/report.py.

Input: python_calls.json (bench/python_calls.py: ns per call), python_scrape.json
(bench/python_scrape.py: wsm-exporter's /metrics over 8 Python writers) and python_multiprocess.json
(bench/python_multiprocess.py: MultiProcessCollector over 8 prometheus_client writers), each a dict
with a "status"; a missing one is "not measured" with its reason, never an error.

Goals (issue 19): a counter inc from Python <= 100 ns and >= 10x faster than prometheus_client's
multiprocess mode; the scrape of 10k and of 100k series x 8 processes >= 40x faster than
MultiProcessCollector (wall time: the exporter's figure is a whole HTTP GET, the peer's a call in
the scraping process, so the comparison leans toward the peer).
"""
from report_format import at_most, fmt_ns, fmt_x, ratio, shown, verdict

INC_GOAL_NS, INC_GOAL_X, SCRAPE_GOAL_X = 100.0, 10.0, 40.0
SCRAPE_SIZES = (10000, 100000)
CLIENT, MULTI = "prometheus_client", "prometheus_client_multiprocess"
# (case in python_calls.json, its wsmetrics case, what the row is): the wsmetrics figure beside
# the same user code on prometheus_client, single-process and multiprocess.
CALL_ROWS = [
    ("counter_inc", "counter_inc", "counter inc, kept handle (`Counter.inc()`; peers: a resolved child)"),
    ("counter_inc", "dropin_counter_inc", "counter inc, drop-in `wsmetrics.prometheus` resolved child"),
    ("counter_labels_inc", "dropin_counter_labels_inc", "counter `.labels(type, priority).inc()`, drop-in"),
    ("histogram_observe", "histogram_observe", "histogram observe 0.1 s, kept handle (`Histogram.record`)"),
    ("histogram_observe", "dropin_histogram_observe", "histogram observe 0.1 s, drop-in"),
    ("record_message_sent", "record_message_sent",
     "`record_message_sent` (`wsmetrics.websocket` collector; peers: counter + 2 histograms via `.labels()`)"),
    ("record_message_sent", "dropin_record_message_sent", "`record_message_sent`, the peers' function on the drop-in"),
]


def not_measured(doc, script):
    """Why `doc` (one script's JSON, or None) has no figures; None when it has."""
    if doc is None:
        return f"not measured: {script} did not run"
    if doc.get("status") != "measured":
        return f"not measured: {script} {doc.get('status', 'skipped')} ({doc.get('reason', 'no data')})"
    return None


class PythonReport:
    def __init__(self, calls, scrape, multiprocess):
        self.calls, self.scrape, self.multiprocess = calls, scrape, multiprocess

    def case(self, side, name):
        """(ns, why not) of one case of python_calls.json."""
        why = not_measured(self.calls, "bench/python_calls.py")
        if why:
            return None, why
        s = self.calls["sides"].get(side) or {}
        if s.get("status") != "measured":
            return None, f"{side} {s.get('status', 'absent')}: {s.get('reason', '')}"
        # A drop-in that cannot be imported leaves one "dropin" entry for all its cases.
        c = s["cases"].get(name) or s["cases"].get(name.split("_")[0]) or {}
        if c.get("status") != "measured":
            return None, f"{c.get('status', 'absent')}: {c.get('reason', 'no such case')}"
        return c["ns"], None

    def run(self, doc, series):
        if doc is None or doc.get("status") != "measured":
            return None
        return next((r for r in doc["runs"] if r["series"] == series and r["workers"] == 8), None)

    def rows(self):
        """One dict per row, as latest.json keeps them: figures in ns or ms, goal, verdict."""
        rows = []
        for peer_case, ours, what in CALL_ROWS:
            ns, why = self.case("wsmetrics", ours)
            single, _ = self.case(CLIENT, peer_case)
            multi, _ = self.case(MULTI, peer_case)
            row = {"figure": what, "wsmetrics_ns": ns, "prometheus_client_ns": single,
                   "prometheus_client_multiprocess_ns": multi, "multiprocess_over_wsmetrics": ratio(multi, ns),
                   "goal": None, "status": None, "why_not": why}
            if ours == "counter_inc":  # the two goals on the kept handle, one row each
                rows.append({**row, "goal": f"<= {INC_GOAL_NS:.0f} ns", "status": verdict(at_most(ns, INC_GOAL_NS))})
                x = ratio(multi, ns)
                rows.append({**row, "goal": f">= {INC_GOAL_X:.0f}x faster than multiprocess",
                             "status": verdict(None if x is None else x >= INC_GOAL_X)})
            else:
                rows.append(row)
        for series in SCRAPE_SIZES:
            ours, peer = self.run(self.scrape, series), self.run(self.multiprocess, series)
            ms = ours and ours["scrape_wall_ms"]
            peer_ms = peer and peer["scrape_wall_ms"]
            x = ratio(peer_ms, ms)
            why = (not_measured(self.scrape, "bench/python_scrape.py") or
                   (None if ours else f"not measured: no {series}-series run"))
            rows.append({"figure": f"scrape {series // 1000}k series x 8 Python processes (wall)", "wsmetrics_ms": ms,
                         "wsmetrics_exporter_cpu_ms": ours and ours["exporter_cpu_ms_per_scrape"],
                         "prometheus_client_multiprocess_ms": peer_ms, "multiprocess_over_wsmetrics": x,
                         # CPU beside wall: steadier on the shared machine, though only the wall is judged
                         "prometheus_client_multiprocess_cpu_ms": peer and peer["scrape_cpu_ms"],
                         "multiprocess_over_wsmetrics_cpu": ratio(peer and peer["scrape_cpu_ms"],
                                                                  ours and ours["exporter_cpu_ms_per_scrape"]),
                         "goal": f">= {SCRAPE_GOAL_X:.0f}x faster than MultiProcessCollector",
                         "status": verdict(None if x is None else x >= SCRAPE_GOAL_X), "why_not": why,
                         "peer_why_not": None if peer else (not_measured(self.multiprocess, "bench/python_multiprocess.py")
                                                            or f"not measured: no {series}-series run")})
        return rows

    @staticmethod
    def cells(r):
        if "wsmetrics_ms" in r:
            ours = (r["why_not"] or f"{fmt_ns(r['wsmetrics_ms'] * 1e6)} (exporter CPU "
                    f"{fmt_ns(r['wsmetrics_exporter_cpu_ms'] * 1e6)})")
            peer_ms = r["prometheus_client_multiprocess_ms"]
            peers = ("-", r["peer_why_not"] or f"{fmt_ns(peer_ms * 1e6)} (CPU "
                     f"{fmt_ns(r['prometheus_client_multiprocess_cpu_ms'] * 1e6)})")
            x = fmt_x(r["multiprocess_over_wsmetrics"])
            if r["multiprocess_over_wsmetrics_cpu"] is not None:
                x += f" (CPU {fmt_x(r['multiprocess_over_wsmetrics_cpu'])})"
        else:
            ours = r["why_not"] or fmt_ns(r["wsmetrics_ns"])
            peers = (fmt_ns(r["prometheus_client_ns"]), fmt_ns(r["prometheus_client_multiprocess_ns"]))
            x = fmt_x(r["multiprocess_over_wsmetrics"])
        return (r["figure"], ours, *peers, x, r["goal"] or "-",
                shown(r["status"]) if r["status"] else "-")

    def conditions(self):
        """The sentence under the table: versions, how each figure was taken, or why not."""
        parts = []
        if not not_measured(self.calls, "bench/python_calls.py"):
            c = self.calls["conditions"]
            client = (self.calls["sides"].get(CLIENT) or {}).get("versions", {}).get("prometheus_client", "?")
            loops = [case.get("loop_ns") for s in self.calls["sides"].values() if s.get("status") == "measured"
                     for case in s["cases"].values() if case.get("status") == "measured"]
            parts.append(
                f"Per call (`bench/python_calls.py`, Python {c['python']}, prometheus_client {client}): CPU time, the median "
                f"of {c['repetitions']} timed loops of ~0.1 s, minus an empty loop of as many passes "
                f"({min(loops):.1f}-{max(loops):.1f} ns per pass), GC off; each side in its own process, "
                "multiprocess mode with PROMETHEUS_MULTIPROC_DIR on /dev/shm. The peers' record_message_sent "
                "is a Python function doing what a collector of that name does with prometheus_client.")
        else:
            parts.append("Per call: " + not_measured(self.calls, "bench/python_calls.py") + ".")
        if not not_measured(self.scrape, "bench/python_scrape.py"):
            reps = {r["repetitions"] for r in self.scrape["runs"]}
            parts.append(
                "Scrape (`bench/python_scrape.py`): 8 forked Python processes wrote the series through the "
                "wsmetrics module (python_multiprocess.py's shape) and stayed alive; the median wall time of "
                f"{'/'.join(map(str, sorted(reps)))} `GET /metrics` (text, no gzip, every body checked) from a real "
                "`wsm-exporter --resource-monitoring off` (its CPU per scrape from /proc in 10 ms ticks over "
                "all of them, its background interval work included), against MultiProcessCollector + "
                "generate_latest in the scraping process (`bench/python_multiprocess.py`, same run). Judged on "
                "wall time, which for wsmetrics includes the HTTP request and the transfer of the body.")
        else:
            parts.append("Scrape: " + not_measured(self.scrape, "bench/python_scrape.py") + ".")
        return " ".join(parts)

    def render(self, report):
        """Writes the section through bench/report.py's Report (its out() and table())."""
        report.out("## Python (issue 19)", "",
                   "Per-call cost from Python and the scrape of series written by Python processes, against "
                   "prometheus_client in the same run; `multiprocess / wsmetrics`: how many times faster.", "")
        report.table(["figure", "wsmetrics", "prometheus_client", "prometheus_client multiprocess",
                      "multiprocess / wsmetrics", "goal", "status"], [self.cells(r) for r in self.rows()])
        report.out(self.conditions(), "")
