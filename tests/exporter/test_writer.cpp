// A writer process for the exporter tests: records exactly what its arguments say, then (with
// --hold) stays alive until killed, so its gauges stay live and its pid can be SIGKILLed.
//
//   exporter_test_writer --segment NAME [--role ROLE] [--ready FILE] [--hold [--repeat-ms MS]] OP...
//   OP: counter NAME LABELS N            adds N
//       gauge NAME LABELS VALUE [MODE]   sets VALUE (MODE: sum|max|min|last|per_writer)
//       hist NAME LABELS VALUE COUNT     records VALUE (integer units: ns, bytes) COUNT times
//       connection ROLE USER PATIENT HEALTH IN OUT
//                                        opens a connection through wsm::ws::Metrics (a
//                                        connection-table record; - for no user or patient),
//                                        receives IN and sends OUT vitals messages of 100 bytes
//                                        on it and sets its health score; it stays open until exit
//   LABELS: k=v,k=v or - for none.
// --ready FILE is created once everything is recorded. --repeat-ms MS records the OPs again every
// MS milliseconds while holding, so rates stay above zero (gauges are set to the same value;
// connections are opened once).
#include <wsm/websocket_metrics.hpp>
#include <wsm/writer.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

struct LabelStore {
  std::vector<std::pair<std::string, std::string>> pairs;
};

LabelStore parse_labels(const std::string& text) {
  LabelStore s;
  if (text == "-") return s;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = text.find(',', start);
    const std::string item = text.substr(start, comma - start);
    const std::size_t eq = item.find('=');
    if (eq != std::string::npos) s.pairs.emplace_back(item.substr(0, eq), item.substr(eq + 1));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return s;
}

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr, "exporter_test_writer: %s\n", why);
  std::exit(2);
}

// wsm::Labels is an initializer_list; build one of up to 4 labels from a runtime list.
template <class F>
auto with_labels(const LabelStore& s, F f) {
  const auto& p = s.pairs;
  const auto l = [&](std::size_t i) { return wsm::Label{p[i].first, p[i].second}; };
  switch (p.size()) {
    case 0: return f({});
    case 1: return f({l(0)});
    case 2: return f({l(0), l(1)});
    case 3: return f({l(0), l(1), l(2)});
    case 4: return f({l(0), l(1), l(2), l(3)});
    default: usage("at most 4 labels");
  }
}

bool is_mode(const std::string& m) {
  return m == "sum" || m == "max" || m == "min" || m == "last" || m == "per_writer";
}

wsm::GaugeMode mode_of(const std::string& m) {
  if (m == "max") return wsm::GaugeMode::max;
  if (m == "min") return wsm::GaugeMode::min;
  if (m == "last") return wsm::GaugeMode::last;
  if (m == "per_writer") return wsm::GaugeMode::per_writer;
  return wsm::GaugeMode::sum;
}

}  // namespace

// The connection op: opens one connection and records its traffic and health score; ARG(k) is
// the op's k-th argument.
template <class Arg>
wsm::ws::Connection open_connection(wsm::Registry& reg, std::optional<wsm::ws::Metrics>& metrics, const Arg& arg) {
  namespace ws = wsm::ws;
  const auto role = ws::parse_label_value<ws::Role>(arg(1));
  if (!role) usage(("unknown role " + arg(1)).c_str());
  const auto id = [](const std::string& s) { return s == "-" ? std::string_view{} : std::string_view(s); };
  // Only what the ops name: no catalogue series registered ahead (the tests count series).
  if (!metrics) metrics.emplace(reg, ws::MetricsOptions{.preregister = false});
  ws::Connection c = metrics->connection_opened(*role, id(arg(2)), id(arg(3)), ws::Compression::none);
  if (c.id() == 0) usage("the connection table had no room");
  for (auto n = std::stoull(arg(5)); n > 0; --n) metrics->message_received(c, ws::MessageType::vitals, 100);
  for (auto n = std::stoull(arg(6)); n > 0; --n) {
    metrics->message_sent(c, ws::MessageType::vitals, ws::Priority::normal, ws::TargetType::direct, 100);
  }
  metrics->health(c, std::stod(arg(4)));
  return c;
}

int main(int argc, char** argv) {
  std::string segment, role, ready;
  bool hold = false;
  int repeat_ms = 0;
  std::vector<std::string> ops;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--segment" && i + 1 < argc) segment = argv[++i];
    else if (a == "--role" && i + 1 < argc) role = argv[++i];
    else if (a == "--ready" && i + 1 < argc) ready = argv[++i];
    else if (a == "--hold") hold = true;
    else if (a == "--repeat-ms" && i + 1 < argc) repeat_ms = std::atoi(argv[++i]);
    else ops.push_back(a);
  }
  if (segment.empty()) usage("--segment is required");
  auto reg = wsm::Registry::open(segment, {.role = role, .enabled = true});
  if (!reg) usage(reg.error().message().c_str());
  std::optional<wsm::ws::Metrics> metrics;  // created by the first connection op
  std::vector<wsm::ws::Connection> open;
  const auto record = [&](bool first) {
    for (std::size_t i = 0; i < ops.size();) {
      const std::string& op = ops[i];
      const auto arg = [&](std::size_t k) -> const std::string& {
        if (i + k >= ops.size()) usage(("missing argument of " + op).c_str());
        return ops[i + k];
      };
      if (op == "connection") {
        if (first) open.push_back(open_connection(*reg, metrics, arg));
        i += 7;
        continue;
      }
      const LabelStore labels = parse_labels(arg(2));
      if (op == "counter") {
        auto c = with_labels(labels, [&](wsm::Labels l) { return reg->try_counter(arg(1), l, "test counter"); });
        if (!c) usage(c.error().message().c_str());
        c->inc(std::stoull(arg(3)));
        i += 4;
      } else if (op == "gauge") {
        const bool has_mode = i + 4 < ops.size() && is_mode(ops[i + 4]);
        const wsm::GaugeMode mode = has_mode ? mode_of(ops[i + 4]) : wsm::GaugeMode::sum;
        auto g = with_labels(labels, [&](wsm::Labels l) { return reg->try_gauge(arg(1), l, "test gauge", mode); });
        if (!g) usage(g.error().message().c_str());
        g->set(std::stod(arg(3)));
        i += has_mode ? 5 : 4;
      } else if (op == "hist") {
        auto h = with_labels(labels, [&](wsm::Labels l) { return reg->try_histogram(arg(1), l, "test histogram"); });
        if (!h) usage(h.error().message().c_str());
        const std::uint64_t v = std::stoull(arg(3));
        for (std::uint64_t n = std::stoull(arg(4)); n > 0; --n) h->record(v);
        i += 5;
      } else {
        usage(("unknown op " + op).c_str());
      }
    }
  };
  record(true);
  if (!ready.empty()) std::ofstream(ready) << "ready\n";
  while (hold && repeat_ms > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(repeat_ms));
    record(false);
  }
  while (hold) ::pause();
  return 0;
}
