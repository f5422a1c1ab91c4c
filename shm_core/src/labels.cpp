#include "wsm/shm/labels.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

namespace wsm::shm {

namespace {

// What each byte may be in a name: a table, so that checking a name costs a load and a test per
// byte (registration checks every name it is given).
enum NameByte : std::uint8_t { kFirst = 1, kLater = 2, kColon = 4 };
constexpr std::array<std::uint8_t, 256> kNameBytes = [] {
  std::array<std::uint8_t, 256> t{};
  for (int c = 'a'; c <= 'z'; ++c) t[c] = t[c - 'a' + 'A'] = kFirst | kLater;
  t['_'] = kFirst | kLater;
  for (int c = '0'; c <= '9'; ++c) t[c] = kLater;
  t[':'] = kColon;
  return t;
}();

Result<void> validate_name(std::string_view name, bool colon_ok, const char* what) {
  const std::uint8_t colon = colon_ok ? kColon : 0;
  bool ok = !name.empty() && name.size() <= kMaxNameBytes &&
            (kNameBytes[static_cast<unsigned char>(name[0])] & (kFirst | colon)) != 0;
  for (std::size_t i = 1; ok && i < name.size(); ++i) {
    ok = (kNameBytes[static_cast<unsigned char>(name[i])] & (kLater | colon)) != 0;
  }
  if (!ok) {
    return fail(Errc::invalid_argument,
                std::string(what) + " '" + std::string(name.substr(0, kMaxNameBytes)) +
                    "' is invalid: use 1-200 of [a-zA-Z_" + (colon_ok ? ":" : "") +
                    "][a-zA-Z0-9_" + (colon_ok ? ":" : "") + "]*");
  }
  return {};
}

// A valid name that does not start with __ (Prometheus reserves those for itself).
Result<void> validate_unreserved_name(std::string_view name, bool colon_ok, const char* what) {
  if (auto ok = validate_name(name, colon_ok, what); !ok) return ok;
  if (name.starts_with("__")) {
    return fail(Errc::invalid_argument, std::string(what) + " '" + std::string(name) +
                                            "' is reserved: names starting with __ are Prometheus-internal");
  }
  return {};
}

}  // namespace

Result<void> validate_metric_name(std::string_view name) {
  return validate_unreserved_name(name, true, "metric name");
}

Result<void> validate_label_name(std::string_view name) {
  return validate_unreserved_name(name, false, "label name");
}

Result<void> validate_user_label_name(std::string_view name) {
  if (auto ok = validate_label_name(name); !ok) return ok;
  // Labels the exposition adds itself: a user's own would make a second, clashing sample.
  //   le            histogram buckets (every histogram sample carries one);
  //   quantile      summary quantiles;
  //   wsm_overflow  the catalog's overflow series (kOverflowLabels), written by the catalog
  //                 itself, not through here.
  for (const std::string_view reserved : {"le", "quantile", "wsm_overflow"}) {
    if (name == reserved) {
      return fail(Errc::invalid_argument,
                  "label name '" + std::string(name) + "' is reserved: the exposition adds '" +
                      std::string(name) + "' itself (le: histogram buckets, quantile: summaries, "
                                          "wsm_overflow: a family's overflow series); rename it");
    }
  }
  return {};
}

Unit unit_from_name(std::string_view name) noexcept {
  if (name.ends_with("_total")) name.remove_suffix(6);
  if (name.ends_with("_seconds")) return Unit::seconds;
  if (name.ends_with("_bytes")) return Unit::bytes;
  if (name.ends_with("_percent")) return Unit::percent;
  return Unit::none;
}

std::string_view unit_suffix(Unit unit) noexcept {
  switch (unit) {
    case Unit::seconds: return "seconds";
    case Unit::bytes: return "bytes";
    case Unit::percent: return "percent";
    case Unit::none: break;
  }
  return "";
}

std::size_t utf8_sequence_length(std::string_view s, std::size_t i) noexcept {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const auto cont = [&](std::size_t k) { return i + k < s.size() && (b(k) & 0xc0) == 0x80; };
  const unsigned char c = b(0);
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xe0 && b(1) < 0xa0) return 0;  // overlong
    if (c == 0xed && b(1) > 0x9f) return 0;  // surrogates
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xf0 && b(1) < 0x90) return 0;  // overlong
    if (c == 0xf4 && b(1) > 0x8f) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

void escape_label_value(std::string_view value, std::string& out) {
  for_each_escaped_piece(value, [&](std::string_view piece) { out.append(piece); });
}

