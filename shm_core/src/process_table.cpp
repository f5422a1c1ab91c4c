#include "wsm/shm/process_table.hpp"

#include <cstring>
#include <sys/stat.h>

#include "wsm/shm/connection_entry.hpp"
#include "wsm/shm/segment.hpp"

namespace wsm::shm {

std::uint64_t own_pid_namespace() {
  struct stat st{};
  return ::stat("/proc/self/ns/pid", &st) == 0 ? static_cast<std::uint64_t>(st.st_ino) : 0;
}

std::vector<ProcessInfo> list_processes(const Segment& segment) {
  std::vector<ProcessInfo> out;
  for (std::uint32_t i = 0; i < segment.max_writers(); ++i) {
    const ProcessRecord& r = segment.process(i);
    // Acquire: pairs with the claimant's release of the tenant, after its identity fields.
    const std::uint64_t w = r.state_word.load(std::memory_order_acquire);
    if (process_state(w) != ProcessState::active) continue;
    ProcessInfo p;
    p.index = i;
    p.owner = {i + 1, process_tenant(w)};
    p.liveness = liveness(segment, p.owner);
    if (p.liveness == Liveness::dead) continue;
    p.pid = static_cast<pid_t>(r.pid.load(std::memory_order_relaxed));
    p.start_ticks = r.start_ticks.load(std::memory_order_relaxed);
    p.pid_namespace = r.pid_namespace.load(std::memory_order_relaxed);
    p.heartbeat_ns = r.heartbeat_ns.load(std::memory_order_relaxed);
    p.role = load_text(r.role);
    p.figures = read_figures(r);
    out.push_back(std::move(p));
  }
  return out;
}

bool visible_in_own_proc(const ProcessInfo& process) {
  static const std::uint64_t mine = own_pid_namespace();
  return mine != 0 && process.pid_namespace == mine && process.start_ticks != 0 &&
         process_start_ticks(process.pid) == process.start_ticks;
}

}  // namespace wsm::shm
