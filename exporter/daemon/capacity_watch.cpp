#include "wsm/exporter/capacity_watch.hpp"

#include <cstdio>

namespace wsm::exporter {

namespace {

constexpr double kForgetBelowPercent = shm::kNearFullPercent - 10;

std::string figures(const shm::Fill& f) {
  char pct[32];
  std::snprintf(pct, sizeof pct, "%.1f%%", f.percent());
  return std::to_string(f.used) + " of " + std::to_string(f.capacity) + " (" + pct + ")";
}

}  // namespace

std::vector<std::string> CapacityWatch::update(const shm::SegmentFill& fill) {
  std::vector<std::string> lines;
  const auto watch = [&](const std::string& key, const shm::Fill& f, const auto& describe) {
    Level& reported = reported_[key];
    if (f.percent() < kForgetBelowPercent) reported = below;
    const Level now = f.full() ? full : f.near_full() ? near_full : below;
    if (now <= reported) return;
    reported = now;
    lines.push_back("warning: " + describe(now));
  };
  for (const shm::Fill& f : fill.families) {
    watch("family " + f.name, f, [&](Level now) {
      return "family " + f.name + (now == full ? " reached its series cap: " : " nears its series cap: ") +
             figures(f) + " series; " +
             (now == full ? "new label sets now go to" : "at the cap, new label sets go to") +
             " its overflow series {wsm_overflow=\"true\"} and count in wsm_series_dropped_total";
    });
  }
  for (const shm::Fill& f : fill.regions) {
    watch("segment " + f.name, f, [&](Level now) {
      return "segment " + f.name + (now == full ? " is full: " : " nears full: ") + figures(f) + " used; " +
             std::string(shm::region_remedy(f.name));
    });
  }
  return lines;
}

}  // namespace wsm::exporter
