// One worker's connections and their subscriptions: who gets a published message.
//
// Workers are separate processes with no channel between them, so a broadcast reaches the
// subscribers connected to the same worker as the publisher. A deployment that needs every
// subscriber would put a message bus between workers; the demo only needs real events to measure.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "peer.hpp"
#include "protocol.hpp"
#include "wsm/websocket_metrics.hpp"

namespace wsm::demo {

class Hub {
 public:
  // `local`: metrics' per-message calls bound to the worker's thread, the hub's only thread.
  Hub(ws::Metrics& metrics, ws::LocalMetrics& local, std::size_t max_subscriptions) noexcept
      : metrics_(metrics), local_(local), max_subscriptions_(max_subscriptions) {}

  void add(Peer& peer) { peers_.insert(&peer); }
  // Forgets the peer and its subscriptions (the active-subscription gauges go down).
  void remove(Peer& peer);
  [[nodiscard]] const std::unordered_set<Peer*>& peers() const noexcept { return peers_; }

  // nullopt when done; otherwise the refusal, already counted.
  std::optional<ws::SubscriptionFailure> subscribe(Peer& peer, const std::string& patient, StreamSet streams);
  std::optional<ws::SubscriptionFailure> unsubscribe(Peer& peer, const std::string& patient, StreamSet streams);

  // Queues `text` for every subscriber of the patient's stream of `type`, and of "*", except the
  // sender. Returns how many queued it.
  std::size_t publish(const Peer& from, const std::string& patient, ws::MessageType type,
                      const std::shared_ptr<const std::string>& text, std::uint64_t now_ns);
  // Queues `text` for every other connection of this worker.
  std::size_t announce(const Peer& from, const std::shared_ptr<const std::string>& text,
                       std::uint64_t now_ns);

 private:
  std::optional<ws::SubscriptionFailure> refuse(ws::SubscriptionFailure failure, ws::Role role);
  [[nodiscard]] StreamSet held(Peer& peer, const std::string& patient) const;
  void count(ws::Role role, StreamSet streams, bool added);

  ws::Metrics& metrics_;
  ws::LocalMetrics& local_;
  std::size_t max_subscriptions_;  // (patient, stream) pairs per connection
  std::unordered_set<Peer*> peers_;
  // patient (or "*") -> subscriber -> streams
  std::unordered_map<std::string, std::unordered_map<Peer*, StreamSet>> subscribers_;
  std::unordered_map<Peer*, std::unordered_set<std::string>> patients_of_;
  std::unordered_map<Peer*, std::size_t> held_;  // subscriptions per peer
};

}  // namespace wsm::demo
