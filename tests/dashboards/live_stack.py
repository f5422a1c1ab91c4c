"""The real servers of the dashboard tests, each on 127.0.0.1, started and stopped by pid here:
Prometheus and Alertmanager (the Debian binaries, temp config and data dirs, never the system
services) and the demo stack: wsm-demo-server (2 workers) writing a fresh segment, wsm-exporter
serving it, wsm-loadgen driving the server, and a Prometheus scraping the exporter every second
with a rules file loaded. Every wait is bounded in time and generous: CI is a loaded 2-core machine.
"""
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
import uuid

STOP_GRACE_S = 10  # SIGTERM first; SIGKILL after this


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.load(r)


def get_text(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def query(base, expr, at=None):
    params = {"query": expr}
    if at is not None:
        params["time"] = str(at)
    return get_json(base + "/api/v1/query?" + urllib.parse.urlencode(params))


def http_ok(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def _children(pid):
    """Child pids of pid (the demo server's workers), from /proc."""
    kids = []
    try:
        for task in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, task)) as f:
                kids += [int(p) for p in f.read().split()]
    except OSError:
        pass
    return kids


def _stop(proc):
    """SIGTERM, a bounded wait, then SIGKILL of the process's children and the process itself."""
    if proc.poll() is not None:
        return
    children = _children(proc.pid)
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_GRACE_S)
        return
    except subprocess.TimeoutExpired:
        pass
    for pid in children + _children(proc.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.kill()
    proc.wait()


def _start(name, argv, ready, ready_timeout, workdir):
    """Popen of argv (output to a log file) once `ready(log_text)` returns a value: (proc, value).
    None if the process exited first (its log is kept for the caller's error)."""
    log_path = os.path.join(workdir, name + ".log")
    with open(log_path, "w") as log:
        proc = subprocess.Popen(argv, cwd=workdir, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + ready_timeout
    while True:
        with open(log_path) as f:
            text = f.read()
        value = ready(text)
        if value:
            return proc, value
        if proc.poll() is not None:
            return None
        if time.monotonic() > deadline:
            _stop(proc)
            raise RuntimeError("%s not ready after %ds:\n%s" % (name, ready_timeout, text))
        time.sleep(0.2)


@contextlib.contextmanager
def process(name, command, ready_timeout=60, workdir=None, attempts=1):
    """Runs a server until it is ready, yields what its readiness check returned, and stops it by
    pid on exit. command() -> (argv, ready), ready(log_text) -> a value once ready, else falsy.
    A process that exits before it is ready is started again with a fresh command() up to
    `attempts` times (a free port another process took in between), then raises with its log."""
    own_dir = workdir is None
    workdir = workdir or tempfile.mkdtemp(prefix="wsm-%s-" % name)
    proc = None
    try:
        for _ in range(attempts):
            argv, ready = command()
            started = _start(name, argv, ready, ready_timeout, workdir)
            if started:
                proc, value = started
                break
        else:
            with open(os.path.join(workdir, name + ".log")) as f:
                raise RuntimeError("%s exited before it was ready (%d attempts):\n%s" % (name, attempts, f.read()))
        yield value
    finally:
        if proc is not None:
            _stop(proc)
        if own_dir:
            shutil.rmtree(workdir, ignore_errors=True)


@contextlib.contextmanager
def _http_server(name, config_text, argv, ready_timeout):
    """argv(config_path, data_dir, port) -> command line. Yields the base URL once /-/ready is 200."""
    workdir = tempfile.mkdtemp(prefix="wsm-%s-" % name)
    try:
        config = os.path.join(workdir, "config.yml")
        with open(config, "w") as f:
            f.write(config_text)

        def command():
            port = free_port()
            base = "http://127.0.0.1:%d" % port
            return (argv(config, os.path.join(workdir, "data"), str(port)),
                    lambda _: http_ok(base + "/-/ready") and base)

        with process(name, command, ready_timeout, workdir, attempts=3) as base:
            yield base
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def prometheus(config_text, ready_timeout=60):
    """A Prometheus running `config_text`; yields its base URL."""
    return _http_server("prometheus", config_text, lambda config, data, port: [
        "prometheus", "--config.file=" + config, "--storage.tsdb.path=" + data,
        "--web.listen-address=127.0.0.1:" + port, "--log.level=warn"], ready_timeout)


def alertmanager(config_text, ready_timeout=60):
    """An Alertmanager (no clustering) running `config_text`; yields its base URL."""
    return _http_server("alertmanager", config_text, lambda config, data, port: [
        "prometheus-alertmanager", "--config.file=" + config, "--storage.path=" + data,
        "--web.listen-address=127.0.0.1:" + port, "--cluster.listen-address=", "--log.level=warn"],
        ready_timeout)


def prometheus_config(rules_path, target, alertmanager_base=None):
    """Scrape `target` (job websocket) and evaluate `rules_path` every second; send alerts to
    `alertmanager_base` if given."""
    text = ("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "rule_files:\n  - %s\n" % rules_path)
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
def demo_stack(bin_dir, rules_path, load_args, load_seconds=240, alertmanager_base=None):
    """The whole path on a fresh segment: demo server, exporter, first a short load that connects
    and disconnects (so the disconnection counters exist), then `load_args` for `load_seconds` in
    the background, and a Prometheus scraping the exporter every second with `rules_path` loaded
    (alerts to `alertmanager_base` if given). Yields a Stack once Prometheus has scraped the
    exporter (up == 1)."""
    segment = "wsm-dash-%d-%s" % (os.getpid(), uuid.uuid4().hex[:8])
    try:
        with demo_server(bin_dir, segment) as url, exporter(bin_dir, segment) as target:
            run_loadgen(bin_dir, url, ["--clients", "3", "--messages", "30",
                                       "--mix", "patient_monitor=1,doctor=1,nurse=1"])
            with loadgen(bin_dir, url, load_args, load_seconds), \
                    prometheus(prometheus_config(rules_path, target, alertmanager_base)) as base:
                wait_for(lambda: query(base, 'up{job="websocket"} == 1')["data"]["result"],
                         60, "Prometheus never scraped the exporter at %s" % target)
                yield Stack(base, target, url)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink("/dev/shm/wsm." + segment)


def preview_until_data(preview, dashboard, out, base, timeout_s=120):
    """Runs dashboards/preview --require-data against Prometheus at `base` until every panel target
    has data; the problems left (none, or the last failure after timeout_s)."""
    deadline = time.monotonic() + timeout_s
    while True:
        r = subprocess.run([preview, base, "--dashboard", dashboard, "--out", out, "--range", "1m",
                            "--scrape-interval", "1s", "--require-data"], capture_output=True, text=True)
        if r.returncode == 0:
            return []
        if time.monotonic() > deadline:
            return ["preview still failing after %ds (rc %d):\n%s%s" % (timeout_s, r.returncode, r.stdout, r.stderr)]
        time.sleep(2)


def wait_for(condition, timeout_s, what):
    """Polls condition() every 0.5 s until it returns a truthy value (returned) or timeout_s passes."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError("%s (waited %ds)" % (what, timeout_s))
        time.sleep(0.5)
