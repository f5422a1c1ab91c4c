"""scripts/fleet's body: starts the fleet of fleet.py with load through HAProxy, prints where to
look, prints each alert notification as Alertmanager delivers it, and stops everything by pid after
WSM_DEMO_SECONDS or on Ctrl-C.

usage: run.py BIN_DIR RULES_DIR WORKDIR [SECONDS]
"""
import http.server
import json
import os
import shutil
import signal
import sys
import threading
import time

from fleet import HISTORY_RESOLUTION, HISTORY_RETENTION, CENTRAL_RETENTION, Settings, fleet
from servers import running

# Every event the catalogue counts, spread by HAProxy over the hosts: monitors publish (2%
# malformed), a subscriber leaves and comes back every 5 s, one stops reading now and then.
LOAD = ["--clients", "12", "--rate", "30", "--mix", "patient_monitor=3,doctor=5,nurse=3,admin=1",
        "--malformed-ratio", "0.02", "--churn-every", "5", "--stall-clients", "1", "--stall-for", "10"]


class AlertPrinter(http.server.BaseHTTPRequestHandler):
    """Alertmanager's webhook receiver: one line per alert in each notification."""

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        for a in body.get("alerts", []):
            labels = a.get("labels", {})
            print("  alert %-8s %s %s (from %s)" % (a.get("status"), labels.get("alertname"),
                                                     labels.get("instance", labels.get("job", "")),
                                                     labels.get("collector", "?")), flush=True)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def print_urls(f, workdir):
    p = print
    p("\nwsm fleet running: %d hosts behind HAProxy, two collectors, one Alertmanager" % len(f.hosts))
    p("  clients connect to  %s?role=doctor&user=u1&patient=p1   (HAProxy, weights from each host's agent check)"
      % f.balancer)
    for h in f.hosts:
        p("  host %s %-12s server %s   exporter http://%s/   agent %s:%d   vmagent %s"
          % (h.name, h.address, h.server_url, h.exporter, h.address, h.agent_port, h.vmagent))
        p("                      segment %s   (%s top %s)" % (h.segment, os.path.join(f.settings.bin_dir, "wsm"),
                                                          h.segment))
    p("  (a) Prometheus      %s/targets   (file_sd: %s)" % (f.prometheus, os.path.join(workdir, "targets.json")))
    p("      fleet query     %s/graph?g0.expr=fleet%%3Awebsocket_messages_received%%3Arate5m" % f.prometheus)
    p("  (b) VictoriaMetrics %s/vmui   (central: raw samples, %s)" % (f.central, CENTRAL_RETENTION))
    p("      vmalert         %s/   (per-host and fleet rules on the central store)" % f.vmalert)
    p("  (c) history         %s/vmui   (one sample per %s per series, %s)" % (f.history, HISTORY_RESOLUTION,
                                                                         HISTORY_RETENTION))
    p("      trend rules     %s/   (every %s, written to the history store)" % (f.trends_vmalert,
                                                                               HISTORY_RESOLUTION))
    p("  Alertmanager        %s/#/alerts   (notifications are printed below)" % f.alertmanager)
    p("  HAProxy             echo 'show servers state' | socat - %s" % f.haproxy_stats)
    p("  configs and logs    %s" % workdir)


def main():
    bin_dir, rules_dir, workdir = sys.argv[1:4]
    seconds = float(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[4] else None
    shutil.rmtree(workdir, ignore_errors=True)  # a fresh fleet: no old data, configs or logs
    os.makedirs(workdir)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))

    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), AlertPrinter)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    settings = Settings(bin_dir, rules_dir, webhook_url="http://127.0.0.1:%d/alerts" % receiver.server_address[1],
                        balancer_port=int(os.environ.get("WSM_FLEET_PORT", "8090")), workdir=workdir)
    loadgen_json = os.path.join(workdir, "loadgen.json")
    try:
        print("scripts/fleet: starting the stores, Alertmanager, %d hosts, the collectors and HAProxy"
              % len(settings.addresses), flush=True)
        with fleet(settings) as f:
            argv = [os.path.join(bin_dir, "wsm-loadgen"), "--url", f.balancer, "--duration",
                    str(seconds or 86400)] + LOAD
            with running("loadgen", lambda: (["sh", "-c", 'exec "$0" "$@" >%s' % loadgen_json] + argv,
                                              lambda _: True), workdir=workdir):
                print_urls(f, workdir)
                print("\nscripts/fleet: %s" % ("stops by itself after %g s" % seconds if seconds
                                               else "Ctrl-C stops all of it"), flush=True)
                deadline = time.monotonic() + (seconds or float("inf"))
                while time.monotonic() < deadline:
                    time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        receiver.shutdown()
        receiver.server_close()
    print("\nscripts/fleet: stopped every process; logs in %s" % workdir)
    if os.path.exists(loadgen_json) and os.path.getsize(loadgen_json):
        with open(loadgen_json) as f:
            s = json.load(f)
        print("load generator: " + ", ".join("%s %s" % (k, s.get(k)) for k in
                                             ("connected", "sent", "received", "errors", "dropped")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
