#!/usr/bin/python3
"""Scrape of a segment written by 8 Python processes through wsmetrics, served by a real
wsm-exporter: the wsmetrics side of bench/python_multiprocess.py (issue 19 item 5).

Run by /usr/bin/python3 from the repository root after a build:

    /usr/bin/python3 bench/python_scrape.py --build build --out build/bench-raw/python_scrape.json

For each size (--series, default 10k and 100k):
- build/bin/wsm-bench-python-segment creates a fresh segment sized like bench/scrape.cpp's
  (Python's Registry.open creates segments with the default limits, 16384 series).
- W worker processes (--workers, default 8) are forked from this one, as a pre-forked server forks
  its workers, and write python_multiprocess.py's shape through the wsmetrics module (its shape()
  and observed(): 90% counters in 50 families, 9% gauges in 5, 1% histograms in 1, labels role +
  id; counters inc(w + 1), gauges set(id) in mode sum, 16 observations per histogram). They then
  stay alive until the scrapes are done: wsmetrics drops an exited process's gauges, and live
  workers are what a server has.
- build/bin/wsm-exporter serves the segment on a free 127.0.0.1 port (--resource-monitoring off:
  no /proc sampling of the workers beside the scrapes; interval default). After one warm-up GET,
  --repetitions GETs of /metrics (text, no gzip) are timed: wall ms from the request to the last
  byte read, median; and the exporter's CPU (utime + stime from /proc, 10 ms ticks) over all of
  them, per scrape. Each body is checked against what the workers wrote (every bench_* sample and
  its value); a mismatch fails the run.
- The workers are released, the exporter stopped by pid and the segment removed (wsm rm --force).

MultiProcessCollector's figures at the same sizes come from bench/python_multiprocess.py in the
same scripts/bench run; bench/report_python.py sets the two side by side.

Writes JSON to --out: {"status": "measured", "conditions", "runs": [...]}, {"status": "skipped",
"reason"} when the module or the binaries are missing (exit 0, or --skip-code for ctest), or {"status": "failed", "reason"}
(exit 1).
"""
import argparse
import json
import os
import re
import select
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from python_multiprocess import OBSERVATIONS, ROLES, judge, observed, shape  # noqa: E402

# Starting and stopping real servers by pid: the fleet's helpers (free ports, SIGTERM then SIGKILL).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools" / "fleet"))
import servers  # noqa: E402

WORKER_TIMEOUT_S = 600  # filling 100k series in Python takes seconds; a hung worker fails the run


def fill_worker(segment, w, series):
    """One worker (a forked child): every series through the wsmetrics module."""
    import wsmetrics
    reg = wsmetrics.Registry.open(segment, role=f"bench-py-{w}", enabled=True)
    counters, gauges, _ = shape(series)
    values = observed(w)
    for i in range(series):
        labels = {"role": ROLES[i % 4], "id": str(i)}
        if i < counters:
            reg.counter(f"bench_c{i % 50}_total", labels, "bench counter").inc(w + 1)
        elif i < counters + gauges:
            reg.gauge(f"bench_g{i % 5}", labels, "bench gauge").set(i)
        else:
            h = reg.histogram("bench_h0_seconds", labels, "bench histogram")
            for _ in range(OBSERVATIONS):
                h.record(next(values))


class Workers:
    """W forked writers of `segment`, parked after filling until close(); fill wall and CPU time."""

    def __init__(self, segment, series, workers):
        ready_r, ready_w = os.pipe()
        self.go_r, self.go_w = os.pipe()
        start = time.perf_counter()
        self.pids = []
        for w in range(workers):
            pid = os.fork()
            if pid == 0:
                os.close(ready_r)
                os.close(self.go_w)
                ok = b"0"
                try:
                    fill_worker(segment, w, series)
                    ok = b"1"
                except BaseException as e:  # the parent sees b"0"; say why here
                    print(f"python_scrape.py: worker {w}: {type(e).__name__}: {e}", file=sys.stderr)
                os.write(ready_w, ok)
                if ok == b"1":
                    os.read(self.go_r, 1)  # parked, alive, until the parent closes go_w (EOF)
                os._exit(0 if ok == b"1" else 1)
            self.pids.append(pid)
        os.close(ready_w)
        os.close(self.go_r)
        got = b""
        deadline = time.monotonic() + WORKER_TIMEOUT_S
        while len(got) < workers:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([ready_r], [], [], left)[0]:
                os.close(ready_r)
                self.close()
                raise RuntimeError(f"workers not done after {WORKER_TIMEOUT_S} s")
            chunk = os.read(ready_r, workers)
            if not chunk:
                break
            got += chunk
        os.close(ready_r)
        self.fill_wall_s = time.perf_counter() - start
        if got.count(b"1") != workers:
            self.close()
            raise RuntimeError(f"{workers - got.count(b'1')} of {workers} workers failed to fill the segment")

    def close(self):
        """Releases the workers and waits for them; returns their CPU seconds."""
        if self.go_w is not None:
            os.close(self.go_w)
            self.go_w = None
        cpu = 0.0
        for pid in self.pids:
            _, _, usage = os.wait4(pid, 0)
            cpu += usage.ru_utime + usage.ru_stime
        self.pids = []
        return cpu


