#!/usr/bin/env python3
"""End-to-end cost of monitoring: the demo server under a fixed load, in three modes.

  compiled_out  build/bin/wsm-demo-server-compiled-out: the same server sources built against
                wsm::writer_compiled_out (WSM_COMPILED_OUT), where every record call is an empty
                inline body. No monitoring at all: the baseline.
  off           wsm-demo-server with WEBSOCKET_MONITORING_ENABLED=false: every call still runs,
                into a process-local sink (the runtime switch, "disabled").
  on            wsm-demo-server recording into its segment.

The headline is on vs compiled_out (issue 17's goal: <= 0.3% of instructions per message); off vs
compiled_out is what disabled calls cost; on vs off is the figure earlier runs reported.

(a) Instructions per message from valgrind --tool=callgrind (this machine has no hardware
    counters). Each mode runs twice, with M1 and M2 messages, and the per-message figure is
    (Ir(M2) - Ir(M1)) / (M2 - M1): start-up and shutdown cancel out, only messages remain. Not
    quite noise-free: how much work one read or one deflate call does varies a little with
    timing, so each mode is measured CALLGRIND_REPETITIONS times, interleaved, and the medians
    are compared.
(b) Messages per CPU-second of the server's processes (all threads of the parent and its pre-forked
    workers, from /proc/<pid>/task/*/schedstat, nanosecond resolution) over interleaved rounds of
    the three modes; each overhead is the median over the rounds. Too noisy on a shared machine to
    resolve effects of this size; kept as a sanity check.

Writes a JSON object to --out: {"status": "measured", ...}, or {"status": "skipped", "reason": ...}
when build/bin/wsm-demo-server, wsm-demo-server-compiled-out or wsm-loadgen is missing. The
"instructions" and "throughput" objects keep the keys of earlier runs ("on", "off",
"overhead_percent" = on vs off, "on_runs", "off_runs", "pairs") and add "compiled_out",
"compiled_out_runs", "on_vs_compiled_out_percent" and "off_vs_compiled_out_percent", and
"outside_allocator": per mode the instructions a message inside glibc's allocator and the calls to
malloc and free a message, and the three comparisons again without the allocator's instructions
(which path a malloc takes follows each build's heap layout: the runs of one mode spread
~100-250 instructions a message, much of it there). Processes are started here, bound to
127.0.0.1 free ports, and stopped by pid.

The server and load generator follow issue 5's command lines:
  wsm-demo-server --port P --workers N --segment S
  wsm-loadgen --url ws://127.0.0.1:P/ws --clients C --messages M  (prints a JSON summary with "sent")

Under callgrind the server runs one worker: valgrind follows fork() by itself (--trace-children is
only about exec), so the parent and its worker each write a callgrind.out.<pid> and both are
summed.
"""
import argparse
import glob
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CALLGRIND_MESSAGES = (500, 2500)
# Per mode, interleaved; the median is reported. Nine, not five: single runs spread ~±100-150
# instructions of ~198,000 a message, and medians of five moved ~130 between two runs of
# scripts/bench, a quarter of the 0.3% goal (~590).
CALLGRIND_REPETITIONS = 9
THROUGHPUT_MESSAGES = 30000
ROUNDS = 5  # of the three modes, for messages per CPU-second
CLIENTS = 8
# Mode -> (server executable, WEBSOCKET_MONITORING_ENABLED). The compiled-out server still opens
# its registry and registers the catalogue (start-up work, as on), so it gets "true" too.
MODES = {
    "compiled_out": ("wsm-demo-server-compiled-out", "true"),
    "off": ("wsm-demo-server", "false"),
    "on": ("wsm-demo-server", "true"),
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.1)
    return False


def process_tree(pid):
    """pid and every descendant (the pre-forked workers)."""
    children = {}
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            fields = Path(stat).read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.split("/")[2]))
        except (OSError, IndexError, ValueError):
            continue
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(children.get(p, []))
    return tree


def cpu_ns(pids):
    total = 0
    for pid in pids:
        for f in glob.glob(f"/proc/{pid}/task/*/schedstat"):
            try:
                total += int(Path(f).read_text().split()[0])
            except (OSError, ValueError, IndexError):
                continue
    return total


