#!/usr/bin/env python3
"""dashboards/preview against a real Prometheus (127.0.0.1, scraping every second, rules loaded)
that scrapes a stand-in exporter serving every catalogue family with one series each, counters
and histograms rising with time. Proves that every dashboard query (recording rules included)
returns data for the catalogue's names, and that the preview writes one PNG per panel and an
index.html. Also: a non-loopback URL is refused before anything is sent.

usage: preview_test.py PREVIEW DASHBOARD_JSON RULES_YML
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from prom_fixture import prometheus
from standin_exporter import standin_exporter


def main():
    preview, dashboard, rules = (os.path.abspath(p) for p in sys.argv[1:4])
    refused = subprocess.run([preview, "http://192.0.2.1:9090", "--dashboard", dashboard],
                             capture_output=True, text=True)
    if refused.returncode != 2 or "loopback" not in refused.stderr:
        print("non-loopback URL not refused: rc %d %s" % (refused.returncode, refused.stderr))
        return 1

    with standin_exporter() as target:
        return preview_all_panels(preview, dashboard, rules, target)


def preview_all_panels(preview, dashboard, rules, target):
    config = ("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
              "rule_files:\n  - %s\n"
              "scrape_configs:\n  - job_name: websocket\n    static_configs:\n"
              "      - targets: ['%s']\n" % (rules, target))
    out = tempfile.mkdtemp(prefix="wsm-preview-test-")
    try:
        with prometheus(config) as base:
            deadline = time.monotonic() + 60
            while True:
                r = subprocess.run([preview, base, "--dashboard", dashboard, "--out", out, "--range", "2m",
                                    "--scrape-interval", "1s", "--require-data"],
                                   capture_output=True, text=True)
                if r.returncode == 0:
                    break
                if time.monotonic() > deadline:
                    print("preview still failing after 60s (rc %d):\n%s%s" % (r.returncode, r.stdout, r.stderr))
                    return 1
                time.sleep(1)
        with open(dashboard) as f:
            panels = json.load(f)["panels"]
        with open(os.path.join(out, "index.html")) as f:
            index = f.read()
        problems = []
        for p in panels:
            png = "panel-%s.png" % p["id"]
            with open(os.path.join(out, png), "rb") as f:
                head = f.read(8)
            if head != b"\x89PNG\r\n\x1a\n":
                problems.append("%s is not a PNG" % png)
            if "src='%s'" % png not in index:
                problems.append("index.html does not show %s" % png)
        if r.stderr:
            problems.append("preview reported: " + r.stderr)
        for p in problems:
            print(p)
        print("%d panels previewed, %d problems" % (len(panels), len(problems)))
        return 1 if problems else 0
    finally:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
