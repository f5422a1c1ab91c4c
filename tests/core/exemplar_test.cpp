// Exemplars in the segment (issue 20): the cell's sequence lock, the writer API, both readers
// (Tally and Snapshot + Aggregation::of), the reaper (exemplars of dead writers are dropped, never
// folded) and hostile exemplar cells (reported like any bad cell).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "forked.hpp"
#include "test_support.hpp"
#include "wsm/shm/aggregation.hpp"
#include "wsm/shm/catalog_view.hpp"
#include "wsm/shm/exemplar_cell.hpp"
#include "wsm/shm/reaper.hpp"
#include "wsm/shm/segment_check.hpp"
#include "wsm/shm/snapshot.hpp"
#include "wsm/shm/tally.hpp"
#include "wsm/shm/writer_arena.hpp"
#include "wsm/writer.hpp"

namespace {

using namespace wsm;
using wsm::test::SegmentGuard;

Exemplar exemplar(std::uint8_t tag) {
  Exemplar e;
  e.trace_id.fill(tag);
  e.span_id.fill(static_cast<std::uint8_t>(tag + 1));
  return e;
}

// The exemplar a reader shows for `name` (the one series of that family), or nullopt.
std::optional<shm::ExemplarData> tallied(const shm::Segment& segment, std::string_view name) {
  shm::CatalogView catalog;
  shm::Tally tally;
  EXPECT_TRUE(tally.take(segment, catalog));
  EXPECT_TRUE(tally.meta().problems.empty()) << tally.meta().problems.front();
  const auto& a = tally.aggregation();
  for (const shm::Point& p : a.points) {
    if (p.family->name == name && p.exemplar != shm::Point::kNoExemplar) return a.exemplars[p.exemplar];
  }
  return std::nullopt;
}
std::optional<shm::ExemplarData> copied(const shm::Segment& segment, std::string_view name) {
  shm::CatalogView catalog;
  auto snap = shm::Snapshot::take(segment, catalog);
  EXPECT_TRUE(snap);
  EXPECT_TRUE(snap->problems.empty()) << snap->problems.front();
  const auto a = shm::Aggregation::of(catalog, *snap);
  for (const shm::Point& p : a.points) {
    if (p.family->name == name && p.exemplar != shm::Point::kNoExemplar) return a.exemplars[p.exemplar];
  }
  return std::nullopt;
}

std::uint32_t series_of(const shm::Segment& segment, std::string_view name) {
  shm::CatalogView catalog;
  catalog.refresh(segment);
  for (std::uint32_t id : catalog.ordered_series()) {
    if (catalog.family(catalog.known_series(id).family_id)->name == name) return id;
  }
  ADD_FAILURE() << name << " is not in the catalog";
  return 0;
}

TEST(ExemplarId, ParsesHexAndTraceparent) {
  const auto e = Exemplar::from_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->trace_id[0], 0x4b);
  EXPECT_EQ(e->trace_id[15], 0x36);
  EXPECT_EQ(e->span_id[0], 0x00);
  EXPECT_EQ(e->span_id[7], 0xb7);
  EXPECT_TRUE(Exemplar::from_hex("4BF92F3577B34DA6A3CE929D0E0E4736", "00F067AA0BA902B7"));
  EXPECT_FALSE(Exemplar::from_hex("4bf92f3577b34da6a3ce929d0e0e473", "00f067aa0ba902b7"));   // short
  EXPECT_FALSE(Exemplar::from_hex("4bf92f3577b34da6a3ce929d0e0e473g", "00f067aa0ba902b7"));  // not hex
  EXPECT_FALSE(Exemplar::from_hex("00000000000000000000000000000000", "00f067aa0ba902b7"));  // invalid
  EXPECT_FALSE(Exemplar::from_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01"));
  EXPECT_FALSE(Exemplar::from_traceparent(""));
}

// The run-time parse goes 8 digits at a time; every byte value at every position must be judged
// as the byte-by-byte rule (the constant-evaluated path) judges it.
TEST(ExemplarId, TheWordAtATimeParseAgreesWithTheByteRule) {
  constexpr std::string_view kTrace = "4bf92f3577b34da6a3ce929d0e0e4736", kSpan = "00f067aa0ba902b7";
  constexpr auto kExpected = Exemplar::from_hex(kTrace, kSpan);  // constant-evaluated: byte by byte
  static_assert(kExpected.has_value());
  const auto parsed = Exemplar::from_hex(kTrace, kSpan);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->trace_id, kExpected->trace_id);
  EXPECT_EQ(parsed->span_id, kExpected->span_id);
  const auto is_hex = [](unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  };
  const auto value = [](unsigned char c) {
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
  };
  for (std::size_t pos = 0; pos < kTrace.size() + kSpan.size(); ++pos) {
    for (int b = 0; b < 256; ++b) {
      std::string trace(kTrace), span(kSpan);
      std::string& s = pos < trace.size() ? trace : span;
      const std::size_t at = pos < trace.size() ? pos : pos - trace.size();
      s[at] = static_cast<char>(b);
      const auto e = Exemplar::from_hex(trace, span);
      ASSERT_EQ(e.has_value(), is_hex(static_cast<unsigned char>(b))) << "byte " << b << " at " << pos;
      if (!e) continue;
      const auto& bytes = pos < trace.size() ? std::span<const std::uint8_t>(e->trace_id)
                                             : std::span<const std::uint8_t>(e->span_id);
      const int digit = value(static_cast<unsigned char>(b));
      const int nibble = at % 2 == 0 ? bytes[at / 2] >> 4 : bytes[at / 2] & 0xf;
      ASSERT_EQ(nibble, digit) << "byte " << b << " at " << pos;
    }
  }
  EXPECT_TRUE(Exemplar::from_hex("0000000000000000000000000000000A", "0000000000000001")) << "ids with one non-zero digit";
  EXPECT_FALSE(Exemplar::from_hex("4bf92f3577b34da6a3ce929d0e0e4736", "0000000000000000")) << "an all-zero span id";
}