class Exporter:
    """wsm-exporter serving `segment` on a free 127.0.0.1 port; stop() ends it by its pid."""

    def __init__(self, exe, segment):
        self.url = f"http://127.0.0.1:{servers.free_port()}/metrics"
        self.proc = subprocess.Popen([str(exe), "--segment", segment, "--listen", self.url.split("/")[2],
                                      "--resource-monitoring", "off"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"wsm-exporter exited {self.proc.returncode}: {self.proc.stderr.read().decode()[-400:]}")
            try:
                self.get()
                return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("wsm-exporter did not answer within 20 s")
                time.sleep(0.1)

    def get(self):
        """(body, wall s) of one GET /metrics, to the last byte."""
        start = time.perf_counter()
        with urllib.request.urlopen(self.url, timeout=60) as r:
            body = r.read()
        return body, time.perf_counter() - start

    def cpu_s(self):
        """The exporter's utime + stime so far (/proc, clock ticks)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        servers.stop(self.proc)


SAMPLE = re.compile(r'(bench_\w+)\{([^}]*)\} (\S+)')
LABEL = re.compile(r'(\w+)="([^"]*)"')


def verify(body, series, workers):
    """Every bench_* sample the workers wrote, with its value (the exporter adds its own wsm_*
    series, which are not checked); returns a list of problems."""
    samples, problems = [], []
    for line in body.decode().splitlines():
        m = SAMPLE.fullmatch(line)
        if not m:
            if line.startswith("bench_"):
                problems.append(f"unexpected line {line[:80]!r}")
            continue
        labels = dict(LABEL.findall(m.group(2)))
        samples.append((m.group(1), int(labels.get("id", -1)), labels.get("le"), float(m.group(3)), line))
    return problems + judge(samples, series, workers)


def measure(series, workers, repetitions, bin_dir):
    segment = f"pybench-scrape-{os.getpid()}-{series}"
    made = subprocess.run([str(bin_dir / "wsm-bench-python-segment"), segment, str(series), str(workers)],
                          capture_output=True, text=True)
    if made.returncode != 0:
        raise RuntimeError(f"wsm-bench-python-segment: {made.stderr.strip()}")
    workers_, exporter = None, None
    try:
        workers_ = Workers(segment, series, workers)
        exporter = Exporter(bin_dir / "wsm-exporter", segment)
        body, _ = exporter.get()  # warm-up: the exporter's first scrape attaches and sizes its buffers
        cpu0, walls = exporter.cpu_s(), []
        for _ in range(repetitions):
            body, wall = exporter.get()
            walls.append(wall)
            problems = verify(body, series, workers)
            if problems:
                raise RuntimeError(f"{series} x {workers}: the body does not hold what was written: "
                                   + "; ".join(problems[:8]))
        cpu = (exporter.cpu_s() - cpu0) / repetitions
    finally:
        if exporter:
            exporter.stop()
        fill_cpu_s = workers_.close() if workers_ else 0.0
        subprocess.run([str(bin_dir / "wsm"), "rm", "--force", segment], capture_output=True)
    return {"series": series, "workers": workers, "repetitions": repetitions,
            "fill_wall_s": round(workers_.fill_wall_s, 3), "fill_cpu_s": round(fill_cpu_s, 3),
            "scrape_wall_ms": round(1e3 * statistics.median(walls), 2),
            "scrape_wall_ms_all": [round(1e3 * x, 2) for x in walls],
            "exporter_cpu_ms_per_scrape": round(1e3 * cpu, 1),
            "body_MB": round(len(body) / 1e6, 3),
            "samples": sum(1 for line in body.split(b"\n") if line and not line.startswith(b"#"))}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--build", type=Path, default=Path("build"))
    ap.add_argument("--series", default="10000,100000", help="comma-separated sizes")
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--skip-code", type=int, default=0, help="exit status when the module or a binary is missing")
    ap.add_argument("--repetitions", type=int, default=21)  # cheap; the shared machine makes wall times noisy
    args = ap.parse_args()
    bin_dir = args.build / "bin"
    sys.path.insert(0, str(args.build / "python"))
    start = time.perf_counter()
    missing = [p.name for p in (bin_dir / "wsm-exporter", bin_dir / "wsm", bin_dir / "wsm-bench-python-segment")
               if not os.access(p, os.X_OK)]
    try:
        import wsmetrics
    except ImportError as e:
        missing.append(f"the wsmetrics module ({e})")
    code = 0
    if missing:
        result = {"status": "skipped", "reason": f"not built: {', '.join(missing)}"}
        code = args.skip_code
    else:
        conditions = {"python": sys.version.split()[0], "wsmetrics": os.path.dirname(wsmetrics.__file__),
                      "workers": args.workers, "exporter_flags": "--resource-monitoring off",
                      "request": "GET /metrics, text, no gzip, urllib, new connection each",
                      "load_before": [round(x, 2) for x in os.getloadavg()]}
        runs = []
        try:
            for size in sorted(int(s) for s in args.series.split(",")):
                runs.append(measure(size, args.workers, args.repetitions, bin_dir))
                print(f"python_scrape.py: {json.dumps(runs[-1])}", file=sys.stderr)
            result = {"status": "measured", "conditions": conditions, "runs": runs,
                      "took_s": round(time.perf_counter() - start, 1)}
        except Exception as e:
            result = {"status": "failed", "reason": f"{type(e).__name__}: {e}", "conditions": conditions,
                      "runs": runs}
            code = 1
    print(f"bench/python_scrape.py: {result['status']}" + (f" ({result['reason']})" if "reason" in result else ""),
          file=sys.stderr)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
