#include <charconv>
#include <cstdlib>
#include <grp.h>
#include <map>
#include <strings.h>
#include <unistd.h>
#include <vector>

#include "segment_state.hpp"
#include "wsm/writer.hpp"

namespace wsm {

namespace {

bool enabled_by_environment() {
  const char* v = std::getenv("WEBSOCKET_MONITORING_ENABLED");
  if (v == nullptr) return true;
  for (const char* off : {"false", "0", "off", "no"}) {
    if (::strcasecmp(v, off) == 0) return false;
  }
  return true;
}

// The group to create a segment with: a name or a number; unset when empty.
Result<gid_t> group_id(const std::string& group, const char* what, const char* where) {
  if (group.empty()) return static_cast<gid_t>(-1);
  gid_t gid = 0;
  const auto r = std::from_chars(group.data(), group.data() + group.size(), gid);
  if (r.ec == std::errc() && r.ptr == group.data() + group.size()) return gid;
  struct group entry{};
  struct group* found = nullptr;
  std::vector<char> buffer(16384);
  if (::getgrnam_r(group.c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 || found == nullptr) {
    return fail(Errc::invalid_argument, std::string(what) + " '" + group + "' (" + where + "): no such group");
  }
  return found->gr_gid;
}

// The option, else the environment variable, else empty.
std::string option_or_env(const std::string& option, const char* variable) {
  if (!option.empty()) return option;
  const char* v = std::getenv(variable);
  return v != nullptr ? v : "";
}

// A segment recorded into must be this user's, or belong to the trusted group (RegistryOptions::
// trusted_group): another user who owns the file could read our counts or truncate it under us.
Result<void> trusted_owner(const shm::Segment& segment, gid_t trusted_group, const std::string& group) {
  auto owner = segment.file_owner();
  if (!owner) return std::unexpected(owner.error());
  if (owner->uid == ::geteuid()) return {};
  if (trusted_group != static_cast<gid_t>(-1) && owner->gid == trusted_group) return {};
  return fail(Errc::permission,
              "segment '" + segment.name() + "' (/dev/shm/wsm." + segment.name() + ") is owned by uid " +
                  std::to_string(owner->uid) + " (group " + std::to_string(owner->gid) +
                  "), not by this process's user (uid " + std::to_string(::geteuid()) +
                  "); refusing to record into it: its owner could read these counts or truncate it "
                  "under this process. Remove it if it is not yours, run as its owner, or trust its "
                  "group with RegistryOptions::trusted_group or WSM_TRUSTED_GROUP" +
                  (group.empty() ? "" : " (trusted now: '" + group + "')"));
}

// Opened segments by name; never destroyed (see SegmentState).
std::map<std::string, detail::SegmentState*, std::less<>>& opened() {
  static auto* m = new std::map<std::string, detail::SegmentState*, std::less<>>;
  return *m;
}

}  // namespace

Result<Registry> Registry::open(std::string_view name, const RegistryOptions& options) {
  if (!options.enabled.value_or(enabled_by_environment())) return Registry(nullptr);
  std::lock_guard lock(detail::process_mutex());
  if (auto it = opened().find(name); it != opened().end()) return Registry(it->second);
  if (opened().size() >= detail::kMaxSegments) {
    return fail(Errc::full, "a process may open at most " + std::to_string(detail::kMaxSegments) +
                                " segments");
  }
  const std::string group = option_or_env(options.group, "WSM_SEGMENT_GROUP");
  const auto gid = group_id(group, "segment group", "RegistryOptions::group or WSM_SEGMENT_GROUP");
  if (!gid) return std::unexpected(gid.error());
  const std::string trusted = option_or_env(options.trusted_group, "WSM_TRUSTED_GROUP");
  const auto trusted_gid = group_id(trusted, "trusted group", "RegistryOptions::trusted_group or WSM_TRUSTED_GROUP");
  if (!trusted_gid) return std::unexpected(trusted_gid.error());
  const bool grouped = *gid != static_cast<gid_t>(-1);
  const unsigned mode = grouped && options.mode == 0600 ? 0640 : options.mode;
  auto segment = shm::Segment::open_or_create(name, {options.limits, mode, *gid});
  if (!segment) return std::unexpected(segment.error());
  if (auto ok = trusted_owner(*segment, *trusted_gid, trusted); !ok) return std::unexpected(ok.error());
  (void)segment->populate_catalog();  // registrations then take no page faults (segment.hpp)
  const auto index = static_cast<std::uint32_t>(opened().size());
  auto* state = new detail::SegmentState(std::move(*segment), options.role, index);
  detail::attach_process(*state);
  detail::publish_segment(index, state);
  opened().emplace(std::string(name), state);
  return Registry(state);
}

Result<std::uint32_t> Registry::series(std::string_view name, shm::MetricType type, std::span<const Label> labels,
                                       std::string_view help, GaugeMode mode,
                                       const shm::FamilyEntry*& entry) {
  const detail::SeriesKey key = detail::series_key(name, type, labels);
  const std::uint64_t hash = state_->key_hash(key);
  std::uint32_t family_id = 0;
  auto holds_key = [&](std::uint32_t id) {
    const auto f = detail::family_holding(state_->segment, id, key);
    if (f) family_id = *f;
    return f.has_value();
  };
  if (const auto id = state_->series_index.find(hash, holds_key)) {  // registered before: no lock, no copy
    entry = &state_->segment.family(family_id);
    return *id;
  }
  std::lock_guard lock(detail::registration_mutex());
  if (const auto id = state_->series_index.find(hash, holds_key)) {  // by another thread meanwhile
    entry = &state_->segment.family(family_id);
    return *id;
  }
  bool holds = false;
  auto id = register_series(key, help, mode, entry, holds);
  if (id && holds) state_->series_index.insert(hash, *id);
  return id;
}

Result<std::uint32_t> Registry::register_series(const detail::SeriesKey& key, std::string_view help,
                                                GaugeMode mode, const shm::FamilyEntry*& entry, bool& holds_key) {
  // New series come in runs of one family (a label per user, per connection): the family of the
  // previous one is then known without validating and hashing its name again, and the catalog
  // entry the series will probe is fetched from memory while its canonical labels are built.
  detail::FamilyMemo& last = state_->last_family;
  const bool same_family = last.id && last.type == key.type && last.name == key.name;
  if (same_family) state_->catalog.prefetch_series(*last.id, key.labels_hash);
  auto canonical = shm::canonical_labels(key.labels);
  if (!canonical) return std::unexpected(canonical.error());
  auto family = same_family ? Result<std::uint32_t>(*last.id)
                            : state_->catalog.family({key.name, key.type, help, mode, 0});
  if (!family) return std::unexpected(family.error());
  if (!same_family) last = {std::string(key.name), key.type, *family};
  auto id = state_->catalog.series(*family, *canonical, key.labels_hash);
  if (!id) return std::unexpected(id.error());
  // The entry holds this key unless the family was at its cap and the catalog answered with its
  // overflow series: the catalog's byte compare with the labels just built, where family_holding
  // would parse the stored ones again.
  holds_key = state_->catalog.holds(state_->segment.series(*id), *family, *canonical);
  const shm::FamilyEntry& f = state_->segment.family(*family);
  // The record path trusts the scheme: check what another process wrote before handing it out.
  const bool shape_ok = key.type != shm::MetricType::histogram ||
                        (f.max_octave >= shm::kSubBits && f.max_octave <= shm::kMaxOctaveLimit &&
                         f.bucket_count == shm::HistogramScheme{f.max_octave}.bucket_count());
  if (!shape_ok) {
    return fail(Errc::corrupt, "segment '" + state_->segment.name() + "': family '" +
                                   std::string(key.name) + "' has a corrupt histogram scheme");
  }
  entry = &f;  // the first registrant's mode and scheme win
  const std::uint32_t words = key.type == shm::MetricType::counter ? shm::kCounterWords
                              : key.type == shm::MetricType::gauge ? shm::kGaugeWords
                                                                   : shm::histogram_words(f.bucket_count);
  state_->shapes.set(*id, {key.type, words});  // before the index publishes the id
  return id;
}

Result<Counter> Registry::try_counter(std::string_view name, Labels labels, std::string_view help) {
  return try_counter(name, std::span<const Label>(labels.begin(), labels.size()), help);
}
Result<Gauge> Registry::try_gauge(std::string_view name, Labels labels, std::string_view help, GaugeMode mode) {
  return try_gauge(name, std::span<const Label>(labels.begin(), labels.size()), help, mode);
}
Result<Histogram> Registry::try_histogram(std::string_view name, Labels labels, std::string_view help) {
  return try_histogram(name, std::span<const Label>(labels.begin(), labels.size()), help);
}

Result<Counter> Registry::try_counter(std::string_view name, std::span<const Label> labels, std::string_view help) {
  if (state_ == nullptr) return Counter{};
  const shm::FamilyEntry* family = nullptr;
  auto id = series(name, shm::MetricType::counter, labels, help, GaugeMode::sum, family);
  if (!id) return std::unexpected(id.error());
  return Counter(state_->index, *id);
}

Result<Gauge> Registry::try_gauge(std::string_view name, std::span<const Label> labels, std::string_view help,
                                  GaugeMode mode) {
  if (state_ == nullptr) return Gauge{};
  const shm::FamilyEntry* family = nullptr;
  auto id = series(name, shm::MetricType::gauge, labels, help, mode, family);
  if (!id) return std::unexpected(id.error());
  return Gauge(state_->index, *id, family->gauge_mode == GaugeMode::last);
}

Result<Histogram> Registry::try_histogram(std::string_view name, std::span<const Label> labels,
                                          std::string_view help) {
  if (state_ == nullptr) return Histogram{};
  const shm::FamilyEntry* family = nullptr;
  auto id = series(name, shm::MetricType::histogram, labels, help, GaugeMode::sum, family);
  if (!id) return std::unexpected(id.error());
  return Histogram(state_->index, *id, shm::HistogramScheme{family->max_octave});
}

namespace {

template <class Handle>
Handle or_sink(Result<Handle> r, detail::SegmentState* state) {
  if (r) return *r;
  std::lock_guard lock(detail::process_mutex());
  if (state != nullptr) state->last_error = r.error();
  return Handle{};
}

}  // namespace

Counter Registry::counter(std::string_view name, Labels labels, std::string_view help) {
  return or_sink(try_counter(name, labels, help), state_);
}
Gauge Registry::gauge(std::string_view name, Labels labels, std::string_view help, GaugeMode mode) {
  return or_sink(try_gauge(name, labels, help, mode), state_);
}
Histogram Registry::histogram(std::string_view name, Labels labels, std::string_view help) {
  return or_sink(try_histogram(name, labels, help), state_);
}

std::optional<Error> Registry::last_error() const {
  if (state_ == nullptr) return std::nullopt;
  std::lock_guard lock(detail::process_mutex());
  return state_->last_error;
}

const shm::Segment* Registry::segment() const noexcept {
  return state_ == nullptr ? nullptr : &state_->segment;
}

void Registry::heartbeat() const noexcept {
  if (state_ != nullptr) detail::heartbeat(*state_);
}

}  // namespace wsm
