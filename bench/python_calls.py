#!/usr/bin/python3
"""Cost of one record call from Python: wsmetrics against prometheus_client (issue 19 item 5).

Run by /usr/bin/python3 (Debian's python3-prometheus-client 0.16 is installed for it only), from the
repository root after a build:

    /usr/bin/python3 bench/python_calls.py --build build --out build/bench-raw/python_calls.json

Each side runs in a subprocess of its own (this script with --side), so one side's imports and
environment never reach another's:

- wsmetrics: the module's handles (Counter.inc, Histogram.record on a *_seconds family), the
  drop-in wsmetrics.prometheus (prometheus_client's user code, unchanged) and
  wsmetrics.websocket.WebSocketMetricsCollector.record_message_sent, on a fresh segment removed
  afterwards. A part that cannot be imported is "skipped" with the reason, never left out silently.
- prometheus_client: single-process mode (the default registry).
- prometheus_client_multiprocess: PROMETHEUS_MULTIPROC_DIR set to a fresh /dev/shm directory before
  the import (the client picks its mmap-file value class then), removed afterwards.

The same calls on each side: a counter with labels (message_type, priority), its child resolved
once (`c.inc()`, as a kept handle) and looked up per call (`C.labels(...).inc()`); a latency
histogram observe of 0.1 s (prometheus_client's default buckets: it scans them linearly, and 0.1 s
is the 6th of 15); and record_message_sent, for prometheus_client the work a collector of that
name does there (as a Python function: `labels(...)` then inc on websocket_messages_sent_total
{message_type, priority}, observe on websocket_message_size_bytes {message_type}, observe on
websocket_message_latency_seconds {message_type}).

Timing: timeit (GC off during a loop, CPU time of the process) of loops calibrated to ~0.1 s, each paired
with the same loop of `pass` whose time is subtracted (the loop's own overhead, reported as
loop_ns); the per-call figure is the median over --repetitions pairs. CPython's call overhead is
part of every figure: that is what a Python caller pays.

Writes JSON to --out: {"status": "measured", "conditions": {...}, "sides": {side: {"status",
"cases": {case: {"status": "measured", "ns", "ns_all", "loop_ns", "calls"} | {"status":
"skipped"|"failed", "reason"}}}}}. Exit 0 when every side ran (cases may be skipped), 1 otherwise.
A benchmark measures: nothing here judges a figure (bench/report_python.py sets MET/MISSED).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path

SIDES = ("wsmetrics", "prometheus_client", "prometheus_client_multiprocess")
LATENCY_S, SIZE_BYTES = 0.1, 1024
SIZE_BUCKETS = (64, 256, 1024, 4096, 16384, 65536, 262144, 1048576)  # bytes, for the peer's size histogram


def per_call(stmt, names, repetitions, target_s=0.1):
    """Median ns per `stmt`, with `names` bound as locals of the timed function (as a kept handle
    is a local or an attribute in real code, not a global), minus an empty loop's ns per pass."""
    setup = "; ".join(f"{k} = _names[{k!r}]" for k in names) or "pass"
    # CPU time of this process, not wall: on the shared 2-core machine a loop's wall time adds the
    # waits for a core (the C++ record-path table is in CPU time too).
    timer = timeit.Timer(stmt, setup, time.process_time, globals={"_names": names})
    empty = timeit.Timer("pass", setup, time.process_time, globals={"_names": names})
    number, took = timer.autorange()  # >= 0.2 s: scale to ~target_s per repetition
    number = max(1000, int(number * target_s / took))
    per, loop = [], []
    for _ in range(repetitions):
        t, e = timer.timeit(number), empty.timeit(number)
        per.append((t - e) / number * 1e9)
        loop.append(e / number * 1e9)
    return {"status": "measured", "ns": round(statistics.median(per), 2), "ns_all": [round(x, 2) for x in per],
            "loop_ns": round(statistics.median(loop), 2), "calls": number}


def guarded(cases, name, make, repetitions):
    """cases[name] = the measurement of make()'s (stmt, names), or why there is none."""
    try:
        stmt, names = make()
    except ImportError as e:
        cases[name] = {"status": "skipped", "reason": f"cannot import: {e}"}
        return
    except Exception as e:  # a broken case says so; the other cases still run
        cases[name] = {"status": "failed", "reason": f"{type(e).__name__}: {e}"}
        return
    try:
        cases[name] = per_call(stmt, names, repetitions)
    except Exception as e:
        cases[name] = {"status": "failed", "reason": f"{type(e).__name__}: {e}"}


def client_cases(module, repetitions, label):
    """The same user code on prometheus_client or on the drop-in wsmetrics.prometheus (`module`)."""
    cases = {}
    Counter, Histogram = module.Counter, module.Histogram
    sent = Counter(f"{label}_messages_sent_total", "sent", ["message_type", "priority"])
    latency = Histogram(f"{label}_message_latency_seconds", "latency", ["message_type"])
    size = Histogram(f"{label}_message_size_bytes", "size", ["message_type"], buckets=SIZE_BUCKETS)

    def record_message_sent(conn_id, message_type, priority, size_bytes, latency_seconds):
        sent.labels(message_type, priority).inc()
        size.labels(message_type).observe(size_bytes)
        latency.labels(message_type).observe(latency_seconds)

    guarded(cases, "counter_inc", lambda: ("c.inc()", {"c": sent.labels("ecg_data", "high")}), repetitions)
    guarded(cases, "counter_labels_inc", lambda: ('c.labels("ecg_data", "high").inc()', {"c": sent}), repetitions)
    guarded(cases, "histogram_observe", lambda: (f"h.observe({LATENCY_S})", {"h": latency.labels("ecg_data")}),
            repetitions)
    guarded(cases, "record_message_sent", lambda: (
        f'f("c1", "ecg_data", "high", {SIZE_BYTES}, {LATENCY_S})', {"f": record_message_sent}), repetitions)
    return cases