TEST(ExemplarCell, ReadsWhatWasWrittenAndSkipsAWriteUnderWay) {
  std::atomic<std::uint64_t> words[shm::kExemplarWords] = {};
  auto& cell = shm::ExemplarCell::at(words);
  EXPECT_FALSE(cell.read()) << "never written";
  const shm::ExemplarData e{exemplar(7).trace_id, exemplar(7).span_id, 1234, 5678};
  cell.write(e);
  ASSERT_TRUE(cell.read());
  EXPECT_TRUE(*cell.read() == e);
  // A writer stopped between its first and last store leaves seq odd: skipped, not waited for.
  words[0].fetch_add(1);
  EXPECT_FALSE(cell.read());
}

// A reader racing its writer sees whole exemplars only: every field of write i is derived from i.
// (A reader that skipped the second sequence check keeps torn ones here within a few thousand
// writes.) The writer yields now and then, so that the reader also finds whole ones on a busy
// machine; the cell is on the heap, where the compiler knows nothing of who writes it.
TEST(ExemplarCell, ARacingReaderNeverSeesATornExemplar) {
  const auto words = std::make_unique<std::atomic<std::uint64_t>[]>(shm::kExemplarWords);
  auto& cell = shm::ExemplarCell::at(words.get());
  constexpr std::uint64_t kWrites = 2'000'000;
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (std::uint64_t i = 1; i <= kWrites; ++i) {
      shm::ExemplarData e;
      std::memcpy(e.trace_id.data(), &i, 8);
      std::memcpy(e.trace_id.data() + 8, &i, 8);
      std::memcpy(e.span_id.data(), &i, 8);
      e.value = i;
      e.unix_ns = ~i;
      cell.write(e);
      if (i % 64 == 0) std::this_thread::yield();
    }
    done = true;
  });
  std::uint64_t whole = 0;
  while (!done.load()) {
    if (const auto e = cell.read()) {
      std::uint64_t t0, t1, s;
      std::memcpy(&t0, e->trace_id.data(), 8);
      std::memcpy(&t1, e->trace_id.data() + 8, 8);
      std::memcpy(&s, e->span_id.data(), 8);
      ASSERT_TRUE(t0 == e->value && t1 == e->value && s == e->value && e->unix_ns == ~e->value)
          << "torn exemplar at write " << e->value;
      ++whole;
    }
  }
  writer.join();
  EXPECT_EQ(cell.read()->value, kWrites);
  std::printf("%llu whole exemplars read during the race\n", static_cast<unsigned long long>(whole));
}

