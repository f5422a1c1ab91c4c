// A segment opened read-only for looking at, plus the reader's catalog copy kept between
// snapshots (inspect, top, ls, rm). Its reads run under a MappingGuard (wsm/shm/mapping_guard.hpp):
// a file that shrinks under the mapping is an error "segment damaged", not a SIGBUS. Reopened by name on demand, so a segment that was removed and
// created again is followed instead of watched in its unlinked old mapping.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

#include "wsm/shm/catalog_view.hpp"
#include "wsm/shm/error.hpp"
#include "wsm/shm/mapping_guard.hpp"
#include "wsm/shm/segment.hpp"
#include "wsm/shm/snapshot.hpp"

namespace wsm::cli {

class SegmentReader {
 public:
  explicit SegmentReader(std::string name) : name_(std::move(name)) {}

  // Opens (again) and snapshots; the catalog copy is refreshed, not rebuilt, while the generation
  // stays the same. Aggregations of the snapshot point into catalog() until the next call.
  [[nodiscard]] Result<shm::Snapshot> snapshot();

  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  // The last opened segment (after a successful snapshot()).
  [[nodiscard]] const shm::Segment& segment() const { return *segment_; }
  [[nodiscard]] const shm::CatalogView& catalog() const noexcept { return catalog_; }
  // Reads of segment() after snapshot() go under this guard, then ask damaged().
  [[nodiscard]] shm::MappingGuard guard() const { return shm::MappingGuard(*segment_, *damage_); }
  // The error when the file shrank under a guarded read; nullopt while it did not.
  [[nodiscard]] std::optional<Error> damaged() const;

 private:
  std::string name_;
  std::optional<shm::Segment> segment_;
  std::unique_ptr<shm::MappingDamage> damage_;  // of segment_'s mapping
  shm::CatalogView catalog_;
};

[[nodiscard]] Result<shm::Segment> open_read_only(std::string_view name);

// Writer processes that are not known dead (shm::liveness): they may have the segment mapped and
// record into it.
struct AttachedWriter {
  pid_t pid = 0;  // as the process sees itself (it may be in another pid namespace)
  std::string role;
  std::uint32_t slots = 0;
  shm::Liveness liveness = shm::Liveness::unknown;
};
[[nodiscard]] std::vector<AttachedWriter> attached_writers(const shm::Segment& segment);

// "sum", "max", ... for tables and JSON (slot states: shm::slot_state_name).
[[nodiscard]] const char* gauge_mode_name(shm::GaugeMode mode) noexcept;

}  // namespace wsm::cli
