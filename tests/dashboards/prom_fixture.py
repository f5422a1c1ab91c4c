"""A real Prometheus for the dashboard tests: 127.0.0.1 on a free port, temp config and data dir,
started and stopped by pid (never the system service)."""
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
def prometheus(config_text, ready_timeout=30):
    """Yields the base URL of a Prometheus running `config_text`; kills it on exit."""
    workdir = tempfile.mkdtemp(prefix="wsm-prom-")
    config = os.path.join(workdir, "prometheus.yml")
    with open(config, "w") as f:
        f.write(config_text)
    port = free_port()
    log = open(os.path.join(workdir, "log"), "w+")
    proc = subprocess.Popen(
        ["prometheus", "--config.file=" + config, "--storage.tsdb.path=" + os.path.join(workdir, "data"),
         "--web.listen-address=127.0.0.1:%d" % port, "--log.level=warn"],
        cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
    base = "http://127.0.0.1:%d" % port
    try:
        deadline = time.monotonic() + ready_timeout
        while True:
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError("prometheus exited with %d:\n%s" % (proc.returncode, log.read()))
            try:
                with urllib.request.urlopen(base + "/-/ready", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("prometheus on %s not ready after %ds" % (base, ready_timeout))
            time.sleep(0.2)
        yield base
    finally:
        proc.kill()
        proc.wait()
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)
