"""A drop-in for prometheus_client's Counter, Gauge and Histogram, recording into a wsmetrics segment.

Change one import and keep the code:

    from wsmetrics.prometheus import Counter, Gauge, Histogram   # was: from prometheus_client import ...
    REQUESTS = Counter("http_requests_total", "Requests", ["method"])
    LATENCY = Histogram("http_request_duration_seconds", "Latency", ["route"])
    REQUESTS.labels("get").inc()
    with LATENCY.labels(route="/").time():
        ...

The constructors take prometheus_client's arguments (name, documentation, labelnames, namespace,
subsystem, unit, registry, buckets / multiprocess_mode) and build the same names: a counter is
exposed as <name>_total whether or not the given name ends in _total, namespace_subsystem_name_unit
as prometheus_client joins them. Every process, forked or not, records into the one segment
(wsmetrics.Registry.open(): WSM_SEGMENT, else "wsm"), and wsm-exporter serves it, merged, at
/metrics: no multiprocess directory, no per-process files, no merge at scrape time.

What differs from prometheus_client:
- Histogram buckets come from the segment's HDR scheme (8 log-linear buckets per power of two:
  any value within 12.5% of its bucket's bound), the same for every process and the C++ writers;
  `buckets=` is accepted and ignored, since all writers of a family must share one scheme. The
  unit is taken from the name: *_seconds histograms record float seconds (stored in ns), every
  other histogram records integers (bytes, percent, counts: a fraction is rounded, with a
  warning once per histogram). Name durations *_seconds.
- Counters count integers, as the segment does: inc(2) and inc(2.0) work, inc(1.5) raises
  ValueError (for a time total, a *_seconds Histogram's _sum is that total, exactly).
- Gauges combine across processes by their mode (multiprocess_mode: 'all'/'liveall' give one
  series per process, labelled worker=<pid>; 'min'/'livemin', 'max'/'livemax', 'sum'/'livesum';
  not given: 'sum', which for one process is prometheus_client's single value). A process's gauges
  go when it exits, as prometheus_client's live* modes.
- No registry, collect(), generate_latest() or start_http_server(): the exporter serves /metrics
  (`registry=` is accepted and ignored unless it is a wsmetrics.Registry, which is then used).
  No _created samples; an exemplar is kept (shown in OpenMetrics) when it is W3C trace context,
  {'trace_id': 32 hex digits, 'span_id': 16 hex digits}, and ignored otherwise; remove()/clear() and
  Gauge.set_function() raise
  NotImplementedError (a series stays in the segment; a callback would need a collector).
- A name used again with another type raises ValueError when its series is registered: at
  construction without labelnames, at the first labels() call with them.
"""

import re
import time
import warnings

from ._core import Registry

__all__ = ["Counter", "Gauge", "Histogram", "set_registry"]

_LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_METRIC_NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")

_default_registry = None


def set_registry(registry):
    """Records every metric made afterwards without registry= into `registry` (a wsmetrics.Registry)."""
    global _default_registry
    if not isinstance(registry, Registry):
        raise TypeError("set_registry takes a wsmetrics.Registry, not %s" % type(registry).__name__)
    _default_registry = registry


def _registry(given):
    global _default_registry
    if isinstance(given, Registry):
        return given
    if _default_registry is None:
        _default_registry = Registry.open()
    return _default_registry


def _full_name(metric_type, name, namespace, subsystem, unit):
    # prometheus_client 0.16's _build_full_name, so the names are the same.
    full_name = ""
    if namespace:
        full_name += namespace + "_"
    if subsystem:
        full_name += subsystem + "_"
    full_name += name
    if metric_type == "counter" and full_name.endswith("_total"):
        full_name = full_name[:-6]
    if unit and not full_name.endswith("_" + unit):
        full_name += "_" + unit
    return full_name


class _Timer:
    """Context manager and decorator: calls done(seconds) at the end of the block or call."""

    __slots__ = ("_done", "_start")

    def __init__(self, done):
        self._done = done

    def __enter__(self):
        self._start = time.perf_counter_ns()
        return self

    def __exit__(self, *exc):
        self._done(time.perf_counter_ns() - self._start)

    def __call__(self, f):
        import functools

        @functools.wraps(f)
        def wrapped(*args, **kwargs):
            with _Timer(self._done):
                return f(*args, **kwargs)

        return wrapped


