// What a load run did, as the client saw it: the JSON wsm-loadgen prints at the end.
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace wsm::loadgen {

// Latency samples (ms), kept bounded by reservoir sampling so long runs stay small.
class Samples {
 public:
  void add(double ms);
  [[nodiscard]] nlohmann::json percentiles() const;  // count, p50, p95, p99, max (nearest rank)

 private:
  static constexpr std::size_t kKeep = 200'000;
  std::vector<double> kept_;
  std::uint64_t seen_ = 0;
  double max_ = 0;
  std::mt19937_64 rng_{42};
};

struct Summary {
  std::uint64_t clients = 0;
  std::uint64_t connected = 0;         // successful WebSocket handshakes, reconnections included
  std::uint64_t disconnected = 0;      // connections that ended, cleanly or not
  std::uint64_t connect_failures = 0;  // TCP or handshake failures
  std::uint64_t dropped = 0;           // connections that ended without our close
  std::uint64_t reconnects = 0;        // handshakes that declared a reconnection attempt
  std::uint64_t churned = 0;           // --churn-every: clean closes followed by a reconnection
  std::uint64_t stalled = 0;           // --stall-clients: stalls begun
  std::uint64_t stall_closes = 0;      // connections the server closed during a stall (not errors)
  std::uint64_t deflate_negotiated = 0;
  std::uint64_t sent = 0;              // messages written, every type
  std::uint64_t received = 0;          // messages read, every type
  std::uint64_t published = 0;         // data messages of monitors (malformed ones included)
  std::uint64_t malformed_sent = 0;
  std::uint64_t acked = 0;             // "ack" replies
  std::uint64_t errors_received = 0;   // "error" replies
  std::uint64_t unanswered = 0;        // requests whose connection dropped before the reply
  std::uint64_t write_errors = 0;
  std::map<std::string, std::uint64_t> sent_by_type, received_by_type;
  Samples ack_latency;       // publish -> its reply
  Samples delivery_latency;  // publisher's ts -> a subscriber reads it
  double duration_s = 0;
  bool timed_out = false;
  bool interrupted = false;

  [[nodiscard]] std::uint64_t errors() const noexcept {
    return connect_failures + dropped + write_errors;
  }
  [[nodiscard]] nlohmann::json to_json() const;
};

}  // namespace wsm::loadgen
