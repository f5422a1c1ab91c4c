// CPU, memory, threads and file descriptors of the live writer processes and of the exporter, each
// interval. A writer the exporter can see in its own /proc (same pid namespace, same start time) is
// read there; any other (a sidecar exporter, hidepid=2, ProtectProc=invisible) by the figures it
// publishes in its process record at most once a second (Registry::heartbeat); ProcessFigures
// says which. CPU % is CPU time used between two samples per wall time (100 = one core), so a
// process appears with CPU from its second sample on; a new tenant of a record is a new process.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <sys/types.h>
#include <unordered_map>
#include <vector>

#include "wsm/exporter/derived_rules.hpp"
#include "wsm/shm/proc_stats.hpp"
#include "wsm/shm/process_table.hpp"
#include "wsm/exposition/format.hpp"

namespace wsm::exporter {

struct WatchedProcess {
  shm::ProcessInfo process;  // a writer's record; for the exporter itself only pid and role
  bool exporter = false;     // the exporter itself (else a writer process)
};

struct ProcessFigures {
  pid_t pid = 0;
  std::string role;
  bool exporter = false;
  std::string_view source;  // "proc" (read from /proc) or "published" (by the process itself)
  std::optional<double> cpu_percent;
  std::uint64_t rss_bytes = 0, virtual_bytes = 0;
  std::uint32_t threads = 0;
  std::optional<shm::FdCounts> fds;
};

class ResourceMonitor {
 public:
  void update(std::span<const WatchedProcess> processes, std::uint64_t mono_ns);
  [[nodiscard]] const std::vector<ProcessFigures>& processes() const noexcept { return processes_; }
  // The websocket_* resource gauges of `rule` and the per-process wsm_* detail.
  void append_families(const ResourceRule& rule, std::vector<exposition::ComputedFamily>& out) const;

 private:
  struct Previous {
    std::uint64_t cpu_ns = 0, at_ns = 0;
    std::optional<double> cpu_percent;  // computed at at_ns
  };
  // By process record and tenant (the exporter: kSelf), so a new process in a record starts afresh.
  static constexpr std::uint64_t kSelf = ~std::uint64_t{0};
  std::unordered_map<std::uint64_t, Previous> previous_;
  std::vector<ProcessFigures> processes_;
};

}  // namespace wsm::exporter