class Server:
    """The demo server (optionally under callgrind), stopped by pid with SIGTERM."""

    def __init__(self, bin_dir, mode, workers, segment, callgrind_out=None):
        self.port = free_port()
        exe, enabled = MODES[mode]
        # No pings during a run, nor monitoring's periodic work (its tick, the exemplar pacer's
        # interval): their number would follow the run's wall time, not its messages.
        argv = [str(bin_dir / exe), "--port", str(self.port), "--workers", str(workers),
                "--segment", segment, "--heartbeat-ms", "3600000", "--tick-ms", "3600000"]
        if callgrind_out:
            argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={callgrind_out}.%p", *argv]
        env = dict(os.environ, WEBSOCKET_MONITORING_ENABLED=enabled)
        self.segment = segment
        self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True)
        # The "listening" line comes after the workers are forked (the port accepts before that), so
        # process_tree() sees them all from here on.
        line = self.proc.stdout.readline()
        if "listening" not in line or not wait_for_port(self.port, 120 if callgrind_out else 20):
            self.stop()
            raise RuntimeError("%s did not listen on 127.0.0.1:%d" % (exe, self.port))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        Path(f"/dev/shm/wsm.{self.segment}").unlink(missing_ok=True)


def load(bin_dir, port, messages, window):
    """Runs the load generator to completion; returns the messages it sent."""
    out = subprocess.run([str(bin_dir / "wsm-loadgen"), "--url", f"ws://127.0.0.1:{port}/ws",
                          "--clients", str(CLIENTS), "--messages", str(messages), "--window", str(window),
                          "--timeout", "500"],
                         capture_output=True, text=True, timeout=600, check=True).stdout
    summary = json.loads(out[out.index("{"):])
    return int(summary["sent"])


# glibc's allocator: its entry points (whose calls are counted) and the functions behind them
# (whose instructions are summed, exclusive). Which path a malloc takes, and so how many
# instructions it costs, follows the heap's layout, which differs between two builds of one
# server: that share of a per-message difference is no work of monitoring's when both builds
# make the same calls.
ALLOCATION_CALLS = ("malloc", "free")
ALLOCATOR_FUNCTIONS = re.compile(r"^(_int_)?(malloc|free|realloc|calloc)$|^malloc_consolidate$|^unlink_chunk"
                                 r"|^alloc_perturb$|^sysmalloc$|^tcache_|^cfree")


def callgrind_profile(prefix):
    """Sums the callgrind outputs of one run (the parent's and its worker's): {"instructions": all,
    "allocator": exclusive instructions in ALLOCATOR_FUNCTIONS, "allocation_calls": calls to
    ALLOCATION_CALLS}. Reads the format's name compression ("fn=(7) name", later "fn=(7)") and
    skips the inclusive cost line after each "calls=" line."""
    total = allocator = calls = 0
    for f in glob.glob(prefix + ".*"):
        names, fn, callee, after_calls, counted = {}, "", "", False, False
        for line in Path(f).read_text(errors="replace").splitlines():
            if line.startswith(("summary:", "totals:")):  # both say the file's total: once
                total += 0 if counted else int(line.split()[1])
                counted = True
            elif line.startswith(("fn=", "cfn=")):
                key, _, rest = line.partition("=")
                ref, _, name = rest.partition(" ")
                name = names.setdefault(ref, name) if name else names.get(ref, ref)
                if key == "fn":
                    fn = name
                else:
                    callee = name
            elif line.startswith("calls="):
                if callee in ALLOCATION_CALLS:
                    calls += int(line[6:].split()[0])
                after_calls = True
            elif line[:1].isdigit() or line[:1] in "+-*":
                if after_calls:  # the call's inclusive cost, not this function's own
                    after_calls = False
                elif ALLOCATOR_FUNCTIONS.search(fn):
                    cost = line.split()
                    allocator += int(cost[1]) if len(cost) > 1 else 0
    return {"instructions": total, "allocator": allocator, "allocation_calls": calls}


def instructions_per_message(bin_dir, mode, work):
    """Per message, from two runs (CALLGRIND_MESSAGES): each callgrind_profile() figure."""
    profiles, sent = [], []
    for m in CALLGRIND_MESSAGES:
        prefix = str(work / f"callgrind-{mode}-{m}")
        server = Server(bin_dir, mode, 1, f"bench-overhead-{os.getpid()}-cg", prefix)
        try:
            # Window 1: one publish in flight per monitor, so how many frames one read returns (and
            # the instructions per message with it) does not depend on how fast the server runs.
            sent.append(load(bin_dir, server.port, m, 1))
        finally:
            server.stop()
        profiles.append(callgrind_profile(prefix))
    return {k: (profiles[1][k] - profiles[0][k]) / (sent[1] - sent[0]) for k in profiles[0]}


