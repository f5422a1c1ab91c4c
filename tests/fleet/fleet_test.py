#!/usr/bin/env python3
"""The fleet of scripts/fleet end to end on the real engines (tools/fleet/fleet.py): three hosts on
127.0.0.11-13, HAProxy in front, (a) Prometheus through file_sd, (b) vmagent per host writing to a
central VictoriaMetrics with vmalert, (c) a history VictoriaMetrics keeping one sample per 5
minutes, all alerting one Alertmanager whose webhook is this test.

  1. A finite load through HAProxy reaches every host.
  2. Fleet totals read back from Prometheus, the central store and the history store equal the load
     generator's counts exactly; both collectors recorded the fleet rules.
  3. The history store holds one sample per 5 minutes where the central store holds one a second.
  4. No scrape of a healthy exporter failed, in either collector, before or after a host fails.
  5. Host b's exporter and server stop: WebSocketExporterDown for b reaches the webhook from
     Prometheus and from vmalert.
  6. Afterwards no process of the fleet and no segment is left.

usage: fleet_test.py BIN_DIR RULES_DIR
"""
import contextlib
import http.server
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "fleet"))
from fleet import Settings, fleet  # noqa: E402
from servers import get_text, query, wait_for  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from verdict import left_behind, verdict  # noqa: E402

LOAD = ["--clients", "9", "--messages", "900", "--mix", "patient_monitor=3,doctor=3,nurse=3", "--timeout", "90"]
SETTLE_S = 60      # scrapes every second; remote write and VictoriaMetrics' 1 s latency offset on top
ALERT_WAIT_S = 180  # the alert's `for: 1m`, Alertmanager's group_wait 30 s, evaluation every second


class Webhook(http.server.BaseHTTPRequestHandler):
    received = queue.Queue()

    def do_POST(self):
        self.received.put(json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0)))))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def scalar(base, expr):
    """The single value of `expr` at `base`, or None when it has no result."""
    result = query(base, expr)["data"]["result"]
    return float(result[0]["value"][1]) if len(result) == 1 else None


def by_label(base, expr, label):
    return {s["metric"].get(label): float(s["value"][1]) for s in query(base, expr)["data"]["result"]}


def vmagent_scrapes(host):
    """(scrapes, failed scrapes) from a host's vmagent's own /metrics: scrapes by HTTP status, and
    those that got no answer at all."""
    total = failed = 0
    for line in get_text(host.vmagent + "/metrics").splitlines():
        name, _, value = line.rpartition(" ")
        if name.startswith("vm_promscrape_scrapes_total{"):
            total += float(value)
            failed += 0 if 'status_code="200"' in name else float(value)
        elif name in ("vm_promscrape_scrapes_failed_total", "vm_promscrape_scrapes_timed_out_total"):
            failed += float(value)
    return total, failed


def check_scrapes(f, healthy, problems, when):
    """Every healthy host's scrapes succeeded: in its vmagent's counters and in Prometheus' `up`."""
    for h in healthy:
        total, failed = vmagent_scrapes(h)
        if total < 5 or failed != 0:
            problems.append("%s: vmagent on host %s: %d scrapes, %d failed" % (when, h.name, total, failed))
    worst = by_label(f.prometheus, 'min_over_time(up{job="websocket"}[10m])', "instance")
    for h in healthy:
        if worst.get(h.exporter) != 1:
            problems.append("%s: Prometheus' lowest up for host %s is %s" % (when, h.name, worst.get(h.exporter)))


def check_totals(f, summary, problems):
    """Fleet sums in every store equal the load generator's counts (received by the servers = sent
    by the clients and the other way round), waiting for the last scrapes to arrive."""
    expected = {"websocket_messages_received_total": summary["sent"],
                "websocket_messages_sent_total": summary["received"]}
    stores = {"Prometheus (file_sd)": f.prometheus, "central VictoriaMetrics": f.central,
              "history VictoriaMetrics": f.history}
    for store, base in stores.items():
        for name, want in expected.items():
            expr = 'sum(%s{job="websocket"})' % name
            try:
                wait_for(lambda: scalar(base, expr) == want, SETTLE_S, "")
            except RuntimeError:
                problems.append("%s: %s = %s, the load generator counted %d" % (store, expr, scalar(base, expr), want))
    per_host = by_label(f.central, 'sum by (instance) (websocket_connections_total{job="websocket"})', "instance")
    for h in f.hosts:
        if not per_host.get(h.exporter):
            problems.append("HAProxy sent no connection to host %s (%s)" % (h.name, per_host))
    # A rate needs two scrapes and a rule an evaluation after them: wait for the first.
    for store, base in (("Prometheus", f.prometheus), ("central VictoriaMetrics", f.central)):
        try:
            wait_for(lambda: scalar(base, "sum(fleet:websocket_messages_received:rate5m)") is not None, SETTLE_S, "")
        except RuntimeError:
            problems.append("%s has no fleet:websocket_messages_received:rate5m: the fleet rules did not run" % store)


