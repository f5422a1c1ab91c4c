"""The operator view, "WebSocket overview" (websocket-overview.json): the whole service, every
role, issue 8's ten panels and issue 18's Fleet row, which ends with issue 20's anomaly band."""
from .common_panels import heartbeat_and_health
from .panels import Layout, Target, dashboard, row, timeseries, variables
from .promql import QUANTILES, by, quantile, rate

FILE = "websocket-overview.json"
ROLE = "$role"
# The anomaly rules' received rate per job (dashboards/prometheus/websocket-anomaly-rules.yml); its
# band is recorded there rather than computed here: an inline [1d] window would cost a day of
# samples on every refresh, break the lint's $__rate_interval rule, and not be the alert's band.
RECEIVED = "anomaly:websocket_messages_received:rate5m"


def build(c):
    t = c.thresholds
    grid = Layout()
    latency = c.select("websocket_message_latency_seconds_bucket")
    failed, sent = "websocket_failed_messages_total", "websocket_messages_sent_total"
    panels = [
        timeseries(1, "Active connections by role",
                   "Open WebSocket connections (websocket_connections_active) per role, and the instance "
                   "total. Red at 0: the NoConnections alert fires when the total has been 0 for 5 minutes.",
                   "short", [Target(by("sum", ["role"], c.select("websocket_connections_active", role=ROLE)), "{{role}}"),
                             Target(by("sum", ["instance"], c.select("websocket_connections_active")), "all roles {{instance}}")],
                   t, grid.place(12), threshold=("no_connections", "<")),
        timeseries(2, "Message throughput",
                   "Messages per second sent and received, by direction: the exporter's derived gauge "
                   "websocket_throughput_messages_per_second (counter deltas per exporter interval).",
                   "mps", [Target(by("sum", ["direction"], c.select("websocket_throughput_messages_per_second", role=ROLE)),
                                  "{{direction}}")], t, grid.place(12)),
        timeseries(3, "Latency P50 / P95 / P99",
                   "Message latency quantiles per processing stage from websocket_message_latency_seconds, "
                   "buckets summed over instances before histogram_quantile. The line is the "
                   "HighWebSocketLatency threshold, which applies to the P95 over 5 minutes. The P95 query asks for "
                   "exemplars: with Prometheus' exemplar storage on, each dot is a recent message with its trace id.",
                   "s", [Target(quantile(q, latency, ["processing_stage"]), "%s {{processing_stage}}" % name,
                                exemplar=name == "p95")
                         for name, q in QUANTILES], t, grid.place(12), threshold=("latency_seconds", ">")),
        timeseries(4, "Bandwidth",
                   "Bytes per second sent and received, by direction: the exporter's derived gauge "
                   "websocket_bandwidth_bytes_per_second.",
                   "Bps", [Target(by("sum", ["direction"], c.select("websocket_bandwidth_bytes_per_second", role=ROLE)),
                                  "{{direction}}")], t, grid.place(12)),
        timeseries(5, "Compression ratio",
                   "Share of the payload that permessage-deflate saves, per compression type: 100 minus the "
                   "mean websocket_compression_ratio_percent (compressed size as a percent of the payload) of "
                   "the messages sent in the last 5 minutes (recording rule "
                   "websocket:compression_savings_percent:mean_rate5m, shared with the alert). Red below the "
                   "LowCompressionRatio threshold; at or below 0 compression makes messages larger.",
                   "percent", [Target(c.select("websocket:compression_savings_percent:mean_rate5m"), "{{compression_type}}")],
                   t, grid.place(8), threshold=("compression_ratio_percent", "<")),
        timeseries(6, "Buffer utilisation",
                   "Fullest send/receive buffer per buffer type and role (websocket_buffer_utilization_percent). "
                   "The line is the Backpressure alert threshold.",
                   "percent", [Target(by("max", ["buffer_type", "role"], c.select("websocket_buffer_utilization_percent", role=ROLE)),
                                      "{{role}} {{buffer_type}}")],
                   t, grid.place(8), threshold=("buffer_utilization_percent", ">"), max_value=100),
        heartbeat_and_health(7, "Heartbeat success rate and health score",
                             "Heartbeat success rate per role (exporter-derived websocket_heartbeat_success_rate_percent) "
                             "and the health score of the worst connection per role (websocket_health_score). The line "
                             "is the LowHealthScore threshold, which applies to the health score.",
                             c, lambda family: c.select(family, role=ROLE), grid.place(8)),
        timeseries(8, "CPU and memory",
                   "CPU of the busiest process per process role (wsm_writer_cpu_percent, 100 = one core, left "
                   "axis) and resident memory summed per process role "
                   "(websocket_memory_usage_bytes{memory_type=\"rss\"}, right axis), both read by the exporter "
                   "from /proc. The role here is the writer process role (worker, exporter), not a connection "
                   "role, so the $role variable does not apply. Lines: the HighCPU and HighMemory thresholds.",
                   "percent", [Target(by("max", ["role"], c.select("wsm_writer_cpu_percent")), "cpu busiest {{role}} process"),
                               Target(by("sum", ["role"], c.select("websocket_memory_usage_bytes", memory_type="rss")),
                                      "rss {{role}}", unit="bytes", axis="right", threshold=("memory_bytes", ">"))],
                   t, grid.place(12), threshold=("cpu_percent", ">")),
        timeseries(9, "Active subscriptions by type",
                   "Active patient/topic subscriptions per subscription type (websocket_subscriptions_active).",
                   "short", [Target(by("sum", ["subscription_type"], c.select("websocket_subscriptions_active", role=ROLE)),
                                    "{{subscription_type}}")], t, grid.place(12)),
        timeseries(10, "Error rates",
                   "Failed messages per second by failure reason and disconnections per second by reason (left "
                   "axis), the 5-minute disconnection rate the ConnectionDrops alert uses, and the share of "
                   "failed to sent messages the HighFailureRate alert uses (right axis; recording rule "
                   "websocket:failed_messages:ratio_rate5m). Lines: both alert thresholds.",
                   "mps", [Target(by("sum", ["failure_reason"], rate(c.select(failed, role=ROLE))), "failed {{failure_reason}}"),
                           Target(by("sum", ["reason"], rate(c.select("websocket_disconnections_total", role=ROLE))),
                                  "disconnected {{reason}}"),
                           Target(c.select("websocket:disconnections:rate5m"), "disconnections 5m {{instance}}"),
                           Target(c.select("websocket:failed_messages:ratio_rate5m"), "failed / sent {{instance}}",
                                  unit="percentunit", axis="right", threshold=("failure_ratio", ">"))],
                   t, grid.place(24), threshold=("disconnections_per_second", ">")),
        row(11, "Fleet", grid.full_line(1)),
        timeseries(12, "Messages per host",
                   "Hosts side by side: messages sent and received per second by each host (instance) of the "
                   "fleet, from the counters websocket_messages_sent_total and websocket_messages_received_total. "
                   "A host far above the others carries more than its share (see WebSocketHostConnectionImbalance).",
                   "mps", [Target(by("sum", ["instance"], rate(c.select(sent))), "{{instance}} sent"),
                           Target(by("sum", ["instance"], rate(c.select("websocket_messages_received_total"))),
                                  "{{instance}} received")], t, grid.place(12)),
        timeseries(13, "Worst host P95 latency",
                   "The worst host: the highest P95 message latency of any host and processing stage, each "
                   "host's quantile from its own buckets summed over its workers (histogram_quantile over sum by "
                   "(le, instance, processing_stage)). The legend names the host. The line is the latency "
                   "alerts' threshold.",
                   "s", [Target("topk(1, %s)" % quantile(0.95, latency, ["instance", "processing_stage"]),
                                "{{instance}} {{processing_stage}}")],
                   t, grid.place(12), threshold=("latency_seconds", ">")),
        timeseries(14, "Received messages/s against the last day's band",
                   "The anomaly rules' view of traffic (dashboards/prometheus/websocket-anomaly-rules.yml, which "
                   "Prometheus must load): each job's received messages/s over all hosts (5-minute rate, solid), "
                   "the last day's mean of that rate (dotted) and the band of mean +- 3 standard deviations "
                   "(dashed; sigma is at least 5% of the mean and 1 msg/s, so a flat day still has a band of "
                   "+-15%). Catches a sudden spike or collapse: WebSocketTrafficAnomaly fires when the rate stays "
                   "outside the band for 10 minutes, once the day holds six hours of history (before that the band "
                   "is drawn but no alert fires). Misses a slow drift (the band moves with it), a change that "
                   "lasts (it becomes the baseline within hours) and a change small for the whole day but large "
                   "for its hour (the band is the whole day's): see the runbook. Fleet figures: they carry no "
                   "instance, so they show when Instance is All.",
                   "mps", [Target(c.select(RECEIVED), "{{job}} received"),
                           Target(c.select(RECEIVED + "_avg1d"), "{{job}} mean of the last day", line="dot"),
                           Target(c.select(RECEIVED + "_lower1d"), "{{job}} band lower (mean - 3 sigma)", line="dash"),
                           Target(c.select(RECEIVED + "_upper1d"), "{{job}} band upper (mean + 3 sigma)", line="dash")],
                   t, grid.place(24)),
    ]
    return dashboard("wsm-websocket-overview", "WebSocket overview",
                     "wsmetrics: connections, messages, latency, bandwidth, compression, buffers, resources, "
                     "subscriptions, heartbeats and errors of WebSocket servers. Thresholds are those of "
                     "dashboards/prometheus/prometheus-websocket-alerts.yml (defaults).",
                     panels, variables(c))

