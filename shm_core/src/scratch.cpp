#include "wsm/shm/scratch.hpp"

#include <cstdint>
#include <new>
#include <sys/mman.h>

namespace wsm::shm::detail {

namespace {
constexpr std::size_t kHugePage = std::size_t{2} << 20;
// Whole pages, and whole huge pages from kHugePageBytes on: the kernel places a mapping of whole
// huge pages on a huge-page boundary, so every page of it can be a huge one.
std::size_t mapped_bytes(std::size_t bytes) noexcept {
  const std::size_t page = in_huge_pages(bytes) ? kHugePage : 4096;
  return (bytes + page - 1) / page * page;
}
}  // namespace

void* map_scratch(std::size_t bytes) {
  const std::size_t n = mapped_bytes(bytes);
  void* p = ::mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  // Refused where transparent huge pages are off: the mapping then works with small pages.
  if (in_huge_pages(bytes)) (void)::madvise(p, n, MADV_HUGEPAGE);
  return p;
}

void unmap_scratch(void* p, std::size_t bytes) noexcept { (void)::munmap(p, mapped_bytes(bytes)); }

void drop_scratch_pages(void* p, std::size_t bytes) noexcept {
  (void)::madvise(p, mapped_bytes(bytes), MADV_DONTNEED);
}

void drop_inner_pages(void* from, void* to) noexcept {
  constexpr std::uintptr_t kPage = 4096;
  const std::uintptr_t first = (reinterpret_cast<std::uintptr_t>(from) + kPage - 1) / kPage * kPage;
  const std::uintptr_t last = reinterpret_cast<std::uintptr_t>(to) / kPage * kPage;
  // Part of a huge page: the kernel splits it and frees the small pages dropped.
  if (last > first) (void)::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

}  // namespace wsm::shm::detail
