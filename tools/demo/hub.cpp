#include "hub.hpp"

#include <bit>

namespace wsm::demo {

using ws::Role;
using ws::SubscriptionFailure;
using ws::SubscriptionType;

namespace {

constexpr std::string_view kEveryPatient = "*";

}  // namespace

void Hub::count(Role role, StreamSet streams, bool added) {
  for (std::size_t t = 0; t < ws::kValueCount<SubscriptionType>; ++t) {
    if ((streams & stream_bit(static_cast<SubscriptionType>(t))) == 0) continue;
    if (added) {
      metrics_.subscription_added(static_cast<SubscriptionType>(t), role);
    } else {
      metrics_.subscription_removed(static_cast<SubscriptionType>(t), role);
    }
  }
}

std::optional<SubscriptionFailure> Hub::refuse(SubscriptionFailure failure, Role role) {
  metrics_.subscription_failed(failure, role);
  return failure;
}

StreamSet Hub::held(Peer& peer, const std::string& patient) const {
  const auto subs = subscribers_.find(patient);
  if (subs == subscribers_.end()) return 0;
  const auto mine = subs->second.find(&peer);
  return mine == subs->second.end() ? 0 : mine->second;
}

std::optional<SubscriptionFailure> Hub::subscribe(Peer& peer, const std::string& patient,
                                                  StreamSet streams) {
  const Role role = peer.role();
  if (streams == 0) return refuse(SubscriptionFailure::invalid_request, role);
  if (role == Role::patient_monitor || (patient == kEveryPatient && role == Role::nurse)) {
    return refuse(SubscriptionFailure::not_authorized, role);
  }
  const StreamSet existing = held(peer, patient);
  const auto added = static_cast<StreamSet>(streams & ~existing);
  std::size_t& total = held_[&peer];
  if (total + static_cast<std::size_t>(std::popcount(added)) > max_subscriptions_) {
    return refuse(SubscriptionFailure::limit_exceeded, role);
  }
  if (added == 0) return std::nullopt;  // already subscribed: nothing changes
  subscribers_[patient][&peer] = static_cast<StreamSet>(existing | added);
  total += static_cast<std::size_t>(std::popcount(added));
  patients_of_[&peer].insert(patient);
  count(role, added, true);
  return std::nullopt;
}

std::optional<SubscriptionFailure> Hub::unsubscribe(Peer& peer, const std::string& patient,
                                                    StreamSet streams) {
  const Role role = peer.role();
  if (streams == 0) return refuse(SubscriptionFailure::invalid_request, role);
  const StreamSet existing = held(peer, patient);
  const auto removed = static_cast<StreamSet>(existing & streams);
  if (removed == 0) return refuse(SubscriptionFailure::not_subscribed, role);
  held_[&peer] -= static_cast<std::size_t>(std::popcount(removed));
  auto subs = subscribers_.find(patient);
  if (const auto left = static_cast<StreamSet>(existing & ~removed); left != 0) {
    subs->second[&peer] = left;
  } else {
    subs->second.erase(&peer);
    patients_of_[&peer].erase(patient);
    if (subs->second.empty()) subscribers_.erase(subs);
  }
  count(role, removed, false);
  return std::nullopt;
}

void Hub::remove(Peer& peer) {
  peers_.erase(&peer);
  if (auto it = patients_of_.find(&peer); it != patients_of_.end()) {
    for (const std::string& patient : it->second) {
      auto subs = subscribers_.find(patient);
      if (subs == subscribers_.end()) continue;
      if (auto mine = subs->second.find(&peer); mine != subs->second.end()) {
        count(peer.role(), mine->second, false);
        subs->second.erase(mine);
      }
      if (subs->second.empty()) subscribers_.erase(subs);
    }
    patients_of_.erase(it);
  }
  held_.erase(&peer);
}

std::size_t Hub::publish(const Peer& from, const std::string& patient, ws::MessageType type,
                         const std::shared_ptr<const std::string>& text, std::uint64_t now_ns) {
  const auto stream = stream_of(type);
  if (!stream) return 0;
  const StreamSet bit = stream_bit(*stream);
  const Outgoing message{text, type, priority_of(type), ws::TargetType::subscribers, now_ns};
  std::size_t queued = 0;
  const auto exact = subscribers_.find(patient);
  const auto deliver = [&](Peer* peer, ws::MatchType match) {
    local_.subscription_matched(*stream, match, peer->role());
    if (peer->deliver(message)) ++queued;
  };
  if (exact != subscribers_.end()) {
    for (auto& [peer, streams] : exact->second) {
      if ((streams & bit) != 0 && peer != &from) deliver(peer, ws::MatchType::exact);
    }
  }
  if (auto wild = subscribers_.find(std::string(kEveryPatient)); wild != subscribers_.end()) {
    for (auto& [peer, streams] : wild->second) {
      if ((streams & bit) == 0 || peer == &from) continue;
      // Subscribed to the patient as well: it got the message once, as an exact match.
      if (exact != subscribers_.end()) {
        auto e = exact->second.find(peer);
        if (e != exact->second.end() && (e->second & bit) != 0) continue;
      }
      deliver(peer, ws::MatchType::wildcard);
    }
  }
  return queued;
}

std::size_t Hub::announce(const Peer& from, const std::shared_ptr<const std::string>& text,
                          std::uint64_t now_ns) {
  const Outgoing message{text, ws::MessageType::announcement, priority_of(ws::MessageType::announcement),
                         ws::TargetType::all, now_ns};
  std::size_t queued = 0;
  for (Peer* peer : peers_) {
    if (peer != &from && peer->deliver(message)) ++queued;
  }
  return queued;
}

}  // namespace wsm::demo
