"""A fleet of WebSocket hosts on one machine, collected the two ways docs/scaling.md describes, on
the engines people already run. Hosts are loopback addresses (127.0.0.11, .12, .13, ...): each runs
wsm-demo-server, wsm-exporter (answering HAProxy's agent check too) and a vmagent.

  clients -> HAProxy (agent-check weights) -> host N: wsm-demo-server -> segment -> wsm-exporter
  (a) Prometheus --file_sd--> every exporter; per-host, fleet and anomaly rules -> Alertmanager
  (b) vmagent on each host --remote write--> central VictoriaMetrics (raw, short retention)
                                         \\-> history VictoriaMetrics (one sample per 5 minutes, years)
      vmalert: per-host, fleet and anomaly rules on the central store -> Alertmanager
      vmalert: trend rules every 5 minutes on the central store -> history store

Alerts from the two collectors carry `collector="prometheus"` or `collector="vmalert"`, so both
reach Alertmanager as alerts of their own. Used by scripts/fleet and tests/fleet; every process is
started and stopped by pid (servers.py), every port is a free one on its host's address.
"""
import contextlib
import json
import os
import re
import shutil
import tempfile
import uuid

from servers import accepts, alertmanager, free_port, http_ok, http_server, prometheus, running

JOB = "websocket"  # the scrape job the rule files name (`up{job="websocket"}`)
HISTORY_RETENTION = "2y"
HISTORY_RESOLUTION = "5m"  # -dedup.minScrapeInterval of the history store: its downsampling
CENTRAL_RETENTION = "15d"


class Settings:
    """What a fleet is made of. Defaults suit scripts/fleet; tests shorten the intervals."""

    def __init__(self, bin_dir, rules_dir, hosts=3, workers=2, scrape_interval="5s",
                 evaluation_interval="15s", webhook_url=None, balancer_port=None, workdir=None):
        self.bin_dir = bin_dir
        self.rules_dir = rules_dir            # dashboards/prometheus
        self.addresses = ["127.0.0.%d" % (11 + i) for i in range(hosts)]  # 127.0.0.11, .12, ...
        self.workers = workers
        self.scrape_interval = scrape_interval
        self.evaluation_interval = evaluation_interval
        self.webhook_url = webhook_url        # Alertmanager's receiver; None: the shipped example's
        self.balancer_port = balancer_port    # HAProxy's frontend on 127.0.0.1; None: a free port
        self.workdir = workdir                # configs, data and logs; None: a temp dir, removed after

    def rule_files(self):
        names = ["prometheus-websocket-alerts.yml", "websocket-fleet-rules.yml", "websocket-anomaly-rules.yml"]
        return [os.path.join(self.rules_dir, n) for n in names]

    def trend_rules(self):
        return os.path.join(self.rules_dir, "websocket-trend-rules.yml")


class Host:
    """One host's programs, once running."""

    def __init__(self, name, address, segment):
        self.name, self.address, self.segment = name, address, segment
        self.server_url = None     # ws://ADDRESS:PORT/ws
        self.exporter = None       # ADDRESS:PORT, the scraped `instance`
        self.agent_port = None
        self.vmagent = None        # http://ADDRESS:PORT
        self.running = {}          # program -> servers.Running, to stop one early (a host failing)


class Fleet:
    """The URLs of a running fleet."""

    def __init__(self, settings):
        self.settings = settings
        self.hosts = []
        self.central = self.history = None   # VictoriaMetrics base URLs
        self.vmalert = self.trends_vmalert = None
        self.prometheus = None
        self.alertmanager = None
        self.balancer = None                 # ws://127.0.0.1:PORT/ws through HAProxy
        self.haproxy_stats = None            # HAProxy's admin socket path

    def instances(self):
        return [h.exporter for h in self.hosts]


# ---- configuration texts ----

def scrape_config(interval, targets_file=None, targets=()):
    """One job named JOB: a file_sd file (Prometheus) or static targets (one host's vmagent)."""
    text = "global:\n  scrape_interval: %s\n  scrape_timeout: %s\nscrape_configs:\n  - job_name: %s\n" % (
        interval, interval, JOB)
    if targets_file:
        return text + "    file_sd_configs:\n      - files: ['%s']\n        refresh_interval: 5s\n" % targets_file
    return text + "    static_configs:\n      - targets: [%s]\n" % ", ".join("'%s'" % t for t in targets)


