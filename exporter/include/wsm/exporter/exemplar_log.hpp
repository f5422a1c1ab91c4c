// The exemplars of one histogram family seen over the last minutes, behind GET /api/v1/exemplars
// ("which traces were the slowest lately, per message type").
//
// The segment keeps only the latest exemplar per series and writer thread, and readers show the
// most recent across writers, so a slow trace would be gone from the segment as soon as a faster
// one follows it. The exporter notes what each interval (and each API call) reads, once per
// exemplar, and answers from these notes: the slowest `top` per message type among those
// recorded within the window. Bounded in time (older than kExemplarWindowMax are pruned) and in
// number (kExemplarLogCapacity, the oldest go first). Identifier labels (user_id, ...) are left out,
// as everywhere in the JSON API.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "wsm/shm/aggregation.hpp"

namespace wsm::exporter {

inline constexpr std::chrono::minutes kExemplarWindowMax{15};
inline constexpr std::size_t kExemplarLogCapacity = 4096;

struct LoggedExemplar {
  std::string message_type;  // the series' message_type label ("" when it has none)
  std::vector<std::pair<std::string, std::string>> labels;  // without identifier labels
  shm::ExemplarData data;
};

class ExemplarLog {
 public:
  explicit ExemplarLog(std::string family) : family_(std::move(family)) {}
  [[nodiscard]] const std::string& family() const noexcept { return family_; }

  // Notes the exemplars of the family's points in `a` not noted before; prunes what is older
  // than kExemplarWindowMax before now_unix_ns.
  void note(const shm::Aggregation& a, std::uint64_t now_unix_ns);
  // By message type, the slowest `top` recorded within `window` before now_unix_ns, slowest first.
  [[nodiscard]] std::map<std::string, std::vector<LoggedExemplar>> slowest(std::uint64_t now_unix_ns,
                                                                          std::chrono::seconds window,
                                                                          std::size_t top) const;

 private:
  using Key = std::tuple<std::uint64_t, std::array<std::uint8_t, 16>, std::array<std::uint8_t, 8>>;
  static Key key_of(const shm::ExemplarData& e) { return {e.unix_ns, e.trace_id, e.span_id}; }
  void forget_oldest();

  std::string family_;
  std::deque<LoggedExemplar> log_;  // in the order noted
  std::set<Key> noted_;             // the keys of log_
};

}  // namespace wsm::exporter
