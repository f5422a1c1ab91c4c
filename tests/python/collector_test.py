"""wsmetrics.websocket.WebSocketMetricsCollector across processes (issue 19 item 2): four spawned
processes each run the documented usage as written plus known counts and stay alive (their
connections open); then a real wsm-exporter's /metrics and /api/v1/summary have the exact totals,
and a collector in this (fifth) process reads the same summary figures, latency percentiles within
the HDR bucket of the recorded latency, snapshots with plausible CPU and memory, and the exact
counts in get_websocket_metrics()."""

import asyncio
import multiprocessing as mp
import os
import time

import support
from wsmetrics.websocket import WebSocketMetricsCollector, get_websocket_metrics

WORKERS = 4
LATENCY = 0.05  # seconds, of every sent message


def counts(worker):
    """(connections, sent, received, failed) of worker `worker`, beyond the documented usage's."""
    return worker + 1, 10 * (worker + 1), 5 * (worker + 1), worker


async def documented_usage(ready, done, worker):
    # As the documentation writes it (the collector meets the exporter through WSM_SEGMENT).
    metrics = WebSocketMetricsCollector(enable_resource_monitoring=True)
    await metrics.start_monitoring()
    metrics.record_connection("conn_123", "doctor", "user_456", 789)
    metrics.record_message_sent("conn_123", "ecg_data", "high", 1024, 0.05)
    await metrics.stop_monitoring()
    summary = metrics.get_metrics_summary()
    assert summary['connections']['total'] >= 1 and summary['messages']['sent_total'] >= 1, summary
    conn = metrics.get_connection_metrics("conn_123")
    assert conn["messages"]["out"] == 1 and conn["role"] == "doctor", conn
    percentiles = metrics.get_latency_percentiles("ecg_data")
    assert percentiles['p95'] > 0, percentiles

    # Known counts on top: connections of nurses, messages of vitals.
    n_conn, n_sent, n_received, n_failed = counts(worker)
    for c in range(n_conn):
        metrics.record_connection(f"w{worker}-{c}", "nurse", f"user{c}", f"patient{c}")
    for i in range(n_sent):
        metrics.record_message_sent(f"w{worker}-{i % n_conn}", "vitals", "normal", 100, LATENCY)
    for i in range(n_received):
        metrics.record_message_received(f"w{worker}-{i % n_conn}", "subscribe", 50, LATENCY)
    for _ in range(n_failed):
        metrics.record_message_failed(f"w{worker}-0", "vitals", "queue_full")
    ready.put(os.getpid())
    done.wait(120)  # keep the connections open until the parent has read them


def worker_main(ready, done, worker):
    asyncio.run(documented_usage(ready, done, worker))


def expected():
    conn = sum(counts(w)[0] for w in range(WORKERS)) + WORKERS  # + each conn_123
    sent = sum(counts(w)[1] for w in range(WORKERS)) + WORKERS
    received = sum(counts(w)[2] for w in range(WORKERS))
    failed = sum(counts(w)[3] for w in range(WORKERS))
    return conn, sent, received, failed


def check_metrics_text(text):
    """Exact totals in a /metrics text (the exporter's or get_websocket_metrics())."""
    conn, sent, received, failed = expected()
    s, _ = support.parse_text(text)
    got = (support.total(s, "websocket_connections_total", status="success"),
           support.total(s, "websocket_messages_sent_total"),
           support.total(s, "websocket_messages_received_total"),
           support.total(s, "websocket_failed_messages_total"),
           support.total(s, "websocket_messages_sent_total", message_type="ecg_data", priority="high"))
    assert got == (conn, sent, received, failed, WORKERS), f"/metrics totals {got}, expected {expected()}"


def figures(summary):
    """What the collector's and the exporter's summaries must agree on."""
    return (summary["connections"]["total"], summary["connections"]["by_role"], summary["messages"]["sent"],
            summary["messages"]["received"], summary["messages"]["failed"], summary["disconnections"])


async def fifth_process(exporter):
    conn, sent, received, failed = expected()
    metrics = WebSocketMetricsCollector(monitoring_interval=1)
    summary = metrics.get_metrics_summary()
    assert summary["messages"]["sent_total"] == sent, summary["messages"]
    assert (summary["connections"]["total"], summary["messages"]["received"], summary["messages"]["failed"]) == \
        (conn, received, failed), summary

    def same_as_exporter():  # the exporter's summary is of its last interval (1 s)
        theirs = exporter.api("/api/v1/summary")
        assert figures(theirs) == figures(metrics.get_metrics_summary()), (theirs, summary)
    support.wait_for(same_as_exporter, what="exporter summary")

    p = metrics.get_latency_percentiles("vitals")
    lower, upper = p["bounds"]["p95"]
    assert p["count"] == sent - WORKERS and lower < LATENCY <= upper and lower < p["p95"] <= upper, p

    # Snapshots: this process records too (so it is a writer whose CPU counts) and keeps busy.
    metrics.record_thread_pool_utilization("io", 50.0)
    await metrics.start_monitoring()
    deadline = time.monotonic() + 2.5
    while time.monotonic() < deadline:
        busy = time.monotonic() + 0.05
        while time.monotonic() < busy:
            pass
        await asyncio.sleep(0)
    await metrics.stop_monitoring()
    snapshots = metrics.get_performance_snapshots(10)
    assert len(snapshots) >= 3, snapshots
    assert all(s.memory_usage > 1 for s in snapshots), snapshots  # MB, of five interpreters
    assert any(s.cpu_usage and s.cpu_usage > 0 for s in snapshots), snapshots
    assert snapshots[-1].active_connections == conn, snapshots[-1]

    check_metrics_text(get_websocket_metrics())


def main():
    with support.Segment("collector") as segment:
        os.environ["WSM_SEGMENT"] = segment  # inherited by the spawned workers
        with support.Exporter(segment) as exporter:
            ctx = mp.get_context("spawn")
            ready, done = ctx.Queue(), ctx.Event()
            procs = [ctx.Process(target=worker_main, args=(ready, done, w)) for w in range(WORKERS)]
            for p in procs:
                p.start()
            try:
                for _ in procs:
                    ready.get(timeout=60)
                support.wait_for(lambda: check_metrics_text(exporter.metrics_text()), what="exporter /metrics")
                asyncio.run(fifth_process(exporter))
            finally:
                done.set()
                for p in procs:
                    p.join(30)
            assert all(p.exitcode == 0 for p in procs), [p.exitcode for p in procs]
    print("ok")


if __name__ == "__main__":
    main()
