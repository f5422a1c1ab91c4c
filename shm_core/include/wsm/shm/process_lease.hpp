// A writer process's claim on a process record (layout.hpp: ProcessRecord): the identity every
// slot, catalog entry and connection record it claims carries (an Owner), and the lock that tells
// everybody else it still runs (liveness.hpp).
//
// Claiming: open a description of the segment file of our own (O_CLOEXEC, so an exec'd program
// does not inherit it), take F_OFD_SETLK on the record's first byte without waiting (a byte locked
// by someone else belongs to a live process: try the next record), then bump the record's tenant
// and release-store it ACTIVE. Holding the lock, nobody else can claim the record, and an owner
// that names an older tenant is dead. The lock is released by the kernel when the last descriptor
// of the description closes: at the process's death, or when the lease is destroyed.
//
// fork(): a child shares its parent's descriptions, and so its locks. Every lease's descriptor is
// closed in the child (pthread_atfork), which leaves the parent's lock in place, and the child
// claims a record of its own on first use (Segment::owner()).
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <sys/types.h>

#include "wsm/shm/error.hpp"
#include "wsm/shm/layout.hpp"

namespace wsm::shm {

class Segment;

// What a process publishes about itself, for readers that cannot see its /proc.
struct PublishedFigures {
  std::uint64_t cpu_ns = 0;  // user + system CPU time since the process started
  std::uint64_t rss_bytes = 0, virtual_bytes = 0;
  std::uint32_t fd_sockets = 0, fd_pipes = 0, fd_files = 0, fd_other = 0;
  std::uint64_t threads = 0;
  std::uint64_t sampled_ns = 0;  // CLOCK_MONOTONIC; 0: never published
};

class ProcessLease {
 public:
  // Claims a record for the calling process; Errc::full when every record belongs to a live one.
  [[nodiscard]] static Result<std::unique_ptr<ProcessLease>> claim(const Segment& segment,
                                                                   std::string_view role);
  ProcessLease(const ProcessLease&) = delete;
  ProcessLease& operator=(const ProcessLease&) = delete;
  ~ProcessLease();  // closes the descriptor (in the claimant only): the record's owner is dead

  [[nodiscard]] Owner owner() const noexcept { return owner_; }
  // False in a forked child: the lease is the parent's and must not be used or released.
  [[nodiscard]] bool held_by_this_process() const noexcept;
  void heartbeat() const noexcept;
  // Seqlock-published: a reader never mixes two samples (read_figures).
  void publish(const PublishedFigures& figures) const noexcept;

 private:
  ProcessLease(ProcessRecord& record, int fd, Owner owner, pid_t pid);
  friend void forget_inherited_leases() noexcept;

  ProcessRecord* record_;  // in the mapping, which outlives a moved Segment object
  int fd_;                 // our own description of the segment file, holding the lock
  Owner owner_;
  pid_t pid_;
  ProcessLease* next_ = nullptr;  // every lease of the process, for the fork handler
};

// The figures a process last published in record `index`; sampled_ns 0 when none (or torn).
[[nodiscard]] PublishedFigures read_figures(const ProcessRecord& record) noexcept;

}  // namespace wsm::shm
