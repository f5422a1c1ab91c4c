"""WebSocketMetricsCollector: the reference collector's API over wsm::ws::Metrics.

    from wsmetrics.websocket import WebSocketMetricsCollector, get_websocket_metrics
    metrics = WebSocketMetricsCollector(enable_resource_monitoring=True)
    await metrics.start_monitoring()
    metrics.record_connection("conn_123", "doctor", "user_456", 789)
    metrics.record_message_sent("conn_123", "ecg_data", "high", 1024, 0.05)
    await metrics.stop_monitoring()
    summary = metrics.get_metrics_summary()

Events are recorded into the shared-memory segment through the C++ catalogue facade
(wsm::ws::Metrics). The read methods answer from the whole segment (every process recording into
it), with the exporter's own code (an in-process wsm::exporter::Monitor): the same figures as
wsm-exporter's JSON API, with or without an exporter running. Label values (roles, message types,
priorities, reasons...) are the catalogue's; any other raises ValueError naming the allowed ones.
Latencies are float seconds. See writer_api/python/README.md for what differs from the reference.
"""

import asyncio
import collections
import dataclasses
import json
import os
import weakref

from . import _core

__all__ = ["WebSocketMetricsCollector", "PerformanceSnapshot", "get_websocket_metrics", "LABEL_VALUES"]

# The catalogue's allowed values of each label, e.g. LABEL_VALUES["message type"] = ("ecg_data", ...).
LABEL_VALUES = _core.LABEL_VALUES

# alert_thresholds' keys (the reference's) -> the exporter's threshold keys
# (writer_api/catalogue/wsm/websocket_thresholds.hpp), which validate and judge them.
_THRESHOLD_KEYS = {
    "max_latency": "latency_threshold",          # p95 message latency, seconds
    "max_cpu_usage": "cpu_threshold",            # percent of one core, busiest worker process
    "max_memory_usage": "memory_threshold",      # bytes of resident memory, largest worker process
    "max_failed_rate": "failure_rate_threshold", # failed / sent messages
    "min_health_score": "health_score_threshold",
}

_collectors = weakref.WeakSet()  # every collector of this process, for the fork handler
_default = None                  # the first collector made: get_websocket_metrics() reads it


@dataclasses.dataclass(frozen=True)
class PerformanceSnapshot:
    """One monitoring interval, from the exporter's /api/v1/snapshots record of it."""
    timestamp: float                 # Unix seconds
    cpu_usage: float | None          # percent (100 = one core) of the live writer processes together
    memory_usage: float              # MB (2**20 bytes) resident in the live writer processes together
    active_connections: float
    messages_per_second: float | None
    bytes_per_second: float | None
    failure_ratio: float | None
    p95_latency: float | None        # seconds, of the messages of the interval
    min_health_score: float | None
    record: dict                     # the whole /api/v1/snapshots record

    @classmethod
    def of(cls, r):
        return cls(r["time"], r["cpu_percent"], r["memory_bytes"] / 2**20, r["active_connections"],
                   r["messages_per_second"], r["bytes_per_second"], r["failure_ratio"],
                   r["p95_latency_seconds"], r["min_health_score"], r)


def _id_text(value):
    """An identifier label as recorded: str() of it (patient 789 is "789"); None is none ("")."""
    return "" if value is None else str(value)


def _answer(status_and_body, what):
    """The JSON of an API answer; its error as RuntimeError (503: no segment) or ValueError."""
    status, body = status_and_body
    doc = json.loads(body)
    if status != 200:
        raise (RuntimeError if status >= 500 else ValueError)(f"{what}: {doc.get('error', body)}")
    return doc


