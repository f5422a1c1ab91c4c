// wsmetrics._core: the writer API (<wsm/writer.hpp>) for Python, over the same segments, names,
// labels and units as C++, so C++ and Python workers record into one segment (issue 19).
//
// The GIL is kept on every record call: a record is a few ns of plain stores, far less than
// releasing and taking the GIL again. It is released only around Registry.open, which may create
// and populate a segment (milliseconds). fork() needs nothing here: the writer library's
// pthread_atfork handlers give a child its own writer slots on its first record (writer.hpp), and
// Python's os.fork() (multiprocessing's fork start method, gunicorn/uvicorn workers) calls fork().
#include <pybind11/pybind11.h>

#include <array>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>
#include <type_traits>
#include <string>
#include <vector>

#include "convert.hpp"
#include "fast_method.hpp"
#include "wsm/writer.hpp"

namespace py = pybind11;
using wsm::python::raise;
using wsm::python::value_or_raise;
using wsm::python::seconds_to_ns;
using wsm::python::default_segment;
using wsm::python::Arguments;
using wsm::python::def_fast;

namespace {

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

// An exemplar as prometheus_client takes one: a dict of labels, here {'trace_id': 32 hex digits,
// 'span_id': 16 hex digits} (W3C trace context ids); absent or None: no exemplar. TypeError or
// ValueError otherwise.
std::optional<wsm::Exemplar> to_exemplar(PyObject* obj, const char* what) {
  if (obj == nullptr || obj == Py_None) return std::nullopt;
  if (!PyDict_Check(obj)) {
    throw py::type_error(std::string(what) + ": exemplar must be a dict {'trace_id': ..., 'span_id': ...}");
  }
  const auto dict = py::reinterpret_borrow<py::dict>(obj);
  if (dict.size() != 2 || !dict.contains("trace_id") || !dict.contains("span_id")) {
    throw py::value_error(std::string(what) + ": exemplar takes exactly the labels trace_id and span_id");
  }
  const auto field = [&](const char* key) { return py::str(dict[key]).cast<std::string>(); };
  auto e = wsm::Exemplar::from_hex(field("trace_id"), field("span_id"));
  if (!e) {
    throw py::value_error(std::string(what) + ": exemplar trace_id must be 32 and span_id 16 hex digits, not all zero");
  }
  return e;
}

// A record in the family's integer unit, with its exemplar when one is given.
template <class Handle>
void record_with(const Handle& h, std::uint64_t value, PyObject* exemplar, const char* what) {
  if (const auto e = to_exemplar(exemplar, what)) {
    if constexpr (std::is_same_v<Handle, wsm::Counter>) h.inc(value, *e); else h.record(value, *e);
  } else {
    if constexpr (std::is_same_v<Handle, wsm::Counter>) h.inc(value); else h.record(value);
  }
}

// The record methods (fast_method.hpp: plain CPython methods, not pybind11's dispatcher).
// An argument's slot is nullptr when the caller gave none.
PyObject* required(PyObject* arg, const char* method, const char* name) {
  if (arg == nullptr) throw py::type_error(std::string(method) + "() missing its argument '" + name + "'");
  return arg;
}

struct CounterInc {
  static constexpr const char* name = "inc";
  static constexpr std::array<const char*, 2> args{"n", "exemplar"};
  static constexpr const char* doc =
      "inc(n=1, exemplar=None): adds n, a non-negative integer; exemplar={'trace_id': hex32, 'span_id': hex16} "
      "keeps it as this thread's latest.";
  static void call(const Counter& c, const Arguments<2>& a) {
    record_with(c.h, a[0] == nullptr ? 1 : to_count(a[0], "Counter.inc"), a[1], "Counter.inc");
  }
};

// Gauge.set/add/sub(v) take a level; inc/dec(n=1) add or take away 1 unless told otherwise.
template <void (wsm::Gauge::*Op)(double) const noexcept, bool kDefaultsToOne>
struct GaugeMethod {
  static void call(const Gauge& g, const Arguments<1>& a, const char* what, const char* arg) {
    if (kDefaultsToOne && a[0] == nullptr) return (g.h.*Op)(1.0);
    (g.h.*Op)(to_double(required(a[0], what, arg), what));
  }
};
struct GaugeSet {
  static constexpr const char* name = "set";
  static constexpr std::array<const char*, 1> args{"v"};
  static constexpr const char* doc = "set(v): this process's level.";
  static void call(const Gauge& g, const Arguments<1>& a) {
    GaugeMethod<&wsm::Gauge::set, false>::call(g, a, "Gauge.set", "v");
  }
};
struct GaugeAdd {
  static constexpr const char* name = "add";
  static constexpr std::array<const char*, 1> args{"v"};
  static constexpr const char* doc = "add(v): adds v to this process's level.";
  static void call(const Gauge& g, const Arguments<1>& a) {
    GaugeMethod<&wsm::Gauge::add, false>::call(g, a, "Gauge.add", "v");
  }
};
struct GaugeSub {
  static constexpr const char* name = "sub";
  static constexpr std::array<const char*, 1> args{"v"};
  static constexpr const char* doc = "sub(v): subtracts v from this process's level.";
  static void call(const Gauge& g, const Arguments<1>& a) {
    GaugeMethod<&wsm::Gauge::sub, false>::call(g, a, "Gauge.sub", "v");
  }
};
struct GaugeInc {
  static constexpr const char* name = "inc";
  static constexpr std::array<const char*, 1> args{"n"};
  static constexpr const char* doc = "inc(n=1): adds n to this process's level.";
  static void call(const Gauge& g, const Arguments<1>& a) {
    GaugeMethod<&wsm::Gauge::add, true>::call(g, a, "Gauge.inc", "n");
  }
};
struct GaugeDec {
  static constexpr const char* name = "dec";
  static constexpr std::array<const char*, 1> args{"n"};
  static constexpr const char* doc = "dec(n=1): subtracts n from this process's level.";
  static void call(const Gauge& g, const Arguments<1>& a) {
    GaugeMethod<&wsm::Gauge::sub, true>::call(g, a, "Gauge.dec", "n");
  }
};

struct HistogramRecord {
  static constexpr const char* name = "record";
  static constexpr std::array<const char*, 2> args{"v", "exemplar"};
  static constexpr const char* doc =
      "record(v, exemplar=None): float seconds for *_seconds histograms, integers otherwise; "
      "exemplar={'trace_id': hex32, 'span_id': hex16} keeps it as this thread's latest.";
  static void call(const Histogram& h, const Arguments<2>& a) {
    PyObject* v = required(a[0], "Histogram.record", "v");
    std::uint64_t value = 0;
    if (h.seconds) {
      value = seconds_to_ns(to_double(v, "Histogram.record"));
    } else if (PyLong_Check(v)) {
      value = to_count(v, "Histogram.record");
    } else {
      throw py::type_error("Histogram.record: '" + h.name + "' is not a *_seconds histogram and " +
                           "records integers (bytes, percent, counts), not " + Py_TYPE(v)->tp_name + " " +
                           std::string(py::repr(v)));
    }
    record_with(h.h, value, a[1], "Histogram.record");
  }
};
struct HistogramRecordNs {
  static constexpr const char* name = "record_ns";
  static constexpr std::array<const char*, 2> args{"ns", "exemplar"};
  static constexpr const char* doc =
      "record_ns(ns, exemplar=None): a duration in integer ns (time.perf_counter_ns() differences), "
      "*_seconds only.";
  static void call(const Histogram& h, const Arguments<2>& a) {
    if (!h.seconds) throw py::value_error("Histogram.record_ns: '" + h.name + "' is not a *_seconds histogram");
    record_with(h.h, to_count(required(a[0], "Histogram.record_ns", "ns"), "Histogram.record_ns"), a[1],
                "Histogram.record_ns");
  }
};

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "wsmetrics writer API (C++ <wsm/writer.hpp>) for Python; see wsmetrics.__doc__";
  m.attr("DEFAULT_SEGMENT") = "wsm";
  wsm::python::bind_collector(m);

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

