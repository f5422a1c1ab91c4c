#include "series_index.hpp"

namespace wsm::detail {

namespace {
constexpr unsigned kFirstBits = 6;  // 64 words
}

SeriesIndex::Table::Table(unsigned b)
    : bits(b), mask((std::uint64_t{1} << b) - 1), words(new std::atomic<std::uint64_t>[std::uint64_t{1} << b]()) {}

SeriesIndex::SeriesIndex() {
  tables_.push_back(std::make_unique<Table>(kFirstBits));
  table_.store(tables_.back().get(), std::memory_order_relaxed);  // before any reader exists
}

bool SeriesIndex::place(Table& t, std::uint64_t w) noexcept {
  for (std::uint64_t i = t.home(w);; i = (i + 1) & t.mask) {
    // Relaxed: only the (serialised) inserter writes words; it reads its own stores.
    const std::uint64_t seen = t.words[i].load(std::memory_order_relaxed);
    if (seen == w) return false;
    if (seen == 0) {
      // Release: the catalog entry and the series' shape, written before, come with the word.
      t.words[i].store(w, std::memory_order_release);
      return true;
    }
  }
}

void SeriesIndex::insert(std::uint64_t hash, std::uint32_t id) {
  const std::uint64_t w = (hash & kTagMask) | (std::uint64_t{id} + 1);
  Table* t = tables_.back().get();
  if (2 * (used_ + 1) > t->mask + 1 && t->bits < 32) {
    auto bigger = std::make_unique<Table>(t->bits + 1);
    for (std::uint64_t i = 0; i <= t->mask; ++i) {
      if (const std::uint64_t old = t->words[i].load(std::memory_order_relaxed)) (void)place(*bigger, old);
    }
    tables_.push_back(std::move(bigger));
    t = tables_.back().get();
    // Release: the copied words are visible to a reader that loads the new table.
    table_.store(t, std::memory_order_release);
  }
  if (2 * (used_ + 1) > t->mask + 1) return;  // 2^31 words: leave it half empty, never full
  if (place(*t, w)) ++used_;
}

std::uint64_t SeriesIndex::size() const noexcept { return used_; }

}  // namespace wsm::detail
