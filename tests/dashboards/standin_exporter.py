"""A stand-in for wsm-exporter's /metrics in tests that need catalogue series but not the real
pipeline: every family of the catalogue with one series, counters and histogram buckets rising
with time (10 ticks a second), gauges at 42. With these numbers, failed / sent = 1 (HighFailureRate),
the P95 latency is 0.9 s, the mean compression ratio 15% and the health score 42, so those
alerts fire; the connection, CPU, memory and buffer alerts do not."""
import contextlib
import http.server
import threading
import time

from catalogue import CATALOGUE

BUCKETS = [("0.25", 1), ("0.5", 3), ("1", 4), ("+Inf", 4)]  # cumulative counts per tick


def exposition(ticks):
    """Prometheus text for every family; `ticks` grows by 10 per second."""
    out = []
    for family, (kind, labels) in sorted(CATALOGUE.items()):
        values = {l: ("rss" if l == "memory_type" else "a") for l in sorted(labels)}
        sel = ",".join('%s="%s"' % kv for kv in values.items())
        prom_type = "counter" if kind == "counter" else kind
        out.append("# TYPE %s %s" % (family, prom_type))
        if kind == "histogram":
            for le, n in BUCKETS:
                out.append('%s_bucket{%s,le="%s"} %d' % (family, sel, le, n * ticks))
            out.append("%s_sum{%s} %d" % (family, sel, 60 * ticks))
            out.append("%s_count{%s} %d" % (family, sel, BUCKETS[-1][1] * ticks))
        elif kind == "counter":
            out.append("%s{%s} %d" % (family, sel, ticks))
        else:
            out.append("%s{%s} 42" % (family, sel))
    return "\n".join(out) + "\n"


class StandIn(http.server.BaseHTTPRequestHandler):
    started = time.monotonic()

    def do_GET(self):
        body = exposition(int((time.monotonic() - self.started) * 10)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def standin_exporter():
    """Yields "127.0.0.1:PORT" of a running stand-in; stops it on exit."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield "127.0.0.1:%d" % server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
