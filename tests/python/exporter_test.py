"""(c) wsm-exporter on a free 127.0.0.1 port serves what Python wrote: names as registered, TYPE
lines, counter values, a live gauge, and the *_seconds histogram in seconds (bucket bounds, _sum),
the *_bytes one in bytes."""

import support
import wsmetrics


def main():
    with support.Segment("exporter") as seg:
        reg = wsmetrics.Registry.open(seg)
        sent = reg.counter("pyexp_messages_sent_total", {"role": "doctor"}, "messages sent")
        active = reg.gauge("pyexp_connections_active", {"role": "doctor"})
        latency = reg.histogram("pyexp_message_latency_seconds", {"message_type": "ecg_data"})
        size = reg.histogram("pyexp_message_size_bytes", {"direction": "out"})
        sent.inc(41)
        sent.inc()
        active.set(5)
        active.add(2)
        for v in (0.25, 0.25, 0.5, 0.001):
            latency.record(v)
        size.record(1024)
        size.record(4096)

        with support.Exporter(seg) as exporter:
            def check():
                samples, types = support.parse_text(exporter.metrics_text())
                get = lambda name, **labels: samples.get((name, frozenset(labels.items())))
                assert types.get("pyexp_messages_sent_total") == "counter", types
                assert types.get("pyexp_connections_active") == "gauge", types
                assert types.get("pyexp_message_latency_seconds") == "histogram", types
                assert get("pyexp_messages_sent_total", role="doctor") == 42
                assert get("pyexp_connections_active", role="doctor") == 7  # this process is alive
                lat = dict(message_type="ecg_data")
                assert get("pyexp_message_latency_seconds_count", **lat) == 4
                assert get("pyexp_message_latency_seconds_sum", **lat) == 1.001, \
                    get("pyexp_message_latency_seconds_sum", **lat)
                buckets = sorted((float(dict(k[1])["le"]), v) for k, v in samples.items()
                                 if k[0] == "pyexp_message_latency_seconds_bucket")
                assert buckets and buckets[-1] == (float("inf"), 4), buckets
                finite = [b for b in buckets if b[0] != float("inf")]
                # Bounds in seconds, the classic edges of a *_seconds family: 2^10 .. 2^45 ns
                # (exporter/include/wsm/exposition/classic_buckets.hpp), so 1 ms, 0.25 s and 0.5 s
                # each count at the power of two above them, and nothing is in nanoseconds.
                assert finite[0][0] == 2**10 / 1e9 and finite[-1][0] == 2**45 / 1e9, finite
                for value, cumulative in ((0.001, 1), (0.25, 3), (0.5, 4)):
                    assert any(value <= le < 2 * value and c == cumulative for le, c in finite), (value, finite)
                size_sum = get("pyexp_message_size_bytes_sum", direction="out")
                assert size_sum == 5120 and get("pyexp_message_size_bytes_count", direction="out") == 2, size_sum
            support.wait_for(check, what="the exporter's /metrics")
        print("ok: the exporter serves the Python-written series with their units")


if __name__ == "__main__":
    main()