TEST(Exemplars, TheMostRecentAcrossThreadsIsExposedAndSeriesWithoutStayWithout) {
  SegmentGuard g(wsm::test::unique_segment_name("exemplar"));
  auto reg = Registry::open(g.name());
  ASSERT_TRUE(reg);
  const Histogram latency = reg->histogram("ex_latency_seconds");
  const Counter sent = reg->counter("ex_sent_total");
  const Counter plain = reg->counter("ex_plain_total");
  std::thread([&] { latency.record(std::chrono::microseconds(300), exemplar(1)); }).join();
  latency.record(std::chrono::microseconds(500), exemplar(2));  // later, on another thread
  sent.inc(3, exemplar(3));
  plain.inc(4);
  auto segment = shm::Segment::open(g.name(), {shm::Access::read_only});
  ASSERT_TRUE(segment);
  for (const auto& read : {tallied, copied}) {
    const auto h = read(*segment, "ex_latency_seconds");
    ASSERT_TRUE(h);
    EXPECT_EQ(h->trace_id, exemplar(2).trace_id);
    EXPECT_EQ(h->span_id, exemplar(2).span_id);
    EXPECT_EQ(h->value, 500'000u);
    EXPECT_GT(h->unix_ns, 0u);
    const auto c = read(*segment, "ex_sent_total");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->trace_id, exemplar(3).trace_id);
    EXPECT_EQ(c->value, 3u);
    EXPECT_FALSE(read(*segment, "ex_plain_total"));
  }
}

TEST(Exemplars, AThreadAppendsOneCellPerSeriesAndOverwritesIt) {
  SegmentGuard g(wsm::test::unique_segment_name("exemplar"));
  auto reg = Registry::open(g.name());
  ASSERT_TRUE(reg);
  const Histogram latency = reg->histogram("ex_latency_seconds");
  auto segment = shm::Segment::open(g.name(), {shm::Access::read_only});
  ASSERT_TRUE(segment);
  std::uint64_t without = 0, with_one = 0, with_many = 0;
  std::thread([&] {
    const auto published = [&] {
      std::uint64_t sum = 0;
      for (std::uint32_t i = 0; i < segment->max_writers(); ++i) sum += segment->slot(i).cells_bytes.load();
      return sum;
    };
    latency.record(1000);
    without = published();
    latency.record(2000, exemplar(1));
    with_one = published();
    for (std::uint8_t k = 2; k < 100; ++k) latency.record(1000u * k, exemplar(k));
    with_many = published();
  }).join();
  EXPECT_EQ(with_one - without, sizeof(shm::CellHeader) + 8 * shm::kExemplarWords);
  EXPECT_EQ(with_many, with_one);
  const auto e = tallied(*segment, "ex_latency_seconds");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->trace_id, exemplar(99).trace_id);
  EXPECT_EQ(e->value, 99'000u);
}

