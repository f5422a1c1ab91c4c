#!/usr/bin/env python3
"""scripts/fleet as a user runs it: WSM_DEMO_SECONDS=15 on what is built. It must exit 0, print
every URL it promised (clients through HAProxy, each host, both collectors, the history store,
Alertmanager), carry load (the load generator's summary: messages sent, no errors), and leave no
process (every one it starts runs in its fleet directory) and no segment of its hosts behind.

usage: fleet_script_test.py SOURCE_DIR BIN_DIR
"""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "fleet"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from servers import free_port  # noqa: E402
from verdict import left_behind, verdict  # noqa: E402

PROMISED = [r"clients connect to  ws://127\.0\.0\.1:\d+/ws", r"host a 127\.0\.0\.11 ", r"host b 127\.0\.0\.12 ",
            r"host c 127\.0\.0\.13 ", r"\(a\) Prometheus      http://", r"\(b\) VictoriaMetrics http://",
            r"vmalert         http://", r"\(c\) history         http://", r"trend rules     http://",
            r"Alertmanager        http://",
            r"stops by itself after 15 s", r"stopped every process"]


def main():
    source, bin_dir = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    problems = []
    with tempfile.TemporaryDirectory(prefix="wsm-fleet-script-") as tmp:
        fleet_dir = os.path.join(tmp, "fleet")
        env = dict(os.environ, WSM_DEMO_SECONDS="15", WSM_DEMO_SKIP_BUILD="1", WSM_BIN_DIR=bin_dir,
                   WSM_FLEET_DIR=fleet_dir, WSM_FLEET_PORT=str(free_port()))
        r = subprocess.run([os.path.join(source, "scripts", "fleet")], env=env, capture_output=True, text=True,
                           timeout=240)
        print(r.stdout)
        if r.returncode != 0:
            problems.append("scripts/fleet exited with %d:\n%s" % (r.returncode, r.stderr))
        for pattern in PROMISED:
            if not re.search(pattern, r.stdout):
                problems.append("the output lacks %r" % pattern)
        m = re.search(r"load generator: connected (\d+), sent (\d+), received (\d+), errors (\d+)", r.stdout)
        if not m or int(m.group(2)) == 0 or int(m.group(4)) != 0:
            problems.append("no load generator summary with messages sent and no errors")
        fleet_segments = re.findall(r"segment (wsm-fleet-\S+)", r.stdout)
        if len(fleet_segments) != 3:
            problems.append("the output names %d host segments, not 3" % len(fleet_segments))
        problems += left_behind(fleet_dir, fleet_segments)
    return verdict(problems, "scripts/fleet")


if __name__ == "__main__":
    sys.exit(main())
