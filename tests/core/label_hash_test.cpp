// The series key hash (label_hash.hpp) and the allocation-free comparison of a caller's labels with
// a stored canonical label set (labels.hpp): what the writer's series index relies on.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "wsm/shm/catalog.hpp"
#include "wsm/shm/label_hash.hpp"
#include "wsm/shm/labels.hpp"

namespace {

using namespace wsm;
using namespace wsm::shm;

std::span<const Label> view(const std::vector<Label>& labels) { return {labels.data(), labels.size()}; }

const std::string kLongValue(300, 'v');  // outlives the views of kSets
const std::vector<std::vector<Label>> kSets = {
    {},
    {{"role", "doctor"}},
    {{"role", "doctor"}, {"route", "/ws/telemetry"}, {"user", "user-1"}},
    {{"q", "a\"b\\c\nd"}, {"z", ""}},
    {{"bad", "x\xff\xfey"}, {"ok", "caf\xc3\xa9"}},                      // invalid and valid UTF-8
    {{"long", kLongValue}, {"a", "1234567"}, {"b", "12345678"}},  // whole and part words
};

TEST(LabelHash, CallerLabelsInAnyOrderHashLikeTheirCanonicalForm) {
  for (auto set : kSets) {
    const auto canonical = canonical_labels(view(set));
    ASSERT_TRUE(canonical);
    const std::uint64_t stored = canonical_label_set_hash(*canonical);
    std::sort(set.begin(), set.end());
    do {
      EXPECT_EQ(label_set_hash(view(set)), stored) << *canonical;
    } while (std::next_permutation(set.begin(), set.end()));
  }
}

TEST(LabelHash, StreamHashDoesNotDependOnHowTheBytesAreCut) {
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    std::string bytes(rng() % 70, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    StreamHash whole;
    whole.update(bytes);
    StreamHash pieces;
    for (std::size_t at = 0; at < bytes.size();) {
      const std::size_t n = std::min<std::size_t>(rng() % 11, bytes.size() - at);
      pieces.update(std::string_view(bytes).substr(at, n));
      at += n;
    }
    EXPECT_EQ(whole.finish(), pieces.finish()) << "length " << bytes.size();
  }
}

TEST(LabelHash, DifferentKeysHashApart) {
  std::vector<std::uint64_t> seen;
  for (const auto& set : kSets) seen.push_back(label_set_hash(view(set)));
  const std::vector<Label> swapped = {{"doctor", "role"}};  // name and value exchanged
  const std::vector<Label> trailing = {{"ab", std::string_view("\0", 1)}};  // a NUL is a byte too
  const std::vector<Label> shorter = {{"ab", ""}};
  for (const auto* set : {&swapped, &trailing, &shorter}) seen.push_back(label_set_hash(view(*set)));
  seen.push_back(name_hash("ab"));
  seen.push_back(name_hash(std::string_view("ab\0", 3)));
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(std::adjacent_find(seen.begin(), seen.end()), seen.end());
  // One label set in two families starts two probe sequences.
  EXPECT_NE(series_hash(1, label_set_hash(view(kSets[2]))), series_hash(2, label_set_hash(view(kSets[2]))));
}

TEST(CanonicalLabelsEqual, MatchesItsOwnCanonicalFormInAnyOrder) {
  for (auto set : kSets) {
    const auto canonical = canonical_labels(view(set));
    ASSERT_TRUE(canonical);
    std::sort(set.begin(), set.end());
    do {
      EXPECT_TRUE(canonical_labels_equal(*canonical, view(set))) << *canonical;
    } while (std::next_permutation(set.begin(), set.end()));
  }
}

TEST(CanonicalLabelsEqual, RefusesEveryOtherLabelSet) {
  const std::string stored = *canonical_labels(view(kSets[2]));  // role, route, user
  const std::vector<std::vector<Label>> others = {
      {},
      {{"role", "doctor"}, {"route", "/ws/telemetry"}},                                     // missing
      {{"role", "doctor"}, {"route", "/ws/telemetry"}, {"user", "user-1"}, {"x", "1"}},     // extra
      {{"role", "doctor"}, {"route", "/ws/telemetry"}, {"user", "user-12"}},                // longer
      {{"role", "doctor"}, {"route", "/ws/telemetry"}, {"user", "user-"}},                  // prefix
      {{"role", "doctor"}, {"route", "/ws/telemetry"}, {"usr", "user-1"}},                  // name
      {{"role", "doctor"}, {"role", "doctor"}, {"user", "user-1"}},                         // duplicate
      {{"role", "doctor"}, {"route", "/ws/telemetry"}, {"user", "user-1"}, {"user", "user-1"}},
  };
  for (const auto& other : others) EXPECT_FALSE(canonical_labels_equal(stored, view(other)));
  // The stored value is escaped: the raw quote matches its escape, the escape itself does not.
  const std::string quoted = *canonical_labels(view(kSets[3]));
  EXPECT_FALSE(canonical_labels_equal(quoted, view(std::vector<Label>{{"q", "a\\\"b\\\\c\\nd"}, {"z", ""}})));
  // Malformed stored bytes never match (a corrupt segment).
  for (const std::string_view bad : {"role=\"doctor", "role", "role=\"doctor\"x", "=\"\""}) {
    EXPECT_FALSE(canonical_labels_equal(bad, view(std::vector<Label>{{"role", "doctor"}}))) << bad;
  }
}

}  // namespace
