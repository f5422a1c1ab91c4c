// The demo's medical-telemetry protocol: JSON text messages over a WebSocket at /ws.
//
// Connect:  /ws?role=doctor|nurse|patient_monitor|admin&user=ID&patient=ID[&attempt=N]
//           (ids: 1-40 of [A-Za-z0-9_.:-]; attempt > 0 marks a reconnection)
// Client -> server (seq: optional integer, echoed in the reply; traceparent: optional W3C trace
// context "00-<32 hex>-<16 hex>-<2 hex>", recorded as the exemplar of the message's latency, else
// the upgrade request's `traceparent` header is):
//   {"type":"ecg_data","patient":"p7","seq":1,"ts":NS,"samples":[...]}     patient monitors only,
//   {"type":"vitals","patient":"p7","seq":2,"ts":NS,"heart_rate":72,...}  for their own patient
//   {"type":"alert","patient":"p7","seq":3,"ts":NS,"level":"critical","text":"..."}
//   {"type":"subscribe","patient":"p7"|"*","streams":["ecg","vitals","alerts"],"seq":4}
//   {"type":"unsubscribe","patient":"p7"|"*","streams":[...],"seq":5}     doctors, nurses, admins
//   {"type":"announcement","text":"...","seq":6}                          admins only
// Server -> client:
//   {"type":"ack","seq":N,"recipients":R}        every accepted message
//   {"type":"error","seq":N,"reason":"malformed|unknown_type|unauthorized|...","detail":"..."}
//   published messages and announcements, forwarded verbatim to matching subscribers
// ts is the sender's CLOCK_MONOTONIC in ns (one host): receivers compute delivery latency from it.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "wsm/websocket_catalogue.hpp"

namespace wsm::demo {

using ws::FailureReason;
using ws::MessageType;
using ws::Priority;
using ws::Role;
using ws::SubscriptionType;

// Streams of a subscription as a bit set over SubscriptionType.
using StreamSet = std::uint8_t;
inline constexpr StreamSet kAllStreams = 0b111;
[[nodiscard]] constexpr StreamSet stream_bit(SubscriptionType t) noexcept {
  return static_cast<StreamSet>(1u << static_cast<unsigned>(t));
}
// The stream a published message belongs to.
[[nodiscard]] std::optional<SubscriptionType> stream_of(MessageType type) noexcept;
[[nodiscard]] Priority priority_of(MessageType type) noexcept;

// A client message, parsed and checked for shape (not for authorisation).
struct Inbound {
  MessageType type = MessageType::unknown;
  std::optional<FailureReason> failure;  // malformed or unknown_type
  std::string detail;                    // why, for the error reply
  std::optional<std::int64_t> seq;
  std::string patient;                   // publish, subscribe, unsubscribe ("*": every patient)
  StreamSet streams = 0;                 // subscribe, unsubscribe
  // The parsed message, kept for what only monitoring reads, so that it is looked up only when
  // wanted (traceparent_of): a lookup in the object costs a few hundred instructions, and the
  // server wants the traceparent for about one message a second per latency series (the
  // compiled-out server never). The server frees it once it knows.
  nlohmann::json envelope;
};
[[nodiscard]] Inbound parse_inbound(std::string_view text, bool is_text);
// The envelope's W3C "traceparent" string, as sent; empty if none.
[[nodiscard]] std::string_view traceparent_of(const Inbound& in) noexcept;

[[nodiscard]] std::string ack_message(std::optional<std::int64_t> seq, std::size_t recipients);
[[nodiscard]] std::string error_message(std::optional<std::int64_t> seq, std::string_view reason,
                                        std::string_view detail);

// The query of an upgrade request.
struct ConnectRequest {
  std::optional<Role> role;  // nullopt: missing or not a known role
  std::string user, patient;
  unsigned attempt = 0;
  std::string problem;       // non-empty: why the request is refused
};
[[nodiscard]] ConnectRequest parse_connect_target(std::string_view target);
[[nodiscard]] bool valid_id(std::string_view id) noexcept;

}  // namespace wsm::demo
