// The aggregated segment by "name{canonical labels}", for the facade's tests.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <string_view>

#include "wsm/shm/aggregation.hpp"
#include "wsm/shm/labels.hpp"
#include "wsm/writer.hpp"

namespace wsm::test {

class Totals {
 public:
  explicit Totals(const shm::Segment& segment) {
    auto snap = shm::Snapshot::take(segment, catalog_);
    EXPECT_TRUE(snap) << snap.error().message();
    aggregation_ = shm::Aggregation::of(catalog_, *snap);
    for (const shm::Point& p : aggregation_.points) {
      points_[p.family->name + "{" + std::string(p.series->labels) + "}"] = p;
    }
  }
  // The point of name + labels; fails the test if absent.
  const shm::Point& at(std::string_view name, Labels labels) const {
    static const shm::Point none{};
    const auto key = std::string(name) + "{" + canonical(labels) + "}";
    auto it = points_.find(key);
    EXPECT_NE(it, points_.end()) << "no series " << key;
    return it == points_.end() ? none : it->second;
  }
  // Label sets of a family that hold something.
  std::set<std::string> recorded(std::string_view name) const {
    std::set<std::string> out;
    for (const auto& [key, p] : points_) {
      const bool nonzero = p.counter != 0 || p.count != 0 || p.gauge != 0;
      if (p.family->name == name && p.recorded && nonzero) out.emplace(p.series->labels);
    }
    return out;
  }
  static std::string canonical(Labels labels) {
    auto c = shm::canonical_labels(std::span<const Label>(labels.begin(), labels.size()));
    return c ? *c : "";
  }
  const shm::CatalogView& catalog() const { return catalog_; }
  const std::map<std::string, shm::Point>& points() const { return points_; }

 private:
  shm::CatalogView catalog_;
  shm::Aggregation aggregation_;
  std::map<std::string, shm::Point> points_;
};

}  // namespace wsm::test