class WebSocketMetricsCollector:
    """Records WebSocket events into the segment and reads its figures back, all processes summed.

    segment: the segment name; default WSM_SEGMENT, else the exporter's default ('wsm').
    monitoring_interval: whole seconds between the snapshots start_monitoring() takes.
    """

    def __init__(self, enable_resource_monitoring=True, *, segment=None, monitoring_interval=5,
                 history_size=720):
        global _default
        name = segment if segment is not None else (os.environ.get("WSM_SEGMENT") or _core.DEFAULT_SEGMENT)
        self._core = _core.WebSocketCollector(name, int(monitoring_interval), bool(enable_resource_monitoring))
        self.enable_resource_monitoring = bool(enable_resource_monitoring)
        self.monitoring_interval = int(monitoring_interval)
        self._connections = {}  # the app's connection id -> (_core.WebSocketConnection, role)
        self._snapshots = collections.deque(maxlen=history_size)
        self._task = None
        _collectors.add(self)
        if _default is None:
            _default = self

    @property
    def segment(self):
        return self._core.segment

    # ---- connections ------------------------------------------------------------------------
    def record_connection(self, connection_id, role, user_id="", patient_id="", compression="none"):
        """A WebSocket upgrade that succeeded. compression: 'deflate' when permessage-deflate was
        negotiated. user_id and patient_id are recorded as str() (None: none); an id still open
        raises ValueError."""
        if connection_id in self._connections:
            raise ValueError(f"connection id {connection_id!r} is already open")
        handle = self._core.open(role, _id_text(user_id), _id_text(patient_id), compression)
        self._connections[connection_id] = (handle, role)

    def record_connection_failed(self, role, status="failed"):
        """An upgrade that was refused ('rejected') or failed ('failed')."""
        self._core.connection_failed(role, status)

    def record_disconnection(self, connection_id, reason="client_close"):
        """The connection closed: its duration, the disconnect count, and its record is freed."""
        handle, _ = self._connection(connection_id)
        self._core.close(handle, reason)
        del self._connections[connection_id]

    def record_reconnection(self, role, attempt=1):
        """A client declared this connection its attempt-th reconnection (1 = first retry)."""
        self._core.reconnection(role, attempt)

    # ---- messages ---------------------------------------------------------------------------
    def record_message_received(self, connection_id, message_type, size_bytes, processing_time=None):
        """A message read; processing_time (seconds) is its parse latency."""
        self._core.received(self._connection(connection_id)[0], message_type, size_bytes, processing_time)

    def record_message_sent(self, connection_id, message_type, priority, size_bytes, latency=None,
                            target="direct"):
        """A message written; latency (seconds) is its send latency (queued -> written)."""
        self._core.sent(self._connection(connection_id)[0], message_type, priority, target, size_bytes, latency)

    def record_message_failed(self, connection_id, message_type, reason):
        """A message that could not be handled or delivered, counted under the connection's role."""
        self._core.failure(message_type, reason, self._connection(connection_id)[1])

    def record_bytes_transferred(self, connection_id, direction, wire_bytes):
        """Bytes moved on the socket ('in' or 'out'), after compression."""
        self._core.bytes(self._connection(connection_id)[0], direction, wire_bytes)

    def record_latency(self, message_type, stage, seconds):
        """A processing stage's latency: 'parse', 'route' or 'send'."""
        self._core.latency(message_type, stage, seconds)

    def record_broadcast(self, target, broadcast_type, recipients, latency):
        """A message queued for `recipients` connections, `latency` seconds after it was read."""
        self._core.broadcast(target, broadcast_type, recipients, latency)

    def record_compression(self, message_type, payload_bytes, compressed_bytes):
        """A permessage-deflate frame of compressed_bytes for a payload of payload_bytes."""
        self._core.compression(message_type, payload_bytes, compressed_bytes)

    # ---- performance ------------------------------------------------------------------------
    def record_backpressure(self, backpressure_type, severity, role):
        self._core.backpressure(backpressure_type, severity, role)

    def record_buffer_utilization(self, buffer_type, role, percent):
        self._core.buffer_utilization(buffer_type, role, percent)

    def record_queue_change(self, queue_type, role, delta):
        """Messages added to (delta > 0) or taken from (delta < 0) the queues of a role's connections."""
        self._core.queue_changed(queue_type, role, delta)

    def record_thread_pool_utilization(self, pool_type, percent):
        self._core.thread_pool_utilization(pool_type, percent)

    # ---- health -----------------------------------------------------------------------------
    def record_heartbeat_sent(self, connection_id):
        self._core.heartbeat_sent(self._connection(connection_id)[0])

    def record_heartbeat_ack(self, connection_id):
        self._core.heartbeat_acked(self._connection(connection_id)[0])

    def update_connection_health(self, connection_id, score):
        """The connection's health, 0 (worst) to 100."""
        self._core.health(self._connection(connection_id)[0], score)

    def record_stale_connection(self, stale_type, role):
        self._core.stale_connection(stale_type, role)

    # ---- subscriptions ----------------------------------------------------------------------
    def record_subscription_added(self, subscription_type, role):
        self._core.subscription_added(subscription_type, role)

    def record_subscription_removed(self, subscription_type, role):
        self._core.subscription_removed(subscription_type, role)

    def record_subscription_match(self, subscription_type, match_type, role):
        self._core.subscription_matched(subscription_type, match_type, role)

    def record_subscription_failure(self, failure, role):
        self._core.subscription_failed(failure, role)

    # ---- monitoring -------------------------------------------------------------------------
    async def start_monitoring(self):
        """Takes a snapshot now and every monitoring_interval seconds until stop_monitoring()."""
        if self._task is None:
            self._snapshot()
            self._task = asyncio.get_running_loop().create_task(self._monitor())

    async def stop_monitoring(self):
        """Stops the snapshots, after a last one (so a short run still has two: CPU is a difference)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
            self._snapshot()

    async def _monitor(self):
        while True:
            await asyncio.sleep(self.monitoring_interval)
            self._snapshot()

    def _snapshot(self):
        # One exporter interval (reap, derive, resources) and its record, as /api/v1/snapshots has it.
        self._core.tick()
        self._snapshots.extend(_answer(self._core.snapshots("n=1"), "snapshots")["snapshots"])

    # ---- reading ----------------------------------------------------------------------------
    def get_metrics_summary(self):
        """/api/v1/summary of the segment now, plus the reference's messages.*_total names."""
        self._core.tick()
        summary = _answer(self._core.summary(), "summary")
        messages = summary["messages"]
        for name in ("sent", "received", "failed"):
            messages[name + "_total"] = messages[name]
        return summary

    def get_alerts(self):
        """The thresholds breached now: [{'threshold', 'value', 'limit'}] (the summary's 'breached')."""
        return self.get_metrics_summary()["breached"]

    def get_connection_metrics(self, connection_id):
        """/api/v1/connections/{id} of a connection this process opened and has not closed, with
        'connection_id' the app's id; None for any other id (another process's, closed, unknown)
        or when the connection table had no room for it."""
        entry = self._connections.get(connection_id)
        if entry is None:
            return None
        answer = self._core.connection(entry[0])
        if answer is None:
            return None
        connection = _answer(answer, "connection")["connection"]
        connection["connection_id"] = connection_id
        return connection

    def get_latency_percentiles(self, message_type=None, stage=None, quantiles=(0.5, 0.95, 0.99)):
        """Latency quantiles in seconds over every recorded message (of this type and stage when
        given), from the HDR buckets: {'p50': s, 'p95': s, 'p99': s, 'count': n, 'bounds':
        {'p95': (lower, upper)}, ...}; values are None while nothing was recorded."""
        q = ",".join(repr(float(x)) for x in quantiles)
        doc = _answer(self._core.latency_percentiles(message_type, stage, q), "percentiles")
        out = {"count": doc["count"], "bounds": {}}
        for item in doc["quantiles"]:
            key = "p" + format(item["q"] * 100, "g")
            out[key] = item["value"] if doc["count"] else None
            out["bounds"][key] = (item.get("lower"), item.get("upper"))
        return out

    def get_performance_snapshots(self, limit=10):
        """The last `limit` snapshots of start_monitoring(), oldest first."""
        return [PerformanceSnapshot.of(r) for r in list(self._snapshots)[-limit:]] if limit > 0 else []

    @property
    def alert_thresholds(self):
        values = self._core.thresholds()
        return {ours: values[theirs] for ours, theirs in _THRESHOLD_KEYS.items()}

    @alert_thresholds.setter
    def alert_thresholds(self, thresholds):
        """Sets the keys given (others keep their value); a bad key or value raises ValueError."""
        for key, value in thresholds.items():
            if key not in _THRESHOLD_KEYS:
                raise ValueError(f"alert_thresholds: unknown key {key!r}; expected {', '.join(_THRESHOLD_KEYS)}")
            text = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
            self._core.set_threshold(_THRESHOLD_KEYS[key], text, f"alert_thresholds[{key!r}]")

    def get_websocket_metrics(self):
        """The Prometheus text (0.0.4) of the whole segment, as wsm-exporter's /metrics."""
        return self._core.scrape()

    def _connection(self, connection_id):
        try:
            return self._connections[connection_id]
        except KeyError:
            raise KeyError(f"unknown connection id {connection_id!r}: not opened by record_connection in "
                           "this process, or already disconnected") from None

    def _after_fork_in_child(self):
        # The parent's connections stay the parent's (wsm::ws::Connection must not cross fork()):
        # forget them without closing, which would count them closed twice. The parent's
        # monitoring task belongs to the parent's event loop; its snapshots to the parent.
        for handle, _ in self._connections.values():
            handle.abandon()
        self._connections.clear()
        self._snapshots.clear()
        self._task = None


def get_websocket_metrics(collector=None):
    """The Prometheus text of the whole segment, read by `collector`, else by this process's first
    collector (one is made, with the defaults, when there is none)."""
    return (collector or _default or WebSocketMetricsCollector()).get_websocket_metrics()


def _after_fork_in_child():
    for collector in list(_collectors):
        collector._after_fork_in_child()


os.register_at_fork(after_in_child=_after_fork_in_child)
