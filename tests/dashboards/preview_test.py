#!/usr/bin/env python3
"""Every query of both views (operator and clinical) returns data on the real stack:
wsm-demo-server (2 workers) under load from wsm-loadgen (all roles, a few malformed messages, churn
and a stalled subscriber), wsm-exporter, and a real Prometheus scraping it every second with the
rules and the anomaly rules loaded (so the recording rules the dashboards read run too; the anomaly
group at the stack's 1 s instead of its 1m, see live_stack.fast_anomaly_rules). `dashboards/preview
--require-data` runs every panel target of each view, one after the other on the same stack (one
stack start, within the test's timeout); the preview must also write one PNG per panel and an
index.html that shows them. A non-loopback URL is refused before anything is sent.

usage: preview_test.py BIN_DIR PREVIEW RULES_YML DASHBOARD_JSON...
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

from live_stack import demo_stack, preview_until_data

# Every role, a few malformed messages, and what the clinical view watches for: a subscriber (a
# doctor: monitors come first, then the mix's order) leaves and comes back every 3 s, and the first
# one stops reading for 5 s at a time, so doctors' disconnections and stale connections happen
# while Prometheus scrapes, not only zeros.
LOAD = ["--clients", "8", "--rate", "40", "--mix", "patient_monitor=2,doctor=2,nurse=1,admin=1",
        "--malformed-ratio", "0.05", "--churn-every", "3", "--stall-clients", "1", "--stall-for", "5"]


def main():
    bin_dir, preview, rules = (os.path.abspath(p) for p in sys.argv[1:4])
    dashboards = [os.path.abspath(p) for p in sys.argv[4:]]
    refused = subprocess.run([preview, "http://192.0.2.1:9090", "--dashboard", dashboards[0]],
                             capture_output=True, text=True)
    if refused.returncode != 2 or "loopback" not in refused.stderr:
        print("non-loopback URL not refused: rc %d %s" % (refused.returncode, refused.stderr))
        return 1
    out = tempfile.mkdtemp(prefix="wsm-preview-test-")
    problems, previewed = [], 0
    try:
        with demo_stack(bin_dir, rules, LOAD) as stack:
            for i, dashboard in enumerate(dashboards):
                problems += preview_until_data(preview, dashboard, os.path.join(out, str(i)), stack.prometheus)
        for i, dashboard in enumerate(dashboards):
            with open(dashboard) as f:
                panels = json.load(f)["panels"]
            problems += check_output(panels, os.path.join(out, str(i)))
            previewed += len(panels)
        for p in problems:
            print(p)
        print("%d panels of %d views previewed from the demo stack, %d problems" % (previewed, len(dashboards), len(problems)))
        return 1 if problems else 0
    finally:
        shutil.rmtree(out, ignore_errors=True)


def check_output(panels, out):
    with open(os.path.join(out, "index.html")) as f:
        index = f.read()
    problems = []
    for p in panels:
        if p.get("type") == "row":
            continue
        png = "panel-%s.png" % p["id"]
        with open(os.path.join(out, png), "rb") as f:
            if f.read(8) != b"\x89PNG\r\n\x1a\n":
                problems.append("%s is not a PNG" % png)
        if "src='%s'" % png not in index:
            problems.append("index.html does not show %s" % png)
    return problems


if __name__ == "__main__":
    sys.exit(main())
