#!/usr/bin/env python3
"""The alert path with the committed Alertmanager configuration: a real Prometheus (1 s scrapes and
evaluations) loads the rules rendered with `wsm-alerts render --for 1s`, scrapes the stand-in
exporter (whose failed/sent ratio is 1), and sends HighFailureRate to a real Alertmanager running
dashboards/alertmanager/alertmanager.yml (only the example webhook URL is pointed at this test's
receiver); Alertmanager must deliver it to the webhook with the rule's labels and annotations.

usage: alert_delivery_test.py WSM_ALERTS_BIN ALERTMANAGER_YML
"""
import http.server
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time

from prom_fixture import alertmanager, prometheus
from standin_exporter import standin_exporter

EXAMPLE_WEBHOOK = "http://127.0.0.1:9095/alerts"


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
    wsm_alerts, am_config_path = sys.argv[1:3]
    with tempfile.NamedTemporaryFile("w+", suffix=".yml") as rules:
        subprocess.run([wsm_alerts, "render", "--for", "1s", "--out", rules.name], check=True)
        webhook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Webhook)
        threading.Thread(target=webhook.serve_forever, daemon=True).start()
        try:
            with open(am_config_path) as f:
                am_config = f.read()
            if EXAMPLE_WEBHOOK not in am_config:
                print("%s has no example webhook %s" % (am_config_path, EXAMPLE_WEBHOOK))
                return 1
            am_config = am_config.replace(EXAMPLE_WEBHOOK, "http://127.0.0.1:%d/alerts" % webhook.server_address[1])
            with standin_exporter() as target, alertmanager(am_config) as am:
                config = ("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                          "rule_files:\n  - %s\n"
                          "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['%s']\n"
                          "scrape_configs:\n  - job_name: websocket\n    static_configs:\n"
                          "      - targets: ['%s']\n" % (rules.name, am.split("//")[1], target))
                with prometheus(config):
                    return await_delivery(time.monotonic() + 90)
        finally:
            webhook.shutdown()
            webhook.server_close()


def await_delivery(deadline):
    seen = []
    while time.monotonic() < deadline:
        try:
            path, body = Webhook.received.get(timeout=1)
        except queue.Empty:
            continue
        for alert in body.get("alerts", []):
            labels, ann = alert.get("labels", {}), alert.get("annotations", {})
            seen.append(labels.get("alertname"))
            if labels.get("alertname") != "HighFailureRate":
                continue
            problems = []
            if path != "/alerts" or alert.get("status") != "firing":
                problems.append("path %s status %s" % (path, alert.get("status")))
            for k, v in {"severity": "critical", "service": "websocket", "job": "websocket"}.items():
                if labels.get(k) != v:
                    problems.append("label %s=%r, expected %r" % (k, labels.get(k), v))
            if ann.get("runbook_url") != "docs/runbooks.md#highfailurerate":
                problems.append("runbook_url %r" % ann.get("runbook_url"))
            if not ann.get("description", "").startswith("100% of the messages sent by"):
                problems.append("description %r does not show the value" % ann.get("description"))
            for p in problems:
                print(p)
            print("HighFailureRate delivered to the webhook (also seen: %s)" % sorted(set(seen) - {"HighFailureRate"}))
            return 1 if problems else 0
    print("no HighFailureRate notification within the deadline; seen: %s" % sorted(set(seen)))
    return 1


if __name__ == "__main__":
    sys.exit(main())