class _Metric:
    _type = None
    _reserved_labelnames = ()

    def __init__(self, name, documentation, labelnames=(), namespace="", subsystem="", unit="",
                 registry=None, _labelvalues=None, _parent=None):
        self._name = _full_name(self._type, name, namespace, subsystem, unit)
        if not _METRIC_NAME_RE.match(self._name):
            raise ValueError("Invalid metric name: " + self._name)
        if isinstance(labelnames, str):
            labelnames = (labelnames,)  # prometheus_client would take the characters; one name is meant
        self._labelnames = tuple(labelnames)
        for l in self._labelnames:
            if not _LABEL_NAME_RE.match(l):
                raise ValueError("Invalid label metric name: " + l)
            if l.startswith("__") or l in self._reserved_labelnames:
                raise ValueError("Reserved label metric name: " + l)
        self._documentation = documentation
        self._registry = _parent._registry if _parent is not None else _registry(registry)
        self._labelvalues = tuple(_labelvalues or ())
        self._children = {}
        self._handle = None
        if not self._labelnames or self._labelvalues:
            self._handle = self._register(dict(zip(self._labelnames, self._labelvalues)))

    def _child(self, labelvalues):
        child = object.__new__(type(self))
        child.__dict__.update(self.__dict__)
        child._labelvalues = labelvalues
        child._children = {}
        child._handle = child._register(dict(zip(self._labelnames, labelvalues)))
        return child

    def labels(self, *labelvalues, **labelkwargs):
        """The child for these label values (positional, in labelnames order, or by name)."""
        if not self._labelnames:
            raise ValueError("No label names were set when constructing %s" % self)
        if self._labelvalues:
            raise ValueError("%s already has labels set (%s); can not chain calls to .labels()"
                             % (self, dict(zip(self._labelnames, self._labelvalues))))
        if labelvalues and labelkwargs:
            raise ValueError("Can't pass both *args and **kwargs")
        if labelkwargs:
            if sorted(labelkwargs) != sorted(self._labelnames):
                raise ValueError("Incorrect label names")
            labelvalues = tuple(str(labelkwargs[l]) for l in self._labelnames)
        else:
            if len(labelvalues) != len(self._labelnames):
                raise ValueError("Incorrect label count")
            labelvalues = tuple(str(l) for l in labelvalues)
        child = self._children.get(labelvalues)
        if child is None:
            child = self._children.setdefault(labelvalues, self._child(labelvalues))
        return child

    def _observable(self):
        if self._handle is None:
            raise ValueError("%s metric is missing label values" % self._type)
        return self._handle

    def remove(self, *labelvalues):
        raise NotImplementedError("wsmetrics keeps a registered series in the segment: remove() is not supported")

    def clear(self):
        raise NotImplementedError("wsmetrics keeps a registered series in the segment: clear() is not supported")

    def __str__(self):
        return "%s:%s" % (self._type, self._name)

    def __repr__(self):
        return "wsmetrics.prometheus.%s(%s)" % (type(self).__name__, self._name)


def _with_exemplar(record, amount, exemplar):
    """record(amount, exemplar=...) when the exemplar is W3C trace context the segment can keep,
    else record(amount): prometheus_client takes any exemplar labels, so others are ignored."""
    if exemplar is not None and set(exemplar) == {"trace_id", "span_id"}:
        try:
            record(amount, exemplar=exemplar)
            return
        except ValueError:
            pass  # not 32 and 16 hex digits: kept by nobody, as before
    record(amount)


class Counter(_Metric):
    """prometheus_client.Counter over a wsmetrics counter <name>_total (integer amounts only)."""

    _type = "counter"

    def _register(self, labels):
        return self._registry.counter(self._name + "_total", labels, self._documentation)

    def inc(self, amount=1, exemplar=None):
        """Increment by amount (a non-negative integer, or a float with an integer value)."""
        handle = self._observable()
        if amount.__class__ is not int:
            if amount < 0:
                raise ValueError("Counters can only be incremented by non-negative amounts.")
            if amount != int(amount):
                raise ValueError("wsmetrics counters count integers; %r is not one (%s). For a total of "
                                 "seconds, observe a *_seconds Histogram: its _sum is that total"
                                 % (amount, self._name + "_total"))
            amount = int(amount)
        elif amount < 0:
            raise ValueError("Counters can only be incremented by non-negative amounts.")
        _with_exemplar(handle.inc, amount, exemplar)

    def count_exceptions(self, exception=Exception):
        """Context manager and decorator: counts the exceptions of that type leaving the block."""
        self._observable()
        counter = self

        class _ExceptionCounter:
            def __enter__(self):
                return self

            def __exit__(self, typ, value, traceback):
                if isinstance(value, exception):
                    counter.inc()
                return False

            def __call__(self, f):
                import functools

                @functools.wraps(f)
                def wrapped(*args, **kwargs):
                    with _ExceptionCounter():
                        return f(*args, **kwargs)

                return wrapped

        return _ExceptionCounter()


