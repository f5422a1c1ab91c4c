// A corrupt, truncated, foreign or hostile segment gives a clear error and never a crash: the
// header checks of open() and view(), then snapshots, reaping and registration over a populated
// segment whose bytes were damaged on purpose (under ASan/UBSan in the sanitizer builds).
#include <gtest/gtest.h>

#include <cstring>
#include <fcntl.h>
#include <limits>
#include <random>
#include <unistd.h>

#include "forked.hpp"
#include "test_limits.hpp"
#include "test_support.hpp"
#include "wsm/shm/aggregation.hpp"
#include "wsm/shm/catalog.hpp"
#include "wsm/shm/histogram_scheme.hpp"
#include "wsm/shm/reaper.hpp"
#include "wsm/shm/snapshot.hpp"
#include "wsm/shm/writer_arena.hpp"
#include "wsm/writer.hpp"

namespace {

using namespace wsm;
using namespace wsm::shm;
using wsm::test::SegmentGuard;
using wsm::test::small_limits;

constexpr std::uint64_t kU64Max = std::numeric_limits<std::uint64_t>::max();

std::string shm_path(const std::string& name) { return "/dev/shm/wsm." + name; }

template <class T>
void poke(const std::string& name, std::size_t offset, T value) {
  const int fd = ::open(shm_path(name).c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, &value, sizeof value, static_cast<off_t>(offset)), static_cast<ssize_t>(sizeof value));
  ::close(fd);
}

// Copies the segment file into 8-byte aligned memory, for Segment::view.
std::vector<std::uint64_t> file_words(const std::string& name) {
  const int fd = ::open(shm_path(name).c_str(), O_RDONLY);
  const off_t size = ::lseek(fd, 0, SEEK_END);
  std::vector<std::uint64_t> words((static_cast<std::size_t>(size) + 7) / 8);
  if (size > 0) (void)::pread(fd, words.data(), static_cast<std::size_t>(size), 0);
  ::close(fd);
  words.resize(static_cast<std::size_t>(size) / 8);
  return words;
}

std::span<std::byte> as_bytes(std::vector<std::uint64_t>& words) {
  return {reinterpret_cast<std::byte*>(words.data()), words.size() * 8};
}

// Creates a segment, damages it with `damage`, and expects open() and view() to refuse it with
// `code` and a message containing `says`.
void expect_refused(void (*damage)(const std::string& name, const Segment& s), Errc code,
                    const std::string& says) {
  SegmentGuard g(wsm::test::unique_segment_name("corrupt"));
  {
    auto s = Segment::create(g.name(), {small_limits()});
    ASSERT_TRUE(s) << s.error().message();
    damage(g.name(), *s);
  }
  auto opened = Segment::open(g.name(), {Access::read_only, std::chrono::milliseconds(20)});
  ASSERT_FALSE(opened) << "a damaged segment was accepted (" << says << ")";
  EXPECT_EQ(opened.error().code(), code) << opened.error().message();
  EXPECT_NE(opened.error().message().find(says), std::string::npos) << opened.error().message();
  EXPECT_NE(opened.error().message().find(g.name()), std::string::npos) << opened.error().message();
  auto words = file_words(g.name());
  auto viewed = Segment::view(as_bytes(words), g.name());
  ASSERT_FALSE(viewed);
  if (code != Errc::timeout) {
    EXPECT_EQ(viewed.error().code(), code) << viewed.error().message();
  }
}

TEST(CorruptSegment, WrongMagic) {
  expect_refused([](const std::string& n, const Segment&) { poke<std::uint64_t>(n, 0, 0x1234); },
                 Errc::incompatible, "bad magic");
}

TEST(CorruptSegment, WrongLayoutVersion) {
  expect_refused([](const std::string& n, const Segment&) {
    poke<std::uint32_t>(n, offsetof(SegmentHeader, layout_version), kLayoutVersion + 98);
  }, Errc::incompatible, "layout version " + std::to_string(kLayoutVersion + 98));
}

