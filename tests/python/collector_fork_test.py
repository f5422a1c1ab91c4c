"""WebSocketMetricsCollector across fork() (issue 19 item 2), by the module's fork rules: a collector
made before fork() records in the child as the child's own process; the parent's open connections
stay the parent's (unknown in the child, never closed by it), so after the child exits the parent's
connection is still open and nothing was counted twice or closed."""

import os

import support
from wsmetrics.websocket import WebSocketMetricsCollector


def child(m):
    assert m.get_connection_metrics("c1") is None  # the parent's
    try:
        m.record_message_sent("c1", "ecg_data", "high", 10)
        raise AssertionError("the parent's connection was usable in the child")
    except KeyError:
        pass
    m.record_connection("c1", "nurse")  # the same app id is free in the child
    m.record_message_sent("c1", "vitals", "low", 10)
    assert m.get_connection_metrics("c1")["writer_pid"] == os.getpid()


def main():
    with support.Segment("collector-fork") as segment:
        m = WebSocketMetricsCollector(segment=segment)
        m.record_connection("c1", "doctor")
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                child(m)
                code = 0
            finally:
                os._exit(code)  # no interpreter teardown: the child's connection is dropped with it
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, status
        m.record_message_sent("c1", "ecg_data", "high", 10)
        conn = m.get_connection_metrics("c1")
        assert conn["writer_pid"] == os.getpid() and conn["messages"]["out"] == 1, conn
        s = m.get_metrics_summary()
        assert (s["messages"]["sent"], s["disconnections"], s["connections"]["by_role"].get("doctor")) == (2, 0, 1), s
    print("ok")


if __name__ == "__main__":
    main()