_GAUGE_MODES = {
    None: "sum", "sum": "sum", "livesum": "sum", "max": "max", "livemax": "max", "min": "min",
    "livemin": "min", "all": "per_writer", "liveall": "per_writer",
}


class Gauge(_Metric):
    """prometheus_client.Gauge over a wsmetrics gauge (per process, combined by multiprocess_mode)."""

    _type = "gauge"

    def __init__(self, name, documentation, labelnames=(), namespace="", subsystem="", unit="",
                 registry=None, _labelvalues=None, multiprocess_mode=None, _parent=None):
        if multiprocess_mode not in _GAUGE_MODES:
            raise ValueError("Invalid multiprocess mode: " + str(multiprocess_mode))
        self._mode = _GAUGE_MODES[multiprocess_mode]
        super().__init__(name, documentation, labelnames, namespace, subsystem, unit, registry,
                         _labelvalues, _parent)

    def _register(self, labels):
        return self._registry.gauge(self._name, labels, self._documentation, self._mode)

    def inc(self, amount=1):
        self._observable().add(amount)

    def dec(self, amount=1):
        self._observable().sub(amount)

    def set(self, value):
        self._observable().set(float(value))

    def set_to_current_time(self):
        self._observable().set(time.time())

    def track_inprogress(self):
        """Context manager and decorator: +1 while the block runs."""
        handle = self._observable()
        gauge = self

        class _InProgress:
            def __enter__(self):
                handle.add(1)
                return self

            def __exit__(self, *exc):
                handle.sub(1)

            def __call__(self, f):
                import functools

                @functools.wraps(f)
                def wrapped(*args, **kwargs):
                    with gauge.track_inprogress():
                        return f(*args, **kwargs)

                return wrapped

        return _InProgress()

    def time(self):
        """Context manager and decorator: sets the gauge to the block's duration in seconds."""
        handle = self._observable()
        return _Timer(lambda ns: handle.set(ns / 1e9))

    def set_function(self, f):
        raise NotImplementedError("wsmetrics.prometheus.Gauge.set_function: a gauge is a value in the segment, "
                                  "read by the exporter; set() it from your code instead")


class Histogram(_Metric):
    """prometheus_client.Histogram over a wsmetrics histogram (HDR buckets; `buckets` ignored)."""

    _type = "histogram"
    _reserved_labelnames = ("le",)

    def __init__(self, name, documentation, labelnames=(), namespace="", subsystem="", unit="",
                 registry=None, _labelvalues=None, buckets=None, _parent=None):
        # buckets: accepted for compatibility and ignored; the segment's HDR scheme (by unit) is
        # shared by every writer of the family, C++ or Python (see the module docstring).
        self._warned = False
        super().__init__(name, documentation, labelnames, namespace, subsystem, unit, registry,
                         _labelvalues, _parent)

    def _register(self, labels):
        return self._registry.histogram(self._name, labels, self._documentation)

    def observe(self, amount, exemplar=None):
        """Record amount: seconds (float) for *_seconds histograms, else an integer (rounded)."""
        handle = self._observable()
        if handle.seconds or amount.__class__ is int:
            _with_exemplar(handle.record, amount, exemplar)
            return
        rounded = int(round(amount))
        if rounded != amount and not self._warned:
            self._warned = True
            warnings.warn("wsmetrics histogram %s is not a *_seconds histogram and records integers: "
                          "%r recorded as %d (name durations *_seconds)" % (self._name, amount, rounded),
                          RuntimeWarning, stacklevel=2)
        _with_exemplar(handle.record, max(rounded, 0), exemplar)

    def time(self):
        """Context manager and decorator: observes the block's duration (in ns for *_seconds)."""
        handle = self._observable()
        if handle.seconds:
            return _Timer(handle.record_ns)
        return _Timer(lambda ns: self.observe(ns / 1e9))
