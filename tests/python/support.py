"""Shared by the wsmetrics Python tests: segments, `wsm dump --json`, the exporter, /metrics parsing.

Each test runs as `python3 TEST.py BIN_DIR` with PYTHONPATH at the build tree's wsmetrics package
(tests/python/CMakeLists.txt); BIN_DIR holds wsm, wsm-exporter and wsm-py-cpp-writer.
"""

import json
import os
import re
import socket
import subprocess
import sys
import time
import tempfile
import urllib.request

# The fleet tools' process control (SIGTERM, a bounded wait, then SIGKILL): one rule for stopping
# a server by its pid.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "fleet"))
import servers  # noqa: E402

BIN = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else None


def bin_path(name):
    return os.path.join(BIN, name)


def unique_segment(tag):
    return "pytest-%s-%d" % (tag, os.getpid())


def remove_segment(name):
    if os.path.exists("/dev/shm/wsm." + name):
        subprocess.run([bin_path("wsm"), "rm", "--force", name], capture_output=True)


class Segment:
    """A fresh segment name, removed (if present) before and after the block."""

    def __init__(self, tag):
        self.name = unique_segment(tag)

    def __enter__(self):
        remove_segment(self.name)
        return self.name

    def __exit__(self, *exc):
        remove_segment(self.name)


def run_wsm(*args):
    """The `wsm` CLI's standard output; an AssertionError with its stderr if it fails."""
    r = subprocess.run([bin_path("wsm"), *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError("wsm %s failed (%d): %s" % (" ".join(args), r.returncode, r.stderr))
    return r.stdout


def dump(segment):
    """`wsm dump --json SEGMENT` as {(name, frozenset(labels.items())): series}."""
    doc = json.loads(run_wsm("dump", "--json", segment))
    return {(s["name"], frozenset(s.get("labels", {}).items())): s for s in doc["series"]}


def key(name, **labels):
    return (name, frozenset(labels.items()))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Exporter:
    """wsm-exporter on a free 127.0.0.1 port serving SEGMENT; stopped at the end of the block."""

    def __init__(self, segment):
        self.segment = segment
        self.port = free_port()
        self.proc = None
        # Its log goes to a file, not a pipe nobody reads: a pipe that fills stops the exporter.
        self.log = tempfile.TemporaryFile()

    def __enter__(self):
        self.proc = subprocess.Popen(
            [bin_path("wsm-exporter"), "--segment", self.segment, "--listen", "127.0.0.1:%d" % self.port,
             "--interval", "1", "--resource-monitoring", "off"],
            stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + 20
        while True:
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise AssertionError("wsm-exporter exited %d: %s" % (self.proc.returncode, self.log.read().decode()))
            try:
                self.metrics_text()
                return self
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError("wsm-exporter did not answer on port %d" % self.port)
                time.sleep(0.1)

    def metrics_text(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.port, timeout=5) as r:
            return r.read().decode()

    def api(self, path):
        """The JSON of GET PATH, e.g. /api/v1/summary."""
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.port, path), timeout=5) as r:
            return json.loads(r.read())

    def __exit__(self, *exc):
        servers.stop(self.proc)
        self.log.close()


_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_text(text):
    """Prometheus text format: ({(sample name, frozenset(labels)): value}, {family: type})."""
    samples, types = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, fam, typ = line.split(None, 3)
            types[fam] = typ
        elif line and not line.startswith("#"):
            m = _SAMPLE.match(line)
            assert m, "unparsable /metrics line: %r" % line
            labels = frozenset(_LABEL.findall(m.group(2) or ""))
            samples[(m.group(1), labels)] = float(m.group(3))
    return samples, types


def total(samples, name, **labels):
    """The sum of the samples of NAME (parse_text's) whose labels include LABELS."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))


def wait_for(check, timeout=15, what="condition"):
    """Calls check() until it returns without AssertionError; re-raises the last one at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
