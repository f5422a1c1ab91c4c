"""WebSocketMetricsCollector's errors (issue 19 item 2): unknown label values raise ValueError naming
every allowed value; unknown connection ids raise KeyError on record calls and give None from
get_connection_metrics; bad segment names, threshold keys and threshold values raise ValueError;
nothing crashes and nothing is recorded by a refused call."""

import support
from wsmetrics.websocket import WebSocketMetricsCollector


def raises(exc, call, *fragments):
    """call() raises exc with every fragment in its message."""
    try:
        call()
    except exc as e:
        for f in fragments:
            assert f in str(e), f"{f!r} not in {str(e)!r}"
        return
    raise AssertionError(f"{call} did not raise {exc.__name__}")


def main():
    with support.Segment("collector-errors") as segment:
        m = WebSocketMetricsCollector(segment=segment)
        raises(ValueError, lambda: m.record_connection("c1", "docter"),
               "unknown role 'docter'", "doctor, nurse, patient_monitor, admin, unknown")
        assert m.get_connection_metrics("c1") is None  # the refused connection was not opened
        m.record_connection("c1", "doctor", "u1", "p1")
        raises(ValueError, lambda: m.record_connection("c1", "doctor"), "'c1' is already open")
        raises(ValueError, lambda: m.record_message_sent("c1", "ecg", "high", 10),
               "unknown message type 'ecg'", "ecg_data, vitals, alert, subscribe")
        raises(ValueError, lambda: m.record_message_sent("c1", "ecg_data", "urgent", 10),
               "unknown priority 'urgent'", "low, normal, high, critical")
        raises(ValueError, lambda: m.record_message_sent("c1", "ecg_data", "high", 10, target="everyone"),
               "unknown target type 'everyone'", "direct, subscribers, all")
        raises(ValueError, lambda: m.record_disconnection("c1", "bored"), "unknown disconnect reason 'bored'")
        raises(ValueError, lambda: m.record_backpressure("queue_full", "mild", "nurse"), "unknown severity 'mild'")
        raises(ValueError, lambda: m.get_latency_percentiles("ecg"), "unknown message type 'ecg'")
        raises(TypeError, lambda: m.record_message_sent("c1", "ecg_data", "high", "ten"))

        # Unknown connection ids: KeyError on record calls, None from get_connection_metrics.
        raises(KeyError, lambda: m.record_message_sent("nope", "ecg_data", "high", 10), "unknown connection id 'nope'")
        raises(KeyError, lambda: m.record_heartbeat_ack("nope"), "unknown connection id 'nope'")
        assert m.get_connection_metrics("nope") is None
        assert m.get_connection_metrics("c1")["messages"] == {"in": 0, "out": 0}  # refused sends recorded nothing
        m.record_disconnection("c1")
        assert m.get_connection_metrics("c1") is None
        raises(KeyError, lambda: m.record_disconnection("c1"), "already disconnected")

        # Thresholds: the exporter's keys validate them.
        raises(ValueError, lambda: setattr(m, "alert_thresholds", {"max_lag": 1}), "unknown key 'max_lag'",
               "max_latency")
        raises(ValueError, lambda: setattr(m, "alert_thresholds", {"max_latency": -1}), "max_latency", "(0, 60]")
        m.alert_thresholds = {"max_latency": 2.5}
        assert m.alert_thresholds["max_latency"] == 2.5 and m.get_metrics_summary()["thresholds"]["latency_seconds"] == 2.5

        summary = m.get_metrics_summary()
        assert (summary["messages"]["sent"], summary["disconnections"]) == (0, 1), summary

    for bad in ("bad/name", "", "x" * 300):
        raises(ValueError, lambda: WebSocketMetricsCollector(segment=bad), "segment")
    print("ok")


if __name__ == "__main__":
    main()