def file_sd_targets(hosts):
    """file_sd's JSON: one group per host. No label of ours: the fleet rules sum `instance` away, and a
    host label would survive the sum."""
    return json.dumps([{"targets": [h.exporter]} for h in hosts], indent=2)


def prometheus_config(settings, targets_file, alertmanager_base):
    rules = "".join("  - %s\n" % r for r in settings.rule_files())
    return (scrape_config(settings.scrape_interval, targets_file=targets_file).replace(
        "global:\n", "global:\n  evaluation_interval: %s\n  external_labels:\n    collector: prometheus\n"
        % settings.evaluation_interval, 1)
        + "rule_files:\n" + rules
        + "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['%s']\n"
        % alertmanager_base.split("//", 1)[1])


def alertmanager_config(settings):
    """The shipped dashboards/alertmanager/alertmanager.yml, grouping by collector as well (the two
    collectors' alerts about one host are two alerts here, each notified at once, not one waiting
    for the other's group_interval) and sending to settings.webhook_url if given."""
    with open(os.path.join(settings.rules_dir, "..", "alertmanager", "alertmanager.yml")) as f:
        text = f.read()
    grouping = "group_by: [alertname, service, job, instance]"
    if grouping not in text:
        raise RuntimeError("alertmanager.yml no longer has %r: update fleet.py" % grouping)
    text = text.replace(grouping, grouping[:-1] + ", collector]")
    if settings.webhook_url:
        text = re.sub(r"http://127\.0\.0\.1:9095/alerts", settings.webhook_url, text)
    return text


def haproxy_config(hosts, port, stats_socket):
    """TCP balancing of WebSocket connections over the hosts' servers, each weighted by its
    exporter's agent check (see exporter/README.md, "HAProxy agent check")."""
    lines = ["global", "  nbthread 1", "  stats socket %s mode 600 level admin" % stats_socket,
             "defaults", "  mode tcp", "  timeout connect 2s", "  timeout client 1h", "  timeout server 1h",
             "frontend websocket", "  bind 127.0.0.1:%d" % port, "  default_backend hosts",
             "backend hosts", "  balance leastconn"]
    for h in hosts:
        host_port = h.server_url.split("//", 1)[1].split("/", 1)[0]
        lines.append("  server %s %s weight 100 check inter 1s agent-check agent-addr %s agent-port %d "
                     "agent-inter 1s" % (h.name, host_port, h.address, h.agent_port))
    return "\n".join(lines) + "\n"


# ---- programs ----

def _bin(settings, name):
    return os.path.join(settings.bin_dir, name)


@contextlib.contextmanager
def _host(settings, stores, name, address, workdir):
    """A host's demo server, exporter (with agent check) and a vmagent writing to both stores of
    the Fleet `stores`; yields the Host."""
    host = Host(name, address, "wsm-fleet-%s-%d-%s" % (name, os.getpid(), uuid.uuid4().hex[:6]))
    listening = re.compile(r"listening on (ws://%s:\d+/ws)" % re.escape(address))
    try:
        with contextlib.ExitStack() as stack:
            server = stack.enter_context(running("server-" + name, lambda: (
                [_bin(settings, "wsm-demo-server"), "--host", address, "--port", "0", "--workers",
                 str(settings.workers), "--segment", host.segment],
                lambda log: (m := listening.search(log)) and m.group(1)), workdir=workdir))
            host.server_url, host.running["server"] = server.value, server

            def exporter_command():
                target, agent = "%s:%d" % (address, free_port(address)), free_port(address)
                return ([_bin(settings, "wsm-exporter"), "--segment", host.segment, "--listen", target,
                         "--interval", "1", "--agent-check-listen", "%s:%d" % (address, agent)],
                        lambda _: http_ok("http://%s/metrics" % target) and (target, agent))

            exporter = stack.enter_context(running("exporter-" + name, exporter_command, workdir=workdir, attempts=3))
            (host.exporter, host.agent_port), host.running["exporter"] = exporter.value, exporter

            config = os.path.join(workdir, "vmagent-%s.yml" % name)
            with open(config, "w") as f:
                f.write(scrape_config(settings.scrape_interval, targets=[host.exporter]))

            def vmagent_command():
                base = "http://%s:%d" % (address, free_port(address))
                return (["vmagent", "-promscrape.config=" + config, "-httpListenAddr=" + base[7:],
                         "-remoteWrite.url=%s/api/v1/write" % stores.central,
                         "-remoteWrite.url=%s/api/v1/write" % stores.history,
                         "-remoteWrite.tmpDataPath=" + os.path.join(workdir, "vmagent-%s-queue" % name),
                         "-loggerLevel=ERROR"], lambda _: http_ok(base + "/health") and base)

            vmagent = stack.enter_context(running("vmagent-" + name, vmagent_command, workdir=workdir, attempts=3))
            host.vmagent, host.running["vmagent"] = vmagent.value, vmagent
            yield host
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink("/dev/shm/wsm." + host.segment)