  py::class_<Counter> counter(m, "Counter", "A counter series: inc(n=1) adds a non-negative integer.");
  counter.def_property_readonly("name", [](const Counter& c) { return c.name; })
      .def("__repr__", [](const Counter& c) { return "wsmetrics.Counter('" + c.name + "')"; });
  def_fast<CounterInc>(counter);

  py::class_<Gauge> gauge(m, "Gauge", "A gauge series of this process: set(v), add(v), sub(v), inc(n=1), dec(n=1).");
  gauge.def_property_readonly("name", [](const Gauge& g) { return g.name; })
      .def("__repr__", [](const Gauge& g) { return "wsmetrics.Gauge('" + g.name + "')"; });
  def_fast<GaugeSet>(gauge);
  def_fast<GaugeAdd>(gauge);
  def_fast<GaugeSub>(gauge);
  def_fast<GaugeInc>(gauge);
  def_fast<GaugeDec>(gauge);

  py::class_<Histogram> histogram(m, "Histogram",
                                  "A histogram series: record(v), float seconds for *_seconds, integers otherwise.");
  def_fast<HistogramRecord>(histogram);
  def_fast<HistogramRecordNs>(histogram);
  histogram.def_property_readonly("name", [](const Histogram& h) { return h.name; })
      .def_property_readonly("seconds", [](const Histogram& h) { return h.seconds; },
                             "True for *_seconds histograms (record takes float seconds)")
      .def("__repr__", [](const Histogram& h) { return "wsmetrics.Histogram('" + h.name + "')"; });
}