std::string_view canonical_fragment(std::string_view s, std::size_t start) noexcept {
  const std::size_t open = s.find("=\"", start);
  if (open == std::string_view::npos) return s.substr(start);
  for (std::size_t i = open + 2; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;  // an escaped byte: never the closing quote
    } else if (s[i] == '"') {
      return s.substr(start, i + 1 - start);
    }
  }
  return s.substr(start);
}

bool canonical_labels_equal(std::string_view canonical, std::span<const Label> labels) noexcept {
  std::size_t count = 0;
  for (std::size_t start = 0; start < canonical.size(); ++count) {
    const std::string_view fragment = canonical_fragment(canonical, start);
    start += fragment.size();
    if (start < canonical.size() && canonical[start++] != ',') return false;
    const std::size_t open = fragment.find("=\"");
    if (open == std::string_view::npos || !fragment.ends_with('"') || fragment.size() < open + 3) return false;
    const std::string_view name = fragment.substr(0, open);
    const std::string_view stored = fragment.substr(open + 2, fragment.size() - open - 3);
    const Label* given = nullptr;
    for (const Label& l : labels) {
      if (l.first == name) given = &l;
    }
    if (given == nullptr) return false;
    // The stored value is the given one escaped: compare it piece by piece, with no copy.
    std::size_t at = 0;
    bool same = true;
    for_each_escaped_piece(given->second, [&](std::string_view piece) {
      same = same && piece.size() <= stored.size() - at && stored.compare(at, piece.size(), piece) == 0;
      at += piece.size();
    });
    if (!same || at != stored.size()) return false;
  }
  // Each stored name is unique and found among labels, so equal counts leave no label unmatched.
  return count == labels.size();
}

Result<std::string> canonical_labels(std::span<const Label> labels) {
  // Sorted by name, on the stack for the usual handful of labels: registration allocates only
  // the result, sized for the labels unescaped (name="value" and a comma each).
  constexpr std::size_t kOnStack = 8;
  std::array<Label, kOnStack> stack_copy;
  std::vector<Label> heap_copy;
  std::span<Label> sorted;
  if (labels.size() <= kOnStack) {
    sorted = std::span(stack_copy).first(labels.size());
  } else {
    heap_copy.resize(labels.size());
    sorted = heap_copy;
  }
  std::copy(labels.begin(), labels.end(), sorted.begin());
  std::sort(sorted.begin(), sorted.end(),
            [](const Label& a, const Label& b) { return a.first < b.first; });
  std::size_t unescaped = 0;
  for (const auto& [name, value] : labels) unescaped += name.size() + value.size() + 4;
  std::string out;
  out.reserve(unescaped);
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    if (auto ok = validate_user_label_name(sorted[i].first); !ok) return std::unexpected(ok.error());
    if (i > 0 && sorted[i].first == sorted[i - 1].first) {
      return fail(Errc::invalid_argument,
                  "label '" + std::string(sorted[i].first) + "' is given twice");
    }
    if (i > 0) out += ',';
    out.append(sorted[i].first);
    out += "=\"";
    escape_label_value(sorted[i].second, out);
    out += '"';
  }
  if (out.size() > kMaxLabelSetBytes) {
    return fail(Errc::invalid_argument, "label set is " + std::to_string(out.size()) +
                                            " bytes escaped; the limit is " +
                                            std::to_string(kMaxLabelSetBytes));
  }
  return out;
}

bool parse_canonical_labels(std::string_view s,
                            std::vector<std::pair<std::string, std::string>>& out) {
  out.clear();
  std::size_t i = 0;
  while (i < s.size()) {
    const std::size_t eq = s.find("=\"", i);
    if (eq == std::string_view::npos || eq == i) return false;
    std::string name(s.substr(i, eq - i));
    std::string value;
    i = eq + 2;
    for (;; ++i) {
      if (i >= s.size()) return false;
      if (s[i] == '"') break;
      if (s[i] == '\\') {
        if (++i >= s.size()) return false;
        value += s[i] == 'n' ? '\n' : s[i];
      } else {
        value += s[i];
      }
    }
    ++i;  // closing quote
    out.emplace_back(std::move(name), std::move(value));
    if (i < s.size()) {
      if (s[i] != ',') return false;
      ++i;
    }
  }
  return true;
}

std::uint64_t stable_hash(std::string_view bytes, std::uint64_t seed) noexcept {
  std::uint64_t h = seed;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

}  // namespace wsm::shm
