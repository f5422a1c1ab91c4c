#!/usr/bin/python3
"""Scrape cost of prometheus_client's multiprocess mode, the Python peer of bench/scrape.cpp.

Run by /usr/bin/python3: Debian's python3-prometheus-client (0.16) is installed for that
interpreter only. The segment has bench/scrape.cpp's shape, so the figures compare with BM_Scrape:

- N series (--series, default 10k and 100k), labels role + id: 90% counters in 50 families
  (bench_c<k>_total), 9% gauges in 5 (bench_g<k>), 1% histograms in 1 (bench_h0_seconds).
- W worker processes (--workers, default 8), forked as a pre-forked server forks its workers; each
  creates every series and records into it, as each writer thread of bench/scrape.cpp does: counters
  inc(w + 1), gauges set(id), 16 observations per histogram. Workers exit when done; their files stay,
  as those of live workers would (nothing calls mark_process_dead), so the scrape reads W of each.
- Gauges use multiprocess_mode='livesum': wsm-exporter's default gauge mode is the sum over live
  writers (shm::GaugeMode::sum), and 'livesum' is the same rule in prometheus_client.
- Histogram buckets: the 36 edges wsm-exporter exposes for a `_seconds` family in the text format
  (2^10 .. 2^45 ns, exposition/classic_buckets.hpp) plus +Inf, so both bodies carry the same lines;
  the client's default list has 15.
- PROMETHEUS_MULTIPROC_DIR is a fresh directory under /dev/shm (tmpfs, where wsm's segment lives).

The scrape is what an exporter does with this mode on each request: CollectorRegistry() +
MultiProcessCollector(registry, path) + generate_latest(registry), --repetitions times; median wall
and CPU time (one thread, this process), body size. Each body is then checked against what the
workers wrote (sample counts and values); a mismatch makes the run fail (exit 1).

Filling 100k x 8 takes a while in Python. After the first size the time of the next ones is
estimated and, when it would exceed --budget seconds, repetitions drop to 3 and then the series
count drops to what fits: the output then says so ("reduced"), never silently.

Writes JSON to --out: {"status": "measured", "runs": [...], ...}, {"status": "skipped", "reason"} when
prometheus_client cannot be imported (exit 0, or 77 with --skip-code 77 for ctest), or
{"status": "failed", "reason"} (exit 1).
"""
import argparse
import json
import os
import re
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROLES = ("doctor", "nurse", "patient_monitor", "admin")
OBSERVATIONS = 16  # per histogram and worker, as bench/scrape.cpp's Writers
# wsm-exporter's text `le` edges for a seconds histogram: 2^10 .. 2^45 ns.
BUCKETS = tuple((1 << k) / 1e9 for k in range(10, 46)) + (float("inf"),)


def shape(series):
    """(counters, gauges, histograms): bench/scrape.cpp's split of `series`."""
    hist, gauges = series // 100, series * 9 // 100
    return series - hist - gauges, gauges, hist


def observed(w):
    """Worker w's histogram observations in seconds, endless: bench/scrape.cpp's generator (ns below
    10 s); each histogram takes the next OBSERVATIONS of them."""
    v = 1000 + w
    while True:
        v = (v * 6364136223846793005) % (1 << 64) % 10_000_000_000
        yield v / 1e9


def fill_worker(w, series):
    """One worker: registers every series and records into it (in a forked child)."""
    from prometheus_client import Counter, Gauge, Histogram
    counters, gauges, _ = shape(series)
    # registry=None: the multiprocess files are what gets scraped, not this process's registry.
    cf = [Counter(f"bench_c{k}", "bench counter", ["role", "id"], registry=None) for k in range(50)]
    gf = [Gauge(f"bench_g{k}", "bench gauge", ["role", "id"], registry=None, multiprocess_mode="livesum")
          for k in range(5)]
    hf = Histogram("bench_h0_seconds", "bench histogram", ["role", "id"], registry=None, buckets=BUCKETS)
    values = observed(w)
    for i in range(series):
        labels = (ROLES[i % 4], str(i))
        if i < counters:
            cf[i % 50].labels(*labels).inc(w + 1)
        elif i < counters + gauges:
            gf[i % 5].labels(*labels).set(i)
        else:
            h = hf.labels(*labels)
            for _ in range(OBSERVATIONS):
                h.observe(next(values))


