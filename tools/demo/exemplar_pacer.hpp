// Which message latencies carry their trace as exemplar, per worker and per latency series
// (message type x processing stage): the first message of every interval (1 s by default).
//
// Why not every message: an exemplar costs finding the traceparent in the parsed message, parsing
// it, a CLOCK_REALTIME read and an exemplar-cell write, more than the rest of a message's metrics
// together, and most of them would never be seen: OpenMetrics shows one exemplar per series (the
// latest) and Prometheus keeps what it finds at each scrape, seconds apart. One a second per
// series keeps the exposed exemplar at most a second older than the latest message. The decision
// uses a clock read the message already has, so a message without exemplar costs a compare.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>

#include "wsm/websocket_catalogue.hpp"

namespace wsm::demo {

class ExemplarPacer {
 public:
  explicit ExemplarPacer(std::chrono::nanoseconds interval = std::chrono::seconds(1))
      : interval_ns_(static_cast<std::uint64_t>(interval.count())) {}

  // Whether the latency of a `type` message at `stage` should carry its exemplar, `now_ns`
  // (wsm::LatencyClock) being about when it is measured. Single-threaded, like the worker.
  [[nodiscard]] bool take(ws::MessageType type, ws::ProcessingStage stage, std::uint64_t now_ns) noexcept {
    std::uint64_t& next = next_ns_[static_cast<std::size_t>(type) * ws::kValueCount<ws::ProcessingStage> +
                                   static_cast<std::size_t>(stage)];
    if (now_ns < next) [[likely]] return false;
    next = now_ns + interval_ns_;
    return true;
  }

 private:
  std::uint64_t interval_ns_;
  // When each series' next exemplar is due (0: at once).
  std::array<std::uint64_t, ws::kValueCount<ws::MessageType> * ws::kValueCount<ws::ProcessingStage>> next_ns_{};
};

}  // namespace wsm::demo
