// The writer's index of registered series (writer_api/src/series_index.hpp): a repeated
// registration finds its series in any label order, different keys never share a series even when
// every key hashes alike, and threads and processes registering one key get one series.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "forked.hpp"
#include "segment_state.hpp"
#include "segment_totals.hpp"
#include "series_index.hpp"
#include "test_limits.hpp"
#include "test_support.hpp"
#include "wsm/writer.hpp"

namespace {

using namespace wsm;
using wsm::test::SegmentGuard;

std::uint64_t same_hash_for_all(const detail::SeriesKey&) noexcept { return 0x5eed'0000'0000'0001ull; }

Registry open_registry(const SegmentGuard& g, std::uint32_t max_series = 512, std::uint32_t cap = 512) {
  RegistryOptions options;
  options.limits = wsm::test::small_limits();
  options.limits.max_series = max_series;
  options.limits.series_cap_per_family = cap;
  options.limits.string_bytes = 256 * 1024;
  options.enabled = true;
  auto reg = Registry::open(g.name(), options);
  EXPECT_TRUE(reg) << (reg ? "" : reg.error().message());
  return *reg;
}

// The process-local state behind a registry, to force every key onto one hash.
detail::SegmentState& state_of(const std::string& name) {
  for (std::uint32_t i = 0; i < detail::kMaxSegments; ++i) {
    if (detail::SegmentState* s = detail::segment_at(i); s != nullptr && s->segment.name() == name) return *s;
  }
  throw std::runtime_error("segment not opened: " + name);
}

std::uint64_t counter_total(const SegmentGuard& g, const std::string& key) {
  auto totals = wsm::test::totals_of(g.name());
  EXPECT_TRUE(totals);
  const auto it = totals->find(key);
  return it == totals->end() ? 0 : it->second.counter;
}

std::string user(int i) { return "user-" + std::to_string(i); }

TEST(SeriesIndex, SameSeriesForTheSameKeyInAnyLabelOrder) {
  SegmentGuard g(wsm::test::unique_segment_name("idx-order"));
  Registry reg = open_registry(g);
  std::vector<Label> labels = {{"role", "doctor"}, {"route", "/ws"}, {"user", "u\"1"}};
  std::sort(labels.begin(), labels.end());
  int permutations = 0;
  do {
    const Labels given = {labels[0], labels[1], labels[2]};
    reg.counter("sent_total", given).inc();
    ++permutations;
  } while (std::next_permutation(labels.begin(), labels.end()));
  ASSERT_FALSE(reg.last_error());
  EXPECT_EQ(counter_total(g, wsm::test::series_key("sent_total", {{"role", "doctor"}, {"route", "/ws"}, {"user", "u\"1"}})),
            static_cast<std::uint64_t>(permutations));
  // One catalog entry for the key, beside the family's overflow series.
  EXPECT_EQ(reg.segment()->header().series_used.load(), 2u);
  EXPECT_EQ(state_of(g.name()).series_index.size(), 1u);
}

TEST(SeriesIndex, KeysThatHashAlikeNeverShareASeries) {
  SegmentGuard g(wsm::test::unique_segment_name("idx-collide"));
  Registry reg = open_registry(g);
  state_of(g.name()).key_hash = same_hash_for_all;
  constexpr int kKeys = 150;  // past several growths of the index
  for (int round = 1; round <= 3; ++round) {
    for (int i = 0; i < kKeys; ++i) {
      // Key i counts i + 1 per round, so a key that landed in another's series shows.
      reg.counter("sent_total", {{"user", user(i)}, {"role", "doctor"}}).inc(static_cast<std::uint64_t>(i + 1));
    }
    reg.counter("sent_total", {{"role", "doctor"}}).inc(1000);  // a subset of every key's labels
    reg.counter("received_total", {{"role", "doctor"}, {"user", user(0)}}).inc(7);  // another name
  }
  ASSERT_FALSE(reg.last_error());
  for (int i = 0; i < kKeys; ++i) {
    EXPECT_EQ(counter_total(g, wsm::test::series_key("sent_total", {{"role", "doctor"}, {"user", user(i)}})),
              3u * static_cast<std::uint64_t>(i + 1)) << i;
  }
  EXPECT_EQ(counter_total(g, wsm::test::series_key("sent_total", {{"role", "doctor"}})), 3000u);
  EXPECT_EQ(counter_total(g, wsm::test::series_key("received_total", {{"role", "doctor"}, {"user", user(0)}})), 21u);
  // A name registered as a counter is still refused as a gauge once the counter is indexed.
  EXPECT_FALSE(reg.try_gauge("sent_total", {{"role", "doctor"}}));
}

// A run of new series reuses the family of the previous one (Registry::register_series): runs
// that alternate between families, a name asked for with another type right after it, and a bad
// label set in the middle of a run must each land where a fresh registration would.
TEST(SeriesIndex, NewSeriesOfAlternatingFamiliesLandInTheirOwnFamily) {
  SegmentGuard g(wsm::test::unique_segment_name("idx-families"));
  Registry reg = open_registry(g);
  constexpr int kUsers = 40;
  for (int i = 0; i < kUsers; ++i) {
    reg.counter("a_total", {{"user", user(i)}}).inc(1);
    if (i % 3 == 0) reg.counter("a_total", {{"user", user(i)}, {"shard", "x"}}).inc(10);  // a run of two
    reg.counter("b_total", {{"user", user(i)}}).inc(2);
    EXPECT_FALSE(reg.try_gauge("b_total", {{"user", user(i + kUsers)}})) << i;  // another type
    EXPECT_FALSE(reg.try_counter("b_total", {{"user", user(i)}, {"le", "1"}})) << i;  // a reserved label
  }
  ASSERT_FALSE(reg.last_error());
  for (int i = 0; i < kUsers; ++i) {
    EXPECT_EQ(counter_total(g, wsm::test::series_key("a_total", {{"user", user(i)}})), 1u) << i;
    EXPECT_EQ(counter_total(g, wsm::test::series_key("b_total", {{"user", user(i)}})), 2u) << i;
    EXPECT_EQ(counter_total(g, wsm::test::series_key("a_total", {{"shard", "x"}, {"user", user(i)}})),
              i % 3 == 0 ? 10u : 0u) << i;
  }
  // Every series of the two families and their two overflow series: nothing from the refused calls.
  EXPECT_EQ(reg.segment()->header().series_used.load(), 2u * kUsers + (kUsers + 2) / 3 + 2);
}

TEST(SeriesIndex, OverflowIsNeverIndexedAsTheKey) {
  SegmentGuard g(wsm::test::unique_segment_name("idx-overflow"));
  Registry reg = open_registry(g, 512, 2);  // two series per family
  reg.counter("sent_total", {{"user", user(0)}}).inc();
  reg.counter("sent_total", {{"user", user(1)}}).inc();
  for (int i = 0; i < 2; ++i) reg.counter("sent_total", {{"user", user(2)}}).inc();
  EXPECT_EQ(reg.segment()->header().series_dropped.load(), 2u);  // both calls went to overflow
  EXPECT_EQ(counter_total(g, wsm::test::series_key("sent_total", {{"wsm_overflow", "true"}})), 2u);
  EXPECT_EQ(state_of(g.name()).series_index.size(), 2u);
}

TEST(SeriesIndex, ThreadsRegisteringOneNewKeyGetOneSeries) {
  SegmentGuard g(wsm::test::unique_segment_name("idx-threads"));
  Registry reg = open_registry(g);
  constexpr int kThreads = 4;
  constexpr int kKeys = 100;
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < kThreads) {
      }
      for (int i = 0; i < kKeys; ++i) {
        const int k = (i + t * 17) % kKeys;  // each thread in its own order
        reg.counter("sent_total", {{"user", user(k)}, {"role", "nurse"}}).inc();
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_FALSE(reg.last_error());
  EXPECT_EQ(reg.segment()->header().series_used.load(), kKeys + 1u);  // no key registered twice
  for (int k = 0; k < kKeys; ++k) {
    EXPECT_EQ(counter_total(g, wsm::test::series_key("sent_total", {{"role", "nurse"}, {"user", user(k)}})),
              static_cast<std::uint64_t>(kThreads)) << k;
  }
}

TEST(SeriesIndex, ProcessesRegisteringOneNewKeyGetOneSeries) {
  SegmentGuard g(wsm::test::unique_segment_name("idx-procs"));
  Registry reg = open_registry(g);
  constexpr int kProcesses = 3;
  constexpr int kKeys = 60;
  std::vector<wsm::test::Forked> children;
  for (int p = 0; p < kProcesses; ++p) {
    children.push_back(wsm::test::Forked::run([&, p] {
      for (int i = 0; i < kKeys; ++i) {
        const int k = (i + p * 13) % kKeys;
        reg.counter("sent_total", {{"role", "nurse"}, {"user", user(k)}}).inc();
      }
      return reg.last_error() ? 1 : 0;
    }));
  }
  for (auto& c : children) EXPECT_EQ(c.wait(), 0);
  // Readers merge what racing processes registered twice; each key is one series of kProcesses.
  auto totals = wsm::test::totals_of(g.name());
  ASSERT_TRUE(totals);
  EXPECT_EQ(std::count_if(totals->begin(), totals->end(), [](const auto& t) { return t.second.recorded; }), kKeys);
  for (int k = 0; k < kKeys; ++k) {
    EXPECT_EQ(counter_total(g, wsm::test::series_key("sent_total", {{"role", "nurse"}, {"user", user(k)}})),
              static_cast<std::uint64_t>(kProcesses)) << k;
  }
  // The parent finds in the catalog what its children registered, and indexes it.
  reg.counter("sent_total", {{"user", user(0)}, {"role", "nurse"}}).inc();
  EXPECT_EQ(counter_total(g, wsm::test::series_key("sent_total", {{"role", "nurse"}, {"user", user(0)}})),
            kProcesses + 1u);
}

// The index alone: many ids under one hash, and readers that never lock while it grows.
TEST(SeriesIndex, FindsEveryIdUnderOneHashWhileItGrows) {
  detail::SeriesIndex index;
  constexpr std::uint32_t kIds = 2000;
  constexpr std::uint64_t kHash = 0xabcd'ef01'2345'6789ull;
  std::atomic<std::uint32_t> published{0};
  std::atomic<bool> missing{false};
  std::thread reader([&] {
    std::mt19937 rng(3);
    while (published.load(std::memory_order_acquire) < kIds) {
      const std::uint32_t n = published.load(std::memory_order_acquire);
      if (n == 0) continue;
      const std::uint32_t want = static_cast<std::uint32_t>(rng() % n);
      if (index.find(kHash, [&](std::uint32_t id) { return id == want; }) != want) missing = true;
    }
  });
  for (std::uint32_t id = 0; id < kIds; ++id) {
    index.insert(kHash, id);
    index.insert(kHash, id);  // a second insert of the same pair adds nothing
    published.store(id + 1, std::memory_order_release);
  }
  reader.join();
  EXPECT_FALSE(missing);
  EXPECT_EQ(index.size(), kIds);
  EXPECT_EQ(index.find(kHash, [](std::uint32_t) { return false; }), std::nullopt);
  EXPECT_EQ(index.find(kHash ^ (1ull << 63), [](std::uint32_t) { return true; }), std::nullopt);
}

}  // namespace
