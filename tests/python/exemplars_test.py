"""(f) Exemplars from Python: Histogram.record(v, exemplar={'trace_id': ..., 'span_id': ...}) and
Counter.inc(n, exemplar=...) reach the exporter's OpenMetrics exposition (never its text format),
the prometheus_client drop-in passes W3C ones through, and bad exemplars are refused."""

import json
import urllib.request

import support
import wsmetrics
from wsmetrics import prometheus

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"


def openmetrics(port):
    req = urllib.request.Request("http://127.0.0.1:%d/metrics" % port,
                                 headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    with urllib.request.urlopen(req, timeout=5) as r:
        return r.read().decode()


def expect_raises(kind, call):
    try:
        call()
    except kind:
        return
    raise AssertionError("expected %s from %r" % (kind.__name__, call))


def main():
    with support.Segment("exemplars") as seg:
        reg = wsmetrics.Registry.open(seg)
        latency = reg.histogram("pyex_message_latency_seconds", {"message_type": "vitals"})
        sent = reg.counter("pyex_messages_sent_total")
        latency.record(0.003, exemplar={"trace_id": TRACE, "span_id": SPAN})
        sent.inc(2, exemplar={"trace_id": TRACE.upper(), "span_id": SPAN})
        latency.record(0.5)  # without: the exemplar stays the last one given
        reg.counter("pyex_plain_total").inc()  # never given one
        drop_in = prometheus.Histogram("pyex_dropin_seconds", "drop-in", registry=reg)
        drop_in.observe(0.25, exemplar={"trace_id": "1" * 32, "span_id": "2" * 16})
        drop_in.observe(0.25, exemplar={"trace_id": "not hex"})  # prometheus_client's anything: ignored
        for bad in ({"trace_id": TRACE}, {"trace_id": "0" * 32, "span_id": SPAN},
                    {"trace_id": TRACE, "span_id": SPAN, "user": "x"}, {"trace_id": TRACE[:-1], "span_id": SPAN}):
            expect_raises(ValueError, lambda: latency.record(0.1, exemplar=bad))
        expect_raises(TypeError, lambda: sent.inc(1, exemplar="%s-%s" % (TRACE, SPAN)))

        # wsm dump shows them too: in its text, its JSON and its OpenMetrics, also with --match
        # (which keeps the exemplars the matching points name).
        dumped = support.dump(seg)[support.key("pyex_message_latency_seconds", message_type="vitals")]
        assert dumped.get("exemplar", {}).get("trace_id") == TRACE, dumped
        assert dumped["exemplar"]["span_id"] == SPAN and dumped["exemplar"]["value"] == 0.003, dumped
        assert "exemplar" not in support.dump(seg)[support.key("pyex_plain_total")], "none given"
        text = support.run_wsm("dump", seg)
        assert ' # {trace_id="%s",span_id="%s"} 2' % (TRACE, SPAN) in \
            [l for l in text.splitlines() if l.startswith("pyex_messages_sent_total")][0], text
        om = support.run_wsm("dump", seg, "--openmetrics", "--match", "pyex_message_.*")
        bucket = [l for l in om.splitlines() if l.startswith('pyex_message_latency_seconds_bucket{message_type="vitals",le="0.004194304"}')]
        assert bucket and ' # {trace_id="%s",span_id="%s"} 0.003 ' % (TRACE, SPAN) in bucket[0], om
        assert "pyex_messages_sent_total" not in om, om
        inspected = {f["name"]: f for f in json.loads(support.run_wsm("inspect", "--json", seg))["families"]}
        assert inspected["pyex_message_latency_seconds"]["series_with_exemplar"] == 1, inspected
        assert inspected["pyex_plain_total"]["series_with_exemplar"] == 0, inspected
        assert "exemplars: 1 series" in support.run_wsm("inspect", seg)

        with support.Exporter(seg) as exporter:
            def check():
                om = openmetrics(exporter.port)
                bucket = [l for l in om.splitlines() if l.startswith('pyex_message_latency_seconds_bucket{message_type="vitals",le="0.004194304"}')]
                assert bucket and ' # {trace_id="%s",span_id="%s"} 0.003 ' % (TRACE, SPAN) in bucket[0], bucket
                total = [l for l in om.splitlines() if l.startswith("pyex_messages_sent_total ")]
                assert total and ' # {trace_id="%s",span_id="%s"} 2 ' % (TRACE, SPAN) in total[0], total
                assert 'trace_id="%s"' % ("1" * 32) in om, "the drop-in's exemplar"
                assert "trace_id" not in exporter.metrics_text(), "never in the text format"
            support.wait_for(check, what="exemplars in the exporter's OpenMetrics")
        print("ok: Python exemplars reach the exporter's OpenMetrics")


if __name__ == "__main__":
    main()
