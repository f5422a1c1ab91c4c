// CPU, memory, threads and file descriptors of the live writer processes and of the exporter,
// read from /proc each interval (zero cost in the workers). CPU % is the CPU time used between
// two intervals per wall time (100 = one core), so a process appears with CPU from its second
// interval on; a pid whose start time changed is a new process.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <sys/types.h>
#include <unordered_map>
#include <vector>

#include "derived_rules.hpp"
#include "proc_stats.hpp"
#include "wsm/exposition/format.hpp"

namespace wsm::exporter {

struct WatchedProcess {
  pid_t pid = 0;
  std::string role;
  bool exporter = false;  // the exporter itself (else a writer process)
};

struct ProcessFigures {
  pid_t pid = 0;
  std::string role;
  bool exporter = false;
  std::optional<double> cpu_percent;
  std::uint64_t rss_bytes = 0, virtual_bytes = 0;
  std::uint32_t threads = 0;
  std::optional<FdCounts> fds;
};

class ResourceMonitor {
 public:
  void update(std::span<const WatchedProcess> processes, std::uint64_t mono_ns);
  [[nodiscard]] const std::vector<ProcessFigures>& processes() const noexcept { return processes_; }
  // The websocket_* resource gauges of `rule` and the per-process wsm_* detail.
  void append_families(const ResourceRule& rule, std::vector<exposition::ComputedFamily>& out) const;

 private:
  struct Previous {
    std::uint64_t start_ticks = 0, cpu_ticks = 0, mono_ns = 0;
  };
  std::unordered_map<pid_t, Previous> previous_;
  std::vector<ProcessFigures> processes_;
};

}  // namespace wsm::exporter
