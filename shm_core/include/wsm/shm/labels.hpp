// Metric names and label sets: validation and the canonical form stored in the catalog.
//
// A canonical label set is `k1="v1",k2="v2"` with keys sorted and values escaped exactly as the
// Prometheus text format and OpenMetrics want (\\, \", \n), invalid UTF-8 replaced by U+FFFD. The
// same bytes serve as the catalog key and as the exposition fragment, so a scrape copies them.
#pragma once

#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "wsm/shm/error.hpp"
#include "wsm/shm/layout.hpp"

namespace wsm {

using Label = std::pair<std::string_view, std::string_view>;
using Labels = std::initializer_list<Label>;

namespace shm {

inline constexpr std::size_t kMaxNameBytes = 200;
inline constexpr std::size_t kMaxLabelSetBytes = 4096;

// Both refuse names starting with __ (reserved by Prometheus).
[[nodiscard]] Result<void> validate_metric_name(std::string_view name);
[[nodiscard]] Result<void> validate_label_name(std::string_view name);
// A label name a registrant may use: valid, and none of the exposition's own (le, quantile,
// wsm_overflow). Readers check stored label sets with validate_label_name, since the catalog's
// overflow series carries wsm_overflow.
[[nodiscard]] Result<void> validate_user_label_name(std::string_view name);
// Unit by Prometheus naming convention: *_seconds, *_bytes, *_percent (also before _total).
[[nodiscard]] Unit unit_from_name(std::string_view name) noexcept;
[[nodiscard]] std::string_view unit_suffix(Unit unit) noexcept;  // "seconds", "bytes", ...

// Validates names (validate_user_label_name, no duplicates), sorts by name, escapes the values.
[[nodiscard]] Result<std::string> canonical_labels(std::span<const Label> labels);
// Appends value escaped for a label value; invalid UTF-8 becomes U+FFFD.
void escape_label_value(std::string_view value, std::string& out);
// Length of the valid UTF-8 sequence at s[i], or 0 if it is not valid (RFC 3629 ranges).
[[nodiscard]] std::size_t utf8_sequence_length(std::string_view s, std::size_t i) noexcept;
// The escaped form of value, handed to piece(std::string_view) in order: runs of bytes kept as
// they are, and the escape of each byte or sequence between them. The one definition of the
// escape, shared by building (escape_label_value), hashing and comparing without a copy.
template <class Piece>
void for_each_escaped_piece(std::string_view value, Piece&& piece) {
  std::size_t kept = 0;  // start of the run not yet handed out
  for (std::size_t i = 0; i < value.size();) {
    std::string_view escape;
    std::size_t n = 1;
    switch (value[i]) {
      case '\\': escape = "\\\\"; break;
      case '"': escape = "\\\""; break;
      case '\n': escape = "\\n"; break;
      default:
        if (static_cast<unsigned char>(value[i]) >= 0x80) {
          n = utf8_sequence_length(value, i);
          if (n == 0) {
            escape = "\xef\xbf\xbd";  // U+FFFD REPLACEMENT CHARACTER
            n = 1;
          }
        }
    }
    if (!escape.empty()) {
      if (kept < i) piece(value.substr(kept, i - kept));
      piece(escape);
      kept = i + n;
    }
    i += n;
  }
  if (kept < value.size()) piece(value.substr(kept));
}
// The `name="value"` fragment of a canonical label set that starts at `start`: up to its closing
// quote, or to the end of `canonical` when it is malformed. The next one starts after a comma.
[[nodiscard]] std::string_view canonical_fragment(std::string_view canonical, std::size_t start) noexcept;
// True when canonical_labels(labels) would give exactly `canonical`, in any order of labels,
// without building it (no allocation). Labels are not validated: a duplicate name never matches.
[[nodiscard]] bool canonical_labels_equal(std::string_view canonical, std::span<const Label> labels) noexcept;
// Splits a canonical label set back into (name, unescaped value) pairs; false if malformed.
[[nodiscard]] bool parse_canonical_labels(std::string_view canonical,
                                          std::vector<std::pair<std::string, std::string>>& out);
// 64-bit FNV-1a: stable across processes and builds (std::hash is not).
[[nodiscard]] std::uint64_t stable_hash(std::string_view bytes,
                                        std::uint64_t seed = 0xcbf29ce484222325ull) noexcept;

}  // namespace shm
}  // namespace wsm
