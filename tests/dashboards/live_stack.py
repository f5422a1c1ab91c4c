"""The real servers of the dashboard tests, each on 127.0.0.1, started and stopped by pid here:
Prometheus and Alertmanager (the Debian binaries, temp config and data dirs, never the system
services) and the demo stack: wsm-demo-server (2 workers) writing a fresh segment, wsm-exporter
serving it, wsm-loadgen driving the server, and a Prometheus scraping the exporter every second
with a rules file and the anomaly rules loaded. Every wait is bounded in time and generous: CI is a
loaded 2-core machine.
"""
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

# The generic half (processes by pid, free ports, HTTP, Prometheus and Alertmanager) is shared with
# scripts/fleet and lives in tools/fleet/servers.py.
REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(REPO, "tools", "fleet"))
from servers import (alertmanager, free_port, get_json, get_text, http_ok, process,  # noqa: E402,F401
                     prometheus, query, wait_for)

# The stack scrapes and evaluates every second, so a panel has data within seconds of the start.
INTERVAL = "1s"
# The Fleet row's band panel reads the anomaly rules' recorded series.
ANOMALY_RULES = os.path.join(REPO, "dashboards", "prometheus", "websocket-anomaly-rules.yml")
GROUP_INTERVAL = re.compile(r"^( +interval:) 1m$", re.M)


def fast_anomaly_rules(directory):
    """A copy of the anomaly rules in `directory` whose group evaluates every INTERVAL instead of
    the shipped file's 1m (which stays as it is): at 1m the first evaluation may come a minute
    after the start and, on CI's loaded machine, the band panel went without data for the
    preview's whole 120 s. The rules are the shipped ones; only their pace differs (so `_count1d`
    counts seconds: the alerts' six-hour guard opens after six minutes, plus their `for: 10m`,
    longer than any stack here runs). Returns the copy's path."""
    with open(ANOMALY_RULES) as f:
        text, n = GROUP_INTERVAL.subn(r"\1 " + INTERVAL, f.read())
    if n != 1:  # a reshaped file must not be tested at its slow pace without anyone noticing
        raise RuntimeError("%s: expected one group with `interval: 1m`, found %d" % (ANOMALY_RULES, n))
    path = os.path.join(directory, "websocket-anomaly-rules-fast.yml")
    with open(path, "w") as f:
        f.write(text)
    return path


def prometheus_config(rules_paths, target, alertmanager_base=None):
    """Scrape `target` (job websocket) and evaluate `rules_paths` every INTERVAL (a group's own
    `interval:` overrides it); send alerts to `alertmanager_base` if given."""
    text = ("global:\n  scrape_interval: %s\n  evaluation_interval: %s\n" % (INTERVAL, INTERVAL)
            + "rule_files:\n" + "".join("  - %s\n" % p for p in rules_paths))
    if alertmanager_base:
        text += ("alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['%s']\n"
                 % alertmanager_base.split("//", 1)[1])
    return text + ("scrape_configs:\n  - job_name: websocket\n    static_configs:\n"
                   "      - targets: ['%s']\n" % target)


@contextlib.contextmanager
def demo_server(bin_dir, segment):
    """wsm-demo-server with 2 workers on a free port (--port 0; the port is read from its
    "listening" line); heartbeats every 250 ms so the heartbeat gauges move. Yields the ws:// URL."""
    listening = re.compile(r"listening on (ws://127\.0\.0\.1:\d+/ws)")
    argv = [os.path.join(bin_dir, "wsm-demo-server"), "--host", "127.0.0.1", "--port", "0",
            "--workers", "2", "--segment", segment, "--heartbeat-ms", "250"]
    with process("wsm-demo-server", lambda: (argv, lambda log: (m := listening.search(log)) and m.group(1))) as url:
        yield url


@contextlib.contextmanager
def exporter(bin_dir, segment):
    """wsm-exporter on the segment, deriving every second; yields its "127.0.0.1:PORT"."""
    def command():
        target = "127.0.0.1:%d" % free_port()
        return ([os.path.join(bin_dir, "wsm-exporter"), "--segment", segment, "--listen", target,
                 "--interval", "1"], lambda _: http_ok("http://%s/metrics" % target) and target)

    with process("wsm-exporter", command, attempts=3) as target:
        yield target


