// Segment lifecycle: create, open, open_or_create races, file mode, generation, waiting openers.
#include <gtest/gtest.h>

#include <cstring>
#include <fcntl.h>
#include <thread>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "forked.hpp"
#include "test_limits.hpp"
#include "test_support.hpp"
#include "wsm/shm/segment.hpp"

namespace {

using namespace wsm;
using namespace wsm::shm;
using wsm::test::SegmentGuard;
using wsm::test::small_limits;

std::string shm_path(const std::string& name) { return "/dev/shm/wsm." + name; }

TEST(Segment, CreateThenOpenSeesTheSameSegment) {
  SegmentGuard g(wsm::test::unique_segment_name("seg"));
  auto created = Segment::create(g.name(), {small_limits()});
  ASSERT_TRUE(created) << created.error().message();
  for (Access access : {Access::read_write, Access::read_only}) {
    auto opened = Segment::open(g.name(), {access});
    ASSERT_TRUE(opened) << opened.error().message();
    EXPECT_EQ(opened->header().generation, created->header().generation);
    EXPECT_EQ(opened->size(), created->size());
    EXPECT_EQ(opened->writable(), access == Access::read_write);
    EXPECT_EQ(opened->max_series(), small_limits().max_series);
    EXPECT_EQ(opened->limits().arena_bytes, small_limits().arena_bytes);
  }
  EXPECT_EQ(created->header().creator_pid, static_cast<std::uint32_t>(::getpid()));
  EXPECT_EQ(created->size(), compute_layout(small_limits()).total_bytes);
  const auto names = Segment::list();
  EXPECT_NE(std::find(names.begin(), names.end(), g.name()), names.end());
}

TEST(Segment, CreateRefusesAnExistingSegment) {
  SegmentGuard g(wsm::test::unique_segment_name("seg"));
  ASSERT_TRUE(Segment::create(g.name(), {small_limits()}));
  auto again = Segment::create(g.name(), {small_limits()});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), Errc::already_exists);
}

TEST(Segment, OpenOfAMissingSegmentSaysNotFound) {
  const std::string name = wsm::test::unique_segment_name("missing");
  auto r = Segment::open(name);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::not_found);
  EXPECT_NE(r.error().message().find(name), std::string::npos) << r.error().message();
  auto removed = Segment::remove(name);
  ASSERT_FALSE(removed);
  EXPECT_EQ(removed.error().code(), Errc::not_found);
}

TEST(Segment, RejectsBadNamesAndLimits) {
  for (const std::string& bad : std::vector<std::string>{"", "a/b", "..", ".", "a b", std::string(201, 'x'), "caf\xc3\xa9"}) {
    auto r = Segment::create(bad, {small_limits()});
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), Errc::invalid_argument) << bad;
  }
  Limits l = small_limits();
  l.max_writers = 0;
  auto r = Segment::create(wsm::test::unique_segment_name("lim"), {l});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::invalid_argument);
  EXPECT_NE(r.error().message().find("max_writers"), std::string::npos) << r.error().message();
  l = small_limits();
  l.series_cap_per_family = l.max_series + 1;
  EXPECT_FALSE(Segment::create(wsm::test::unique_segment_name("lim"), {l}));
  l = small_limits();
  l.arena_bytes = 4096 + 8;  // not a multiple of 64
  EXPECT_FALSE(Segment::create(wsm::test::unique_segment_name("lim"), {l}));
}

TEST(Segment, FileModeIsWhatWasAskedRegardlessOfUmask) {
  const mode_t old = ::umask(0);
  for (unsigned mode : {0600u, 0640u}) {
    for (mode_t mask : {mode_t{0}, mode_t{077}}) {
      ::umask(mask);
      SegmentGuard g(wsm::test::unique_segment_name("mode"));
      CreateOptions options{small_limits()};
      if (mode != 0600) options.mode = mode;
      ASSERT_TRUE(Segment::create(g.name(), options));
      struct stat st{};
      ASSERT_EQ(::stat(shm_path(g.name()).c_str(), &st), 0);
      EXPECT_EQ(st.st_mode & 0777, mode) << "umask " << std::oct << mask;
    }
  }
  ::umask(old);
}

