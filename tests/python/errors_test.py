"""(e) Bad input gives a clear Python exception with the library's message and no crash: bad metric
and label names, reserved labels, wrong argument types, a name registered again with another type
(also against a C++ writer's registration), bad amounts, a segment that is not a segment
(RuntimeError); after all of it the process still records, and exits normally."""

import os
import subprocess
import warnings

import support
import wsmetrics
import wsmetrics.prometheus as prom


def raises(exc, fragment, f):
    try:
        f()
    except exc as e:
        assert fragment in str(e), "%s: %r lacks %r" % (exc.__name__, str(e), fragment)
        return
    except Exception as e:
        raise AssertionError("expected %s(%r), got %s: %s" % (exc.__name__, fragment, type(e).__name__, e))
    raise AssertionError("expected %s(%r), nothing raised" % (exc.__name__, fragment))


def main():
    with support.Segment("errors") as seg, support.Segment("errors-bad") as bad:
        reg = wsmetrics.Registry.open(seg)
        raises(ValueError, "metric name '1bad' is invalid", lambda: reg.counter("1bad"))
        raises(ValueError, "metric name 'a-b' is invalid", lambda: reg.histogram("a-b"))
        raises(ValueError, "reserved", lambda: reg.gauge("__internal"))
        raises(ValueError, "label name 'bad-label' is invalid", lambda: reg.counter("ok_total", {"bad-label": "x"}))
        raises(ValueError, "label name 'le' is reserved", lambda: reg.histogram("ok_seconds", {"le": "1"}))
        raises(TypeError, "label names must be str", lambda: reg.counter("ok_total", {1: "x"}))
        raises(TypeError, "labels must be a dict", lambda: reg.counter("ok_total", [("a", "b")]))
        raises(ValueError, "gauge mode 'avg'", lambda: reg.gauge("ok_level", mode="avg"))

        c = reg.counter("err_events_total", {"k": "v"})
        raises(ValueError, "already registered with another type", lambda: reg.gauge("err_events_total", {"k": "v"}))
        raises(ValueError, "already registered with another type", lambda: reg.histogram("err_events_total"))
        # A C++ writer's families: Python may not reuse them with another type either.
        subprocess.run([support.bin_path("wsm-py-cpp-writer"), seg, "1"], check=True)
        raises(ValueError, "already registered with another type", lambda: reg.counter("pymixed_latency_seconds"))

        raises(ValueError, "from 0 to 2**64-1", lambda: c.inc(-1))
        raises(TypeError, "takes an integer", lambda: c.inc(1.5))
        raises(TypeError, "takes an integer", lambda: c.inc("1"))
        h = reg.histogram("err_size_bytes")
        raises(TypeError, "records integers", lambda: h.record(1.5))
        raises(ValueError, "not a *_seconds histogram", lambda: h.record_ns(5))
        s = reg.histogram("err_wait_seconds")
        raises(ValueError, "NaN", lambda: s.record(float("nan")))
        raises(TypeError, "takes a number", lambda: reg.gauge("err_level").set("high"))
        # The record methods parse their arguments by hand (fast_method.hpp): keywords, too many
        # arguments, a missing one, a method called on another class's object.
        c.inc(n=2)
        raises(TypeError, "unexpected keyword argument 'amount'", lambda: c.inc(amount=1))
        raises(TypeError, "takes at most 2 arguments (3 given)", lambda: c.inc(1, None, 2))
        raises(TypeError, "exemplar must be a dict", lambda: c.inc(1, 2))
        raises(TypeError, "multiple values for argument 'v'", lambda: s.record(0.1, v=0.2))
        raises(TypeError, "missing its argument 'v'", lambda: s.record())
        raises(TypeError, "missing its argument 'v'", lambda: reg.gauge("err_level").set())
        raises(TypeError, "doesn't apply to a 'wsmetrics._core.Gauge' object",
               lambda: wsmetrics.Counter.inc(reg.gauge("err_level")))

        # A file that is not a segment: RuntimeError with the library's message.
        with open("/dev/shm/wsm." + bad, "wb") as f:
            f.write(b"not a segment" * 1000)
        try:
            wsmetrics.Registry.open(bad)
        except RuntimeError as e:
            assert bad in str(e) or "segment" in str(e), e
        else:
            raise AssertionError("opening a garbage segment file did not raise RuntimeError")

        # The drop-in: prometheus_client's messages where it checks the same things.
        prom.set_registry(reg)
        raises(ValueError, "Invalid metric name", lambda: prom.Counter("bad name", "d"))
        raises(ValueError, "Invalid label metric name", lambda: prom.Counter("p_total", "d", ["bad-label"]))
        raises(ValueError, "Reserved label metric name", lambda: prom.Histogram("p_seconds", "d", ["le"]))
        pc = prom.Counter("p_requests_total", "d", ["method"])
        raises(ValueError, "Incorrect label count", lambda: pc.labels("a", "b"))
        raises(ValueError, "Incorrect label names", lambda: pc.labels(verb="get"))
        raises(ValueError, "missing label values", lambda: pc.inc())
        raises(ValueError, "non-negative", lambda: pc.labels("get").inc(-1))
        raises(ValueError, "count integers", lambda: pc.labels("get").inc(0.5))
        raises(ValueError, "already registered with another type", lambda: prom.Gauge("p_requests_total", "d"))
        raises(ValueError, "Invalid multiprocess mode", lambda: prom.Gauge("p_level", "d", multiprocess_mode="avg"))
        raises(NotImplementedError, "set_function", lambda: prom.Gauge("p_level", "d").set_function(lambda: 1))
        ph = prom.Histogram("p_payload_bytes", "d")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ph.observe(10.4)
            ph.observe(10.4)
        assert len(caught) == 1 and "records integers" in str(caught[0].message), [str(w.message) for w in caught]

        # Still recording after every error.
        c.inc(2)
        pc.labels("get").inc(3)
        d = support.dump(seg)
        assert d[support.key("err_events_total", k="v")]["value"] == 4  # inc(n=2) above, inc(2) here
        assert d[support.key("p_requests_total", method="get")]["value"] == 3
        assert d[support.key("p_payload_bytes")]["sum"] == 20 and d[support.key("p_payload_bytes")]["count"] == 2
        assert not any(k[0] in ("1bad", "a-b", "__internal") for k in d), sorted(d)
        print("ok: bad input raises clear exceptions, recording goes on")


if __name__ == "__main__":
    main()
