"""The 27 metric families of issue 5 (name -> type, label names), as the exporter exposes them.
The lints check every metric and label a dashboard query or a rule uses against this list.
Keep it equal to the catalogue in writer_api/ (the single source for workers)."""

CATALOGUE = {
    # connection
    "websocket_connections_active": ("gauge", {"role", "user_id", "patient_id"}),
    "websocket_connections_total": ("counter", {"role", "status"}),
    "websocket_disconnections_total": ("counter", {"role", "reason", "status"}),
    "websocket_connection_duration_seconds": ("histogram", {"role", "termination_reason"}),
    "websocket_reconnection_attempts_total": ("counter", {"role", "attempt_number"}),
    # message
    "websocket_messages_sent_total": ("counter", {"message_type", "priority", "role", "target_type"}),
    "websocket_messages_received_total": ("counter", {"message_type", "source_type", "role"}),
    "websocket_message_size_bytes": ("histogram", {"message_type", "direction", "compression"}),
    "websocket_message_latency_seconds": ("histogram", {"message_type", "processing_stage"}),
    "websocket_broadcast_latency_seconds": ("histogram", {"target_type", "broadcast_type", "recipient_count"}),
    "websocket_failed_messages_total": ("counter", {"message_type", "failure_reason", "role"}),
    # performance
    "websocket_throughput_messages_per_second": ("gauge", {"direction", "message_type", "role"}),
    "websocket_bandwidth_bytes_per_second": ("gauge", {"direction", "protocol", "role"}),
    "websocket_compression_ratio_percent": ("histogram", {"compression_type", "message_type"}),
    "websocket_backpressure_events_total": ("counter", {"backpressure_type", "severity", "role"}),
    "websocket_buffer_utilization_percent": ("gauge", {"buffer_type", "role"}),
    "websocket_queue_size": ("gauge", {"queue_type", "role"}),
    # resource
    "websocket_cpu_usage_percent": ("gauge", {"process_type", "role"}),
    "websocket_memory_usage_bytes": ("gauge", {"memory_type", "role"}),
    "websocket_file_descriptors_count": ("gauge", {"type"}),
    "websocket_thread_pool_utilization_percent": ("gauge", {"pool_type", "role"}),
    # health
    "websocket_health_score": ("gauge", {"connection_id", "role"}),
    "websocket_heartbeat_success_rate_percent": ("gauge", {"role"}),
    "websocket_stale_connections_total": ("counter", {"stale_type", "role"}),
    # subscription
    "websocket_subscriptions_active": ("gauge", {"subscription_type", "role"}),
    "websocket_subscription_matches_total": ("counter", {"subscription_type", "match_type", "role"}),
    "websocket_subscription_failures_total": ("counter", {"failure_type", "role"}),
}

# The exporter's per-process detail from /proc (exporter/README.md), which the CPU alert and panel
# read: the catalogue's websocket_cpu_usage_percent sums a role's processes.
EXPORTER_GAUGES = {
    "wsm_writer_cpu_percent": {"pid", "role"},
    "wsm_writer_memory_bytes": {"memory_type", "pid", "role"},
}

# Labels any series may carry: target labels added by Prometheus, `le` of histogram buckets, the
# exporter's `worker` (per_writer gauges) and overflow marker.
COMMON_LABELS = {"job", "instance", "le", "worker", "wsm_overflow"}


def exposed_series():
    """Every series name the exporter can expose -> (family, label names)."""
    names = {}
    for family, (kind, labels) in CATALOGUE.items():
        if kind == "histogram":
            names[family + "_bucket"] = (family, labels | {"le"})
            names[family + "_sum"] = (family, labels)
            names[family + "_count"] = (family, labels)
        else:
            names[family] = (family, labels)
    for family, labels in EXPORTER_GAUGES.items():
        names[family] = (family, labels)
    return names


assert len(CATALOGUE) == 27
