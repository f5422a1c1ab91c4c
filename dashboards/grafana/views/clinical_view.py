"""The clinical view, "WebSocket clinical delivery" (websocket-clinical.json): are ECG, vitals and
alerts reaching the doctors and nurses who follow a patient, in time, and are those people still
connected? The message types and roles are named once below and checked against the catalogue's
enums; every panel is limited to them."""
from .common_panels import heartbeat_and_health
from .panels import Layout, Target, dashboard, timeseries, variables
from .promql import QUANTILES, by, quantile, rate

FILE = "websocket-clinical.json"
# What patient monitors publish (catalogue MessageType) and who follows patients (Role).
CLINICAL_TYPES = ["ecg_data", "vitals", "alert"]
CLINICAL_ROLES = ["doctor", "nurse"]
# The stage that hands a message to its recipient: queued -> written to the socket.
DELIVERY_STAGE = "send"


def build(c):
    t = c.thresholds
    grid = Layout()
    types, roles = CLINICAL_TYPES, CLINICAL_ROLES

    def to_clinicians(family, **matchers):
        """`family` limited to the clinical roles and narrowed by $role (both must hold)."""
        return c.select(family, ("role", "$role"), **matchers, role=roles)

    latency = c.select("websocket_message_latency_seconds_bucket", message_type=types)
    delivery = c.select("websocket_message_latency_seconds_bucket", message_type=types,
                        processing_stage=DELIVERY_STAGE)
    sent = rate(to_clinicians("websocket_messages_sent_total", message_type=types))
    failed = rate(to_clinicians("websocket_failed_messages_total", message_type=types))
    # The share compares like with like: failed and sent of the same types to the same role.
    failed_share = "%s / %s" % (by("sum", ["role"], failed), by("sum", ["role"], sent))
    panels = [
        timeseries(1, "Delivery latency P50 / P95 / P99",
                   "Time from queueing an ECG, vitals or alert message for a recipient to writing it to the "
                   "socket (websocket_message_latency_seconds, processing_stage=\"%s\"), per message type; "
                   "buckets summed over instances and workers before histogram_quantile. The line is the "
                   "HighWebSocketLatency threshold, which applies to the P95 of each stage." % DELIVERY_STAGE,
                   "s", [Target(quantile(q, delivery, ["message_type"]), "%s {{message_type}}" % name)
                         for name, q in QUANTILES], t, grid.place(12), threshold=("latency_seconds", ">")),
        timeseries(2, "P95 latency by stage",
                   "The whole server path of ECG, vitals and alert messages: the P95 of each processing stage "
                   "(parse, route, send) per message type. A stage above the line fires HighWebSocketLatency.",
                   "s", [Target(quantile(0.95, latency, ["message_type", "processing_stage"]),
                                "{{message_type}} {{processing_stage}}")],
                   t, grid.place(12), threshold=("latency_seconds", ">")),
        timeseries(3, "Delivered to doctors and nurses",
                   "ECG, vitals and alert messages written per second to doctors and nurses "
                   "(websocket_messages_sent_total; role is the recipient's), per role and message type.",
                   "mps", [Target(by("sum", ["role", "message_type"], sent), "{{role}} {{message_type}}")],
                   t, grid.place(12)),
        timeseries(4, "Failed deliveries to doctors and nurses",
                   "ECG, vitals and alert messages for doctors and nurses rejected or dropped per second, by "
                   "reason (websocket_failed_messages_total; queue_full: a clinician's send queue was full), "
                   "and their share of those sent (right axis). The line is the HighFailureRate threshold.",
                   "mps", [Target(by("sum", ["role", "failure_reason"], failed), "failed {{role}} {{failure_reason}}"),
                           Target(failed_share, "failed / sent {{role}}",
                                  unit="percentunit", axis="right", threshold=("failure_ratio", ">"))],
                   t, grid.place(12)),
        timeseries(5, "Doctors and nurses connected",
                   "Open connections of doctors and nurses (websocket_connections_active). Red below one: "
                   "nobody is there to receive an alert.",
                   "short", [Target(by("sum", ["role"], to_clinicians("websocket_connections_active")), "{{role}}")],
                   t, grid.place(8), threshold=("no_connections", "<")),
        timeseries(6, "Disconnections of doctors and nurses",
                   "Doctors' and nurses' connections closed per second, by reason "
                   "(websocket_disconnections_total): heartbeat_timeout, network_error and slow_consumer "
                   "leave a clinician without live data until the client reconnects. The line is the "
                   "ConnectionDrops threshold (which applies to all roles together).",
                   "cps", [Target(by("sum", ["role", "reason"], rate(to_clinicians("websocket_disconnections_total"))),
                                  "{{role}} {{reason}}")],
                   t, grid.place(8), threshold=("disconnections_per_second", ">")),
        timeseries(7, "Stale connections of doctors and nurses",
                   "Doctors' and nurses' connections found stale per second (websocket_stale_connections_total): "
                   "missed_heartbeat, a ping still unanswered when the next was due; heartbeat_timeout, too many "
                   "missed and the connection closed. A stale connection receives nothing.",
                   "cps", [Target(by("sum", ["role", "stale_type"], rate(to_clinicians("websocket_stale_connections_total"))),
                                  "{{role}} {{stale_type}}")], t, grid.place(8)),
        heartbeat_and_health(8, "Heartbeat success and worst health score",
                             "Pings answered by doctors and nurses, percent per role "
                             "(websocket_heartbeat_success_rate_percent), and the health score of their worst "
                             "connection (websocket_health_score, exposed for the worst connections only). The "
                             "line is the LowHealthScore threshold, which applies to the health score.",
                             c, to_clinicians, grid.place(24)),
    ]
    return dashboard("wsm-websocket-clinical", "WebSocket clinical delivery",
                     "wsmetrics for clinical staff: delivery latency of ECG, vitals and alerts to doctors and "
                     "nurses, failed deliveries, and their disconnections and stale connections. Generated "
                     "from the metric catalogue by dashboards/grafana/generate.py; thresholds are those of "
                     "dashboards/prometheus/prometheus-websocket-alerts.yml (defaults).",
                     panels, variables(c, roles=roles, role_all="|".join(roles)))
