#include "wsm/exporter/api.hpp"

#include <cctype>
#include <charconv>
#include <civetweb.h>
#include <cmath>
#include <cstdio>

#include "wsm/exporter/quantile.hpp"
#include "wsm/shm/labels.hpp"

namespace wsm::exporter {

namespace {

using nlohmann::json;

json optional_number(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }

// JSON has no infinity: an unbounded edge is null.
json finite_or_null(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

std::string hex(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::optional<double> parse_number(std::string_view s) {
  double v = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

json quantile_json(const Quantile& q) {
  return {{"q", q.q}, {"value", finite_or_null(q.value)}, {"lower", q.lower}, {"upper", finite_or_null(q.upper)}};
}

ApiResult api_error(int status, std::string message) { return {status, {{"error", std::move(message)}}}; }

std::expected<std::size_t, ApiResult> count_parameter(std::string_view name, const std::string& value,
                                                      std::size_t max) {
  unsigned long v = 0;
  const auto r = std::from_chars(value.data(), value.data() + value.size(), v);
  if (r.ec != std::errc() || r.ptr != value.data() + value.size() || v < 1 || v > max) {
    return std::unexpected(api_error(400, std::string(name) + ": '" + value +
                                              "' is not allowed; expected an integer 1-" + std::to_string(max)));
  }
  return v;
}

std::optional<std::vector<std::pair<std::string, std::string>>> parse_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  auto decode = [](std::string_view s) -> std::optional<std::string> {
    // civetweb copies a bad escape through; a client that sent one meant something else.
    for (std::size_t i = s.find('%'); i != std::string_view::npos; i = s.find('%', i + 1)) {
      if (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
          !std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
        return std::nullopt;
      }
    }
    std::string dst(s.size() + 1, '\0');
    const int n = mg_url_decode(s.data(), static_cast<int>(s.size()), dst.data(),
                                static_cast<int>(dst.size()), 1);
    if (n < 0) return std::nullopt;
    dst.resize(static_cast<std::size_t>(n));
    return dst;
  };
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (item.empty()) continue;
    const std::size_t eq = item.find('=');
    auto name = decode(item.substr(0, eq));
    auto value = decode(eq == std::string_view::npos ? std::string_view{} : item.substr(eq + 1));
    if (!name || !value) return std::nullopt;
    out.emplace_back(std::move(*name), std::move(*value));
  }
  return out;
}

ApiResult api_summary(Monitor& monitor) { return api_summary(monitor, monitor.settings().thresholds); }

ApiResult api_summary(Monitor& monitor, const ws::Thresholds& t) {
  const MonitorStatus status = monitor.status();
  const Settings& settings = monitor.settings();
  if (!status.attached) return api_error(503, status.reason);
  const IntervalFigures f = monitor.figures();
  const std::vector<ProcessFigures> processes = monitor.processes();

  json by_role = json::object();
  for (const auto& [role, n] : f.connections_by_role) by_role[role] = n;
  json heartbeat = json::object();
  for (const auto& [role, percent] : f.heartbeat_success_by_role) heartbeat[role] = percent;
  json procs = json::array();
  std::optional<double> worker_cpu, exporter_cpu, max_worker_cpu;
  std::uint64_t rss = 0, virt = 0, max_worker_rss = 0;
  for (const ProcessFigures& p : processes) {
    procs.push_back({{"pid", p.pid}, {"role", p.role}, {"process_type", p.exporter ? "exporter" : "worker"},
                     {"source", p.source},
                     {"cpu_percent", optional_number(p.cpu_percent)}, {"rss_bytes", p.rss_bytes},
                     {"virtual_bytes", p.virtual_bytes}, {"threads", p.threads},
                     {"open_fds", p.fds ? json(p.fds->total()) : json(nullptr)}});
    if (p.exporter) {
      exporter_cpu = p.cpu_percent;
      continue;
    }
    rss += p.rss_bytes;
    virt += p.virtual_bytes;
    max_worker_rss = std::max(max_worker_rss, p.rss_bytes);
    if (p.cpu_percent) {
      worker_cpu = worker_cpu.value_or(0) + *p.cpu_percent;
      max_worker_cpu = std::max(max_worker_cpu.value_or(0), *p.cpu_percent);
    }
  }

  json breached = json::array();
  // `breaches` is the threshold's own comparison (websocket_thresholds.hpp).
  const auto check = [&](const char* name, const std::optional<double>& value, double limit,
                         bool (ws::Thresholds::*breaches)(double) const) {
    if (value && (t.*breaches)(*value)) breached.push_back({{"threshold", name}, {"value", *value}, {"limit", limit}});
  };
  check("latency_seconds", f.latency_p95 ? std::optional<double>(f.latency_p95->value) : std::nullopt,
        t.latency_seconds, &ws::Thresholds::latency_breached);
  check("cpu_percent", max_worker_cpu, t.cpu_percent, &ws::Thresholds::cpu_breached);
  check("memory_bytes", processes.empty() ? std::nullopt : std::optional<double>(static_cast<double>(max_worker_rss)),
        static_cast<double>(t.memory_bytes), &ws::Thresholds::memory_breached);
  check("failure_ratio", f.failure_ratio, t.failure_ratio, &ws::Thresholds::failure_breached);
  check("health_score", f.min_health_score, t.health_score, &ws::Thresholds::health_breached);

  return {200,
          {{"segment", settings.segment},
           {"generation", hex(status.generation)},
           {"time", static_cast<double>(f.unix_ns) / 1e9},
           {"interval_seconds", settings.interval_seconds},
           {"connections", {{"total", f.connections_total}, {"by_role", by_role}}},
           {"messages", {{"sent", f.sent}, {"received", f.received}, {"failed", f.failed}}},
           {"disconnections", f.disconnections},
           {"rates",
            {{"messages_per_second",
              {{"in", optional_number(f.messages_in_per_second)}, {"out", optional_number(f.messages_out_per_second)}}},
             {"bytes_per_second",
              {{"in", optional_number(f.bytes_in_per_second)}, {"out", optional_number(f.bytes_out_per_second)}}},
             {"failed_per_second", optional_number(f.failed_per_second)},
             {"failure_ratio", optional_number(f.failure_ratio)},
             {"disconnections_per_second", optional_number(f.disconnections_per_second)}}},
           {"latency", {{"p95", f.latency_p95 ? quantile_json(*f.latency_p95) : json(nullptr)}, {"window", "interval"}}},
           {"resources",
            {{"monitoring", settings.resource_monitoring},
             {"cpu_percent", {{"workers", optional_number(worker_cpu)}, {"exporter", optional_number(exporter_cpu)}}},
             {"memory_bytes", {{"rss", rss}, {"virtual", virt}}},
             {"processes", procs}}},
           {"health", {{"min_score", optional_number(f.min_health_score)}, {"heartbeat_success_percent", heartbeat}}},
           {"thresholds",
            {{"latency_seconds", t.latency_seconds}, {"cpu_percent", t.cpu_percent},
             {"memory_bytes", t.memory_bytes}, {"failure_ratio", t.failure_ratio},
             {"health_score", t.health_score}}},
           {"breached", breached}}};
}

ApiResult api_percentiles(Monitor& monitor, std::string_view query) {
  const auto params = parse_query(query);
  if (!params) return api_error(400, "malformed query string: a %-escape is incomplete");
  std::string metric;
  std::vector<double> qs;
  std::vector<std::pair<std::string, std::string>> filters;
  bool have_metric = false, have_q = false;
  for (const auto& [name, value] : *params) {
    if (name == "metric" || name == "q") {
      bool& seen = name == "metric" ? have_metric : have_q;
      if (seen) return api_error(400, "parameter '" + name + "' is given twice");
      seen = true;
    }
    if (name == "metric") {
      metric = value;
    } else if (name == "q") {
      for (std::string_view rest = value; ;) {
        const std::size_t comma = rest.find(',');
        const std::string_view item = rest.substr(0, comma);
        const auto q = parse_number(item);
        if (!q || !(*q > 0 && *q <= 1)) {
          return api_error(400, "q: '" + std::string(item) + "' is not a quantile; expected numbers in (0, 1] "
                                "separated by commas, e.g. q=0.5,0.95,0.99");
        }
        qs.push_back(*q);
        if (comma == std::string_view::npos) break;
        rest = rest.substr(comma + 1);
      }
    } else {
      if (auto ok = shm::validate_label_name(name); !ok) return api_error(400, ok.error().message());
      filters.emplace_back(name, value);
    }
  }
  if (!have_metric || metric.empty()) {
    return api_error(400, "parameter 'metric' is required, e.g. "
                          "/api/v1/percentiles?metric=websocket_message_latency_seconds&q=0.95");
  }
  if (qs.empty()) qs = {0.5, 0.95, 0.99};

  ApiResult result = api_error(404, "unknown metric '" + metric + "'");
  const bool ran = monitor.with_fresh_aggregation([&](const shm::Aggregation& a) {
    std::vector<std::uint64_t> sum;
    const shm::FamilyInfo* family = nullptr;
    std::uint64_t matched = 0, value_sum = 0;
    std::vector<std::pair<std::string, std::string>> labels;
    for (const shm::Point& p : a.points) {
      if (p.family->name != metric) continue;
      family = p.family;
      if (family->type != shm::MetricType::histogram) break;
      if (!shm::parse_canonical_labels(p.series->labels, labels)) continue;
      bool match = true;
      for (const auto& [k, v] : filters) {
        bool found = false;
        for (const auto& [lk, lv] : labels) found |= lk == k && lv == v;
        match &= found;
      }
      if (!match) continue;
      ++matched;
      const auto b = a.buckets_of(p);
      sum.resize(b.size(), 0);
      for (std::size_t k = 0; k < b.size(); ++k) sum[k] += b[k];
      value_sum += p.sum;
    }
    if (family == nullptr) return;
    if (family->type != shm::MetricType::histogram) {
      result = api_error(400, "metric '" + metric + "' is a " +
                                  (family->type == shm::MetricType::counter ? "counter" : "gauge") +
                                  "; percentiles need a histogram");
      return;
    }
    json filter_json = json::object();
    for (const auto& [k, v] : filters) filter_json[k] = v;
    if (matched == 0) {
      result = api_error(404, "no series of '" + metric + "' has the labels " +
                                  filter_json.dump(-1, ' ', false, json::error_handler_t::replace));
      return;
    }
    std::uint64_t count = 0;
    for (std::uint64_t c : sum) count += c;
    json quantiles = json::array();
    for (double q : qs) {
      const auto r = hdr_quantile(sum, family->max_octave, family->unit, q);
      quantiles.push_back(r ? quantile_json(*r) : json{{"q", q}, {"value", nullptr}});
    }
    result = {200,
              {{"metric", metric},
               {"labels", filter_json},
               {"series", matched},
               {"count", count},
               {"sum", shm::to_base_unit(family->unit, value_sum)},
               {"quantiles", quantiles},
               {"relative_error_bound", 0.125},
               {"note", "the true quantile lies in (lower, upper]; value is interpolated by rank inside "
                        "that bucket, as histogram_quantile does; buckets above 16 units are at most "
                        "12.5% wide"}}};
  });
  if (!ran) return api_error(503, monitor.status().reason);
  return result;
}

ApiResult api_snapshots(Monitor& monitor, std::string_view query) {
  const auto params = parse_query(query);
  if (!params) return api_error(400, "malformed query string: a %-escape is incomplete");
  std::size_t n = 10;
  for (const auto& [name, value] : *params) {
    if (name != "n") return api_error(400, "unknown parameter '" + name + "'; expected n");
    const auto v = count_parameter(name, value, kHistoryCapacity);
    if (!v) return v.error();
    n = *v;
  }
  json list = json::array();
  for (const IntervalRecord& r : monitor.history(n)) {
    list.push_back({{"time", static_cast<double>(r.unix_ns) / 1e9},
                    {"cpu_percent", optional_number(r.cpu_percent)},
                    {"memory_bytes", r.memory_rss_bytes},
                    {"max_worker_cpu_percent", optional_number(r.max_worker_cpu_percent)},
                    {"max_worker_memory_bytes", r.max_worker_rss_bytes ? json(*r.max_worker_rss_bytes) : json(nullptr)},
                    {"messages_per_second", optional_number(r.messages_per_second)},
                    {"messages_in_per_second", optional_number(r.messages_in_per_second)},
                    {"messages_out_per_second", optional_number(r.messages_out_per_second)},
                    {"bytes_per_second", optional_number(r.bytes_per_second)},
                    {"failed_per_second", optional_number(r.failed_per_second)},
                    {"failure_ratio", optional_number(r.failure_ratio)},
                    {"disconnections_per_second", optional_number(r.disconnections_per_second)},
                    {"active_connections", r.active_connections},
                    {"p95_latency_seconds", r.latency_p95 ? finite_or_null(r.latency_p95->value) : json(nullptr)},
                    {"min_health_score", optional_number(r.min_health_score)}});
  }
  return {200,
          {{"interval_seconds", monitor.settings().interval_seconds},
           {"capacity", kHistoryCapacity},
           {"snapshots", list}}};
}

ApiResult api_healthz(Monitor& monitor) {
  const MonitorStatus s = monitor.status();
  if (!s.attached) {
    return {503, {{"status", "unavailable"}, {"segment", monitor.settings().segment}, {"error", s.reason}}};
  }
  return {200,
          {{"status", "ok"},
           {"segment", monitor.settings().segment},
           {"generation", hex(s.generation)},
           {"reaping", s.reaping},
           {"intervals", s.ticks}}};
}

}  // namespace wsm::exporter
