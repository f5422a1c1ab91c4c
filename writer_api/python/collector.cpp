// wsmetrics._core.WebSocketCollector: the C++ half of wsmetrics.websocket.WebSocketMetricsCollector.
// Records through wsm::ws::Metrics (the 27-metric catalogue) and reads through an in-process
// wsm::exporter::Monitor on the same segment, so the read methods answer with the exporter's own
// JSON (api_summary, api_percentiles, api_snapshots, api_connection) and /metrics text, summed
// over every process of the segment, with or without a wsm-exporter running.
//
// Label values arrive as str and are parsed against the catalogue's enums here: an unknown value
// is a ValueError naming every allowed one, so Python never decides what a label may be.
//
// The GIL is kept throughout, including Monitor::tick (milliseconds, once per interval): every
// call is then serialised, and a fork() can never happen while the Monitor's mutex is held.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "convert.hpp"
#include "wsm/exporter/api.hpp"
#include "wsm/exporter/connections_api.hpp"
#include "wsm/exporter/health_scores.hpp"
#include "wsm/exporter/monitor.hpp"
#include "wsm/exporter/settings.hpp"
#include "wsm/websocket_metrics.hpp"
#include "wsm/writer.hpp"

namespace wsm::python {

namespace {

namespace ws = wsm::ws;
namespace ex = wsm::exporter;

// The catalogue's name of each enum's label, for error messages.
template <class E> constexpr const char* kWhat = "value";
template <> constexpr const char* kWhat<ws::Role> = "role";
template <> constexpr const char* kWhat<ws::ConnectionStatus> = "connection status";
template <> constexpr const char* kWhat<ws::DisconnectReason> = "disconnect reason";
template <> constexpr const char* kWhat<ws::MessageType> = "message type";
template <> constexpr const char* kWhat<ws::Priority> = "priority";
template <> constexpr const char* kWhat<ws::TargetType> = "target type";
template <> constexpr const char* kWhat<ws::Direction> = "direction";
template <> constexpr const char* kWhat<ws::Compression> = "compression";
template <> constexpr const char* kWhat<ws::ProcessingStage> = "processing stage";
template <> constexpr const char* kWhat<ws::BroadcastType> = "broadcast type";
template <> constexpr const char* kWhat<ws::FailureReason> = "failure reason";
template <> constexpr const char* kWhat<ws::BackpressureType> = "backpressure type";
template <> constexpr const char* kWhat<ws::Severity> = "severity";
template <> constexpr const char* kWhat<ws::BufferType> = "buffer type";
template <> constexpr const char* kWhat<ws::QueueType> = "queue type";
template <> constexpr const char* kWhat<ws::PoolType> = "pool type";
template <> constexpr const char* kWhat<ws::StaleType> = "stale type";
template <> constexpr const char* kWhat<ws::SubscriptionType> = "subscription type";
template <> constexpr const char* kWhat<ws::MatchType> = "match type";
template <> constexpr const char* kWhat<ws::SubscriptionFailure> = "subscription failure";

template <class E>
[[noreturn]] void unknown_value(std::string_view text) {
  std::string allowed;
  for (std::string_view name : ws::LabelValues<E>::names) allowed.append(allowed.empty() ? "" : ", ").append(name);
  throw py::value_error(std::string("unknown ") + kWhat<E> + " '" + std::string(text) + "'; expected one of " +
                        allowed);
}

// The enum value named `text` (the catalogue's label value), or ValueError.
template <class E>
E parse(std::string_view text) {
  if (auto e = ws::parse_label_value<E>(text)) return *e;
  unknown_value<E>(text);
}

std::chrono::nanoseconds duration(double seconds) {
  return std::chrono::nanoseconds(static_cast<std::int64_t>(seconds_to_ns(seconds)));
}

// One open connection. Held through a pointer so a forked child can drop its copy without
// closing it (abandon()): the connection belongs to the parent (websocket_metrics.hpp).
struct OpenConnection {
  std::unique_ptr<ws::Connection> c;
  ws::Connection& get() {
    if (!c || !c->is_open()) throw py::value_error("the connection is closed");
    return *c;
  }
};

// An API answer as (status, JSON text): Python parses it and raises on a status other than 200.
py::tuple answer(const ex::ApiResult& r) { return py::make_tuple(r.status, r.body.dump()); }

class Collector {
 public:
  Collector(const std::string& segment, int interval_seconds, bool resource_monitoring)
      : settings_(settings_of(segment, interval_seconds, resource_monitoring)),
        registry_(value_or_raise(wsm::Registry::open(settings_.segment, {.role = "websocket"}))),
        metrics_(registry_),
        monitor_(settings_, policy_of(settings_)),
        thresholds_(settings_) {
    monitor_.tick();  // attached from the start, so every read works before the first interval
  }

