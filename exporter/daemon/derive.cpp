#include "wsm/exporter/derive.hpp"

#include <algorithm>

#include "wsm/exporter/health_scores.hpp"
#include "wsm/shm/labels.hpp"

namespace wsm::exporter {

namespace {

// Value of label `name` in parsed labels, "" when absent.
std::string_view label_value(const std::vector<std::pair<std::string, std::string>>& labels,
                             std::string_view name) {
  for (const auto& [k, v] : labels) {
    if (k == name) return v;
  }
  return {};
}

std::optional<double> rate(double now, double before, double seconds) {
  if (seconds <= 0) return std::nullopt;
  return std::max(0.0, now - before) / seconds;
}

}  // namespace

std::vector<std::string> Deriver::input_families() const {
  std::vector<std::string> names;
  for (const RateRule& r : rules_.rates) {
    for (const RateInput& in : r.inputs) names.emplace_back(in.counter);
  }
  for (const RatioRule& r : rules_.ratios) {
    names.emplace_back(r.numerator);
    names.emplace_back(r.denominator);
  }
  const SummaryInputs& s = rules_.summary;
  for (std::string_view n : {s.connections_active, s.messages_sent, s.messages_received, s.messages_failed,
                             s.message_latency, s.disconnections}) {
    names.emplace_back(n);
  }
  return names;
}

Deriver::Range Deriver::family(std::string_view name) const {
  const auto it = ranges_.find(name);
  return it == ranges_.end() ? Range{} : it->second;
}

void Deriver::sum_by(std::string_view counter, std::span<const std::string_view> by,
                     std::string_view label, std::string_view value, const shm::Aggregation& a,
                     Totals& into) const {
  const Range r = family(counter);
  std::vector<std::pair<std::string, std::string>> parsed;
  std::vector<Label> out;
  for (std::size_t i = r.begin; i < r.end; ++i) {
    const shm::Point& p = a.points[i];
    if (p.family->type != shm::MetricType::counter || !shm::parse_canonical_labels(p.series->labels, parsed)) {
      continue;
    }
    out.clear();
    if (!label.empty()) out.emplace_back(label, value);
    for (std::string_view name : by) {
      if (name != label) out.emplace_back(name, label_value(parsed, name));
    }
    if (auto key = shm::canonical_labels(out)) into[*key] += static_cast<double>(p.counter);
  }
}

void Deriver::update(const shm::Aggregation& a, std::uint64_t generation, std::uint64_t mono_ns,
                     std::uint64_t unix_ns, std::span<const shm::ConnectionInfo> connections) {
  ranges_.clear();
  for (std::size_t i = 0; i < a.points.size();) {
    std::size_t j = i;
    while (j < a.points.size() && a.points[j].family == a.points[i].family) ++j;
    ranges_[a.points[i].family->name] = {i, j};
    i = j;
  }
  const bool continuous = generation == generation_ && last_mono_ns_ != 0 && mono_ns > last_mono_ns_;
  const double dt = continuous ? static_cast<double>(mono_ns - last_mono_ns_) / 1e9 : 0;
  if (!continuous) {
    previous_.clear();
    previous_latency_.clear();
  }
  generation_ = generation;
  last_mono_ns_ = mono_ns;

  families_.clear();
  std::vector<Totals> now;
  now.reserve(rules_.rates.size() + 2 * rules_.ratios.size());  // references below stay valid
  for (const RateRule& rule : rules_.rates) {
    Totals& t = now.emplace_back();
    for (const RateInput& in : rule.inputs) sum_by(in.counter, rule.by, in.label, in.value, a, t);
    exposition::ComputedFamily f{std::string(rule.output), std::string(rule.help), shm::MetricType::gauge, {}};
    if (continuous && previous_.size() > now.size() - 1) {
      const Totals& before = previous_[now.size() - 1];
      for (const auto& [labels, total] : t) {
        const auto it = before.find(labels);
        if (auto r = rate(total, it == before.end() ? 0 : it->second, dt)) f.samples.push_back({labels, *r});
      }
    }
    families_.push_back(std::move(f));
  }
  for (const RatioRule& rule : rules_.ratios) {
    Totals& num = now.emplace_back();
    sum_by(rule.numerator, rule.by, "", "", a, num);
    Totals& den = now.emplace_back();
    sum_by(rule.denominator, rule.by, "", "", a, den);
    exposition::ComputedFamily f{std::string(rule.output), std::string(rule.help), shm::MetricType::gauge, {}};
    const std::size_t at = now.size() - 2;
    if (continuous && previous_.size() >= now.size()) {
      for (const auto& [labels, total] : den) {
        const auto d0 = previous_[at + 1].find(labels);
        const double moved = total - (d0 == previous_[at + 1].end() ? 0 : d0->second);
        if (moved <= 0) continue;
        const auto n1 = num.find(labels);
        const auto n0 = previous_[at].find(labels);
        const double acked = (n1 == num.end() ? 0 : n1->second) - (n0 == previous_[at].end() ? 0 : n0->second);
        f.samples.push_back({labels, rule.scale * std::clamp(acked / moved, 0.0, 1.0)});
      }
    }
    families_.push_back(std::move(f));
  }
  previous_ = std::move(now);
  figures_of(a, dt);
  figures_.unix_ns = unix_ns;
  figures_.min_health_score = lowest_health_score(connections);
}

void Deriver::figures_of(const shm::Aggregation& a, double dt) {
  const SummaryInputs& in = rules_.summary;
  IntervalFigures f;
  f.seconds = dt;
  std::vector<std::pair<std::string, std::string>> parsed;
  for (Range r = family(in.connections_active); r.begin < r.end; ++r.begin) {
    const shm::Point& p = a.points[r.begin];
    if (p.family->type != shm::MetricType::gauge || !p.recorded ||
        !shm::parse_canonical_labels(p.series->labels, parsed)) {
      continue;
    }
    f.connections_by_role[std::string(label_value(parsed, "role"))] += p.gauge;
    f.connections_total += p.gauge;
  }
  const auto total = [&](std::string_view name) {
    std::uint64_t sum = 0;
    for (Range r = family(name); r.begin < r.end; ++r.begin) {
      if (a.points[r.begin].family->type == shm::MetricType::counter) sum += a.points[r.begin].counter;
    }
    return sum;
  };
  f.sent = total(in.messages_sent);
  f.received = total(in.messages_received);
  f.failed = total(in.messages_failed);
  if (dt > 0) {
    f.failed_per_second = rate(static_cast<double>(f.failed), static_cast<double>(previous_failed_), dt);
    if (f.sent > previous_sent_ && f.failed >= previous_failed_) {
      f.failure_ratio = static_cast<double>(f.failed - previous_failed_) / static_cast<double>(f.sent - previous_sent_);
    }
  }
  previous_sent_ = f.sent;
  previous_failed_ = f.failed;
  f.disconnections = total(in.disconnections);
  if (dt > 0) {
    f.disconnections_per_second = rate(static_cast<double>(f.disconnections),
                                       static_cast<double>(previous_disconnections_), dt);
  }
  previous_disconnections_ = f.disconnections;

  // Message and byte rates by direction and heartbeat success by role, from the families just
  // computed.
  for (const exposition::ComputedFamily& fam : families_) {
    if (fam.name == in.heartbeat_success) {
      for (const exposition::Sample& s : fam.samples) {
        if (!shm::parse_canonical_labels(s.labels, parsed)) continue;
        f.heartbeat_success_by_role[std::string(label_value(parsed, "role"))] = s.value;
      }
      continue;
    }
    const bool messages = fam.name == in.message_rate;
    const bool bytes = fam.name == in.byte_rate;
    if (!messages && !bytes) continue;
    for (const exposition::Sample& s : fam.samples) {
      if (!shm::parse_canonical_labels(s.labels, parsed)) continue;
      const std::string_view dir = label_value(parsed, "direction");
      auto& slot = dir == "in" ? (messages ? f.messages_in_per_second : f.bytes_in_per_second)
                               : (messages ? f.messages_out_per_second : f.bytes_out_per_second);
      slot = slot.value_or(0) + s.value;
    }
  }
  if (dt > 0) {
    for (auto* r : {&f.messages_in_per_second, &f.messages_out_per_second, &f.bytes_in_per_second,
                    &f.bytes_out_per_second}) {
      if (!*r) *r = 0;
    }
  }

  // p95 latency of the interval: the latency family's buckets summed over its series, minus the
  // previous interval's.
  const Range lat = family(in.message_latency);
  std::vector<std::uint64_t> buckets;
  const shm::FamilyInfo* latency_family = nullptr;
  for (std::size_t i = lat.begin; i < lat.end; ++i) {
    const shm::Point& p = a.points[i];
    if (p.family->type != shm::MetricType::histogram) continue;
    latency_family = p.family;
    const auto b = a.buckets_of(p);
    buckets.resize(b.size(), 0);
    for (std::size_t k = 0; k < b.size(); ++k) buckets[k] += b[k];
  }
  if (latency_family != nullptr && dt > 0 && previous_latency_.size() == buckets.size()) {
    std::vector<std::uint64_t> delta(buckets.size());
    for (std::size_t k = 0; k < buckets.size(); ++k) {
      delta[k] = buckets[k] >= previous_latency_[k] ? buckets[k] - previous_latency_[k] : 0;
    }
    f.latency_p95 = hdr_quantile(delta, latency_family->max_octave, latency_family->unit, 0.95);
  }
  previous_latency_ = std::move(buckets);
  figures_ = std::move(f);
}

}  // namespace wsm::exporter