TEST(Exemplars, OfDeadWritersAreDroppedAtReapAndTheirCountsKept) {
  SegmentGuard g(wsm::test::unique_segment_name("exemplar"));
  auto child = wsm::test::Forked::run([&] {
    auto reg = Registry::open(g.name());
    if (!reg) return 1;
    reg->histogram("ex_latency_seconds").record(std::chrono::milliseconds(2), exemplar(5));
    reg->counter("ex_sent_total").inc(2, exemplar(6));
    return 0;
  });
  ASSERT_EQ(child.wait(), 0);
  auto segment = shm::Segment::open(g.name());
  ASSERT_TRUE(segment);
  ASSERT_TRUE(tallied(*segment, "ex_latency_seconds")) << "a dead writer's exemplar shows until it is reaped";
  auto reaped = shm::Reaper(*segment).reap();
  ASSERT_TRUE(reaped) << reaped.error().message();
  EXPECT_EQ(reaped->slots_freed, 1u);
  EXPECT_FALSE(tallied(*segment, "ex_latency_seconds"));
  EXPECT_FALSE(copied(*segment, "ex_sent_total"));
  shm::CatalogView catalog;
  shm::Tally tally;
  ASSERT_TRUE(tally.take(*segment, catalog));
  std::uint64_t sent = 0, count = 0;
  for (const shm::Point& p : tally.aggregation().points) {
    if (p.family->name == "ex_sent_total") sent = p.counter;
    if (p.family->name == "ex_latency_seconds") count = p.count;
  }
  EXPECT_EQ(sent, 2u);
  EXPECT_EQ(count, 1u);
  const std::span<const std::byte> bytes(segment->base(), segment->size());
  const auto findings = shm::check_segment(bytes, {.live = &*segment});
  EXPECT_TRUE(findings.empty()) << findings.front().message;
}

// Hostile exemplar cells: of the wrong size, for a gauge, in the retired arena. Each is a problem
// for the readers and a finding for `wsm check`, never a crash.
TEST(Exemplars, ABadExemplarCellIsReportedLikeAnyBadCell) {
  SegmentGuard g(wsm::test::unique_segment_name("exemplar"));
  auto reg = Registry::open(g.name());
  ASSERT_TRUE(reg);
  reg->counter("ex_sent_total").inc();
  reg->gauge("ex_level").set(1);
  auto segment = shm::Segment::open(g.name());
  ASSERT_TRUE(segment);
  const std::uint32_t counter = series_of(*segment, "ex_sent_total");
  const std::uint32_t gauge = series_of(*segment, "ex_level");
  const auto expect_reported = [&](const std::string& what) {
    shm::CatalogView catalog;
    auto snap = shm::Snapshot::take(*segment, catalog, {std::chrono::milliseconds(20)});
    ASSERT_TRUE(snap);
    EXPECT_FALSE(snap->problems.empty()) << what;
    shm::Tally tally;
    ASSERT_TRUE(tally.take(*segment, catalog, {std::chrono::milliseconds(20)}));
    EXPECT_FALSE(tally.meta().problems.empty()) << what;
    const std::span<const std::byte> bytes(segment->base(), segment->size());
    bool mismatch = false;
    for (const auto& f : shm::check_segment(bytes, {.live = &*segment})) {
      mismatch |= f.kind == shm::FindingKind::cell_shape_mismatch;
    }
    EXPECT_TRUE(mismatch) << what;
  };
  {
    auto arena = shm::WriterArena::claim(*segment, 4242, "hostile");
    ASSERT_TRUE(arena);
    ASSERT_NE(arena->append(counter, shm::CellKind::exemplar, shm::kExemplarWords - 1), nullptr);
    expect_reported("an exemplar cell one word short");
    arena->detach();
  }
  ASSERT_TRUE(shm::Reaper(*segment).reap());
  {
    auto arena = shm::WriterArena::claim(*segment, 4243, "hostile");
    ASSERT_TRUE(arena);
    auto* cell = arena->append(gauge, shm::CellKind::exemplar, shm::kExemplarWords);
    ASSERT_NE(cell, nullptr);
    shm::ExemplarCell::at(cell).write({exemplar(9).trace_id, exemplar(9).span_id, 1, 1});
    expect_reported("an exemplar cell of a gauge");
  }
}

}  // namespace
