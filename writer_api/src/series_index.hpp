// The process's index of the series it registered: key hash -> series id, read without a lock.
//
// A repeated registration (the same name and labels, in any order) finds its series here: one hash
// over the caller's views, one probe, and a check of the catalog entry's stored bytes (series_key.hpp),
// with no canonical label set built and no allocation. A miss takes the registration path, which
// inserts what it registered.
//
// Published tables, insert-only: a table is an open-addressed array of words (hash tag | id + 1; 0
// empty) whose capacity is a power of two, never more than half full. Readers load the current
// table and probe it with acquire loads and no lock. Inserts are serialised by the caller (the
// registration mutex) and store a word with a release; when the table would pass half full, the
// inserter copies it into one twice the size and publishes that with a release. A reader still on
// an old table may miss a series inserted since, and then takes the registration path, which finds
// it: a miss is never wrong, only slower. Old tables stay allocated for such readers until the
// process exits (together at most the size of the current one).
//
// Why not a reader-writer lock: every lookup would write the lock's shared counter, one cache line
// bounced between all registering threads; here a lookup only reads.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace wsm::detail {

class SeriesIndex {
 public:
  SeriesIndex();

  // The id of an indexed series whose key hashed to `hash` and for which matches(id) holds (the
  // caller compares the key with the catalog entry: hashes may collide).
  template <class Matches>
  [[nodiscard]] std::optional<std::uint32_t> find(std::uint64_t hash, Matches matches) const {
    // Acquire: pairs with the release that published the table, so its words are initialised.
    const Table* t = table_.load(std::memory_order_acquire);
    const std::uint64_t tag = hash & kTagMask;
    for (std::uint64_t i = t->home(hash);; i = (i + 1) & t->mask) {
      // Acquire: pairs with insert()'s release, so the catalog entry and the series' shape,
      // written before the insert, are visible to whoever gets the id.
      const std::uint64_t w = t->words[i].load(std::memory_order_acquire);
      if (w == 0) return std::nullopt;  // never more than half full: a probe always ends here
      if ((w & kTagMask) == tag) {
        const auto id = static_cast<std::uint32_t>((w & ~kTagMask) - 1);
        if (matches(id)) return id;
      }
    }
  }

  // Indexes series `id` under `hash` (once: a second insert of the same pair does nothing).
  // Callers serialise inserts (the registration mutex); finds may run at the same time.
  void insert(std::uint64_t hash, std::uint32_t id);

  [[nodiscard]] std::uint64_t size() const noexcept;  // words inserted (for tests)

 private:
  // A word keeps the hash's high 32 bits as its tag and id + 1 in the low 32; the probe starts at
  // the hash's top bits, which the tag holds, so growing needs no other copy of the hash.
  static constexpr std::uint64_t kTagMask = 0xffff'ffff'0000'0000ull;
  struct Table {
    explicit Table(unsigned bits);
    [[nodiscard]] std::uint64_t home(std::uint64_t hash) const noexcept { return hash >> (64 - bits); }
    unsigned bits;  // capacity is 2^bits, at most 2^32
    std::uint64_t mask;
    std::unique_ptr<std::atomic<std::uint64_t>[]> words;
  };
  // Stores w in t (caller made sure there is room); false if t already held it.
  static bool place(Table& t, std::uint64_t w) noexcept;

  std::atomic<const Table*> table_;
  // Written only by inserters, which the caller serialises.
  std::vector<std::unique_ptr<Table>> tables_;  // every table published, the current one last
  std::uint64_t used_ = 0;                      // words in the current table
};

}  // namespace wsm::detail
