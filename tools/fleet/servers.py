"""Real servers on loopback, started and stopped by pid: a process runs until its readiness check
passes, and leaves on SIGTERM (SIGKILL of it and its children after a grace period). Used by
scripts/fleet and by the tests that run Prometheus, Alertmanager and VictoriaMetrics for real
(tests/dashboards, tests/fleet). Every wait is bounded: CI is a loaded 2-core machine.
"""
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

STOP_GRACE_S = 10  # SIGTERM first; SIGKILL after this


def free_port(host="127.0.0.1"):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def get_json(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.load(r)


def get_text(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def query(base, expr, at=None):
    """An instant query of the Prometheus HTTP API at `base` (Prometheus or VictoriaMetrics)."""
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


def accepts(host, port):
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


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


def _children(pid):
    """Child pids of pid (a demo server's workers), from /proc."""
    kids = []
    try:
        for task in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, task)) as f:
                kids += [int(p) for p in f.read().split()]
    except OSError:
        pass
    return kids


def stop(proc):
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
    """Popen of argv (output to NAME.log in workdir) once `ready(log_text)` returns a value:
    (proc, value). None if the process exited first (its log is kept for the caller's error)."""
    log_path = os.path.join(workdir, name + ".log")
    with open(log_path, "w") as log:
        # A session of its own: a Ctrl-C at the terminal reaches the caller only, which stops
        # every process in order.
        proc = subprocess.Popen(argv, cwd=workdir, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
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
            stop(proc)
            raise RuntimeError("%s not ready after %ds:\n%s" % (name, ready_timeout, text))
        time.sleep(0.2)


class Running:
    """A started process: its pid, what its readiness check returned, and a way to stop it early
    (the context that started it stops it anyway)."""

    def __init__(self, proc, value):
        self.proc, self.value = proc, value

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        stop(self.proc)


@contextlib.contextmanager
def running(name, command, ready_timeout=60, workdir=None, attempts=1):
    """Runs a server until it is ready and yields a Running; stops it by pid on exit.
    command() -> (argv, ready), ready(log_text) -> a value once ready, else falsy. A process that
    exits before it is ready is started again with a fresh command() up to `attempts` times (a
    free port another process took in between), then this raises with its log."""
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
        yield Running(proc, value)
    finally:
        if proc is not None:
            stop(proc)
        if own_dir:
            shutil.rmtree(workdir, ignore_errors=True)


@contextlib.contextmanager
def process(name, command, ready_timeout=60, workdir=None, attempts=1):
    """running(), yielding only what the readiness check returned."""
    with running(name, command, ready_timeout, workdir, attempts) as r:
        yield r.value


@contextlib.contextmanager
def http_server(name, config_text, argv, ready_timeout=60, host="127.0.0.1", ready_path="/-/ready",
                workdir=None):
    """A server configured by one file. argv(config_path, data_dir, "HOST:PORT") -> command line.
    Yields its base URL once ready_path answers 200 (a free port, retried if another process took it)."""
    own_dir = workdir is None
    workdir = workdir or tempfile.mkdtemp(prefix="wsm-%s-" % name)
    try:
        config = os.path.join(workdir, name + ".yml")
        with open(config, "w") as f:
            f.write(config_text)

        def command():
            address = "%s:%d" % (host, free_port(host))
            base = "http://" + address
            return (argv(config, os.path.join(workdir, name + "-data"), address),
                    lambda _: http_ok(base + ready_path) and base)

        with process(name, command, ready_timeout, workdir, attempts=3) as base:
            yield base
    finally:
        if own_dir:
            shutil.rmtree(workdir, ignore_errors=True)


def prometheus(config_text, ready_timeout=60, extra_args=(), workdir=None):
    """A Prometheus running `config_text`; yields its base URL."""
    return http_server("prometheus", config_text, lambda config, data, address: [
        "prometheus", "--config.file=" + config, "--storage.tsdb.path=" + data,
        "--web.listen-address=" + address, "--log.level=warn"] + list(extra_args), ready_timeout,
        workdir=workdir)


def alertmanager(config_text, ready_timeout=60, workdir=None):
    """An Alertmanager (no clustering) running `config_text`; yields its base URL."""
    return http_server("alertmanager", config_text, lambda config, data, address: [
        "prometheus-alertmanager", "--config.file=" + config, "--storage.path=" + data,
        "--web.listen-address=" + address, "--cluster.listen-address=", "--log.level=warn"],
        ready_timeout, workdir=workdir)