  const std::string& segment() const { return settings_.segment; }
  ws::Metrics& metrics() { return metrics_; }

  // ---- reading, as the exporter's JSON API ----
  void tick() { monitor_.tick(); }
  py::tuple summary() { return answer(ex::api_summary(monitor_, thresholds_.thresholds)); }
  // /api/v1/percentiles of websocket_message_latency_seconds, of one message type and stage
  // when given (validated against the catalogue first, so a typo is not a 404).
  py::tuple latency_percentiles(std::optional<std::string_view> type, std::optional<std::string_view> stage,
                                std::string_view qs) {
    std::string query = "metric=websocket_message_latency_seconds&q=" + std::string(qs);
    if (type) query += "&message_type=" + std::string(ws::label_value(parse<ws::MessageType>(*type)));
    if (stage) query += "&processing_stage=" + std::string(ws::label_value(parse<ws::ProcessingStage>(*stage)));
    return answer(ex::api_percentiles(monitor_, query));
  }
  py::tuple snapshots(std::string_view query) { return answer(ex::api_snapshots(monitor_, query)); }
  // The connection-table record of an open connection of this process, in the form
  // /api/v1/connections/{id} gives it; None when the table had no room for it.
  std::optional<py::tuple> connection(OpenConnection& c) {
    const std::uint64_t id = c.get().id();
    if (id == 0) return std::nullopt;
    const auto info = monitor_.connection(id);
    if (!info) return std::nullopt;
    return answer(ex::api_connection(monitor_, ex::shown_connection_id(*info, monitor_.id_policy())));
  }
  // GET /metrics: the Prometheus text of the whole segment.
  std::string scrape() {
    ex::ScrapeBuffers buffers;
    const auto body = monitor_.scrape(exposition::Format::prometheus_text, false, buffers);
    return std::string(body.bytes);
  }

  // ---- thresholds: validated by the exporter's own table (set_key), judged by api_summary ----
  void set_threshold(const std::string& key, const std::string& value, const std::string& source) {
    if (auto err = ex::set_key(thresholds_, key, value, source)) throw py::value_error(*err);
  }
  py::dict thresholds() const {
    py::dict d;
    for (const ws::ThresholdSpec& t : ws::kThresholdSpecs) d[t.key] = t.get(thresholds_.thresholds);
    return d;
  }

 private:
  static ex::Settings settings_of(const std::string& segment, int interval, bool resources) {
    // The exporter's parser and environment, so thresholds, categories and the identifier policy
    // come from the same variables as the exporter's.
    auto parsed = ex::parse_settings({"wsmetrics", "--segment", segment, "--interval", std::to_string(interval),
                                      "--resource-monitoring", resources ? "on" : "off"},
                                     [](const char* name) -> const char* { return std::getenv(name); });
    if (!parsed.settings) throw py::value_error(parsed.message);
    parsed.settings->log_name = "wsmetrics collector";
    return std::move(*parsed.settings);
  }
  static exposition::IdLabelPolicy policy_of(const ex::Settings& s) {
    auto policy = ex::id_label_policy(s);
    if (!policy) throw std::runtime_error(policy.error());
    return std::move(*policy);
  }