def _victoria_metrics(name, workdir, *flags):
    return http_server(name, "", lambda _config, data, address: [
        "victoria-metrics", "-storageDataPath=" + data, "-httpListenAddr=" + address,
        "-search.latencyOffset=1s", "-loggerLevel=ERROR"] + list(flags), ready_path="/health", workdir=workdir)


def _vmalert(name, workdir, rules, datasource, remote_write, settings, notifier=None, interval=None):
    flags = ["-datasource.url=" + datasource, "-remoteWrite.url=" + remote_write,
             "-evaluationInterval=" + (interval or settings.evaluation_interval),
             "-external.label=collector=vmalert", "-loggerLevel=ERROR"] + ["-rule=" + r for r in rules]
    if notifier:
        flags += ["-notifier.url=" + notifier, "-remoteRead.url=" + datasource]
    return http_server(name, "", lambda _config, _data, address: ["vmalert", "-httpListenAddr=" + address] + flags,
                       ready_path="/health", workdir=workdir)


@contextlib.contextmanager
def fleet(settings):
    """Starts the whole fleet (stores and Alertmanager first, then the hosts, then the collectors
    that read them, then HAProxy) and yields a Fleet; stops everything by pid, newest first, and
    removes the hosts' segments."""
    own_dir = settings.workdir is None
    workdir = settings.workdir or tempfile.mkdtemp(prefix="wsm-fleet-")
    os.makedirs(workdir, exist_ok=True)
    f = Fleet(settings)
    try:
        with contextlib.ExitStack() as stack:
            f.central = stack.enter_context(_victoria_metrics(
                "central", workdir, "-retentionPeriod=" + CENTRAL_RETENTION))
            f.history = stack.enter_context(_victoria_metrics(
                "history", workdir, "-retentionPeriod=" + HISTORY_RETENTION,
                "-dedup.minScrapeInterval=" + HISTORY_RESOLUTION))
            f.alertmanager = stack.enter_context(alertmanager(alertmanager_config(settings), workdir=workdir))
            for i, address in enumerate(settings.addresses):
                f.hosts.append(stack.enter_context(_host(settings, f, chr(ord("a") + i), address, workdir)))

            f.vmalert = stack.enter_context(_vmalert("vmalert", workdir, settings.rule_files(), f.central,
                                                     f.central, settings, notifier=f.alertmanager))
            f.trends_vmalert = stack.enter_context(_vmalert(
                "vmalert-trends", workdir, [settings.trend_rules()], f.central, f.history, settings,
                interval=HISTORY_RESOLUTION))
            targets = os.path.join(workdir, "targets.json")
            with open(targets, "w") as out:
                out.write(file_sd_targets(f.hosts))
            f.prometheus = stack.enter_context(prometheus(prometheus_config(settings, targets, f.alertmanager),
                                                          workdir=workdir))

            port = settings.balancer_port or free_port()
            f.haproxy_stats = os.path.join(workdir, "haproxy.sock")
            with open(os.path.join(workdir, "haproxy.cfg"), "w") as out:
                out.write(haproxy_config(f.hosts, port, f.haproxy_stats))
            stack.enter_context(running("haproxy", lambda: (
                ["/usr/sbin/haproxy", "-f", os.path.join(workdir, "haproxy.cfg"), "-db"],
                lambda _: os.path.exists(f.haproxy_stats) and accepts("127.0.0.1", port)), workdir=workdir))
            f.balancer = "ws://127.0.0.1:%d/ws" % port
            yield f
    finally:
        if own_dir:
            shutil.rmtree(workdir, ignore_errors=True)

