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
from servers import free_port  # noqa: E402

PROMISED = [r"clients connect to  ws://127\.0\.0\.1:\d+/ws", r"host a 127\.0\.0\.11 ", r"host b 127\.0\.0\.12 ",
            r"host c 127\.0\.0\.13 ", r"\(a\) Prometheus      http://", r"\(b\) VictoriaMetrics http://",
            r"vmalert         http://", r"\(c\) history         http://", r"trend rules     http://",
            r"Alertmanager        http://",
            r"stops by itself after 15 s", r"stopped every process"]


def processes_in(directory):
    """Pids whose working directory is `directory` (or below it)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cwd = os.readlink("/proc/%s/cwd" % pid)
        except OSError:
            continue
        if cwd == directory or cwd.startswith(directory + "/"):
            found.append(int(pid))
    return found


def main():
    source, bin_dir = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    problems = []
    with tempfile.TemporaryDirectory(prefix="wsm-fleet-script-") as tmp:
        fleet_dir = os.path.join(tmp, "fleet")
        shm_before = set(os.listdir("/dev/shm"))
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
        left = processes_in(fleet_dir)
        if left:
            problems.append("processes left running in %s: %s" % (fleet_dir, left))
        segments = [s for s in set(os.listdir("/dev/shm")) - shm_before if s.startswith("wsm.wsm-fleet-")]
        if segments:
            problems.append("segments left behind: %s" % segments)
    for p in problems:
        print("PROBLEM: " + p)
    print("scripts/fleet: %d problems" % len(problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