  ex::Settings settings_;
  wsm::Registry registry_;
  ws::Metrics metrics_;
  ex::Monitor monitor_;
  ex::Settings thresholds_;  // a copy whose thresholds alert_thresholds changes
};

}  // namespace

namespace {

template <class... E>
py::dict label_values() {
  py::dict d;
  ((d[kWhat<E>] = [] {
     py::tuple t(ws::LabelValues<E>::names.size());
     for (std::size_t i = 0; i < t.size(); ++i) t[i] = std::string(ws::LabelValues<E>::names[i]);
     return t;
   }()),
   ...);
  return d;
}

}  // namespace

void bind_collector(py::module_& m) {
  // The catalogue's values of each enumerated label, by the name errors use ("message type"), so
  // an app can map its own input onto them without a copy of the catalogue.
  m.attr("LABEL_VALUES") =
      label_values<ws::Role, ws::ConnectionStatus, ws::DisconnectReason, ws::MessageType, ws::Priority,
                   ws::TargetType, ws::Direction, ws::Compression, ws::ProcessingStage, ws::BroadcastType,
                   ws::FailureReason, ws::BackpressureType, ws::Severity, ws::BufferType, ws::QueueType,
                   ws::PoolType, ws::StaleType, ws::SubscriptionType, ws::MatchType, ws::SubscriptionFailure>();
  py::class_<OpenConnection>(m, "WebSocketConnection", "An open connection of WebSocketCollector.open().")
      .def_property_readonly("id", [](const OpenConnection& c) {
        return c.c && c.c->id() != 0 ? shm::format_connection_id(c.c->id()) : std::string();
      }, "<pid>-<sequence> in the connection table; '' without a record")
      .def_property_readonly("is_open", [](const OpenConnection& c) { return c.c && c.c->is_open(); })
      .def("abandon", [](OpenConnection& c) { (void)c.c.release(); },
           "Forget the connection without closing it: for a forked child, whose copy is the parent's.");

  using C = Collector;
  using Conn = OpenConnection;
  using sv = std::string_view;
  py::class_<C>(m, "WebSocketCollector",
                "wsm::ws::Metrics and an in-process wsm::exporter::Monitor on one segment; use "
                "wsmetrics.websocket.WebSocketMetricsCollector")
      .def(py::init<const std::string&, int, bool>(), py::arg("segment"), py::arg("interval_seconds"),
           py::arg("resource_monitoring"))
      .def_property_readonly("segment", &C::segment)
      // ---- connection ----
      .def("open", [](C& c, sv role, sv user, sv patient, sv compression) {
        return Conn{std::make_unique<ws::Connection>(c.metrics().connection_opened(
            parse<ws::Role>(role), user, patient, parse<ws::Compression>(compression)))};
      }, py::keep_alive<0, 1>())  // a Connection points into the collector's Metrics: keep it alive
      .def("connection_failed", [](C& c, sv role, sv status) {
        c.metrics().connection_failed(parse<ws::Role>(role), parse<ws::ConnectionStatus>(status));
      })
      .def("close", [](C& c, Conn& conn, sv reason) {
        c.metrics().connection_closed(conn.get(), parse<ws::DisconnectReason>(reason));
      })
      .def("reconnection", [](C& c, sv role, unsigned attempt) {
        c.metrics().reconnection_attempt(parse<ws::Role>(role), attempt);
      })
      // ---- messages ----
      // One call per message with its latency (None: none), so a message costs one crossing.
      .def("received", [](C& c, Conn& conn, sv type, std::size_t bytes, std::optional<double> seconds) {
        const auto t = parse<ws::MessageType>(type);
        c.metrics().message_received(conn.get(), t, bytes);
        if (seconds) c.metrics().latency(t, ws::ProcessingStage::parse, duration(*seconds));
      })
      .def("sent", [](C& c, Conn& conn, sv type, sv priority, sv target, std::size_t bytes,
                      std::optional<double> seconds) {
        const auto t = parse<ws::MessageType>(type);
        c.metrics().message_sent(conn.get(), t, parse<ws::Priority>(priority), parse<ws::TargetType>(target), bytes);
        if (seconds) c.metrics().latency(t, ws::ProcessingStage::send, duration(*seconds));
      })
      .def("bytes", [](C& c, Conn& conn, sv direction, std::uint64_t n) {
        c.metrics().bytes_transferred(conn.get(), parse<ws::Direction>(direction), n);
      })
      .def("latency", [](C& c, sv type, sv stage, double seconds) {
        c.metrics().latency(parse<ws::MessageType>(type), parse<ws::ProcessingStage>(stage), duration(seconds));
      })
      .def("broadcast", [](C& c, sv target, sv type, std::size_t recipients, double seconds) {
        c.metrics().broadcast(parse<ws::TargetType>(target), parse<ws::BroadcastType>(type), recipients,
                              duration(seconds));
      })
      .def("compression", [](C& c, sv type, std::size_t payload, std::size_t compressed) {
        c.metrics().compression(parse<ws::MessageType>(type), payload, compressed);
      })
      .def("failure", [](C& c, sv type, sv reason, sv role) {
        c.metrics().failure(parse<ws::MessageType>(type), parse<ws::FailureReason>(reason), parse<ws::Role>(role));
      })
      // ---- performance ----
      .def("backpressure", [](C& c, sv type, sv severity, sv role) {
        c.metrics().backpressure(parse<ws::BackpressureType>(type), parse<ws::Severity>(severity),
                                 parse<ws::Role>(role));
      })
      .def("buffer_utilization", [](C& c, sv type, sv role, double percent) {
        c.metrics().buffer_utilization(parse<ws::BufferType>(type), parse<ws::Role>(role), percent);
      })
      .def("queue_changed", [](C& c, sv type, sv role, double delta) {
        c.metrics().queue_changed(parse<ws::QueueType>(type), parse<ws::Role>(role), delta);
      })
      .def("thread_pool_utilization", [](C& c, sv type, double percent) {
        c.metrics().thread_pool_utilization(parse<ws::PoolType>(type), percent);
      })
      // ---- health ----
      .def("heartbeat_sent", [](C& c, Conn& conn) { c.metrics().heartbeat_sent(conn.get()); })
      .def("heartbeat_acked", [](C& c, Conn& conn) { c.metrics().heartbeat_acked(conn.get()); })
      .def("health", [](C& c, Conn& conn, double score) { c.metrics().health(conn.get(), score); })
      .def("stale_connection", [](C& c, sv type, sv role) {
        c.metrics().stale_connection(parse<ws::StaleType>(type), parse<ws::Role>(role));
      })
      // ---- subscriptions ----
      .def("subscription_added", [](C& c, sv type, sv role) {
        c.metrics().subscription_added(parse<ws::SubscriptionType>(type), parse<ws::Role>(role));
      })
      .def("subscription_removed", [](C& c, sv type, sv role) {
        c.metrics().subscription_removed(parse<ws::SubscriptionType>(type), parse<ws::Role>(role));
      })
      .def("subscription_matched", [](C& c, sv type, sv match, sv role) {
        c.metrics().subscription_matched(parse<ws::SubscriptionType>(type), parse<ws::MatchType>(match),
                                         parse<ws::Role>(role));
      })
      .def("subscription_failed", [](C& c, sv failure, sv role) {
        c.metrics().subscription_failed(parse<ws::SubscriptionFailure>(failure), parse<ws::Role>(role));
      })
      // ---- reading ----
      .def("tick", &C::tick, "One exporter interval: reap, snapshot, derive, append to the ring.")
      .def("summary", &C::summary, "(status, JSON of /api/v1/summary)")
      .def("latency_percentiles", &C::latency_percentiles, py::arg("message_type"), py::arg("stage"), py::arg("q"),
           "(status, JSON of /api/v1/percentiles?metric=websocket_message_latency_seconds&...)")
      .def("snapshots", &C::snapshots, py::arg("query"), "(status, JSON of /api/v1/snapshots?query)")
      .def("connection", &C::connection, "(status, JSON of /api/v1/connections/{id}), or None")
      .def("scrape", &C::scrape, "The Prometheus text of /metrics")
      .def("set_threshold", &C::set_threshold, py::arg("key"), py::arg("value"), py::arg("source"))
      .def("thresholds", &C::thresholds);
}

}  // namespace wsm::python
