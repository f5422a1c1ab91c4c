#include "wsm/exporter/agent_check.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "wsm/exporter/monitor.hpp"

namespace wsm::exporter {

namespace {

// 1 up to the soft limit (kAgentSoftFraction of `limit`), falling linearly to 0 at `limit`.
double headroom(double value, double limit) {
  const double soft = kAgentSoftFraction * limit;
  if (value <= soft) return 1;
  return std::max(0.0, (limit - value) / (limit - soft));
}

// The reason as one printable ASCII line: HAProxy reads up to the first line feed.
std::string one_line(std::string text) {
  for (char& c : text) {
    if (c < 0x20 || c > 0x7e) c = ' ';
  }
  return text;
}

std::string number(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.4g", v);
  return text;
}

}  // namespace

AgentDecision decide_agent_state(const AgentFigures& f, const ws::Thresholds& t, double capacity) {
  // Without a segment there is nothing recorded on this host: its server is not running (it
  // creates the segment when it starts) or the segment is damaged. HAProxy's own `check` sees
  // whether the port answers; the agent says it cannot vouch for the host.
  if (!f.attached) return {AgentDecision::State::down, 0, "no segment: " + f.detached_reason};
  if (f.max_worker_cpu && t.cpu_breached(*f.max_worker_cpu)) {
    return {AgentDecision::State::drain, 0,
            "worker cpu " + number(*f.max_worker_cpu) + " above " + number(t.cpu_percent)};
  }
  if (f.min_health_score && t.health_breached(*f.min_health_score)) {
    return {AgentDecision::State::drain, 0,
            "health score " + number(*f.min_health_score) + " below " + number(t.health_score)};
  }
  // The tighter of the two decides: a host short of CPU or of connection room takes fewer new
  // connections. No CPU figure yet (the first interval, or resource monitoring off): no limit.
  const double share = std::min(f.max_worker_cpu ? headroom(*f.max_worker_cpu, t.cpu_percent) : 1.0,
                                headroom(f.connections, capacity));
  const int weight = std::clamp(static_cast<int>(std::lround(100 * share)), kAgentWeightFloor, 100);
  return {AgentDecision::State::up, weight, {}};
}

std::string agent_reply_line(const AgentDecision& d) {
  // Words HAProxy reads (any order): "up"/"down" set the operational state, "ready"/"drain" the
  // administrative one, "NN%" the weight; the text after '#' is the reason it logs and shows.
  // "ready" is needed on every healthy answer: drain is an administrative state that stays until
  // the agent says ready, so "up" alone would keep a recovered host drained.
  switch (d.state) {
    case AgentDecision::State::up:
      return "up ready " + std::to_string(d.weight_percent) + "%\n";
    case AgentDecision::State::drain:
      return "up drain #" + one_line(d.reason) + "\n";
    case AgentDecision::State::down:
      return "down #" + one_line(d.reason) + "\n";
  }
  return "down\n";
}

AgentFigures agent_figures(const Monitor& monitor) {
  const MonitorStatus status = monitor.status();
  AgentFigures f;
  f.attached = status.attached;
  f.detached_reason = status.reason;
  if (const auto last = monitor.history(1); !last.empty()) {
    f.connections = last.back().active_connections;
    f.max_worker_cpu = last.back().max_worker_cpu_percent;
    f.min_health_score = last.back().min_health_score;
  }
  return f;
}

}  // namespace wsm::exporter
