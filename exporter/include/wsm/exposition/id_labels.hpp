// The exposition policy for identifier labels (user_id, patient_id, connection_id): unbounded in
// number and, for a medical service, personal data (docs/design.md, "Labels and cardinality").
//
//   drop (default)  series that differ only in these labels are summed into one series without
//                   them: counters and histograms add up, gauges combine by the family's mode
//                   (sum; max; min; `last` and per_writer keep the largest value);
//   hash            each value becomes the first 16 hex digits of HMAC-SHA256(key, value): the
//                   same person keeps one stable pseudonym, which is useless without the key;
//   raw             exposed as recorded.
//
// The exporter and `wsm dump` apply the same policy, so both show the same series.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "wsm/shm/aggregation.hpp"
#include "wsm/shm/error.hpp"

namespace wsm::exposition {

inline constexpr std::array<std::string_view, 3> kIdentifierLabels = {"connection_id", "patient_id",
                                                                      "user_id"};

enum class IdLabelMode { drop, hash, raw };
[[nodiscard]] std::optional<IdLabelMode> parse_id_label_mode(std::string_view text) noexcept;
[[nodiscard]] std::string_view to_string(IdLabelMode mode) noexcept;

using HashKey = std::array<unsigned char, 32>;

// ${XDG_STATE_HOME:-$HOME/.local/state}/wsm/id-hash.key
[[nodiscard]] std::string default_hash_key_path();
// Reads the 32-byte key at `path`; if there is no file, creates it (random bytes from
// getrandom, mode 0600, missing parent directories 0700). Refuses a key file that others may
// read or write, or of another size: the key is what keeps the pseudonyms from being reversed.
[[nodiscard]] Result<HashKey> load_or_create_hash_key(const std::string& path);

class IdLabelPolicy {
 public:
  explicit IdLabelPolicy(IdLabelMode mode = IdLabelMode::drop, const HashKey& key = {});

  [[nodiscard]] IdLabelMode mode() const noexcept { return mode_; }

  // The aggregation as exposed: `in` itself when nothing needs rewriting, else this policy's own
  // copy, grouped by family and sorted by labels like the input. Its points refer to `in`'s
  // families and to series this policy keeps; it stays valid until the apply() after the next
  // (two copies take turns), so a caller may write one part out while it applies the next.
  // `generation` is the segment's: a new one forgets every cached rewrite.
  [[nodiscard]] const shm::Aggregation& apply(const shm::Aggregation& in, std::uint64_t generation);

  // Gives back the pages of this policy's copies (scratch.hpp): the aggregations apply() returned,
  // if they were copies, are empty until the next apply().
  void release_pages() noexcept;

  // The pseudonym of one (unescaped) value.
  [[nodiscard]] std::string pseudonym(std::string_view value) const;

 private:
  const shm::SeriesInfo* rewritten(const shm::Point& p);
  void merge_family(const shm::Aggregation& in, std::size_t begin, std::size_t end, shm::Aggregation& out);

  IdLabelMode mode_;
  HashKey key_;
  std::uint64_t generation_ = 0;
  // Per series id: whether it was looked at, and if so, what it is rewritten to (nullptr:
  // unchanged; rewrites_ reaches only as far as the rewritten ids). A bit per id: 16 KB at 100k
  // series, where a byte per id took 126 KB of the exporter's peak.
  std::vector<bool> looked_at_;
  std::vector<const shm::SeriesInfo*> rewrites_;
  std::deque<shm::SeriesInfo> made_;  // rewritten series (deque: pointers stay valid)
  std::deque<std::string> made_labels_;  // their labels, which made_ views (deque: never moved)
  std::unordered_map<std::string, const shm::SeriesInfo*> by_key_;  // family id + labels
  shm::Aggregation copies_[2];  // the last two apply() made: see apply()
  std::size_t last_copy_ = 0;
};

}  // namespace wsm::exposition