TEST(Segment, DefaultModeIs0600) {
  SegmentGuard g(wsm::test::unique_segment_name("mode"));
  ASSERT_TRUE(Segment::open_or_create(g.name(), {}));
  struct stat st{};
  ASSERT_EQ(::stat(shm_path(g.name()).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(Segment, GenerationChangesWhenTheSegmentIsCreatedAgain) {
  SegmentGuard g(wsm::test::unique_segment_name("gen"));
  std::uint64_t first = 0;
  {
    auto s = Segment::create(g.name(), {small_limits()});
    ASSERT_TRUE(s);
    first = s->header().generation;
  }
  ASSERT_TRUE(Segment::remove(g.name()));
  auto s = Segment::create(g.name(), {small_limits()});
  ASSERT_TRUE(s);
  EXPECT_NE(s->header().generation, first);
}

// N processes race open_or_create from one start signal: all of them must end in one segment.
TEST(Segment, RacingOpenOrCreateEndsInOneSegment) {
  SegmentGuard g(wsm::test::unique_segment_name("race"));
  for (int round = 0; round < 5; ++round) {
    (void)Segment::remove(g.name());
    wsm::test::StartGate gate;
    wsm::test::Pipe generations;
    std::vector<wsm::test::Forked> racers;
    for (int k = 0; k < 8; ++k) {
      racers.push_back(wsm::test::Forked::run([&] {
        gate.wait();
        auto s = Segment::open_or_create(g.name(), {small_limits()});
        if (!s) return 1;
        generations.send(s->header().generation);
        return 0;
      }));
    }
    gate.open();
    for (auto& r : racers) EXPECT_EQ(r.wait(), 0);
    const auto seen = generations.receive_all();
    ASSERT_EQ(seen.size(), racers.size());
    auto final = Segment::open(g.name());
    ASSERT_TRUE(final) << final.error().message();
    for (std::uint64_t gen : seen) EXPECT_EQ(gen, final->header().generation) << "round " << round;
  }
}

// An opener that finds the file before its creator finished waits for the size and the magic.
TEST(Segment, OpenerWaitsForTheCreatorToPublish) {
  SegmentGuard source(wsm::test::unique_segment_name("src"));
  SegmentGuard g(wsm::test::unique_segment_name("slow"));
  auto model = Segment::create(source.name(), {small_limits()});
  ASSERT_TRUE(model);
  const std::uint64_t generation = model->header().generation;

  // Play a slow creator by hand: an empty file first, as shm_open(O_EXCL) leaves it.
  const int fd = ::open(shm_path(g.name()).c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  ASSERT_GE(fd, 0);
  wsm::test::Pipe result;
  auto opener = wsm::test::Forked::run([&] {
    auto s = Segment::open(g.name(), {Access::read_only, std::chrono::seconds(20)});
    result.send(s ? s->header().generation : 0);
    return s ? 0 : 1;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  // Size, then every byte but the magic, then the magic.
  ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(model->size())), 0);
  std::vector<std::byte> bytes(model->base(), model->base() + model->size());
  std::memset(bytes.data(), 0, sizeof(std::uint64_t));
  ASSERT_EQ(::pwrite(fd, bytes.data(), bytes.size(), 0), static_cast<ssize_t>(bytes.size()));
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  const std::uint64_t magic = kMagic;
  ASSERT_EQ(::pwrite(fd, &magic, sizeof magic, 0), static_cast<ssize_t>(sizeof magic));
  ::close(fd);
  EXPECT_EQ(opener.wait(), 0);
  const auto seen = result.receive_all();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], generation);
}

TEST(Segment, OpenerGivesUpOnACreatorThatNeverFinishes) {
  SegmentGuard g(wsm::test::unique_segment_name("dead"));
  const int fd = ::open(shm_path(g.name()).c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  ASSERT_GE(fd, 0);
  auto empty = Segment::open(g.name(), {Access::read_only, std::chrono::milliseconds(50)});
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code(), Errc::timeout);
  EXPECT_NE(empty.error().message().find("wsm rm " + g.name()), std::string::npos) << empty.error().message();
  // Sized but never published (magic still zero).
  ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(compute_layout(small_limits()).total_bytes)), 0);
  ::close(fd);
  auto unpublished = Segment::open(g.name(), {Access::read_only, std::chrono::milliseconds(50)});
  ASSERT_FALSE(unpublished);
  EXPECT_EQ(unpublished.error().code(), Errc::timeout);
}

}  // namespace