TEST(CorruptSegment, WrongLayoutHash) {
  expect_refused([](const std::string& n, const Segment& s) {
    poke<std::uint64_t>(n, offsetof(SegmentHeader, layout_hash), s.header().layout_hash ^ 1);
  }, Errc::incompatible, "layout hash");
}

TEST(CorruptSegment, WrongHeaderSize) {
  expect_refused([](const std::string& n, const Segment&) {
    poke<std::uint32_t>(n, offsetof(SegmentHeader, header_bytes), 1024);
  }, Errc::incompatible, "layout");
}

TEST(CorruptSegment, TruncatedBelowItsLimits) {
  expect_refused([](const std::string& n, const Segment& s) {
    ASSERT_EQ(::truncate(shm_path(n).c_str(), static_cast<off_t>(s.size() / 2)), 0);
  }, Errc::corrupt, "truncated");
}

TEST(CorruptSegment, TruncatedInsideTheHeader) {
  for (off_t size : {off_t{0}, off_t{100}, off_t{511}}) {
    SegmentGuard g(wsm::test::unique_segment_name("trunc"));
    ASSERT_TRUE(Segment::create(g.name(), {small_limits()}));
    ASSERT_EQ(::truncate(shm_path(g.name()).c_str(), size), 0);
    auto opened = Segment::open(g.name(), {Access::read_only, std::chrono::milliseconds(20)});
    ASSERT_FALSE(opened) << size;
    EXPECT_EQ(opened.error().code(), Errc::timeout) << opened.error().message();
    EXPECT_NE(opened.error().message().find("no header"), std::string::npos) << opened.error().message();
    auto words = file_words(g.name());
    auto viewed = Segment::view(as_bytes(words), g.name());
    ASSERT_FALSE(viewed);
    EXPECT_EQ(viewed.error().code(), Errc::corrupt);
  }
}

TEST(CorruptSegment, RegionOffsetsThatDisagreeWithTheLimits) {
  expect_refused([](const std::string& n, const Segment& s) {
    poke<std::uint64_t>(n, offsetof(SegmentHeader, series_offset), s.header().series_offset + 64);
  }, Errc::corrupt, "offsets disagree");
  expect_refused([](const std::string& n, const Segment& s) {
    poke<std::uint64_t>(n, offsetof(SegmentHeader, total_bytes), s.header().total_bytes * 2);
  }, Errc::corrupt, "offsets disagree");
  expect_refused([](const std::string& n, const Segment&) {
    poke<std::uint64_t>(n, offsetof(SegmentHeader, arenas_offset), kU64Max - 7);
  }, Errc::corrupt, "offsets disagree");
}

