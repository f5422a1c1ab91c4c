// What wsm-loadgen runs: flags, the target, the role mix.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "wsm/websocket_catalogue.hpp"

namespace wsm::loadgen {

struct Target {
  std::string host;  // as given (a loopback name or address)
  std::string port;
  std::string path;  // "/ws"
};

// ws://HOST:PORT[/PATH] whose host resolves to loopback addresses only; error otherwise. Without a
// path the server's endpoint, /ws, is meant.
[[nodiscard]] std::optional<Target> parse_loopback_url(const std::string& url, std::string& error);

inline constexpr std::size_t kRoles = 4;  // doctor, nurse, patient_monitor, admin

struct Options {
  Target target;
  unsigned clients = 6;
  std::array<unsigned, kRoles> mix{1, 1, 1, 0};  // weights by ws::Role
  std::optional<std::uint64_t> messages;         // publishes in total, or:
  std::optional<std::chrono::milliseconds> duration;  // publish for this long
  double rate = 0;                               // publishes per second in total, 0: no pacing
  unsigned window = 16;                          // unacknowledged publishes per monitor
  bool deflate = true;
  double malformed_ratio = 0;                    // share of publishes replaced by bad messages
  unsigned max_reconnects = 5;                   // per client, after unexpected drops in a row
  // Disruptions, so every event of the catalogue happens (scripts/demo); none by default, where
  // the counts must match the server's exactly.
  std::chrono::milliseconds churn_every{0};      // a subscriber leaves (clean close) and comes back
  unsigned stall_clients = 0;                    // subscribers that stop reading 3 s after connecting,
  std::chrono::milliseconds stall_for{15'000};   // for this long, then read as long, and so on
  std::chrono::milliseconds timeout{60'000};     // the whole run, however it goes
  std::string trace_log;                         // every trace id sent, one a line (trace_ids.hpp)
};

// "patient_monitor=2,doctor=1" -> weights; false with a message on a bad entry.
[[nodiscard]] bool parse_mix(const std::string& text, std::array<unsigned, kRoles>& mix, std::string& error);
// Roles of clients 0..n-1: the mix by largest remainder, monitors first.
[[nodiscard]] std::vector<ws::Role> assign_roles(unsigned clients, const std::array<unsigned, kRoles>& mix);

}  // namespace wsm::loadgen
