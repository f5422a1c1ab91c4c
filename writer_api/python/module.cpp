// wsmetrics._core: the writer API (<wsm/writer.hpp>) for Python, over the same segments, names,
// labels and units as C++, so C++ and Python workers record into one segment (issue 19).
//
// The GIL is kept on every record call: a record is a few ns of plain stores, far less than
// releasing and taking the GIL again. It is released only around Registry.open, which may create
// and populate a segment (milliseconds). fork() needs nothing here: the writer library's
// pthread_atfork handlers give a child its own writer slots on its first record (writer.hpp), and
// Python's os.fork() (multiprocessing's fork start method, gunicorn/uvicorn workers) calls fork().
#include <pybind11/pybind11.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "wsm/writer.hpp"

namespace py = pybind11;

namespace {

// Bad names, labels and type clashes are the caller's to fix (ValueError); anything about the
// segment itself (permission, full, corrupt, incompatible layout) is a RuntimeError.
[[noreturn]] void raise(const wsm::Error& e) {
  switch (e.code()) {
    case wsm::Errc::invalid_argument:
    case wsm::Errc::type_mismatch: throw py::value_error(e.message());
    default: throw std::runtime_error(e.message());
  }
}

template <class T>
T value_or_raise(wsm::Result<T> r) {
  if (!r) raise(r.error());
  return std::move(*r);
}

const char* mode_name(wsm::GaugeMode m) {
  switch (m) {
    case wsm::GaugeMode::sum: return "sum";
    case wsm::GaugeMode::max: return "max";
    case wsm::GaugeMode::min: return "min";
    case wsm::GaugeMode::last: return "last";
    case wsm::GaugeMode::per_writer: return "per_writer";
  }
  return "?";
}

wsm::GaugeMode parse_mode(const std::string& mode) {
  for (auto m : {wsm::GaugeMode::sum, wsm::GaugeMode::max, wsm::GaugeMode::min, wsm::GaugeMode::last,
                 wsm::GaugeMode::per_writer}) {
    if (mode == mode_name(m)) return m;
  }
  throw py::value_error("gauge mode '" + mode + "': expected sum, max, min, last or per_writer");
}

// A label dict as the owned strings and the views the C++ API reads during the call. Keys must be
// str; values are str, or anything else turned into its str() (as prometheus_client does).
struct LabelSet {
  std::vector<std::string> strings;
  std::vector<wsm::Label> labels;
  explicit LabelSet(const py::object& obj) {
    if (obj.is_none()) return;
    if (!py::isinstance<py::dict>(obj)) {
      throw py::type_error("labels must be a dict of str to str, not " +
                           std::string(py::str(obj.get_type().attr("__name__"))));
    }
    const auto dict = obj.cast<py::dict>();
    strings.reserve(dict.size() * 2);
    for (auto [k, v] : dict) {
      if (!py::isinstance<py::str>(k)) {
        throw py::type_error("label names must be str, not " +
                             std::string(py::str(k.get_type().attr("__name__"))) + " (" +
                             std::string(py::repr(k)) + ")");
      }
      strings.push_back(k.cast<std::string>());
      strings.push_back(py::str(v).cast<std::string>());
    }
    for (std::size_t i = 0; i < strings.size(); i += 2) labels.emplace_back(strings[i], strings[i + 1]);
  }
};

// A non-negative integer that fits 64 bits; TypeError / ValueError naming `what` otherwise.
std::uint64_t to_count(PyObject* n, const char* what) {
  if (!PyLong_Check(n)) {
    throw py::type_error(std::string(what) + " takes an integer (wsmetrics counts integers), not " +
                         Py_TYPE(n)->tp_name + " " + std::string(py::repr(n)));
  }
  const unsigned long long v = PyLong_AsUnsignedLongLong(n);
  if (v == static_cast<unsigned long long>(-1) && PyErr_Occurred()) {
    PyErr_Clear();
    throw py::value_error(std::string(what) + " takes an integer from 0 to 2**64-1, not " +
                          std::string(py::repr(n)));
  }
  return v;
}

double to_double(PyObject* v, const char* what) {
  const double d = PyFloat_AsDouble(v);
  if (d == -1.0 && PyErr_Occurred()) {
    PyErr_Clear();
    throw py::type_error(std::string(what) + " takes a number, not " + Py_TYPE(v)->tp_name);
  }
  return d;
}

// Seconds to the integer ns the segment stores: rounded to nearest (0.3 is 0.29999999999999998890
// as a double, which truncation, as std::chrono::duration_cast does, would make 299999999 ns);
// negative values record 0 as in C++; NaN is refused.
std::uint64_t seconds_to_ns(double s) {
  if (std::isnan(s)) throw py::value_error("histogram record: NaN is not a duration");
  if (!(s > 0)) return 0;
  const double ns = std::nearbyint(s * 1e9);
  constexpr double kMax = 9.2e18;  // past 2^45 ns (9.8 h) everything is the +Inf bucket anyway
  return ns >= kMax ? static_cast<std::uint64_t>(kMax) : static_cast<std::uint64_t>(ns);
}

// An exemplar as prometheus_client takes one: a dict of labels, here {'trace_id': 32 hex digits,
// 'span_id': 16 hex digits} (W3C trace context ids); None: no exemplar. ValueError otherwise.
std::optional<wsm::Exemplar> to_exemplar(const py::object& obj, const char* what) {
  if (obj.is_none()) return std::nullopt;
  if (!py::isinstance<py::dict>(obj)) {
    throw py::type_error(std::string(what) + ": exemplar must be a dict {'trace_id': ..., 'span_id': ...}");
  }
  const auto dict = obj.cast<py::dict>();
  const auto field = [&](const char* key) {
    if (!dict.contains(key)) return std::string();
    return py::str(dict[key]).cast<std::string>();
  };
  if (dict.size() != 2 || !dict.contains("trace_id") || !dict.contains("span_id")) {
    throw py::value_error(std::string(what) + ": exemplar takes exactly the labels trace_id and span_id");
  }
  auto e = wsm::Exemplar::from_hex(field("trace_id"), field("span_id"));
  if (!e) {
    throw py::value_error(std::string(what) + ": exemplar trace_id must be 32 and span_id 16 hex digits, not all zero");
  }
  return e;
}

struct Registry {
  wsm::Registry reg;
  std::string name;
};

struct Counter {
  wsm::Counter h;
  std::string name;
};

struct Gauge {
  wsm::Gauge h;
  std::string name;
};

struct Histogram {
  wsm::Histogram h;
  std::string name;
  bool seconds;  // *_seconds: records float seconds (stored as ns); else integers
};

// A histogram record in the family's integer unit, with its exemplar when one is given.
void record(const Histogram& h, std::uint64_t value, const py::object& exemplar, const char* what) {
  if (const auto e = to_exemplar(exemplar, what)) {
    h.h.record(value, *e);
  } else {
    h.h.record(value);
  }
}

std::string default_segment() {
  const char* v = std::getenv("WSM_SEGMENT");
  return v != nullptr && *v != '\0' ? v : "wsm";  // the exporter's default (exporter/include/wsm/exporter/settings.hpp)
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "wsmetrics writer API (C++ <wsm/writer.hpp>) for Python; see wsmetrics.__doc__";
  m.attr("DEFAULT_SEGMENT") = "wsm";

  py::class_<Registry>(m, "Registry", "A segment /dev/shm/wsm.<name> opened for recording.")
      .def_static(
          "open",
          [](py::object name, std::string role, py::object enabled) {
            std::string segment = name.is_none() ? default_segment() : name.cast<std::string>();
            wsm::RegistryOptions options;
            options.role = std::move(role);
            if (!enabled.is_none()) options.enabled = enabled.cast<bool>();
            wsm::Result<wsm::Registry> opened = [&] {
              py::gil_scoped_release release;  // may create and populate a segment: milliseconds
              return wsm::Registry::open(segment, options);
            }();
            return Registry{value_or_raise(std::move(opened)), std::move(segment)};
          },
          py::arg("name") = py::none(), py::kw_only(), py::arg("role") = "", py::arg("enabled") = py::none(),
          "Opens /dev/shm/wsm.<name>, creating it if absent (name: WSM_SEGMENT, else 'wsm', the "
          "exporter's default). Opening a name again in a process gives the same segment. "
          "enabled: default WEBSOCKET_MONITORING_ENABLED (false/0/off/no makes every handle a no-op).")
      .def_property_readonly("name", [](const Registry& r) { return r.name; })
      .def_property_readonly("enabled", [](const Registry& r) { return r.reg.enabled(); })
      .def(
          "counter",
          [](Registry& r, const std::string& name, py::object labels, const std::string& help) {
            LabelSet l(labels);
            return Counter{value_or_raise(r.reg.try_counter(name, l.labels, help)), name};
          },
          py::arg("name"), py::arg("labels") = py::none(), py::arg("help") = "",
          "The counter series (name, labels); registers it on first use. Keep the handle.")
      .def(
          "gauge",
          [](Registry& r, const std::string& name, py::object labels, const std::string& help,
             const std::string& mode) {
            LabelSet l(labels);
            return Gauge{value_or_raise(r.reg.try_gauge(name, l.labels, help, parse_mode(mode))), name};
          },
          py::arg("name"), py::arg("labels") = py::none(), py::arg("help") = "", py::arg("mode") = "sum",
          "The gauge series; mode (sum, max, min, last, per_writer) says how processes combine, "
          "and the family's first registrant's mode wins.")
      .def(
          "histogram",
          [](Registry& r, const std::string& name, py::object labels, const std::string& help) {
            LabelSet l(labels);
            return Histogram{value_or_raise(r.reg.try_histogram(name, l.labels, help)), name,
                             wsm::shm::unit_from_name(name) == wsm::shm::Unit::seconds};
          },
          py::arg("name"), py::arg("labels") = py::none(), py::arg("help") = "",
          "The histogram series; *_seconds histograms record float seconds, others integers.")
      .def("heartbeat", [](const Registry& r) { r.reg.heartbeat(); },
           "Marks this thread's writer slot alive now (heartbeat age in `wsm inspect`).")
      .def("__repr__", [](const Registry& r) {
        return "wsmetrics.Registry('" + r.name + "'" + (r.reg.enabled() ? "" : ", disabled") + ")";
      });

  py::class_<Counter>(m, "Counter", "A counter series: inc(n=1) adds a non-negative integer.")
      .def(
          "inc",
          [](const Counter& c, py::handle n, const py::object& exemplar) {
            const std::uint64_t count = to_count(n.ptr(), "Counter.inc");
            if (const auto e = to_exemplar(exemplar, "Counter.inc")) {
              c.h.inc(count, *e);
            } else {
              c.h.inc(count);
            }
          },
          py::arg("n") = 1, py::arg("exemplar") = py::none(),
          "Adds n; exemplar={'trace_id': hex32, 'span_id': hex16} keeps it as this thread's latest.")
      .def_property_readonly("name", [](const Counter& c) { return c.name; })
      .def("__repr__", [](const Counter& c) { return "wsmetrics.Counter('" + c.name + "')"; });

  py::class_<Gauge>(m, "Gauge", "A gauge series of this process: set(v), add(v), sub(v), inc(n=1), dec(n=1).")
      .def("set", [](const Gauge& g, py::handle v) { g.h.set(to_double(v.ptr(), "Gauge.set")); }, py::arg("v"))
      .def("add", [](const Gauge& g, py::handle v) { g.h.add(to_double(v.ptr(), "Gauge.add")); }, py::arg("v"))
      .def("sub", [](const Gauge& g, py::handle v) { g.h.sub(to_double(v.ptr(), "Gauge.sub")); }, py::arg("v"))
      .def(
          "inc", [](const Gauge& g, py::handle v) { g.h.add(to_double(v.ptr(), "Gauge.inc")); },
          py::arg("n") = 1)
      .def(
          "dec", [](const Gauge& g, py::handle v) { g.h.sub(to_double(v.ptr(), "Gauge.dec")); },
          py::arg("n") = 1)
      .def_property_readonly("name", [](const Gauge& g) { return g.name; })
      .def("__repr__", [](const Gauge& g) { return "wsmetrics.Gauge('" + g.name + "')"; });

  py::class_<Histogram>(m, "Histogram",
                        "A histogram series: record(v), float seconds for *_seconds, integers otherwise.")
      .def(
          "record",
          [](const Histogram& h, py::handle v, const py::object& exemplar) {
            std::uint64_t value = 0;
            if (h.seconds) {
              value = seconds_to_ns(to_double(v.ptr(), "Histogram.record"));
            } else if (PyLong_Check(v.ptr())) {
              value = to_count(v.ptr(), "Histogram.record");
            } else {
              throw py::type_error("Histogram.record: '" + h.name + "' is not a *_seconds histogram and " +
                                   "records integers (bytes, percent, counts), not " + Py_TYPE(v.ptr())->tp_name +
                                   " " + std::string(py::repr(v)));
            }
            record(h, value, exemplar, "Histogram.record");
          },
          py::arg("v"), py::arg("exemplar") = py::none(),
          "Records v; exemplar={'trace_id': hex32, 'span_id': hex16} keeps it as this thread's latest.")
      .def(
          "record_ns",
          [](const Histogram& h, py::handle ns, const py::object& exemplar) {
            if (!h.seconds) throw py::value_error("Histogram.record_ns: '" + h.name + "' is not a *_seconds histogram");
            record(h, to_count(ns.ptr(), "Histogram.record_ns"), exemplar, "Histogram.record_ns");
          },
          py::arg("ns"), py::arg("exemplar") = py::none(),
          "A duration in integer ns (time.perf_counter_ns() differences), *_seconds only.")
      .def_property_readonly("name", [](const Histogram& h) { return h.name; })
      .def_property_readonly("seconds", [](const Histogram& h) { return h.seconds; },
                             "True for *_seconds histograms (record takes float seconds)")
      .def("__repr__", [](const Histogram& h) { return "wsmetrics.Histogram('" + h.name + "')"; });
}