def side_wsmetrics(repetitions):
    import wsmetrics
    reg = wsmetrics.Registry.open()  # WSM_SEGMENT: the fresh segment main() made up
    cases = {}
    guarded(cases, "counter_inc", lambda: ("c.inc()", {"c": reg.counter(
        "pycalls_messages_sent_total", {"message_type": "ecg_data", "priority": "high"})}), repetitions)
    guarded(cases, "histogram_observe", lambda: (f"h.record({LATENCY_S})", {"h": reg.histogram(
        "pycalls_message_latency_seconds", {"message_type": "ecg_data"})}), repetitions)

    def collector():
        from wsmetrics.websocket import WebSocketMetricsCollector
        # No resource sampling thread: it would run beside the timed loop.
        col = WebSocketMetricsCollector(enable_resource_monitoring=False)
        col.record_connection("c1", "doctor", "u1", "p1")
        return f'col.record_message_sent("c1", "ecg_data", "high", {SIZE_BYTES}, {LATENCY_S})', {"col": col}
    guarded(cases, "record_message_sent", collector, repetitions)
    try:
        import wsmetrics.prometheus as dropin
    except ImportError as e:
        cases["dropin"] = {"status": "skipped", "reason": f"cannot import wsmetrics.prometheus: {e}"}
    else:
        for k, v in client_cases(dropin, repetitions, "pydropin").items():
            cases[f"dropin_{k}"] = v
    return cases, {"wsmetrics": os.path.dirname(wsmetrics.__file__)}


def side_prometheus_client(repetitions):
    import prometheus_client
    return client_cases(prometheus_client, repetitions, "pycalls"), {"prometheus_client": client_version()}


def client_version():
    import prometheus_client
    from python_multiprocess import dpkg_version  # 0.16 has no __version__
    return getattr(prometheus_client, "__version__", None) or dpkg_version()


SIDE_FUNCS = {"wsmetrics": side_wsmetrics, "prometheus_client": side_prometheus_client,
              "prometheus_client_multiprocess": side_prometheus_client}


def run_side(side, args):
    """One side in a subprocess with its own environment; returns its JSON, or why there is none."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(args.build / "python"), env.get("PYTHONPATH")]))
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    segment = f"pycalls-{os.getpid()}"
    tmp = None
    if side == "wsmetrics":
        env["WSM_SEGMENT"] = segment
        env["WEBSOCKET_MONITORING_ENABLED"] = "true"
    elif side == "prometheus_client_multiprocess":
        tmp = tempfile.mkdtemp(prefix="wsm-pycalls-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
        env["PROMETHEUS_MULTIPROC_DIR"] = tmp
    try:
        r = subprocess.run([sys.executable, __file__, "--side", side, "--repetitions", str(args.repetitions)],
                           env=env, capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            return {"status": "failed", "reason": f"exit {r.returncode}: {r.stderr.strip()[-600:]}"}
        return json.loads(r.stdout)
    except (subprocess.TimeoutExpired, ValueError) as e:
        return {"status": "failed", "reason": f"{type(e).__name__}: {e}"}
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
        if side == "wsmetrics" and os.path.exists(f"/dev/shm/wsm.{segment}"):
            subprocess.run([str(args.build / "bin" / "wsm"), "rm", "--force", segment], capture_output=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path)
    ap.add_argument("--build", type=Path, default=Path("build"))
    ap.add_argument("--repetitions", type=int, default=7)
    ap.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)  # internal: one side, JSON to stdout
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))  # python_multiprocess's dpkg_version
    if args.side:
        try:
            cases, versions = SIDE_FUNCS[args.side](args.repetitions)
            print(json.dumps({"status": "measured", "versions": versions, "cases": cases}))
        except ImportError as e:
            print(json.dumps({"status": "skipped", "reason": f"{sys.executable} cannot import: {e}"}))
        return 0
    if args.out is None:
        ap.error("--out is required")
    conditions = {"python": sys.version.split()[0], "executable": sys.executable, "repetitions": args.repetitions,
                  "latency_s": LATENCY_S, "size_bytes": SIZE_BYTES,
                  "load_before": [round(x, 2) for x in os.getloadavg()]}
    sides = {}
    for side in SIDES:
        sides[side] = run_side(side, args)
        print(f"python_calls.py: {side}: {json.dumps(sides[side])}", file=sys.stderr)
    ok = all(s.get("status") in ("measured", "skipped") for s in sides.values())
    result = {"status": "measured" if ok else "failed", "conditions": conditions, "sides": sides}
    if not ok:
        result["reason"] = "; ".join(f"{k}: {v.get('reason')}" for k, v in sides.items() if v.get("status") == "failed")
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"bench/python_calls.py: {result['status']}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
