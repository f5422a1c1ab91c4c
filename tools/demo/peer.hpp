// What the hub and the worker need from a connection, without the Beast types behind it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "wsm/websocket_catalogue.hpp"

namespace wsm::demo {

// A message on its way to one connection. Broadcasts share one text between recipients.
struct Outgoing {
  std::shared_ptr<const std::string> text;
  ws::MessageType type = ws::MessageType::ack;
  ws::Priority priority = ws::Priority::low;
  ws::TargetType target = ws::TargetType::direct;
  std::uint64_t queued_ns = 0;  // wsm::LatencyClock when queued (send-stage latency)
};

// Buffer levels of one connection, percent of their bounds.
struct BufferLevels {
  double send_queue = 0;
  double read_buffer = 0;
};

class Peer {
 public:
  virtual ~Peer() = default;
  [[nodiscard]] virtual ws::Role role() const noexcept = 0;
  // Queues a message; false when it was dropped (full queue, or the connection is closing).
  virtual bool deliver(Outgoing message) = 0;
  // The server is stopping: close with "going away".
  virtual void shutdown() = 0;
  // Close the socket now, without a handshake.
  virtual void terminate() = 0;
  [[nodiscard]] virtual BufferLevels levels() const noexcept = 0;
  // Counts the wire bytes moved since the last report (the worker's tick, and the connection's end).
  virtual void report_bytes() noexcept = 0;
};

}  // namespace wsm::demo