def check_downsampling(f, problems):
    """One `up` series: one sample a second centrally, at most one per 5-minute slot in history."""
    h = f.hosts[0]
    expr = 'count_over_time(up{job="websocket", instance="%s"}[10m])' % h.exporter
    with contextlib.suppress(RuntimeError):
        wait_for(lambda: (scalar(f.central, expr) or 0) >= 20, SETTLE_S, "")
    central, history = scalar(f.central, expr), scalar(f.history, expr)
    if central is None or central < 20 or history is None or history > 2:
        problems.append("samples of %s in 10 minutes: central %s, history %s (want >= 20 and <= 2)"
                        % (h.exporter, central, history))
    print("samples of up{instance=%s} in the last 10 minutes: central %s, history %s" % (h.exporter, central, history))


def await_host_down(instance, deadline):
    """The collectors whose firing WebSocketExporterDown for `instance` reached the webhook."""
    collectors = set()
    while time.monotonic() < deadline and len(collectors) < 2:
        try:
            body = Webhook.received.get(timeout=1)
        except queue.Empty:
            continue
        for a in body.get("alerts", []):
            labels = a.get("labels", {})
            if (labels.get("alertname") == "WebSocketExporterDown" and labels.get("instance") == instance
                    and a.get("status") == "firing"):
                collectors.add(labels.get("collector"))
    return collectors


def main():
    bin_dir, rules_dir = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    webhook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Webhook)
    threading.Thread(target=webhook.serve_forever, daemon=True).start()
    workdir = tempfile.mkdtemp(prefix="wsm-fleet-test-")
    settings = Settings(bin_dir, rules_dir, workers=1, scrape_interval="1s", evaluation_interval="1s",
                        webhook_url="http://127.0.0.1:%d/alerts" % webhook.server_address[1], workdir=workdir)
    problems, segments = [], []
    try:
        with fleet(settings) as f:
            segments = [h.segment for h in f.hosts]
            r = subprocess.run([os.path.join(bin_dir, "wsm-loadgen"), "--url", f.balancer] + LOAD,
                               capture_output=True, text=True, timeout=150)
            if r.returncode != 0:
                print("wsm-loadgen through HAProxy exited with %d:\n%s" % (r.returncode, r.stderr))
                return 1
            summary = json.loads(r.stdout)
            print("load through HAProxy: sent %d, received %d" % (summary["sent"], summary["received"]))
            check_totals(f, summary, problems)
            check_downsampling(f, problems)
            check_scrapes(f, f.hosts, problems, "before host b failed")

            down = f.hosts[1]
            down.running["exporter"].stop()
            down.running["server"].stop()
            started = time.monotonic()
            collectors = await_host_down(down.exporter, started + ALERT_WAIT_S)
            print("WebSocketExporterDown for host b reached the webhook from %s after %.0f s"
                  % (sorted(collectors, key=str), time.monotonic() - started))
            if collectors != {"prometheus", "vmalert"}:
                problems.append("WebSocketExporterDown for %s reached the webhook from %s, not from both "
                                "prometheus and vmalert" % (down.exporter, sorted(collectors, key=str)))
            check_scrapes(f, [f.hosts[0], f.hosts[2]], problems, "after host b failed")
    finally:
        webhook.shutdown()
        webhook.server_close()
        problems += left_behind(workdir, segments)
        shutil.rmtree(workdir, ignore_errors=True)
    return verdict(problems, "fleet end to end")


if __name__ == "__main__":
    sys.exit(main())