namespace {

// Resident pages of [p, p + n) in this process's page tables (mincore reports the page cache for
// a shared file mapping, so the count comes from /proc/self/pagemap's present bit instead).
std::size_t present_pages(const std::byte* p, std::size_t n) {
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  const int fd = ::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  std::size_t present = 0;
  for (auto a = reinterpret_cast<std::uintptr_t>(p) / page; a < (reinterpret_cast<std::uintptr_t>(p) + n) / page; ++a) {
    std::uint64_t entry = 0;
    if (::pread(fd, &entry, sizeof entry, static_cast<off_t>(a * 8)) == sizeof entry && (entry >> 63) != 0) ++present;
  }
  ::close(fd);
  return present;
}

TEST(Segment, ReleasedPagesLeaveThePageTablesAndKeepTheirData) {
  SegmentGuard g(wsm::test::unique_segment_name("seg"));
  auto created = Segment::create(g.name(), {small_limits()});
  ASSERT_TRUE(created) << created.error().message();
  auto reader = Segment::open(g.name(), {Access::read_write});
  ASSERT_TRUE(reader) << reader.error().message();
  const std::span<std::byte> arena = reader->arena(0);
  ASSERT_GE(arena.size(), 2u * 4096);
  // Written through one mapping, read through the other: the reader's pages are then present.
  for (std::size_t i = 0; i < arena.size(); i += 4096) created->arena(0)[i] = std::byte{0x5a};
  unsigned sum = 0;
  for (std::size_t i = 0; i < arena.size(); i += 4096) sum += std::to_integer<unsigned>(arena[i]);
  EXPECT_EQ(sum, 0x5au * ((arena.size() + 4095) / 4096));
  EXPECT_GT(present_pages(arena.data(), arena.size()), 0u);

  EXPECT_TRUE(reader->release_pages(arena));
  EXPECT_EQ(present_pages(arena.data(), arena.size()), 0u);
  // The data is the file's: still there, and a store made meanwhile through the other mapping is seen.
  created->arena(0)[4096] = std::byte{0x7e};
  EXPECT_EQ(arena[0], std::byte{0x5a});
  EXPECT_EQ(arena[4096], std::byte{0x7e});
  EXPECT_TRUE(reader->release_pages());
  EXPECT_EQ(reader->header().generation, created->header().generation);
}

TEST(Segment, AViewIsNeverReleased) {
  SegmentGuard g(wsm::test::unique_segment_name("seg"));
  auto created = Segment::create(g.name(), {small_limits()});
  ASSERT_TRUE(created) << created.error().message();
  std::vector<std::uint64_t> words(created->size() / 8);
  std::memcpy(words.data(), created->base(), words.size() * 8);
  auto viewed = Segment::view(std::as_writable_bytes(std::span(words)), g.name());
  ASSERT_TRUE(viewed) << viewed.error().message();
  // MADV_DONTNEED would zero a view's own memory: release_pages must refuse.
  EXPECT_FALSE(viewed->release_pages());
  EXPECT_EQ(viewed->header().generation, created->header().generation);
}

}  // namespace
