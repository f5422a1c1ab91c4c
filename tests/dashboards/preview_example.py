#!/usr/bin/env python3
"""Regenerates dashboards/preview-example.png, the panel the READMEs show, from a demo run: the
live_stack demo stack under a steady load with a burst in the middle, previewed over 4 minutes.
Takes about 4 minutes; not a test.

usage: tests/dashboards/preview_example.py [BIN_DIR] [PANEL_ID]   (defaults: build/bin, 2)
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

from live_stack import demo_stack, loadgen

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
STEADY = ["--clients", "8", "--rate", "30", "--mix", "patient_monitor=2,doctor=2,nurse=1,admin=1",
          "--malformed-ratio", "0.02"]
BURST = ["--clients", "8", "--rate", "90", "--mix", "patient_monitor=3,doctor=3,nurse=2",
         "--malformed-ratio", "0.1"]


def main():
    bin_dir = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "bin"))
    panel = sys.argv[2] if len(sys.argv) > 2 else "2"
    rules = os.path.join(ROOT, "dashboards", "prometheus", "prometheus-websocket-alerts.yml")
    out = tempfile.mkdtemp(prefix="wsm-preview-example-")
    try:
        with demo_stack(bin_dir, rules, STEADY, load_seconds=600) as stack:
            time.sleep(90)
            with loadgen(bin_dir, stack.server, BURST, 75):
                time.sleep(80)
            time.sleep(70)
            subprocess.run([os.path.join(ROOT, "dashboards", "preview"), stack.prometheus, "--range", "4m",
                            "--scrape-interval", "1s", "--out", out], check=True)
        shutil.copy(os.path.join(out, "panel-%s.png" % panel), os.path.join(ROOT, "dashboards", "preview-example.png"))
    finally:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
