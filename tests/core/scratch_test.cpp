// ScratchVector (scratch.hpp): a large array has a mapping of its own whose pages release_pages()
// really gives back (mincore says so) and which works again afterwards; a small one stays on the
// heap and keeps its values.
#include <gtest/gtest.h>

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

TEST(ScratchVector, ASmallArrayStaysOnTheHeapAndKeepsItsValues) {
  ScratchVector<std::uint64_t> v(1000, 7);
  wsm::shm::release_pages(v);
  for (std::uint64_t x : v) ASSERT_EQ(x, 7u);
}

}  // namespace
