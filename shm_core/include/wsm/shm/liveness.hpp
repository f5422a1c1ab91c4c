// Is the owner of a claim still running? The one answer every reader and reaper uses: the reaper
// and `wsm reap`, recovery of abandoned catalog entries, the connection table, gauge aggregation,
// `wsm check`, the CLI, the exporter's API and live page.
//
// Liveness comes from the kernel, never from pids: a writer process holds an open-file-description
// lock on its process record's first byte of the segment file (process_lease.hpp), and the kernel
// releases it when the process dies, in whatever pid or mount namespace the reader runs. So a
// sidecar exporter that cannot see the writers' /proc (Kubernetes' default), `hidepid=2` or
// systemd's ProtectProc=invisible all get the same answer. A stopped (SIGSTOP) process is alive.
//
//   alive    the record still has the owner's tenant and its byte is locked
//   dead     the record was claimed again (another tenant) or freed, or its byte is unlocked
//   unknown  the lock cannot be tested (no file behind the segment, a kernel without OFD locks,
//            a damaged owner): never folded, never freed
#pragma once

#include <cstdint>
#include <vector>

#include "wsm/shm/layout.hpp"

namespace wsm::shm {

class Segment;

enum class Liveness : std::uint8_t { alive, dead, unknown };
[[nodiscard]] constexpr const char* liveness_name(Liveness l) noexcept {
  switch (l) {
    case Liveness::alive: return "alive";
    case Liveness::dead: return "dead";
    case Liveness::unknown: return "unknown";
  }
  return "unknown";
}

[[nodiscard]] Liveness liveness(const Segment& segment, Owner owner);

// The same answers, each owner tested once per pass (a snapshot asks for every slot of a process).
class LivenessCache {
 public:
  explicit LivenessCache(const Segment& segment) : segment_(segment) {}
  [[nodiscard]] Liveness operator()(Owner owner);

 private:
  const Segment& segment_;
  std::vector<std::pair<Owner, Liveness>> known_;
};

}  // namespace wsm::shm
