#include "wsm/exporter/exemplar_log.hpp"

#include <algorithm>

#include "wsm/exposition/id_labels.hpp"
#include "wsm/shm/labels.hpp"

namespace wsm::exporter {

void ExemplarLog::note(const shm::Aggregation& a, std::uint64_t now_unix_ns) {
  const std::uint64_t window_ns = std::chrono::nanoseconds(kExemplarWindowMax).count();
  const std::uint64_t oldest = now_unix_ns > window_ns ? now_unix_ns - window_ns : 0;
  while (!log_.empty() && log_.front().data.unix_ns < oldest) forget_oldest();
  std::vector<std::pair<std::string, std::string>> labels;
  for (const shm::Point& p : a.points) {
    if (p.exemplar == shm::Point::kNoExemplar || p.family->name != family_) continue;
    const shm::ExemplarData& e = a.exemplars[p.exemplar];
    if (e.unix_ns < oldest || !noted_.insert(key_of(e)).second) continue;
    if (!shm::parse_canonical_labels(p.series->labels, labels)) labels.clear();
    LoggedExemplar logged{{}, {}, e};
    for (auto& [name, value] : labels) {
      if (std::ranges::find(exposition::kIdentifierLabels, name) != exposition::kIdentifierLabels.end()) continue;
      if (name == "message_type") logged.message_type = value;
      logged.labels.emplace_back(std::move(name), std::move(value));
    }
    log_.push_back(std::move(logged));
    if (log_.size() > kExemplarLogCapacity) forget_oldest();
  }
}

void ExemplarLog::forget_oldest() {
  noted_.erase(key_of(log_.front().data));
  log_.pop_front();
}

std::map<std::string, std::vector<LoggedExemplar>> ExemplarLog::slowest(std::uint64_t now_unix_ns,
                                                                       std::chrono::seconds window,
                                                                       std::size_t top) const {
  const std::uint64_t window_ns = std::chrono::nanoseconds(window).count();
  const std::uint64_t oldest = now_unix_ns > window_ns ? now_unix_ns - window_ns : 0;
  std::map<std::string, std::vector<LoggedExemplar>> out;
  for (const LoggedExemplar& e : log_) {
    if (e.data.unix_ns >= oldest) out[e.message_type].push_back(e);
  }
  for (auto& [type, list] : out) {
    // Slowest first; among equal values the older first, as noted. (Not stable_sort: with
    // libstdc++ 12 under clang its temporary buffer trips a deprecation, -Werror in the fuzz build.)
    std::ranges::sort(list, [](const LoggedExemplar& a, const LoggedExemplar& b) {
      return a.data.value != b.data.value ? a.data.value > b.data.value : a.data.unix_ns < b.data.unix_ns;
    });
    if (list.size() > top) list.resize(top);
  }
  return out;
}

}  // namespace wsm::exporter