def run_loadgen(bin_dir, url, args, timeout_s=60):
    """wsm-loadgen to completion (bounded by its own --timeout); returns its JSON summary."""
    r = subprocess.run([os.path.join(bin_dir, "wsm-loadgen"), "--url", url, "--timeout", str(timeout_s)] + args,
                       capture_output=True, text=True, timeout=timeout_s + 30)
    if r.returncode != 0:
        raise RuntimeError("wsm-loadgen %s exited with %d:\n%s" % (args, r.returncode, r.stderr))
    return json.loads(r.stdout)


@contextlib.contextmanager
def loadgen(bin_dir, url, args, seconds):
    """wsm-loadgen publishing for `seconds` in the background (stopped by pid on exit)."""
    argv = [os.path.join(bin_dir, "wsm-loadgen"), "--url", url, "--duration", str(seconds),
            "--timeout", str(seconds + 60)] + args
    with process("wsm-loadgen", lambda: (argv, lambda _: True)):
        yield


class Stack:
    """What a running demo stack offers a test."""

    def __init__(self, prometheus_base, exporter_target, server_url):
        self.prometheus = prometheus_base  # http://127.0.0.1:PORT
        self.exporter = exporter_target    # 127.0.0.1:PORT, also the scraped instance label
        self.server = server_url           # ws://127.0.0.1:PORT/ws

    def metrics(self):
        return get_text("http://%s/metrics" % self.exporter)


@contextlib.contextmanager
def stack_prometheus(rules_path, target, alertmanager_base=None):
    """A Prometheus scraping `target` with `rules_path` and the anomaly rules (fast_anomaly_rules,
    in Prometheus's own directory) loaded, alerts to `alertmanager_base` if given. Yields its base
    URL once it has scraped the target (up == 1)."""
    workdir = tempfile.mkdtemp(prefix="wsm-prometheus-")
    try:
        config = prometheus_config([rules_path, fast_anomaly_rules(workdir)], target, alertmanager_base)
        with prometheus(config, workdir=workdir) as base:
            wait_for(lambda: query(base, 'up{job="websocket"} == 1')["data"]["result"],
                     60, "Prometheus never scraped the exporter at %s" % target)
            yield base
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@contextlib.contextmanager
def demo_stack(bin_dir, rules_path, load_args, load_seconds=240, alertmanager_base=None):
    """The whole path on a fresh segment: demo server, exporter, first a short load that connects
    and disconnects (so the disconnection counters exist), then `load_args` for `load_seconds` in
    the background, and stack_prometheus() scraping the exporter with `rules_path` loaded (alerts to
    `alertmanager_base` if given). Yields a Stack once Prometheus has scraped the exporter."""
    segment = "wsm-dash-%d-%s" % (os.getpid(), uuid.uuid4().hex[:8])
    try:
        with demo_server(bin_dir, segment) as url, exporter(bin_dir, segment) as target:
            run_loadgen(bin_dir, url, ["--clients", "3", "--messages", "30",
                                       "--mix", "patient_monitor=1,doctor=1,nurse=1"])
            with loadgen(bin_dir, url, load_args, load_seconds), \
                    stack_prometheus(rules_path, target, alertmanager_base) as base:
                yield Stack(base, target, url)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink("/dev/shm/wsm." + segment)


def preview_until_data(preview, dashboard, out, base, timeout_s=120):
    """Runs dashboards/preview --require-data against Prometheus at `base` until every panel target
    has data; the problems left (none, or the last failure after timeout_s). Prints how long that
    took, so a panel slow to get data shows in the test's output before it reaches the timeout."""
    started = time.monotonic()
    deadline = started + timeout_s
    while True:
        r = subprocess.run([preview, base, "--dashboard", dashboard, "--out", out, "--range", "1m",
                            "--scrape-interval", INTERVAL, "--require-data"], capture_output=True, text=True)
        if r.returncode == 0:
            print("%s: every panel with data after %.0f s" % (os.path.basename(dashboard), time.monotonic() - started))
            return []
        if time.monotonic() > deadline:
            return ["preview still failing after %ds (rc %d):\n%s%s" % (timeout_s, r.returncode, r.stdout, r.stderr)]
        time.sleep(2)

