#!/usr/bin/env python3
"""scripts/demo as a new user runs it, with nothing added: within 30 s of its start every
catalogue family (dashboards/catalogue.json) has a non-zero sample in the exporter's /metrics, and
with a real Prometheus scraping that exporter every expression of each shipped view returns data
(`dashboards/preview --require-data`, the recording rules and the anomaly rules loaded, see
live_stack.stack_prometheus).

usage: demo_data_test.py REPO_ROOT BIN_DIR PREVIEW RULES_YML DASHBOARD_JSON...
"""
import os
import re
import shutil
import sys
import tempfile
import time
import uuid

from catalogue import CATALOGUE
from live_stack import free_port, get_text, preview_until_data, process, stack_prometheus

FAMILIES_WITHIN_S = 30
SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)")


def nonzero_families(text):
    """Catalogue families with a sample other than 0 (a histogram: a _count above 0)."""
    found = set()
    for line in text.splitlines():
        m = SAMPLE.match(line)
        if not m or float(m.group(3)) == 0:
            continue
        name = m.group(1)
        if name in CATALOGUE and CATALOGUE[name][0] != "histogram":
            found.add(name)
        elif name.endswith("_count") and CATALOGUE.get(name[:-6], ("",))[0] == "histogram":
            found.add(name[:-6])
    return found


def main():
    repo, bin_dir, preview, rules = (os.path.abspath(p) for p in sys.argv[1:5])
    dashboards = [os.path.abspath(p) for p in sys.argv[5:]]
    port, exporter_port = free_port(), free_port()
    segment = "wsm-demo-test-%d-%s" % (os.getpid(), uuid.uuid4().hex[:8])
    logs = tempfile.mkdtemp(prefix="wsm-demo-data-")
    os.environ.update({"WSM_DEMO_SKIP_BUILD": "1", "WSM_BIN_DIR": bin_dir, "WSM_DEMO_PORT": str(port),
                       "WSM_DEMO_EXPORTER_PORT": str(exporter_port), "WSM_DEMO_SEGMENT": segment,
                       "WSM_DEMO_LOG_DIR": logs, "WSM_DEMO_SECONDS": "400"})
    target = "127.0.0.1:%d" % exporter_port
    problems = []
    try:
        started = time.monotonic()
        with process("scripts-demo", lambda: ([os.path.join(repo, "scripts", "demo")],
                                               lambda log: "wsm demo running" in log)):
            seen = set()
            while time.monotonic() - started < FAMILIES_WITHIN_S and len(seen) < len(CATALOGUE):
                try:  # gauges such as a send queue are non-zero for seconds only: keep what was seen
                    seen |= nonzero_families(get_text("http://%s/metrics" % target))
                except OSError:
                    pass
                time.sleep(0.5)
            missing = sorted(set(CATALOGUE) - seen)
            print("%d of %d families non-zero %.0f s after scripts/demo started" %
                  (len(seen), len(CATALOGUE), time.monotonic() - started))
            if missing:
                problems.append("no non-zero sample within %d s of scripts/demo: %s" % (FAMILIES_WITHIN_S, ", ".join(missing)))
            with stack_prometheus(rules, target) as base:
                for dashboard in dashboards:
                    out = tempfile.mkdtemp(prefix="wsm-demo-preview-")
                    try:
                        problems += preview_until_data(preview, dashboard, out, base)
                    finally:
                        shutil.rmtree(out, ignore_errors=True)
    finally:
        shutil.rmtree(logs, ignore_errors=True)
        if os.path.exists("/dev/shm/wsm." + segment):
            problems.append("scripts/demo left /dev/shm/wsm.%s behind" % segment)
            os.unlink("/dev/shm/wsm." + segment)
    for p in problems:
        print(p)
    print("scripts/demo: %d problems" % len(problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
