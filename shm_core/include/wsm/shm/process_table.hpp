// The reader's side of the process records (layout.hpp: ProcessRecord): which writer processes
// run, who they are, and the resource figures they publish, without locks and without /proc.
#pragma once

#include <cstdint>
#include <string>
#include <sys/types.h>
#include <vector>

#include "wsm/shm/liveness.hpp"
#include "wsm/shm/process_lease.hpp"

namespace wsm::shm {

class Segment;

struct ProcessInfo {
  std::uint32_t index = 0;  // record index
  Owner owner{};
  Liveness liveness = Liveness::unknown;
  pid_t pid = 0;                    // as the process sees itself
  std::uint64_t start_ticks = 0;    // its /proc/self/stat field 22
  std::uint64_t pid_namespace = 0;  // inode of its /proc/self/ns/pid (0: unknown)
  std::uint64_t heartbeat_ns = 0;   // CLOCK_MONOTONIC
  std::string role;
  PublishedFigures figures;
};

// Every ACTIVE record whose process is not known dead, in table order.
[[nodiscard]] std::vector<ProcessInfo> list_processes(const Segment& segment);

// The pid namespace of the calling process (inode of /proc/self/ns/pid), 0 when unknown.
[[nodiscard]] std::uint64_t own_pid_namespace();

// Whether this process can read the record's process in its own /proc: same pid namespace, and
// the pid there started when the record says (not a reused pid).
[[nodiscard]] bool visible_in_own_proc(const ProcessInfo& process);

}  // namespace wsm::shm
