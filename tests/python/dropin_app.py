"""A small app written against prometheus_client's API. prometheus_dropin_test.py runs it as it is
and with only the import line changed to wsmetrics.prometheus, and compares what each exposes."""
from prometheus_client import Counter, Gauge, Histogram  # the one line the test changes

REQUESTS = Counter("app_requests_total", "Requests", ["method", "route"])
ERRORS = Counter("app_errors", "Errors (no _total given)")
BYTES = Counter("sent", "Bytes sent", namespace="app", subsystem="ws", unit="bytes")
INFLIGHT = Gauge("app_inflight", "In flight", ["route"])
TEMPERATURE = Gauge("app_temperature_celsius", "Temperature")
LATENCY = Histogram("app_request_duration_seconds", "Latency", ["route"], buckets=(0.1, 0.5, 1))
PAYLOAD = Histogram("app_payload", "Payload size", unit="bytes")
TIMED = Histogram("app_timed_seconds", "Timed blocks")


def run():
    for _ in range(5):
        REQUESTS.labels("get", "/").inc()
    REQUESTS.labels(method="post", route="/submit").inc(3)
    REQUESTS.labels("get", "/health").inc(2.0)
    ERRORS.inc()
    BYTES.inc(4096)
    INFLIGHT.labels("/").inc()
    INFLIGHT.labels("/").inc(4)
    INFLIGHT.labels("/").dec(2)
    INFLIGHT.labels(route="/ws").set(7)
    TEMPERATURE.set(21.5)
    with INFLIGHT.labels("/slow").track_inprogress():
        pass
    for v in (0.25, 0.5, 0.125, 2.0):
        LATENCY.labels("/").observe(v)
    LATENCY.labels("/submit").observe(0.0625)
    for v in (1024, 512, 64):
        PAYLOAD.observe(v)
    with TIMED.time():
        pass

    @TIMED.time()
    def work():
        return 1

    work()
