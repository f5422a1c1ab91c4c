#include "wsm/shm/segment_check.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <unordered_map>

#include "wsm/shm/catalog.hpp"
#include "wsm/shm/catalog_view.hpp"
#include "wsm/shm/exemplar_cell.hpp"
#include "wsm/shm/histogram_scheme.hpp"
#include "wsm/shm/labels.hpp"
#include "wsm/shm/liveness.hpp"
#include "wsm/shm/reaper.hpp"
#include "wsm/shm/segment.hpp"

namespace wsm::shm {

namespace {

constexpr std::size_t kKinds = static_cast<std::size_t>(FindingKind::retired_cell_unindexed) + 1;

std::string hex(std::uint64_t v) {
  char buf[19];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

// What a cell of a family must look like, and whether its entry checked out.
struct Shape {
  MetricType type = MetricType::counter;
  std::uint32_t words = 0;
};

// Distance from each index of an open-addressed table back to the nearest EMPTY entry before it
// (circularly); a READY entry whose home is farther back than that is one no lookup can reach,
// because a lookup stops at the first EMPTY entry.
class ProbeGaps {
 public:
  explicit ProbeGaps(const std::vector<EntryState>& states) : gap_(states.size(), kNone) {
    const auto n = static_cast<std::uint32_t>(states.size());
    const auto first = std::find(states.begin(), states.end(), EntryState::empty);
    if (first == states.end()) return;
    std::uint32_t last = static_cast<std::uint32_t>(first - states.begin());
    const std::uint32_t start = last;
    for (std::uint32_t k = 1; k <= n; ++k) {
      const std::uint32_t i = (start + k) % n;
      gap_[i] = (i + n - last) % n == 0 ? n : (i + n - last) % n;
      if (states[i] == EntryState::empty) last = i;
    }
  }
  [[nodiscard]] bool reachable(std::uint32_t index, std::uint64_t hash) const {
    const auto n = static_cast<std::uint32_t>(gap_.size());
    const auto home = static_cast<std::uint32_t>(hash % n);
    return (index + n - home) % n < gap_[index];
  }

 private:
  static constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();
  std::vector<std::uint32_t> gap_;
};

class Checker {
 public:
  explicit Checker(const CheckOptions& options) : options_(options) {}

  std::vector<Finding> run(std::span<std::byte> bytes) {
    if (header(bytes)) {
      auto segment = Segment::view(bytes, options_.segment_name);
      if (!segment) {
        add(Severity::error, FindingKind::bad_offsets, segment.error().message());
      } else {
        regions(*segment);
      }
    }
    for (std::size_t k = 0; k < kKinds; ++k) {
      if (counts_[k] > options_.max_per_kind) {
        const auto kind = static_cast<FindingKind>(k);
        findings_.push_back({severity_of_[k], kind,
                             std::to_string(counts_[k] - options_.max_per_kind) + " more " +
                                 std::string(finding_name(kind)) + " findings not shown"});
      }
    }
    return std::move(findings_);
  }

 private:
  void add(Severity severity, FindingKind kind, std::string message) {
    auto& n = counts_[static_cast<std::size_t>(kind)];
    if (n++ < options_.max_per_kind) findings_.push_back({severity, kind, std::move(message)});
    severity_of_[static_cast<std::size_t>(kind)] = severity;
  }

  static MetricType segment_family_type(const Segment& s, std::uint32_t family) { return s.family(family).type; }

  // Whether the owner of a claim is known dead, asked of the live segment (none: nobody is).
  bool owner_dead(Owner owner) {
    if (options_.live == nullptr) return false;
    if (!alive_) alive_.emplace(*options_.live);
    return (*alive_)(owner) == Liveness::dead;
  }

  // The header, field by field, each with its own finding; false when the regions cannot be
  // located from it.
  bool header(std::span<std::byte> bytes) {
    if (bytes.size() < sizeof(SegmentHeader)) {
      add(Severity::error, FindingKind::truncated,
          "segment is " + std::to_string(bytes.size()) + " bytes, less than its " +
              std::to_string(sizeof(SegmentHeader)) + "-byte header");
      return false;
    }
    const auto& h = *reinterpret_cast<const SegmentHeader*>(bytes.data());
    if (const std::uint64_t magic = h.magic.load(std::memory_order_relaxed); magic != kMagic) {
      add(Severity::error, FindingKind::bad_magic,
          "header byte 0: magic is " + hex(magic) + ", not " + hex(kMagic) +
              (magic == 0 ? " (its creator died before publishing it?)" : ""));
      return false;
    }
    if (h.layout_version != kLayoutVersion) {
      add(Severity::error, FindingKind::bad_version,
          "header byte 8: layout version " + std::to_string(h.layout_version) +
              ", this build reads version " + std::to_string(kLayoutVersion));
      return false;
    }
    if (h.layout_hash != layout_hash() || h.header_bytes != sizeof(SegmentHeader)) {
      add(Severity::error, FindingKind::layout_mismatch,
          "header bytes 12/16: header size " + std::to_string(h.header_bytes) + " and layout hash " +
              hex(h.layout_hash) + ", this build has " + std::to_string(sizeof(SegmentHeader)) +
              " and " + hex(layout_hash()) + ": written by a build with another struct layout");
      return false;
    }
    const Limits limits{h.max_writers, h.max_families, h.max_series, h.series_cap_default,
                        h.arena_bytes, h.string_bytes, h.retired_bytes, h.max_connections};
    if (auto ok = limits.validate(); !ok) {
      add(Severity::error, FindingKind::bad_limits, "header limits: " + ok.error().message());
      return false;
    }
    const RegionLayout want = compute_layout(limits);
    const std::pair<const char*, std::pair<std::uint64_t, std::uint64_t>> offsets[] = {
        {"slots_offset (byte 88)", {h.slots_offset, want.slots_offset}},
        {"families_offset (byte 96)", {h.families_offset, want.families_offset}},
        {"series_offset (byte 104)", {h.series_offset, want.series_offset}},
        {"retired_index_offset (byte 112)", {h.retired_index_offset, want.retired_index_offset}},
        {"strings_offset (byte 120)", {h.strings_offset, want.strings_offset}},
        {"retired_offset (byte 128)", {h.retired_offset, want.retired_offset}},
        {"arenas_offset (byte 136)", {h.arenas_offset, want.arenas_offset}},
        {"connections_offset (byte 152)", {h.connections_offset, want.connections_offset}},
        {"total_bytes (byte 40)", {h.total_bytes, want.total_bytes}}};
    bool offsets_ok = true;
    for (const auto& [field, values] : offsets) {
      if (values.first != values.second) {
        add(Severity::error, FindingKind::bad_offsets,
            std::string("header ") + field + " is " + std::to_string(values.first) +
                ", its limits put it at " + std::to_string(values.second));
        offsets_ok = false;
      }
    }
    if (!offsets_ok) return false;
    if (bytes.size() < want.total_bytes) {
      add(Severity::error, FindingKind::truncated,
          "segment is " + std::to_string(bytes.size()) + " bytes, its header says " +
              std::to_string(want.total_bytes));
      return false;
    }
    return true;
  }

  void regions(const Segment& s) {
    usage(s);
    reap_state(s);
    families(s);
    series(s);
    family_links(s);
    slots(s);
    retired(s);
  }

  void usage(const Segment& s) {
    const SegmentHeader& h = s.header();
    const auto rl = [](const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); };
    // strings_used may pass string_bytes: a registration that did not fit still reserved its bytes.
    strings_end_ = std::min(rl(h.strings_used), s.limits().string_bytes);
    if (rl(h.strings_used) < 8) {
      add(Severity::error, FindingKind::usage_out_of_range,
          "header strings_used (byte 192) is " + std::to_string(rl(h.strings_used)) +
              ", below the arena's first string at 8");
    }
    const std::uint64_t retired = rl(h.retired_used);
    if (retired < 8 || retired > s.limits().retired_bytes || retired % 8 != 0) {
      add(Severity::error, FindingKind::usage_out_of_range,
          "header retired_used (byte 272) is " + std::to_string(retired) +
              ", outside [8, " + std::to_string(s.limits().retired_bytes) + "] or not 8-aligned");
      retired_end_ = 8;  // walk nothing rather than guess
    } else {
      retired_end_ = retired;
    }
    if (rl(h.series_used) > s.max_series()) {
      add(Severity::error, FindingKind::usage_out_of_range,
          "header series_used (byte 200) is " + std::to_string(rl(h.series_used)) +
              ", more than max_series " + std::to_string(s.max_series()));
    }
    if (rl(h.families_used) > s.max_families()) {
      add(Severity::error, FindingKind::usage_out_of_range,
          "header families_used (byte 248) is " + std::to_string(rl(h.families_used)) +
              ", more than max_families " + std::to_string(s.max_families()));
    }
  }

  void reap_state(const Segment& s) {
    const SegmentHeader& h = s.header();
    const std::uint64_t seq = h.reap_seq.load(std::memory_order_relaxed);
    const std::uint64_t reaper = h.reaper.load(std::memory_order_relaxed);
    reaper_alive_ = options_.live != nullptr ? reap_lock_holder(*options_.live) == Liveness::alive : reaper != 0;
    const std::string fix = ": run `wsm reap " + options_.segment_name + "`";
    if (seq % 2 == 1 && !reaper_alive_) {
      add(Severity::error, FindingKind::reap_stuck,
          "header reap_seq (byte 256) is " + std::to_string(seq) + " (odd: a fold under way) but " +
              "no running process holds the reap lock" +
              (reaper == 0 ? std::string() : " (its last holder, pid " + std::to_string(reaper) + ", died)") +
              "; readers repair the one move in flight, the next reaper finishes the fold" + fix);
    }
    const std::uint64_t state = h.journal_state.load(std::memory_order_relaxed);
    if (state > 1) {
      add(Severity::error, FindingKind::journal_bad,
          "header journal_state (byte 320) is " + std::to_string(state) + ", not 0 or 1");
      return;
    }
    if (state == 0) return;
    const auto word_ok = [&](std::uint64_t off) {
      return off % 8 == 0 && off >= sizeof(SegmentHeader) && off <= s.size() - 8;
    };
    const std::uint64_t target = h.journal_target.load(std::memory_order_relaxed);
    const std::uint64_t source = h.journal_source.load(std::memory_order_relaxed);
    if (!word_ok(target) || !word_ok(source)) {
      add(Severity::error, FindingKind::journal_bad,
          "fold journal (byte 320) names target byte " + std::to_string(target) + " and source byte " +
              std::to_string(source) + ", not both aligned words inside the segment; reaping fails");
    } else if (!(seq % 2 == 1 && reaper_alive_)) {
      add(Severity::error, FindingKind::journal_not_idle,
          "fold journal (byte 320) holds a move (target byte " + std::to_string(target) +
              ", source byte " + std::to_string(source) + ", value " +
              std::to_string(h.journal_value.load(std::memory_order_relaxed)) +
              ") and no live reaper is finishing it; readers may count that word twice or not at all" +
              fix);
    }
  }

  // State of entry `index` of `table` ("family", "series"); reports bad and abandoned ones.
  EntryState entry(std::uint64_t word, const char* table, std::uint32_t index) {
    const EntryState state = entry_state(word);
    const auto what = [&] { return std::string(table) + " entry " + std::to_string(index); };
    if (state != EntryState::empty && state != EntryState::busy && state != EntryState::ready) {
      add(Severity::error, FindingKind::entry_bad_state,
          what() + ": state word " + hex(word) + " is none of EMPTY, BUSY, READY; lookups skip it");
    } else if (state == EntryState::busy && owner_dead(word_owner(word))) {
      add(Severity::warning, FindingKind::entry_stuck_busy,
          what() + ": BUSY since its registrant (process record " + std::to_string(word_owner(word).process) +
              ") died; `wsm reap " + options_.segment_name + "` resets it");
    }
    return state;
  }

  bool string_in_arena(const Segment& s, std::uint32_t off, std::uint32_t len, std::string_view& out,
                       const std::string& what, const char* field) {
    const bool ok = len == 0 || (off >= 8 && std::uint64_t{off} + len <= strings_end_);
    if (!ok || !s.string_at(off, len, out)) {
      add(Severity::error, FindingKind::string_out_of_range,
          what + ": " + field + " at string byte " + std::to_string(off) + " length " +
              std::to_string(len) + " is outside the used string arena [8, " +
              std::to_string(strings_end_) + ")");
      return false;
    }
    return true;
  }

  void families(const Segment& s) {
    const std::uint32_t n = s.max_families();
    family_shapes_.assign(n, std::nullopt);
    std::vector<EntryState> states(n);
    for (std::uint32_t i = 0; i < n; ++i) {
      states[i] = entry(s.family(i).state_word.load(std::memory_order_relaxed), "family", i);
    }
    const ProbeGaps gaps(states);
    std::unordered_map<std::string_view, std::uint32_t> by_name;
    for (std::uint32_t i = 0; i < n; ++i) {
      if (states[i] != EntryState::ready) continue;
      const FamilyEntry& e = s.family(i);
      const std::string what = "family entry " + std::to_string(i);
      std::string_view name, help;
      if (!string_in_arena(s, e.name_off, e.name_len, name, what, "name") ||
          !string_in_arena(s, e.help_off, e.help_len, help, what, "help")) {
        continue;
      }
      const std::string named = what + " '" + std::string(name.substr(0, kMaxNameBytes)) + "'";
      if (auto problem = family_problem(s, e, name); !problem.empty()) {
        add(Severity::error, FindingKind::family_malformed, named + ": " + problem);
        continue;
      }
      if (e.hash != stable_hash(name) || !gaps.reachable(i, e.hash)) {
        add(Severity::error, FindingKind::family_unreachable,
            named + ": a lookup by name " +
                (e.hash != stable_hash(name) ? "hashes elsewhere (stored hash " + hex(e.hash) + ")"
                                             : "stops at an EMPTY entry before it") +
                ", so writers register the name again");
      }
      if (auto [it, fresh] = by_name.try_emplace(name, i); !fresh) {
        // Legal for one type (a registrant stepped over a BUSY entry; readers merge); not for two.
        const bool same_type = segment_family_type(s, it->second) == e.type;
        add(same_type ? Severity::warning : Severity::error, FindingKind::family_duplicate,
            named + ": the name is READY in family entry " + std::to_string(it->second) + " too" +
                (same_type ? " (readers merge the two)" : ", with another type (readers keep the first)"));
        continue;
      }
      FamilyInfo info;
      info.type = e.type;
      info.bucket_count = e.bucket_count;
      family_shapes_[i] = Shape{e.type, info.cell_words()};
    }
  }

  // Empty when the entry's fields agree with each other, else what is wrong.
  static std::string family_problem(const Segment& s, const FamilyEntry& e, std::string_view name) {
    if (!validate_metric_name(name)) return "the name is not a valid metric name";
    if (e.type != MetricType::counter && e.type != MetricType::gauge && e.type != MetricType::histogram) {
      return "type " + std::to_string(static_cast<unsigned>(e.type)) + " is unknown";
    }
    if (static_cast<std::uint8_t>(e.unit) > static_cast<std::uint8_t>(Unit::percent)) {
      return "unit " + std::to_string(static_cast<unsigned>(e.unit)) + " is unknown";
    }
    if (static_cast<std::uint8_t>(e.gauge_mode) > static_cast<std::uint8_t>(GaugeMode::per_writer)) {
      return "gauge mode " + std::to_string(static_cast<unsigned>(e.gauge_mode)) + " is unknown";
    }
    if (e.max_octave < kSubBits || e.max_octave > kMaxOctaveLimit) {
      return "max_octave " + std::to_string(e.max_octave) + " is outside [3, " +
             std::to_string(kMaxOctaveLimit) + "]";
    }
    if (e.type == MetricType::histogram &&
        e.bucket_count != HistogramScheme{e.max_octave}.bucket_count()) {
      return "bucket_count " + std::to_string(e.bucket_count) + " does not match max_octave " +
             std::to_string(e.max_octave);
    }
    if (e.series_cap == 0 || e.series_cap > s.max_series()) {
      return "series_cap " + std::to_string(e.series_cap) + " is outside [1, max_series]";
    }
    return {};
  }

  void series(const Segment& s) {
    const std::uint32_t n = s.max_series();
    series_family_.assign(n, kNoFamily);
    overflow_.assign(n, false);
    std::vector<EntryState> states(n);
    for (std::uint32_t i = 0; i < n; ++i) {
      states[i] = entry(s.series(i).state_word.load(std::memory_order_relaxed), "series", i);
    }
    const ProbeGaps gaps(states);
    std::unordered_map<std::string, std::uint32_t> by_key;  // family id bytes + labels -> entry
    std::vector<std::pair<std::string, std::string>> parsed;
    for (std::uint32_t i = 0; i < n; ++i) {
      if (states[i] != EntryState::ready) continue;
      const SeriesEntry& e = s.series(i);
      const std::string what = "series entry " + std::to_string(i);
      if (e.family_id >= s.max_families() || !family_shapes_[e.family_id]) {
        add(Severity::error, FindingKind::series_bad_family,
            what + ": family id " + std::to_string(e.family_id) +
                " is not a valid READY family; readers leave the series out");
        continue;
      }
      std::string_view labels;
      if (!string_in_arena(s, e.labels_off, e.labels_len, labels, what, "label set")) continue;
      if (!canonical(labels, parsed)) {
        add(Severity::error, FindingKind::series_bad_labels,
            what + ": label set '" + std::string(labels.substr(0, 200)) + "' is not canonical");
        continue;
      }
      const std::uint64_t want = series_hash(e.family_id, labels);
      if (e.hash != want || !gaps.reachable(i, e.hash)) {
        add(Severity::error, FindingKind::series_unreachable,
            what + " {" + std::string(labels.substr(0, 200)) + "}: a lookup " +
                (e.hash != want ? "hashes elsewhere (stored hash " + hex(e.hash) + ")"
                                : "stops at an EMPTY entry before it") +
                ", so writers register the label set again");
      }
      std::string key(reinterpret_cast<const char*>(&e.family_id), 4);
      key += labels;
      if (auto [it, fresh] = by_key.try_emplace(std::move(key), i); !fresh) {
        // Legal since registrants step over each other's BUSY entries (catalog.hpp); readers merge.
        add(Severity::warning, FindingKind::series_duplicate,
            what + " {" + std::string(labels.substr(0, 200)) + "}: READY in series entry " +
                std::to_string(it->second) + " too (registered beside a registrant that was stopped or "
                "slow); readers merge the two into one series");
        continue;
      }
      series_family_[i] = e.family_id;
      overflow_[i] = labels == kOverflowLabels;
    }
  }

  // True when `labels` is what canonical_labels() makes: parseable, valid names, sorted, unique.
  static bool canonical(std::string_view labels, std::vector<std::pair<std::string, std::string>>& parsed) {
    if (!parse_canonical_labels(labels, parsed)) return false;
    for (std::size_t i = 0; i < parsed.size(); ++i) {
      if (!validate_label_name(parsed[i].first)) return false;
      if (i > 0 && !(parsed[i - 1].first < parsed[i].first)) return false;
    }
    return true;
  }

  // Each family's overflow cache and series count against the series that name it.
  void family_links(const Segment& s) {
    std::vector<std::uint32_t> ready(s.max_families(), 0);
    for (std::uint32_t i = 0; i < s.max_series(); ++i) {
      if (series_family_[i] != kNoFamily && !overflow_[i]) ++ready[series_family_[i]];
    }
    for (std::uint32_t f = 0; f < s.max_families(); ++f) {
      if (!family_shapes_[f]) continue;
      const FamilyEntry& e = s.family(f);
      const std::uint32_t cached = e.overflow_series.load(std::memory_order_relaxed);
      if (cached != 0 && (cached - 1 >= s.max_series() || series_family_[cached - 1] != f ||
                          !overflow_[cached - 1])) {
        add(Severity::error, FindingKind::family_overflow_bad,
            "family entry " + std::to_string(f) + ": overflow_series (byte 48) names series " +
                std::to_string(cached - 1) + ", which is not its overflow series; writers past the "
                "cap record into it");
      }
      const std::uint32_t counted = e.series_count.load(std::memory_order_relaxed);
      if (ready[f] > counted) {
        add(Severity::warning, FindingKind::family_count_mismatch,
            "family entry " + std::to_string(f) + ": " + std::to_string(ready[f]) +
                " READY series but series_count (byte 44) is " + std::to_string(counted) +
                "; the cap lets more label sets in than it should");
      }
    }
  }

  void slots(const Segment& s) {
    for (std::uint32_t i = 0; i < s.max_writers(); ++i) {
      const WriterSlot& slot = s.slot(i);
      const std::uint64_t w = slot.state_word.load(std::memory_order_relaxed);
      const SlotState state = slot_state(w);
      const Owner owner = word_owner(w);
      const std::string what = "writer slot " + std::to_string(i);
      const SlotIdentity id = load_identity(slot);  // a claimant may be writing it right now
      const std::string who = " (pid " + std::to_string(id.pid) + ", tid " + std::to_string(id.tid) + ")";
      const std::string fix = ": `wsm reap " + options_.segment_name + "` folds and frees it";
      switch (state) {
        case SlotState::free: continue;
        case SlotState::claiming:
          if (owner_dead(owner)) {
            add(Severity::warning, FindingKind::slot_abandoned,
                what + who + ": left CLAIMING by a process that is gone" + fix);
          }
          continue;  // fields not written yet: nothing to walk
        case SlotState::active:
          if (owner.process == 0) {
            add(Severity::error, FindingKind::slot_bad_state, what + ": ACTIVE with no owner");
            continue;
          }
          if (owner_dead(owner)) {
            add(Severity::warning, FindingKind::slot_dead_writer,
                what + who + ": ACTIVE but its process is gone (not reaped yet)" + fix);
          }
          break;
        case SlotState::detached: break;  // its thread exited; the next reap folds it
        case SlotState::exited: break;    // its process exited normally; folded once it is gone
        case SlotState::retiring:
          if (!reaper_alive_) {
            add(Severity::warning, FindingKind::slot_abandoned,
                what + who + ": RETIRING with no live reaper (one died mid-fold)" + fix);
          }
          break;
        default:
          add(Severity::error, FindingKind::slot_bad_state,
              what + ": state word " + hex(w) + " is no known slot state; reapers leave it alone");
          continue;
      }
      const std::uint64_t used = slot.cells_bytes.load(std::memory_order_relaxed);
      if (used > s.limits().arena_bytes || used % 8 != 0) {
        add(Severity::error, FindingKind::slot_cells_overrun,
            what + ": cells_bytes (slot byte 32) is " + std::to_string(used) + ", past its " +
                std::to_string(s.limits().arena_bytes) + "-byte arena or not 8-aligned");
      }
      walk(s, s.arena(i), 0, std::min(used & ~std::uint64_t{7}, s.limits().arena_bytes), what, false);
    }
  }

  void retired(const Segment& s) {
    retired_cells_.clear();
    walk(s, s.retired_arena(), 8, retired_end_, "retired arena", true);
    std::sort(retired_cells_.begin(), retired_cells_.end());
    for (std::uint32_t id = 0; id < s.max_series(); ++id) {
      const std::uint32_t at = s.retired_index(id).load(std::memory_order_relaxed);
      if (at == 0) continue;
      const auto cell = std::lower_bound(retired_cells_.begin(), retired_cells_.end(),
                                         std::pair<std::uint64_t, std::uint32_t>{at - 1, 0});
      if (cell == retired_cells_.end() || cell->first != at - 1 || cell->second != id) {
        add(Severity::error, FindingKind::retired_index_bad,
            "retired index of series " + std::to_string(id) + " points at retired byte " +
                std::to_string(at - 1) + ", which is not a cell of that series; reaping it fails");
      }
    }
    for (const auto& [pos, id] : retired_cells_) {
      if (s.retired_index(id).load(std::memory_order_relaxed) != pos + 1) {
        add(Severity::error, FindingKind::retired_cell_unindexed,
            "retired arena: cell at byte " + std::to_string(pos) + " of series " +
                std::to_string(id) + " is not the one its index names; readers count it anyway");
      }
    }
  }

  // Walks the cells of one arena up to `used` (a multiple of 8 inside it).
  void walk(const Segment& s, std::span<const std::byte> arena, std::uint64_t pos, std::uint64_t used,
            const std::string& where, bool retired) {
    while (pos + sizeof(CellHeader) <= used) {
      std::uint64_t word = 0;
      std::memcpy(&word, arena.data() + pos, sizeof word);
      const CellHeader c = unpack_cell(word);
      const std::uint64_t next = pos + cell_bytes(c);
      const std::string at = where + ": cell at byte " + std::to_string(pos);
      if (c.words == 0 || next > used) {
        add(Severity::error, FindingKind::cell_overrun,
            at + " has " + std::to_string(c.words) + " words, running past the " +
                std::to_string(used) + " bytes published; readers skip the rest of the arena");
        return;
      }
      if (c.series_id >= s.max_series() || series_family_[c.series_id] == kNoFamily) {
        add(Severity::error, FindingKind::cell_unknown_series,
            at + " names series " + std::to_string(c.series_id) +
                ", which is not a valid READY series; readers skip it");
      } else {
        const Shape& shape = *family_shapes_[series_family_[c.series_id]];
        const std::uint32_t packed = (std::uint32_t{static_cast<std::uint16_t>(shape.type)} << 16) | shape.words;
        const bool counts_only = c.kind == static_cast<std::uint16_t>(CellKind::counter) ||
                                 c.kind == static_cast<std::uint16_t>(CellKind::histogram);
        if (!cell_fits(packed, c.kind, c.words) || (retired && !counts_only)) {
          add(Severity::error, FindingKind::cell_shape_mismatch,
              at + " of series " + std::to_string(c.series_id) + " has kind " +
                  std::to_string(c.kind) + " and " + std::to_string(c.words) + " words, its family " +
                  "has kind " + std::to_string(static_cast<unsigned>(shape.type)) + " and " +
                  std::to_string(shape.words) + " (or an exemplar cell of " + std::to_string(kExemplarWords) +
                  " words)" + (retired ? "; no gauge or exemplar is ever retired" : ""));
        } else if (retired) {
          retired_cells_.emplace_back(pos, c.series_id);
        }
      }
      pos = next;
    }
  }

  static constexpr std::uint32_t kNoFamily = std::numeric_limits<std::uint32_t>::max();

  const CheckOptions& options_;
  std::vector<Finding> findings_;
  std::array<std::size_t, kKinds> counts_{};
  std::array<Severity, kKinds> severity_of_{};
  std::optional<LivenessCache> alive_;
  std::uint64_t strings_end_ = 8;
  std::uint64_t retired_end_ = 8;
  bool reaper_alive_ = false;
  std::vector<std::optional<Shape>> family_shapes_;  // by family id: valid READY families
  std::vector<std::uint32_t> series_family_;         // by series id: family, or kNoFamily
  std::vector<bool> overflow_;                       // by series id: the family's overflow series
  std::vector<std::pair<std::uint64_t, std::uint32_t>> retired_cells_;  // (byte, series id)
};

}  // namespace

std::string_view finding_name(FindingKind kind) noexcept {
  switch (kind) {
    case FindingKind::truncated: return "truncated";
    case FindingKind::bad_magic: return "bad_magic";
    case FindingKind::bad_version: return "bad_version";
    case FindingKind::layout_mismatch: return "layout_mismatch";
    case FindingKind::bad_limits: return "bad_limits";
    case FindingKind::bad_offsets: return "bad_offsets";
    case FindingKind::usage_out_of_range: return "usage_out_of_range";
    case FindingKind::reap_stuck: return "reap_stuck";
    case FindingKind::journal_not_idle: return "journal_not_idle";
    case FindingKind::journal_bad: return "journal_bad";
    case FindingKind::entry_bad_state: return "entry_bad_state";
    case FindingKind::entry_stuck_busy: return "entry_stuck_busy";
    case FindingKind::string_out_of_range: return "string_out_of_range";
    case FindingKind::family_malformed: return "family_malformed";
    case FindingKind::family_duplicate: return "family_duplicate";
    case FindingKind::family_unreachable: return "family_unreachable";
    case FindingKind::family_overflow_bad: return "family_overflow_bad";
    case FindingKind::family_count_mismatch: return "family_count_mismatch";
    case FindingKind::series_bad_family: return "series_bad_family";
    case FindingKind::series_bad_labels: return "series_bad_labels";
    case FindingKind::series_duplicate: return "series_duplicate";
    case FindingKind::series_unreachable: return "series_unreachable";
    case FindingKind::slot_bad_state: return "slot_bad_state";
    case FindingKind::slot_dead_writer: return "slot_dead_writer";
    case FindingKind::slot_abandoned: return "slot_abandoned";
    case FindingKind::slot_cells_overrun: return "slot_cells_overrun";
    case FindingKind::cell_overrun: return "cell_overrun";
    case FindingKind::cell_unknown_series: return "cell_unknown_series";
    case FindingKind::cell_shape_mismatch: return "cell_shape_mismatch";
    case FindingKind::retired_index_bad: return "retired_index_bad";
    case FindingKind::retired_cell_unindexed: return "retired_cell_unindexed";
  }
  return "unknown";
}

std::string_view severity_name(Severity severity) noexcept {
  return severity == Severity::error ? "error" : "warning";
}

std::vector<Finding> check_segment(std::span<const std::byte> bytes, const CheckOptions& options) {
  // A private, 8-byte aligned copy: Segment::view wants alignment and mutable bytes (it hands out
  // references to atomics), and the caller's bytes stay untouched whatever the input.
  std::vector<std::uint64_t> copy((bytes.size() + 7) / 8);
  if (!bytes.empty()) std::memcpy(copy.data(), bytes.data(), bytes.size());
  return Checker(options).run({reinterpret_cast<std::byte*>(copy.data()), bytes.size()});
}

}  // namespace wsm::shm
