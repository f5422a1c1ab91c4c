// ScratchVector (scratch.hpp): a large array has a mapping of its own whose pages release_pages()
// really gives back (mincore says so) and which works again afterwards; a small one stays on the
// heap and keeps its values.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/mman.h>
#include <unistd.h>

#include "wsm/shm/scratch.hpp"

namespace {

using wsm::shm::ScratchVector;

// Resident 4 KiB-or-larger pages of the storage of v (whose data() is page-aligned).
std::size_t resident_pages(const ScratchVector<std::uint64_t>& v) {
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  const std::size_t pages = (v.size() * sizeof(std::uint64_t) + page - 1) / page;
  std::vector<unsigned char> in(pages);
  EXPECT_EQ(::mincore(const_cast<std::uint64_t*>(v.data()), pages * page, in.data()), 0);
  std::size_t n = 0;
  for (unsigned char c : in) n += c & 1u;
  return n;
}

TEST(ScratchVector, ALargeArrayGivesBackItsPagesAndWorksAfterwards) {
  ScratchVector<std::uint64_t> v(3 * wsm::shm::kScratchMapBytes / sizeof(std::uint64_t), 7);
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  ASSERT_EQ(reinterpret_cast<std::uintptr_t>(v.data()) % page, 0u) << "not a mapping of its own";
  const std::size_t pages = (v.size() * sizeof(std::uint64_t) + page - 1) / page;
  EXPECT_EQ(resident_pages(v), pages);

  wsm::shm::release_pages(v);
  EXPECT_EQ(resident_pages(v), 0u);
  EXPECT_EQ(v.size(), 3 * wsm::shm::kScratchMapBytes / sizeof(std::uint64_t)) << "the size is kept";

  for (std::size_t i = 0; i < v.size(); ++i) v[i] = i;
  std::uint64_t sum = 0;
  for (std::uint64_t x : v) sum += x;
  EXPECT_EQ(sum, v.size() * (v.size() - 1) / 2);
  v.resize(2 * v.size(), 1);  // grows into a new mapping, the old one unmapped
  EXPECT_EQ(v[v.size() / 2 - 1], v.size() / 2 - 1);
  EXPECT_EQ(v.back(), 1u);
}

TEST(ScratchVector, APartOfALargeArrayGivesBackOnlyTheWholePagesInside) {
  ScratchVector<std::uint64_t> v(3 * wsm::shm::kScratchMapBytes / sizeof(std::uint64_t), 7);
  const std::size_t per_page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)) / sizeof(std::uint64_t);
  const std::size_t pages = resident_pages(v);
  const std::size_t from = per_page + 3, to = 10 * per_page + 5;  // pages 2..9 lie wholly inside
  wsm::shm::release_pages(v, from, to);
  EXPECT_EQ(resident_pages(v), pages - 8);
  for (std::size_t i = 0; i < v.size(); ++i) {
    const bool dropped = i >= 2 * per_page && i < 10 * per_page;
    ASSERT_EQ(v[i], dropped ? 0u : 7u) << "element " << i;
  }
  wsm::shm::release_pages(v, 5, v.size() + 1);  // past the end: refused, nothing dropped
  EXPECT_EQ(v[per_page], 7u);
}

// The mapping (/proc/self/smaps) that holds address p: its Size and AnonHugePages, in kB.
struct Mapping {
  std::size_t size_kb = 0, huge_kb = 0;
};
Mapping mapping_of(const void* p) {
  std::ifstream smaps("/proc/self/smaps");
  const auto at = reinterpret_cast<std::uintptr_t>(p);
  Mapping m;
  bool inside = false;
  for (std::string line; std::getline(smaps, line);) {
    unsigned long begin = 0, end = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &begin, &end) == 2 && line.find(':') > line.find(' ')) {
      inside = begin <= at && at < end;
    } else if (inside) {
      std::istringstream field(line);
      std::string key;
      std::size_t kb = 0;
      field >> key >> kb;
      if (key == "Size:") m.size_kb = kb;
      if (key == "AnonHugePages:") m.huge_kb = kb;
    }
  }
  return m;
}

// From kHugePageBytes (half a MiB) an array takes whole 2 MiB pages: its ~150 small pages would
// each be a page fault on every read that faults them back.
TEST(ScratchVector, AnArrayFromHalfAMebibyteTakesAWholeHugePage) {
  ScratchVector<std::uint64_t> v(600 * 1024 / sizeof(std::uint64_t), 7);
  ASSERT_GE(v.size() * sizeof(std::uint64_t), wsm::shm::kHugePageBytes);
  const Mapping m = mapping_of(v.data());
  EXPECT_EQ(m.size_kb, 2048u) << "the array's mapping is not one huge page";
  std::printf("AnonHugePages of the mapping: %zu kB (0 where transparent huge pages are off)\n", m.huge_kb);
  wsm::shm::release_pages(v);
  for (std::size_t i = 0; i < v.size(); i += 512) ASSERT_EQ(v[i], 0u) << "dropped pages read as zero";
}

TEST(ScratchVector, ASmallArrayStaysOnTheHeapAndKeepsItsValues) {
  ScratchVector<std::uint64_t> v(1000, 7);
  wsm::shm::release_pages(v);
  for (std::uint64_t x : v) ASSERT_EQ(x, 7u);
}

}  // namespace
