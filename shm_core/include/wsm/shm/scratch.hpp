// Memory for what every read of the cells rebuilds from nothing (the accumulators, the points and
// their bucket counts), which a reader such as the exporter gives back to the kernel between reads.
//
// Arrays of kScratchMapBytes or more get an anonymous mapping of their own, so release_pages()
// can drop their pages (MADV_DONTNEED) and the next read faults them back. From kHugePageBytes on
// the mapping is a whole number of 2 MiB pages with transparent huge pages asked for
// (MADV_HUGEPAGE, which the kernel's default "madvise" mode grants), and the pages come back a
// huge page at a time. Measured on the 2-core VM the benchmarks run on: faulting 16 MB back costs
// 0.6-0.9 ms with huge pages against ~7.5 ms with 4 KiB pages, and the drop ~0.05 ms against
// ~1.4 ms, cheap enough to do after every scrape, where keeping the pages cost ~17 MB of the
// exporter's resident memory at 100k series for as long as it runs. kHugePageBytes is 512 KiB, not
// 1 MiB: an array of 0.5-1 MiB then maps up to four times its size while a read uses it, but one
// huge page comes back in ~0.1 ms where its ~250 small pages took ~1 ms (the three ~1 MB counter
// accumulators of a 100k-series read: 100k x 8 text went 20.1 -> 16.4 ms CPU, the peak stayed).
// Smaller arrays stay on the heap, where a mapping of their own would waste more than it saves.
#pragma once

#include <cstddef>
#include <memory>
#include <type_traits>
#include <vector>

namespace wsm::shm {

inline constexpr std::size_t kScratchMapBytes = std::size_t{256} << 10;
inline constexpr std::size_t kHugePageBytes = std::size_t{512} << 10;

namespace detail {
// Whether an array of `bytes` gets a mapping of its own (else it is on the heap).
[[nodiscard]] constexpr bool mapped(std::size_t bytes) noexcept { return bytes >= kScratchMapBytes; }
// Whether that mapping asks for huge pages.
[[nodiscard]] constexpr bool in_huge_pages(std::size_t bytes) noexcept { return bytes >= kHugePageBytes; }
// A mapping of at least `bytes` (whole huge pages from kHugePageBytes on); throws std::bad_alloc.
[[nodiscard]] void* map_scratch(std::size_t bytes);
void unmap_scratch(void* p, std::size_t bytes) noexcept;
// MADV_DONTNEED over the mapping of `bytes` at p.
void drop_scratch_pages(void* p, std::size_t bytes) noexcept;
// MADV_DONTNEED over the whole 4 KiB pages between from and to, inside one mapping.
void drop_inner_pages(void* from, void* to) noexcept;
}  // namespace detail

template <class T>
class ScratchAllocator {
 public:
  using value_type = T;
  ScratchAllocator() noexcept = default;
  template <class U>
  ScratchAllocator(const ScratchAllocator<U>&) noexcept {}  // NOLINT: rebinding, as allocators do

  [[nodiscard]] T* allocate(std::size_t n) {
    if (!detail::mapped(n * sizeof(T))) return std::allocator<T>().allocate(n);
    return static_cast<T*>(detail::map_scratch(n * sizeof(T)));
  }
  void deallocate(T* p, std::size_t n) noexcept {
    if (!detail::mapped(n * sizeof(T))) {
      std::allocator<T>().deallocate(p, n);
    } else {
      detail::unmap_scratch(p, n * sizeof(T));
    }
  }
  friend bool operator==(const ScratchAllocator&, const ScratchAllocator&) noexcept { return true; }
};

template <class T>
using ScratchVector = std::vector<T, ScratchAllocator<T>>;

// Gives back the pages of v's storage when it has a mapping of its own (a no-op for a small v).
// The size is kept. True when the pages were dropped: the elements then read as zero bytes until
// written (a private anonymous mapping refills with zeroed pages). False: they are as they were.
template <class T>
bool release_pages(ScratchVector<T>& v) noexcept {
  static_assert(std::is_trivially_copyable_v<T>, "dropped pages read back as zero bytes");
  if (!detail::mapped(v.capacity() * sizeof(T))) return false;
  detail::drop_scratch_pages(v.data(), v.capacity() * sizeof(T));
  return true;
}

// Gives back the whole pages inside elements [from, to) of v when it has a mapping of its own:
// those elements then read as zero bytes until written, the others are as they were. For a reader
// done with the front of an array while it still reads the rest (Tally::next_part). The size is
// kept; the array is not marked dropped (a caller zeroes it before its next use).
template <class T>
void release_pages(ScratchVector<T>& v, std::size_t from, std::size_t to) noexcept {
  static_assert(std::is_trivially_copyable_v<T>, "dropped pages read back as zero bytes");
  if (!detail::mapped(v.capacity() * sizeof(T)) || from >= to || to > v.size()) return;
  detail::drop_inner_pages(v.data() + from, v.data() + to);
}

}  // namespace wsm::shm
