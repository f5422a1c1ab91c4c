"""wsmetrics for Python: record into the same shared-memory segment as the C++ writer API.

    import wsmetrics
    reg = wsmetrics.Registry.open()            # /dev/shm/wsm.<WSM_SEGMENT, else "wsm">
    sent = reg.counter("websocket_messages_sent_total", {"role": "doctor"})
    active = reg.gauge("websocket_connections_active", {"role": "doctor"})
    latency = reg.histogram("websocket_message_latency_seconds", {"message_type": "ecg_data"})
    size = reg.histogram("websocket_message_size_bytes", {"direction": "out"})
    sent.inc(); sent.inc(4)
    active.add(1)
    latency.record(0.000250)                   # float seconds for *_seconds histograms
    size.record(1024)                          # integers otherwise (bytes, percent, counts)

Names, label sets and units are those of <wsm/writer.hpp>: a C++ worker and a Python worker
recording the same name and labels add into one series. Register once (microseconds), keep the
handle, record often. Bad names or labels and a name registered again with another type raise
ValueError with the library's message; segment problems (permission, incompatible layout) raise
RuntimeError. Processes forked after import (multiprocessing, uvicorn/gunicorn workers) record
as processes of their own: no re-opening needed. The exporter (wsm-exporter) serves /metrics.

wsmetrics.prometheus is a drop-in for prometheus_client's Counter, Gauge and Histogram.
"""

from ._core import DEFAULT_SEGMENT, Counter, Gauge, Histogram, Registry

__all__ = ["Registry", "Counter", "Gauge", "Histogram", "DEFAULT_SEGMENT", "open"]


def open(name=None, **options):  # noqa: A001 (mirrors wsm::Registry::open)
    """Registry.open(name, **options): see Registry.open."""
    return Registry.open(name, **options)
