#!/usr/bin/env python3
"""The alert path end to end with real components: wsm-loadgen sends wsm-demo-server (2 workers)
a load in which 30% of the publishes are malformed; the server counts them as failed messages,
wsm-exporter serves the segment, a real Prometheus (1 s scrapes and evaluations) runs the rules
rendered with `wsm-alerts render --for 1s` and sends HighFailureRate to a real Alertmanager running
dashboards/alertmanager/alertmanager.yml (only the example webhook URL is pointed at this test's
receiver), which delivers it to the webhook. The notification must carry the rule's labels and
annotations, and its description a failed/sent ratio that Prometheus computed from the exporter.

usage: alert_delivery_test.py BIN_DIR ALERTMANAGER_YML
"""
import http.server
import json
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time

from live_stack import alertmanager, demo_stack, query

EXAMPLE_WEBHOOK = "http://127.0.0.1:9095/alerts"
LOAD = ["--clients", "6", "--rate", "40", "--mix", "patient_monitor=2,doctor=1,nurse=1",
        "--malformed-ratio", "0.3"]
RATIO = "websocket:failed_messages:ratio_rate5m"


class Webhook(http.server.BaseHTTPRequestHandler):
    received = queue.Queue()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.received.put((self.path, json.loads(body)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def main():
    bin_dir, am_config_path = os.path.abspath(sys.argv[1]), sys.argv[2]
    with open(am_config_path) as f:
        am_config = f.read()
    if EXAMPLE_WEBHOOK not in am_config:
        print("%s has no example webhook %s" % (am_config_path, EXAMPLE_WEBHOOK))
        return 1
    with tempfile.NamedTemporaryFile("w+", suffix=".yml") as rules:
        subprocess.run([os.path.join(bin_dir, "wsm-alerts"), "render", "--for", "1s", "--out", rules.name],
                       check=True)
        webhook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Webhook)
        threading.Thread(target=webhook.serve_forever, daemon=True).start()
        try:
            am_config = am_config.replace(EXAMPLE_WEBHOOK, "http://127.0.0.1:%d/alerts" % webhook.server_address[1])
            with alertmanager(am_config) as am, \
                    demo_stack(bin_dir, rules.name, LOAD, alertmanager_base=am) as stack:
                found = await_delivery(time.monotonic() + 120)
                if found is None:
                    return 1
                ratios = recorded_ratios(stack.prometheus)
                problems = check_notification(*found, stack.exporter, ratios)
                print("delivered: %s" % json.dumps(found[1]["annotations"], sort_keys=True))
        finally:
            webhook.shutdown()
            webhook.server_close()
    for p in problems:
        print(p)
    print("HighFailureRate delivered by Alertmanager to the webhook, %d problems" % len(problems))
    return 1 if problems else 0


def await_delivery(deadline):
    """(path, alert) of the first firing HighFailureRate notification, or None by the deadline."""
    seen = set()
    while time.monotonic() < deadline:
        try:
            path, body = Webhook.received.get(timeout=1)
        except queue.Empty:
            continue
        for alert in body.get("alerts", []):
            name = alert.get("labels", {}).get("alertname")
            seen.add(name)
            if name == "HighFailureRate" and alert.get("status") == "firing":
                return path, alert
    print("no firing HighFailureRate notification within the deadline; seen: %s" % sorted(seen, key=str))
    return None


def recorded_ratios(base):
    """Every sample of the failed/sent recording rule this Prometheus has (it is younger than 10m)."""
    reply = query(base, RATIO + "[10m]")
    return [float(v) for s in reply["data"]["result"] for _, v in s["values"]]


def check_notification(path, alert, instance, ratios):
    labels, ann = alert.get("labels", {}), alert.get("annotations", {})
    problems = []
    if path != "/alerts":
        problems.append("delivered to %s, not the configured /alerts" % path)
    expected = {"alertname": "HighFailureRate", "severity": "critical", "service": "websocket",
                "job": "websocket", "instance": instance}
    for k, v in expected.items():
        if labels.get(k) != v:
            problems.append("label %s=%r, expected %r" % (k, labels.get(k), v))
    if ann.get("summary") != "More than 5%% of messages fail on %s" % instance:
        problems.append("summary %r does not name the instance and the threshold" % ann.get("summary"))
    if ann.get("runbook_url") != "docs/runbooks.md#highfailurerate":
        problems.append("runbook_url %r" % ann.get("runbook_url"))
    # humanizePercentage: 4 significant digits of value * 100.
    m = re.match(r"^([0-9.]+)% of the messages sent by (\S+) \(job websocket\) failed", ann.get("description", ""))
    if not m or m.group(2) != instance:
        problems.append("description %r does not show the value for %s" % (ann.get("description"), instance))
    elif not ratios:
        problems.append("Prometheus has no %s values to compare the description with" % RATIO)
    else:
        shown = float(m.group(1)) / 100
        if not any(abs(shown - r) <= 0.0005 * max(r, 1e-9) + 1e-6 for r in ratios):
            problems.append("description shows %g, which is none of the ratios Prometheus recorded "
                            "(%g .. %g)" % (shown, min(ratios), max(ratios)))
        if shown <= 0.05:
            problems.append("description shows %g, not above the 5%% threshold" % shown)
    return problems


if __name__ == "__main__":
    sys.exit(main())
