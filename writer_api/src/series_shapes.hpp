// What a thread needs to append a cell for a series id, for every series this process registered.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <memory>

#include "wsm/shm/histogram_scheme.hpp"
#include "wsm/shm/layout.hpp"

namespace wsm::detail {

struct SeriesShape {
  shm::MetricType kind{};
  std::uint32_t words = 0;  // 0: unknown to this process
};

// One 4-byte atomic per series id (kind | words << 8; 0: not registered by this process), written
// once when the process registers the series and read at a thread's first record of it. Sized to
// the segment's max_series once, from calloc, so the pages of ids never registered here are never
// touched, and a registration neither reallocates nor locks.
class SeriesShapes {
 public:
  explicit SeriesShapes(std::uint32_t max_series)
      : words_(static_cast<std::atomic<std::uint32_t>*>(std::calloc(max_series, sizeof(std::uint32_t)))),
        size_(words_ ? max_series : 0) {}

  // The widest cell (a histogram of the largest scheme) fits the 24 bits of words.
  static_assert(shm::histogram_words(shm::HistogramScheme{shm::kMaxOctaveLimit}.bucket_count()) < (1u << 24));

  void set(std::uint32_t id, SeriesShape shape) noexcept {
    if (id >= size_) return;
    // Release: pairs with at()'s acquire, so the shape is published with the series' handle.
    words_.get()[id].store(static_cast<std::uint32_t>(shape.kind) | shape.words << 8,
                           std::memory_order_release);
  }
  [[nodiscard]] SeriesShape at(std::uint32_t id) const noexcept {
    if (id >= size_) return {};
    const std::uint32_t w = words_.get()[id].load(std::memory_order_acquire);
    return {static_cast<shm::MetricType>(w & 0xff), w >> 8};
  }

 private:
  struct FreeDeleter {
    void operator()(void* p) const noexcept { std::free(p); }
  };
  std::unique_ptr<std::atomic<std::uint32_t>[], FreeDeleter> words_;
  std::uint32_t size_;
};

}  // namespace wsm::detail