def messages_per_cpu_second(bin_dir, mode):
    server = Server(bin_dir, mode, 2, f"bench-overhead-{os.getpid()}-tp")
    try:
        tree = process_tree(server.proc.pid)
        before = cpu_ns(tree)
        sent = load(bin_dir, server.port, THROUGHPUT_MESSAGES, 16)
        used = cpu_ns(process_tree(server.proc.pid)) - before
    finally:
        server.stop()
    return sent / (used / 1e9)


def rotated(i):
    """The modes in round i's order: each mode goes first, second and third equally often, so drift
    in the machine's load hits all alike."""
    order = list(MODES)
    return order[i % 3:] + order[:i % 3]


def percent(cost, base):
    return (cost / base - 1) * 100


def comparisons(figure, larger_costs=True):
    """The three overheads the report shows, from one figure per mode: on vs off (earlier runs'
    figure), on and off vs compiled_out. larger_costs=False for rates, where a lower rate is the
    cost (messages per CPU-second)."""
    def over(mode, base):
        return percent(figure[mode], figure[base]) if larger_costs else percent(figure[base], figure[mode])
    return {"overhead_percent": over("on", "off"),
            "on_vs_compiled_out_percent": over("on", "compiled_out"),
            "off_vs_compiled_out_percent": over("off", "compiled_out")}


def measure(bin_dir):
    profiles = {mode: [] for mode in MODES}
    for i in range(CALLGRIND_REPETITIONS):
        for mode in rotated(i):
            with tempfile.TemporaryDirectory(prefix="wsm-overhead-") as tmp:
                profiles[mode].append(instructions_per_message(bin_dir, mode, Path(tmp)))
    per_message = {mode: [p["instructions"] for p in runs] for mode, runs in profiles.items()}
    ins = {mode: statistics.median(runs) for mode, runs in per_message.items()}
    # The same runs outside the allocator: the median of each run's instructions minus its
    # allocator's, with the allocation calls each mode made a message (equal when monitoring
    # allocates nothing per message).
    def median_of(figure):
        return {mode: statistics.median(figure(p) for p in runs) for mode, runs in profiles.items()}

    outside = median_of(lambda p: p["instructions"] - p["allocator"])
    allocator = {"allocator": median_of(lambda p: p["allocator"]),
                 "allocation_calls": median_of(lambda p: p["allocation_calls"]),
                 "outside": outside, **comparisons(outside)}
    rounds = []
    for i in range(ROUNDS):
        rates = {mode: messages_per_cpu_second(bin_dir, mode) for mode in rotated(i)}
        rounds.append({**rates, **comparisons(rates, larger_costs=False)})
    return {
        "status": "measured",
        "load": f"{CLIENTS} clients (wsm-loadgen's default role mix, permessage-deflate on); callgrind: "
                f"1 worker, window 1, {CALLGRIND_MESSAGES[1]} - {CALLGRIND_MESSAGES[0]} messages, "
                f"{CALLGRIND_REPETITIONS} repetitions per mode; throughput: 2 workers, window 16, "
                f"{THROUGHPUT_MESSAGES} messages per run, {ROUNDS} rounds of the three modes",
        "baseline": "compiled_out",
        "instructions": {**ins, **comparisons(ins),
                         **{f"{mode}_runs": runs for mode, runs in per_message.items()},
                         "outside_allocator": allocator},
        "throughput": {"pairs": rounds,
                       **{f"{mode}_median": statistics.median(r[mode] for r in rounds) for mode in MODES},
                       **{k: statistics.median(r[k] for r in rounds) for k in rounds[0] if k.endswith("_percent")}},
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", type=Path, default=Path("build/bin"))
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    needed = {exe for exe, _ in MODES.values()} | {"wsm-loadgen"}
    missing = sorted(b for b in needed if not (args.bin / b).exists())
    if missing:
        result = {"status": "skipped", "reason": f"{', '.join(missing)} not in {args.bin} (the compiled-out "
                  "server is the baseline: scripts/build makes it with the demo server)"}
    elif subprocess.run(["which", "valgrind"], capture_output=True).returncode != 0:
        result = {"status": "skipped", "reason": "valgrind is not installed (scripts/setup installs it)"}
    else:
        try:
            result = measure(args.bin)
        except (RuntimeError, subprocess.SubprocessError, ValueError, KeyError, ZeroDivisionError) as e:
            result = {"status": "failed", "reason": f"{type(e).__name__}: {e}"}
    print(f"bench/overhead.py: {result['status']}" + (f" ({result['reason']})" if "reason" in result else ""),
          file=sys.stderr)
    args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