def fill(path, series, workers):
    """Forks `workers` workers into `path`; returns (wall s, CPU s of all workers)."""
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    start = time.perf_counter()
    pids = []
    for w in range(workers):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                fill_worker(w, series)
            except BaseException as e:  # the parent sees the exit status; say why here
                print(f"python_multiprocess.py: worker {w}: {type(e).__name__}: {e}", file=sys.stderr)
                code = 1
            os._exit(code)  # never return into the parent's code
        pids.append(pid)
    cpu, failed = 0.0, 0
    for pid in pids:
        _, status, usage = os.wait4(pid, 0)
        cpu += usage.ru_utime + usage.ru_stime
        failed += os.waitstatus_to_exitcode(status) != 0
    if failed:
        raise RuntimeError(f"{failed} of {workers} workers failed")
    return time.perf_counter() - start, cpu


def scrape(path):
    """One scrape as an exporter of this mode does it: (body, wall s, CPU s)."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector
    wall, cpu = time.perf_counter(), time.process_time()
    registry = CollectorRegistry()
    MultiProcessCollector(registry, str(path))
    body = generate_latest(registry)
    return body, time.perf_counter() - wall, time.process_time() - cpu


# generate_latest sorts the labels: id, le (buckets only), role.
SAMPLE = re.compile(r'(\w+)\{id="(\d+)",(?:le="([^"]*)",)?role="\w+"\} (\S+)')


def verify(body, series, workers):
    """Every sample the workers wrote, with its merged value; returns a list of problems."""
    samples, problems = [], []
    for line in body.decode().splitlines():
        if line.startswith("#"):
            continue
        m = SAMPLE.fullmatch(line)
        if not m:
            problems.append(f"unexpected line {line[:80]!r}")
            continue
        samples.append((m.group(1), int(m.group(2)), m.group(3), float(m.group(4)), line))
    return problems + judge(samples, series, workers)


def judge(samples, series, workers):
    """Problems of the (name, id, le, value, line) samples of a scrape against what the workers
    wrote (also bench/python_scrape.py's check of wsm-exporter's body): every series present once
    with its merged value, gauges summed over the workers (each set its id)."""
    counters, gauges, hist = shape(series)
    want_counter = workers * (workers + 1) // 2
    seen = {"counter": 0, "gauge": 0, "bucket": 0, "count": 0, "sum": 0}
    problems = []
    for name, i, le, value, line in samples:
        if name.startswith("bench_c"):
            kind, ok = "counter", i < counters and value == want_counter
        elif name.startswith("bench_g"):
            kind, ok = "gauge", counters <= i < counters + gauges and value == workers * i
        elif name == "bench_h0_seconds_bucket":
            kind, ok = "bucket", value == OBSERVATIONS * workers if le == "+Inf" else value >= 0
        elif name == "bench_h0_seconds_count":
            kind, ok = "count", value == OBSERVATIONS * workers
        elif name == "bench_h0_seconds_sum":
            kind, ok = "sum", value > 0
        else:
            kind, ok = None, False
        if kind:
            seen[kind] += 1
        if not ok and len(problems) < 5:
            problems.append(f"wrong sample {line[:80]!r}")
    want = {"counter": counters, "gauge": gauges, "bucket": hist * len(BUCKETS), "count": hist, "sum": hist}
    problems += [f"{k}: {seen[k]} samples, expected {want[k]}" for k in want if seen[k] != want[k]]
    return problems


def measure(series, workers, repetitions, root):
    path = Path(tempfile.mkdtemp(prefix=f"wsm-pymp-{series}-", dir=root))
    try:
        fill_s, fill_cpu_s = fill(path, series, workers)
        walls, cpus, body = [], [], b""
        for _ in range(repetitions):
            body, wall, cpu = scrape(path)
            walls.append(wall)
            cpus.append(cpu)
        problems = verify(body, series, workers)
        if problems:
            raise RuntimeError(f"{series} x {workers}: the body does not hold what was written: "
                               + "; ".join(problems[:8]))
        files_mb = sum(f.stat().st_size for f in path.iterdir()) / 1e6
    finally:
        shutil.rmtree(path, ignore_errors=True)
    return {"series": series, "workers": workers, "repetitions": repetitions,
            "fill_wall_s": round(fill_s, 3), "fill_cpu_s": round(fill_cpu_s, 3),
            "scrape_wall_ms": round(1e3 * statistics.median(walls), 2),
            "scrape_cpu_ms": round(1e3 * statistics.median(cpus), 2),
            "scrape_wall_ms_all": [round(1e3 * x, 2) for x in walls],
            "body_MB": round(len(body) / 1e6, 3), "files_MB": round(files_mb, 1),
            "samples": body.count(b"\n") - body.count(b"\n#") - (1 if body.startswith(b"#") else 0),
            "scraper_peak_rss_MB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def plan(size, done, repetitions, left):
    """(series, repetitions, note) for the next size, estimated from the last measured one (fill and
    scrape are about linear in series, 20% margin): fewer repetitions first, then fewer series."""
    fill_per = done["fill_wall_s"] / done["series"]
    scrape_per = done["scrape_wall_ms"] / 1e3 / done["series"]
    cost = lambda series, reps: 1.2 * (fill_per + scrape_per * reps) * series
    fewer = min(repetitions, 3)
    for reps in dict.fromkeys((repetitions, fewer)):
        if cost(size, reps) <= left:
            note = None if reps == repetitions else (
                f"repetitions cut from {repetitions} to {reps}: {size} series x {repetitions} would take "
                f"~{cost(size, repetitions):.0f} s, over the {left:.0f} s left of the budget")
            return size, reps, note
    fit = int(left / cost(1, fewer)) // 1000 * 1000
    why = f"{size} series would take ~{cost(size, fewer):.0f} s, over the {left:.0f} s left of the budget"
    if fit <= done["series"]:
        return None, 0, why + ": not measured"
    return fit, fewer, why + f": measured {fit} series instead"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--series", default="10000,100000", help="comma-separated sizes, smallest first")
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--repetitions", type=int, default=5)
    ap.add_argument("--budget", type=float, default=170, help="seconds for the whole run")
    ap.add_argument("--skip-code", type=int, default=0, help="exit status when prometheus_client is missing")
    ap.add_argument("--dir", default="/dev/shm" if os.path.isdir("/dev/shm") else None,
                    help="where each run's PROMETHEUS_MULTIPROC_DIR is made")
    args = ap.parse_args()
    start = time.perf_counter()
    # The client picks its multiprocess value class at import, from this variable.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = args.dir or tempfile.gettempdir()
    try:
        import prometheus_client
    except ImportError as e:
        result = {"status": "skipped", "reason": f"{sys.executable} cannot import prometheus_client ({e}); "
                  "scripts/setup installs python3-prometheus-client"}
        code = args.skip_code
    else:
        conditions = {"python": sys.version.split()[0], "prometheus_client": getattr(
            prometheus_client, "__version__", None) or dpkg_version(), "workers": args.workers,
            "gauge_mode": "livesum", "histogram_buckets": len(BUCKETS), "observations_per_histogram":
            OBSERVATIONS, "multiproc_dir_on": args.dir, "budget_s": args.budget,
            "load_before": [round(x, 2) for x in os.getloadavg()]}
        runs, notes, code = [], [], 0
        try:
            for size in sorted(int(s) for s in args.series.split(",")):
                reps = args.repetitions
                if runs:
                    size, reps, note = plan(size, runs[-1], args.repetitions,
                                            args.budget - (time.perf_counter() - start))
                    if note:
                        notes.append(note)
                        print(f"python_multiprocess.py: reduced: {note}", file=sys.stderr)
                    if size is None:
                        continue
                runs.append(measure(size, args.workers, reps, args.dir))
                print(f"python_multiprocess.py: {json.dumps(runs[-1])}", file=sys.stderr)
            result = {"status": "measured", "conditions": conditions, "runs": runs, "reduced": notes,
                      "took_s": round(time.perf_counter() - start, 1)}
        except Exception as e:
            result = {"status": "failed", "reason": f"{type(e).__name__}: {e}", "conditions": conditions,
                      "runs": runs}
            code = 1
    print(f"bench/python_multiprocess.py: {result['status']}"
          + (f" ({result['reason']})" if "reason" in result else ""), file=sys.stderr)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    return code


def dpkg_version():
    """prometheus_client 0.16 has no __version__; Debian's package says which it is."""
    import subprocess
    r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "python3-prometheus-client"],
                       capture_output=True, text=True)
    return r.stdout.strip() or None


if __name__ == "__main__":
    sys.exit(main())
