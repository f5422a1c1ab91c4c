#!/usr/bin/env python3
"""The generated dashboard files are what their generators write: dashboards/catalogue.json is
`wsm-alerts catalogue` with no threshold variable set (so it equals the C++ catalogue), the Grafana
views are `dashboards/grafana/generate.py` of that catalogue (so nobody edits them by hand), and a
catalogue whose enum value a view uses is renamed stops generation with a message naming it.

usage: generated_test.py WSM_ALERTS_BIN REPO_ROOT
"""
import json
import os
import subprocess
import sys
import tempfile


def main():
    wsm_alerts, repo = sys.argv[1], os.path.abspath(sys.argv[2])
    committed = os.path.join(repo, "dashboards", "catalogue.json")
    generate = os.path.join(repo, "dashboards", "grafana", "generate.py")
    problems = []
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEBSOCKET_")}
    rendered = subprocess.run([wsm_alerts, "catalogue"], env=env, check=True, capture_output=True, text=True).stdout
    with open(committed) as f:
        if f.read() != rendered:
            problems.append("%s is not `wsm-alerts catalogue`: build/bin/wsm-alerts catalogue > dashboards/catalogue.json"
                            % committed)
    check = subprocess.run([sys.executable, generate, "--check"], capture_output=True, text=True)
    if check.returncode != 0:
        problems.append("generate.py --check: rc %d\n%s%s" % (check.returncode, check.stdout, check.stderr))
    catalogue = json.loads(rendered)
    types = catalogue["families"]["websocket_message_latency_seconds"]["labels"]["message_type"]
    types[types.index("vitals")] = "vital_signs"
    with tempfile.TemporaryDirectory() as scratch:
        renamed = os.path.join(scratch, "catalogue.json")
        with open(renamed, "w") as f:
            json.dump(catalogue, f)
        broken = subprocess.run([sys.executable, generate, "--catalogue", renamed, "--out", scratch],
                                capture_output=True, text=True)
        if broken.returncode == 0 or "'vitals'" not in broken.stderr:
            problems.append("a catalogue without 'vitals' still generated: rc %d %s" % (broken.returncode, broken.stderr))
    for p in problems:
        print(p)
    print("generated files: %d problems" % len(problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