TEST(CorruptSegment, AbsurdLimits) {
  expect_refused([](const std::string& n, const Segment&) {
    poke<std::uint32_t>(n, offsetof(SegmentHeader, max_writers), 0xffff'ffff);
  }, Errc::corrupt, "max_writers");
  expect_refused([](const std::string& n, const Segment&) {
    poke<std::uint32_t>(n, offsetof(SegmentHeader, max_series), 0);
  }, Errc::corrupt, "max_series");
  expect_refused([](const std::string& n, const Segment&) {
    poke<std::uint64_t>(n, offsetof(SegmentHeader, arena_bytes), std::uint64_t{1} << 62);
  }, Errc::corrupt, "arena_bytes");
  // Limits that are each in range but agree with another layout: the file is too small for them.
  expect_refused([](const std::string& n, const Segment&) {
    poke<std::uint32_t>(n, offsetof(SegmentHeader, max_writers), 64);
  }, Errc::corrupt, "offsets disagree");
}

TEST(CorruptSegment, ViewOfRandomBytesIsRefused) {
  std::mt19937_64 rng(3);
  for (int k = 0; k < 2000; ++k) {
    std::vector<std::uint64_t> words(rng() % 2048);
    for (auto& w : words) w = rng();
    if (k % 2 == 1 && words.size() * 8 >= sizeof(SegmentHeader)) {
      // A plausible header prefix: magic, version and hash right, everything else random.
      words[0] = kMagic;
      words[1] = kLayoutVersion | (std::uint64_t{sizeof(SegmentHeader)} << 32);
      words[2] = layout_hash();
    }
    auto v = Segment::view(as_bytes(words), "garbage");
    ASSERT_FALSE(v) << "random bytes viewed as a segment, round " << k;
    EXPECT_TRUE(v.error().code() == Errc::corrupt || v.error().code() == Errc::incompatible)
        << v.error().message();
  }
}

// ---------------------------------------------------------------------------------------------
// A populated segment image (families and series of every type, a live writer, a detached one
// not yet reaped, retired cells) with guard zones around it, so that a write outside the
// segment is seen even where ASan would not see it.

class DamagedImage : public ::testing::Test {
 protected:
  static constexpr std::size_t kGuardWords = 512;
  static constexpr std::uint64_t kGuard = 0x6a09e667f3bcc909ull;
  static constexpr std::chrono::milliseconds kShortWait{5};

  void SetUp() override {
    SegmentGuard g(wsm::test::unique_segment_name("image"));
    auto s = Segment::create(g.name(), {small_limits()});
    ASSERT_TRUE(s);
    Catalog catalog(*s);
    auto counter = catalog.family({.name = "c_total", .type = MetricType::counter, .help = "help"});
    auto gauge = catalog.family({.name = "g", .type = MetricType::gauge});
    auto hist = catalog.family({.name = "h_bytes", .type = MetricType::histogram});
    ASSERT_TRUE(counter && gauge && hist);
    auto c1 = catalog.series(*counter, R"(a="1")");
    auto c2 = catalog.series(*counter, R"(a="2")");
    auto g1 = catalog.series(*gauge, "");
    auto h1 = catalog.series(*hist, R"(x="y")");
    ASSERT_TRUE(c1 && c2 && g1 && h1);
    const std::uint32_t hist_words = histogram_words(s->family(*hist).bucket_count);
    {
      auto folded = WriterArena::claim(*s, 11, "folded");
      ASSERT_TRUE(folded);
      folded->append(*c1, MetricType::counter, kCounterWords)->store(5);
      auto* h = folded->append(*h1, MetricType::histogram, hist_words);
      h[0].store(300);
      h[1 + HistogramScheme{s->family(*hist).max_octave}.index_of(300)].store(1);
      folded->detach();
      ASSERT_TRUE(Reaper(*s).reap());
    }
    auto live = WriterArena::claim(*s, 0, "live");
    ASSERT_TRUE(live);
    live->append(*g1, MetricType::gauge, kGaugeWords)->store(std::bit_cast<std::uint64_t>(3.5));
    auto detached = WriterArena::claim(*s, 12, "detached");
    ASSERT_TRUE(detached);
    detached->append(*c2, MetricType::counter, kCounterWords)->store(7);
    detached->append(*c1, MetricType::counter, kCounterWords)->store(2);
    detached->append(*h1, MetricType::histogram, hist_words)[0].store(9);
    detached->detach();
    pristine_ = file_words(g.name());
    ASSERT_EQ(pristine_.size() * 8, s->size());
  }

  // Fresh copy of the image between two guard zones.
  std::span<std::byte> fresh() {
    buffer_.assign(pristine_.size() + 2 * kGuardWords, kGuard);
    std::copy(pristine_.begin(), pristine_.end(), buffer_.begin() + kGuardWords);
    return {reinterpret_cast<std::byte*>(buffer_.data() + kGuardWords), pristine_.size() * 8};
  }
  SegmentHeader& header() { return *reinterpret_cast<SegmentHeader*>(buffer_.data() + kGuardWords); }

  static RegionLayout layout() { return compute_layout(small_limits()); }

  // Bytes [from, to) of the working copy are still those of the image.
  void expect_unchanged(std::uint64_t from, std::uint64_t to, const std::string& what) {
    const auto* now = reinterpret_cast<const std::byte*>(buffer_.data() + kGuardWords);
    const auto* was = reinterpret_cast<const std::byte*>(pristine_.data());
    for (std::uint64_t k = from; k < to; ++k) {
      ASSERT_EQ(now[k], was[k]) << what << ": byte " << k << " changed";
    }
  }

  void expect_guards_intact(const std::string& what) {
    for (std::size_t k = 0; k < kGuardWords; ++k) {
      ASSERT_EQ(buffer_[k], kGuard) << what << ": write before the segment, word -" << kGuardWords - k;
      ASSERT_EQ(buffer_[buffer_.size() - 1 - k], kGuard) << what << ": write after the segment";
    }
  }

  // What the exporter, `wsm reap` and a registering writer do; none may crash or write outside.
  void exercise(std::span<std::byte> bytes, const std::string& what) {
    auto s = Segment::view(bytes, "damaged");
    if (!s) return;  // refused with an error: fine
    CatalogView catalog;
    if (auto snap = Snapshot::take(*s, catalog, {std::chrono::milliseconds(2)})) {
      const auto agg = Aggregation::of(catalog, *snap);
      for (const Point& p : agg.points) {
        ASSERT_NE(p.family, nullptr);
        if (p.family->type == MetricType::histogram) {
          ASSERT_LE(p.buckets_at + p.family->bucket_count, agg.buckets.size()) << what;
        }
      }
    }
    // A short wait: the reap lock may be held by a live process.
    (void)Reaper(*s, kShortWait).reap();
    Catalog cat(*s);
    if (auto f = cat.family({.name = "c_total", .type = MetricType::counter})) {
      (void)cat.series(*f, R"(a="3")");
      (void)cat.series(*f, R"(a="1")");
    }
    if (auto f = cat.family({.name = "new_total", .type = MetricType::counter})) (void)cat.series(*f, "");
    if (auto a = WriterArena::claim(*s, 13, "late")) {  // may reap (default lock wait) when full
      if (auto* w = a->append(0, MetricType::counter, kCounterWords)) w->store(1);
    }
    CatalogView again;
    (void)Snapshot::take(*s, again, {std::chrono::milliseconds(2)});
    expect_guards_intact(what);
  }

  std::vector<std::uint64_t> pristine_;
  std::vector<std::uint64_t> buffer_;
};

TEST_F(DamagedImage, PristineImageReadsBack) {
  auto s = Segment::view(fresh(), "image");
  ASSERT_TRUE(s) << s.error().message();
  CatalogView catalog;
  auto snap = Snapshot::take(*s, catalog);
  ASSERT_TRUE(snap) << snap.error().message();
  EXPECT_TRUE(snap->problems.empty());
  const auto agg = Aggregation::of(catalog, *snap);
  std::map<std::string, std::uint64_t> counters;
  for (const Point& p : agg.points) {
    if (p.family->type == MetricType::counter) counters[std::string(p.series->labels)] = p.counter;
    if (p.family->type == MetricType::histogram) {
      EXPECT_EQ(p.sum, 309u);
    }
  }
  EXPECT_EQ(counters[R"(a="1")"], 7u);
  EXPECT_EQ(counters[R"(a="2")"], 7u);
  exercise(fresh(), "pristine");
}

// Header usage counters a damaged or hostile segment may hold at their extremes: the reaper must
// place retired cells inside the retired arena, 8-byte aligned, and touch nothing else.
TEST_F(DamagedImage, HostileRetiredUsageStaysInsideTheRetiredArena) {
  const std::uint64_t arena = small_limits().retired_bytes;
  for (std::uint64_t used : {kU64Max - 7, kU64Max - 15, kU64Max, arena + 8, arena, arena - 8,
                             std::uint64_t{12}, std::uint64_t{4}, std::uint64_t{0}}) {
    const std::string what = "retired_used = " + std::to_string(used);
    auto s = Segment::view(fresh(), "damaged");
    ASSERT_TRUE(s);
    header().retired_used.store(used);
    (void)Reaper(*s).reap();
    expect_guards_intact(what);
    expect_unchanged(layout().families_offset, layout().retired_index_offset, what + ": catalog");
    expect_unchanged(layout().strings_offset, layout().retired_offset, what + ": strings");
    for (std::uint32_t id = 0; id < s->max_series(); ++id) {
      const std::uint32_t at = s->retired_index(id).load();
      if (at == 0) continue;
      EXPECT_EQ((at - 1) % 8, 0u) << what << ": misaligned retired cell of series " << id;
      EXPECT_GE(at - 1, 8u) << what << ": retired cell at offset 0, where readers never look";
      EXPECT_LE(at - 1 + 16, arena) << what;
    }
    CatalogView catalog;
    (void)Snapshot::take(*s, catalog, {std::chrono::milliseconds(2)});
  }
}

// A registrant must store its strings inside the string arena whatever strings_used says.
TEST_F(DamagedImage, HostileStringUsageStaysInsideTheStringArena) {
  const std::uint64_t arena = small_limits().string_bytes;
  for (std::uint64_t used : {kU64Max - 3, kU64Max - 100, kU64Max, arena + 1, arena, arena - 4,
                             std::uint64_t{5}}) {
    const std::string what = "strings_used = " + std::to_string(used);
    auto s = Segment::view(fresh(), "damaged");
    ASSERT_TRUE(s);
    header().strings_used.store(used);
    Catalog catalog(*s);
    auto f = catalog.family({.name = "fresh_family_total", .type = MetricType::counter, .help = "some help"});
    if (f) {
      std::string_view name;
      EXPECT_TRUE(s->string_at(s->family(*f).name_off, s->family(*f).name_len, name)) << what;
      EXPECT_EQ(name, "fresh_family_total") << what;
      (void)catalog.series(*f, R"(k="v")");
    }
    expect_guards_intact(what);
    expect_unchanged(layout().slots_offset, layout().families_offset, what + ": writer slots");
    expect_unchanged(layout().retired_index_offset, layout().strings_offset, what + ": retired index");
    expect_unchanged(layout().retired_offset, pristine_.size() * 8, what + ": arenas");
  }
}

TEST_F(DamagedImage, OddReapSequenceIsAReaperThatDied) {
  auto s = Segment::view(fresh(), "damaged");
  ASSERT_TRUE(s);
  header().reap_seq.store(header().reap_seq.load() | 1);
  CatalogView catalog;
  // Nobody waits for a reaper that makes no progress: the copy is consistent, so it is taken.
  auto stuck = Snapshot::take(*s, catalog, {std::chrono::milliseconds(5)});
  EXPECT_TRUE(stuck) << stuck.error().message();
  ASSERT_TRUE(Reaper(*s).reap());
  EXPECT_EQ(header().reap_seq.load() % 2, 0u);
  EXPECT_TRUE(Snapshot::take(*s, catalog, {std::chrono::milliseconds(5)}));
  exercise(fresh(), "odd reap sequence");
}

TEST_F(DamagedImage, HostileFoldJournalStaysInsideTheSegment) {
  const std::uint64_t size = pristine_.size() * 8;
  for (std::uint64_t target : {kU64Max - 7, kU64Max, size - 8, size - 4, size, std::uint64_t{0},
                               std::uint64_t{504}, std::uint64_t{512}}) {
    for (std::uint64_t source : {std::uint64_t{512}, kU64Max - 7, size}) {
      auto bytes = fresh();
      header().journal_state.store(1);
      header().journal_target.store(target);
      header().journal_source.store(source);
      header().journal_value.store(42);
      exercise(bytes, "journal target " + std::to_string(target) + " source " + std::to_string(source));
    }
  }
}

TEST_F(DamagedImage, RandomDamageNeverCrashes) {
  std::mt19937_64 rng(4);
  const std::size_t size = pristine_.size() * 8;
  for (int round = 0; round < 400; ++round) {
    auto bytes = fresh();
    const int mode = round % 4;
    if (mode == 0) {  // a few random bytes anywhere past the immutable header fields
      for (int k = 0; k < 8; ++k) bytes[192 + rng() % (size - 192)] = static_cast<std::byte>(rng());
    } else if (mode == 1) {  // a random run of garbage
      const std::size_t at = 192 + rng() % (size - 192);
      const std::size_t n = std::min<std::size_t>(size - at, rng() % 512);
      for (std::size_t k = 0; k < n; ++k) bytes[at + k] = static_cast<std::byte>(rng());
    } else if (mode == 2) {  // whole words set to extremes
      const std::uint64_t extremes[] = {0, 1, 7, 8, 0x7fff'ffff, 0xffff'ffff, kU64Max - 7, kU64Max,
                                        std::uint64_t{1} << 63, size, size - 8};
      for (int k = 0; k < 4; ++k) {
        const std::size_t word = 24 + rng() % (size / 8 - 24);
        reinterpret_cast<std::uint64_t*>(bytes.data())[word] = extremes[rng() % std::size(extremes)];
      }
    } else {  // random bit flips, header included
      for (int k = 0; k < 16; ++k) bytes[rng() % size] ^= static_cast<std::byte>(1u << (rng() % 8));
    }
    exercise(bytes, "round " + std::to_string(round));
    if (HasFatalFailure()) return;
  }
}

// A writer trusts the family entry it finds for its histogram (cell size, bucket scheme): one
// whose shape does not add up must be refused, not recorded past the end of its cell.
TEST(CorruptFamily, MisshapenHistogramFamilyIsRefused) {
  for (int damage = 0; damage < 3; ++damage) {
    SegmentGuard g(wsm::test::unique_segment_name("family"));
    {
      auto s = Segment::create(g.name(), {small_limits()});
      ASSERT_TRUE(s);
      auto f = Catalog(*s).family({.name = "h_bytes", .type = MetricType::histogram});
      ASSERT_TRUE(f);
      FamilyEntry& e = s->family(*f);
      if (damage == 0) e.bucket_count = 2;
      if (damage == 1) e.max_octave = 200;
      if (damage == 2) e.max_octave = 1;
    }
    auto reg = Registry::open(g.name());
    ASSERT_TRUE(reg) << reg.error().message();
    auto h = reg->try_histogram("h_bytes");
    ASSERT_FALSE(h) << "damage " << damage;
    EXPECT_EQ(h.error().code(), Errc::corrupt) << h.error().message();
    EXPECT_NE(h.error().message().find("h_bytes"), std::string::npos) << h.error().message();
    reg->histogram("h_bytes").record(std::uint64_t{1} << 39);  // a sink: lands nowhere
  }
}

// cells_bytes is read from shared memory: a value near 2^64 must not wrap the room check and send
// the next cell far outside the arena (it is refused and counted as a dropped cell instead).
TEST(CorruptArena, HostileCellsBytesIsNotWrittenThrough) {
  SegmentGuard g(wsm::test::unique_segment_name("arena"));
  auto s = Segment::create(g.name(), {small_limits()});
  ASSERT_TRUE(s) << s.error().message();
  auto arena = WriterArena::claim(*s, 1, "test");
  ASSERT_TRUE(arena) << arena.error().message();
  for (std::uint64_t used : {kU64Max - 7, kU64Max - 15, std::uint64_t{1} << 63}) {
    s->slot(arena->slot_index()).cells_bytes.store(used);
    const std::uint64_t dropped = s->header().cells_dropped.load();
    EXPECT_EQ(arena->append(0, MetricType::counter, 1), nullptr) << "cells_bytes " << used;
    EXPECT_EQ(s->header().cells_dropped.load(), dropped + 1);
  }
}

}  // namespace
