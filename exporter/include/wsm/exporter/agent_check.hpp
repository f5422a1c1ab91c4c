// HAProxy's agent check (issue 18): what `--agent-check-listen` answers, decided from the
// Monitor's latest interval figures. HAProxy connects to the agent port every `agent-inter`, reads
// one line and closes; the words on it set the server's weight and states (HAProxy 2.6
// configuration manual, "agent-check"). The formula is documented in exporter/README.md.
#pragma once

#include <optional>
#include <string>

#include "wsm/websocket_thresholds.hpp"

namespace wsm::exporter {

class Monitor;

// What the decision reads: one interval's figures (IntervalRecord) and whether a segment is there.
struct AgentFigures {
  bool attached = false;
  std::string detached_reason;            // why not attached, for the reply's comment
  double connections = 0;                 // live connections of every worker
  std::optional<double> max_worker_cpu;   // the busiest worker's CPU percent (100 = one core)
  std::optional<double> min_health_score; // the worst connection's score; none without connections
};

struct AgentDecision {
  enum class State { up, drain, down };
  State state = State::up;
  int weight_percent = 100;  // 1-100; HAProxy scales the server's configured weight by it (up only)
  std::string reason;        // drain, down: which figure, for HAProxy's logs and stats page
};

// Full weight below half of each limit, then down linearly to the floor at the limit.
inline constexpr double kAgentSoftFraction = 0.5;
// Never 0%: a weight of zero would stop new connections as drain does, and drain is kept for a
// breached threshold so that the reply says why.
inline constexpr int kAgentWeightFloor = 1;

// The one decision: down without a segment, drain when the CPU or health threshold is breached
// (as the summary's "breached" list compares them), else up with a weight from CPU and
// connections against `capacity`.
[[nodiscard]] AgentDecision decide_agent_state(const AgentFigures& figures, const ws::Thresholds& thresholds,
                                               double capacity);

// The line written to HAProxy, e.g. "up ready 75%\n", "up drain #health score 40 below 70\n".
[[nodiscard]] std::string agent_reply_line(const AgentDecision& decision);

// The latest figures of `monitor` (its status and last interval record).
[[nodiscard]] AgentFigures agent_figures(const Monitor& monitor);

}  // namespace wsm::exporter
