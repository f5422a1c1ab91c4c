#include "wsm/shm/catalog.hpp"

#include <cstring>
#include <sched.h>
#include <unistd.h>

#include "test_point_pass.hpp"
#include "wsm/shm/histogram_scheme.hpp"
#include "wsm/shm/label_hash.hpp"
#include "wsm/shm/labels.hpp"
#include "wsm/shm/liveness.hpp"

namespace wsm::shm {

namespace {

constexpr std::chrono::microseconds kBusySpin{50};

enum class Outcome { found, claimed, absent, full };
struct ProbeResult {
  Outcome outcome;
  std::uint32_t index;
};

// Walks an open-addressed table from `hash`: the READY entry that `matches`, or (when may_claim)
// the first EMPTY entry, or one left BUSY by a dead registrant, claimed BUSY for `me`. EMPTY ends a
// lookup: entries never return to EMPTY once READY, so the key cannot be further along.
//
// Nobody waits for another registrant: a BUSY entry of a live (perhaps stopped) or unknown process
// is stepped over, and if it held our key we register it again beside it. Readers merge entries
// with the same key (aggregation.hpp), so the two copies count as one series. A registration takes
// about a microsecond, so two processes racing for one key would make needless copies: a BUSY
// entry is watched for kBusySpin first (a bounded spin, not a wait for its owner).
template <class Entry, class EntryAt, class Matches>
ProbeResult probe(const Segment& segment, EntryAt entry_at, std::uint32_t capacity, std::uint64_t hash,
                  bool may_claim, Matches matches, Owner me) {
  const std::uint64_t mine = entry_word(EntryState::busy, me);
  for (std::uint32_t n = 0; n < capacity; ++n) {
    const auto index = static_cast<std::uint32_t>((hash + n) % capacity);
    Entry& e = entry_at(index);
    std::chrono::steady_clock::time_point spin_until{};
    // Acquire: when we see READY, the fields the registrant wrote before its release are visible.
    std::uint64_t w = e.state_word.load(std::memory_order_acquire);
    for (bool next = false; !next;) {
      switch (entry_state(w)) {
        case EntryState::empty:
          if (!may_claim) return ProbeResult{Outcome::absent, index};
          if (e.state_word.compare_exchange_weak(w, mine, std::memory_order_acquire,
                                                 std::memory_order_acquire)) {
            return ProbeResult{Outcome::claimed, index};
          }
          break;  // w was reloaded: look again
        case EntryState::busy:
          if (may_claim && liveness(segment, word_owner(w)) == Liveness::dead) {
            if (e.state_word.compare_exchange_strong(w, mine, std::memory_order_acquire,
                                                     std::memory_order_acquire)) {
              return ProbeResult{Outcome::claimed, index};
            }
            break;  // w was reloaded: look again
          }
          if (spin_until == std::chrono::steady_clock::time_point{}) {
            spin_until = std::chrono::steady_clock::now() + kBusySpin;
          }
          if (std::chrono::steady_clock::now() < spin_until) {
            ::sched_yield();
            w = e.state_word.load(std::memory_order_acquire);
            break;  // look again: most likely READY by now
          }
          next = true;
          break;
        case EntryState::ready:
          if (e.hash == hash && matches(e)) return ProbeResult{Outcome::found, index};
          next = true;
          break;
        default:  // a corrupt state: never match it, never claim it
          next = true;
          break;
      }
    }
  }
  return ProbeResult{Outcome::full, 0};
}

template <class Entry>
void release_claim(Entry& e) {
  e.state_word.store(entry_word(EntryState::empty, {}), std::memory_order_release);
}

template <class Entry>
void publish(Entry& e, Owner me) {
  // Release: every field and string written for this entry happens-before a reader's acquire.
  e.state_word.store(entry_word(EntryState::ready, me), std::memory_order_release);
}

std::uint8_t max_octave_for(Unit unit) {
  switch (unit) {
    case Unit::seconds: return kMaxOctaveNanoseconds;
    case Unit::bytes: return kMaxOctaveBytes;
    case Unit::percent: return kMaxOctavePercent;
    case Unit::none: break;
  }
  return kMaxOctaveOther;
}

}  // namespace

std::uint64_t series_hash(std::uint32_t family_id, std::uint64_t labels_hash) noexcept {
  // Mixed again so that one label set in two families starts two unrelated probe sequences.
  StreamHash h;
  char bytes[12];
  std::memcpy(bytes, &family_id, 4);
  std::memcpy(bytes + 4, &labels_hash, 8);
  h.update({bytes, sizeof bytes});
  return h.finish();
}

std::uint64_t series_hash(std::uint32_t family_id, std::string_view labels) noexcept {
  return series_hash(family_id, canonical_label_set_hash(labels));
}


Result<std::uint32_t> Catalog::store_string(std::string_view s) const {
  if (s.empty()) return 0u;
  auto& used = segment_.header().strings_used;
  // Relaxed: the bytes are published by the release of the entry that points at them.
  const std::uint64_t off = used.fetch_add(s.size(), std::memory_order_relaxed);
  // strings_used is read from shared memory: compare without off + size, which a damaged value
  // near 2^64 wraps; offset 0 means "no string", so a string never starts there.
  const std::uint64_t capacity = segment_.limits().string_bytes;
  if (off == 0 || off > capacity || s.size() > capacity - off) {
    return fail(Errc::full, "segment '" + segment_.name() + "': string arena is full (" +
                                std::to_string(segment_.limits().string_bytes) +
                                " bytes); raise Limits::string_bytes");
  }
  std::memcpy(segment_.strings().data() + off, s.data(), s.size());
  return static_cast<std::uint32_t>(off);
}

Result<std::uint32_t> Catalog::family(const FamilySpec& spec) const {
  if (auto ok = validate_metric_name(spec.name); !ok) return std::unexpected(ok.error());
  const std::uint64_t hash = stable_hash(spec.name);
  auto matches = [&](const FamilyEntry& e) { return named(e, spec.name); };
  auto at = [&](std::uint32_t i) -> FamilyEntry& { return segment_.family(i); };
  const auto me = segment_.owner();
  if (!me) return std::unexpected(me.error());
  const ProbeResult r = probe<FamilyEntry>(segment_, at, segment_.max_families(), hash, true, matches, *me);
  FamilyEntry& e = segment_.family(r.index);
  switch (r.outcome) {
    case Outcome::found:
      if (e.type != spec.type) {
        return fail(Errc::type_mismatch, "metric '" + std::string(spec.name) +
                                             "' is already registered with another type");
      }
      return r.index;
    case Outcome::claimed: break;
    case Outcome::absent:
    case Outcome::full:
      return fail(Errc::full, "segment '" + segment_.name() + "': family table is full (" +
                                  std::to_string(segment_.max_families()) +
                                  " names); raise Limits::max_families");
  }
  auto name_off = store_string(spec.name);
  auto help_off = store_string(spec.help);
  if (!name_off || !help_off) {
    release_claim(e);
    return std::unexpected(name_off ? help_off.error() : name_off.error());
  }
  e.hash = hash;
  e.name_off = *name_off;
  e.name_len = static_cast<std::uint32_t>(spec.name.size());
  e.help_off = *help_off;
  e.help_len = static_cast<std::uint32_t>(spec.help.size());
  e.type = spec.type;
  e.gauge_mode = spec.gauge_mode;
  e.unit = unit_from_name(spec.name);
  e.max_octave = max_octave_for(e.unit);
  e.bucket_count = spec.type == MetricType::histogram
                       ? static_cast<std::uint16_t>(HistogramScheme{e.max_octave}.bucket_count())
                       : 0;
  e.series_cap = spec.series_cap != 0 ? spec.series_cap : segment_.limits().series_cap_per_family;
  e.series_count.store(0, std::memory_order_relaxed);
  e.overflow_series.store(0, std::memory_order_relaxed);
  publish(e, *me);
  segment_.header().families_used.fetch_add(1, std::memory_order_relaxed);
  return r.index;
}

Result<std::uint32_t> Catalog::find_family(std::string_view name) const {
  auto matches = [&](const FamilyEntry& e) { return named(e, name); };
  auto at = [&](std::uint32_t i) -> FamilyEntry& { return segment_.family(i); };
  const ProbeResult r =
      probe<FamilyEntry>(segment_, at, segment_.max_families(), stable_hash(name), false, matches, Owner{});
  if (r.outcome != Outcome::found) {
    return fail(Errc::not_found, "metric '" + std::string(name) + "' is not registered");
  }
  return r.index;
}

bool Catalog::named(const FamilyEntry& e, std::string_view name) const {
  std::string_view stored;
  return segment_.string_at(e.name_off, e.name_len, stored) && stored == name;
}

bool Catalog::holds(const SeriesEntry& e, std::uint32_t family_id, std::string_view canonical_labels) const {
  std::string_view stored;
  return e.family_id == family_id && segment_.string_at(e.labels_off, e.labels_len, stored) &&
         stored == canonical_labels;
}

void Catalog::prefetch_series(std::uint32_t family_id, std::uint64_t labels_hash) const noexcept {
  // The first index probe() looks at; for writing, as a new series claims it.
  __builtin_prefetch(&segment_.series(static_cast<std::uint32_t>(series_hash(family_id, labels_hash) %
                                                                 segment_.max_series())),
                     1);
}

Result<std::uint32_t> Catalog::overflow_series(std::uint32_t family_id) const {
  FamilyEntry& f = segment_.family(family_id);
  if (const std::uint32_t id = f.overflow_series.load(std::memory_order_relaxed); id != 0) {
    return id - 1;
  }
  auto id = series(family_id, kOverflowLabels);
  // Relaxed: a cache only; the catalog itself answers the same id to everyone.
  if (id) f.overflow_series.store(*id + 1, std::memory_order_relaxed);
  return id;
}

Result<std::uint32_t> Catalog::find_series(std::uint32_t family_id,
                                           std::string_view labels) const {
  auto matches = [&](const SeriesEntry& e) { return holds(e, family_id, labels); };
  auto at = [&](std::uint32_t i) -> SeriesEntry& { return segment_.series(i); };
  const ProbeResult r = probe<SeriesEntry>(segment_, at, segment_.max_series(),
                                          series_hash(family_id, labels), false, matches, Owner{});
  if (r.outcome != Outcome::found) return fail(Errc::not_found, "no such series");
  return r.index;
}

Result<std::uint32_t> Catalog::series(std::uint32_t family_id, std::string_view labels) const {
  return series(family_id, labels, canonical_label_set_hash(labels));
}

Result<std::uint32_t> Catalog::series(std::uint32_t family_id, std::string_view labels,
                                      std::uint64_t labels_hash) const {
  if (family_id >= segment_.max_families() ||
      entry_state(segment_.family(family_id).state_word.load(std::memory_order_acquire)) !=
          EntryState::ready) {
    return fail(Errc::invalid_argument, "family id " + std::to_string(family_id) + " is not registered");
  }
  FamilyEntry& f = segment_.family(family_id);
  const bool is_overflow = labels == kOverflowLabels;
  // Make sure the overflow series exists before the catalog can fill up.
  if (!is_overflow) {
    if (auto o = overflow_series(family_id); !o) return o;
  }
  auto overflow = [&]() -> Result<std::uint32_t> {
    segment_.header().series_dropped.fetch_add(1, std::memory_order_relaxed);
    return overflow_series(family_id);
  };
  const bool at_cap =
      !is_overflow && f.series_count.load(std::memory_order_relaxed) >= f.series_cap;
  auto matches = [&](const SeriesEntry& e) { return holds(e, family_id, labels); };
  auto at = [&](std::uint32_t i) -> SeriesEntry& { return segment_.series(i); };
  const std::uint64_t hash = series_hash(family_id, labels_hash);
  const auto me = segment_.owner();
  if (!me) return std::unexpected(me.error());
  const ProbeResult r = probe<SeriesEntry>(segment_, at, segment_.max_series(), hash, !at_cap, matches, *me);
  if (r.outcome == Outcome::found) return r.index;
  if (r.outcome != Outcome::claimed) return is_overflow ? fail(Errc::full, "series catalog is full") : overflow();

  SeriesEntry& e = segment_.series(r.index);
  test_points::pass(test_points::Point::catalog_after_claim);  // the entry is BUSY, still empty
  // Relaxed: the cap is a bound on growth, not a synchronisation point.
  if (!is_overflow && f.series_count.fetch_add(1, std::memory_order_relaxed) >= f.series_cap) {
    f.series_count.fetch_sub(1, std::memory_order_relaxed);
    release_claim(e);
    return overflow();
  }
  auto off = store_string(labels);
  if (!off) {
    release_claim(e);
    return is_overflow ? std::unexpected(off.error()) : overflow();
  }
  e.hash = hash;
  e.family_id = family_id;
  e.labels_off = *off;
  e.labels_len = static_cast<std::uint32_t>(labels.size());
  publish(e, *me);
  segment_.header().series_used.fetch_add(1, std::memory_order_relaxed);
  return r.index;
}

std::uint32_t Catalog::recover_abandoned() const {
  std::uint32_t recovered = 0;
  LivenessCache alive(segment_);
  auto reset = [&](std::atomic<std::uint64_t>& word) {
    std::uint64_t w = word.load(std::memory_order_acquire);
    if (entry_state(w) == EntryState::busy && alive(word_owner(w)) == Liveness::dead &&
        word.compare_exchange_strong(w, entry_word(EntryState::empty, {}),
                                     std::memory_order_acq_rel)) {
      ++recovered;
    }
  };
  for (std::uint32_t i = 0; i < segment_.max_families(); ++i) reset(segment_.family(i).state_word);
  for (std::uint32_t i = 0; i < segment_.max_series(); ++i) reset(segment_.series(i).state_word);
  return recovered;
}

}  // namespace wsm::shm
