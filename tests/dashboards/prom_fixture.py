"""Real Prometheus and Alertmanager servers for the dashboard tests: 127.0.0.1 on free ports, temp
config and data dirs, started and stopped by pid (never the system services)."""
import contextlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.load(r)


def query(base, expr, at=None):
    params = {"query": expr}
    if at is not None:
        params["time"] = str(at)
    return get_json(base + "/api/v1/query?" + urllib.parse.urlencode(params))


@contextlib.contextmanager
def _server(name, config_text, argv, ready_timeout):
    """argv(config_path, data_dir, port) -> command line. Yields the base URL once /-/ready says 200."""
    workdir = tempfile.mkdtemp(prefix="wsm-%s-" % name)
    config = os.path.join(workdir, "config.yml")
    with open(config, "w") as f:
        f.write(config_text)
    port = free_port()
    log = open(os.path.join(workdir, "log"), "w+")
    proc = subprocess.Popen(argv(config, os.path.join(workdir, "data"), port), cwd=workdir, stdout=log,
                            stderr=subprocess.STDOUT)
    base = "http://127.0.0.1:%d" % port
    try:
        deadline = time.monotonic() + ready_timeout
        while True:
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError("%s exited with %d:\n%s" % (name, proc.returncode, log.read()))
            try:
                with urllib.request.urlopen(base + "/-/ready", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("%s on %s not ready after %ds" % (name, base, ready_timeout))
            time.sleep(0.2)
        yield base
    finally:
        proc.kill()
        proc.wait()
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)


def prometheus(config_text, ready_timeout=30):
    """A Prometheus running `config_text`; yields its base URL."""
    return _server("prometheus", config_text, lambda config, data, port: [
        "prometheus", "--config.file=" + config, "--storage.tsdb.path=" + data,
        "--web.listen-address=127.0.0.1:%d" % port, "--log.level=warn"], ready_timeout)


def alertmanager(config_text, ready_timeout=30):
    """An Alertmanager (no clustering) running `config_text`; yields its base URL."""
    return _server("alertmanager", config_text, lambda config, data, port: [
        "prometheus-alertmanager", "--config.file=" + config, "--storage.path=" + data,
        "--web.listen-address=127.0.0.1:%d" % port, "--cluster.listen-address=", "--log.level=warn"],
        ready_timeout)
