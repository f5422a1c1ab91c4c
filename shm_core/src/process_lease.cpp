#include "wsm/shm/process_lease.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <mutex>
#include <pthread.h>
#include <unistd.h>

#include "byte_lock.hpp"
#include "wsm/shm/connection_entry.hpp"
#include "wsm/shm/process_table.hpp"
#include "wsm/shm/segment.hpp"

namespace wsm::shm {

namespace {

// Guards the list of this process's leases and every Segment's lease pointer. Held across fork()
// (pthread_atfork) so the child never inherits it half-way.
std::mutex& lease_mutex() {
  static auto* m = new std::mutex;  // never destroyed: leases may be used during exit
  return *m;
}
ProcessLease* g_leases = nullptr;  // GUARDED_BY(lease_mutex())

// This process's pid, refreshed in the child of every fork(): getpid() is a system call, and
// every registration asks whether its lease is still this process's. Relaxed: only the forking
// thread, in the child, ever changes it.
std::atomic<pid_t> g_pid{0};
pid_t current_pid() noexcept {
  pid_t pid = g_pid.load(std::memory_order_relaxed);
  if (pid == 0) {
    pid = ::getpid();
    g_pid.store(pid, std::memory_order_relaxed);
  }
  return pid;
}


}  // namespace

void forget_inherited_leases() noexcept {
  // In the child of fork(): close our copies of the parent's descriptions. The parent still holds
  // them, so its locks stay; the child's leases are marked the parent's (pid differs) and never
  // used again.
  for (ProcessLease* l = g_leases; l != nullptr; l = l->next_) {
    if (l->fd_ >= 0) ::close(l->fd_);
    l->fd_ = -1;
  }
}

namespace {
const bool g_fork_handlers = [] {
  ::pthread_atfork([] { lease_mutex().lock(); }, [] { lease_mutex().unlock(); },
                   [] {
                     g_pid.store(::getpid(), std::memory_order_relaxed);
                     forget_inherited_leases();
                     lease_mutex().unlock();
                   });
  return true;
}();
}  // namespace

ProcessLease::ProcessLease(ProcessRecord& record, int fd, Owner owner, pid_t pid)
    : record_(&record), fd_(fd), owner_(owner), pid_(pid) {}

Result<std::unique_ptr<ProcessLease>> ProcessLease::claim(const Segment& segment, std::string_view role) {
  (void)g_fork_handlers;
  int fd = -1;
  if (segment.descriptor() >= 0) {
    auto own = segment.open_description();
    if (!own) return std::unexpected(own.error());
    fd = *own;
  }
  const pid_t pid = current_pid();
  for (std::uint32_t i = 0; i < segment.max_writers(); ++i) {
    ProcessRecord& r = segment.process(i);
    std::uint64_t w = r.state_word.load(std::memory_order_relaxed);
    if (fd >= 0) {
      if (!try_lock_byte(fd, segment.process_offset(i))) {
        const int err = errno;
        if (err == EAGAIN || err == EACCES) continue;  // a live process holds it
        ::close(fd);
        return fail(Errc::system, "segment '" + segment.name() + "': cannot lock a process record: " +
                                      std::strerror(err) + " (the kernel must support OFD locks, Linux 3.15+)");
      }
    } else if (process_state(w) != ProcessState::free) {
      continue;  // a view of bytes (no file, no locks): free records only
    }
    // The record is ours now (the lock excludes every other claimant); its previous owner, if
    // any, is dead. Identity first, for people; then the new tenant, published with release.
    r.pid.store(static_cast<std::uint64_t>(pid), std::memory_order_relaxed);
    r.start_ticks.store(process_start_ticks(pid), std::memory_order_relaxed);
    r.pid_namespace.store(own_pid_namespace(), std::memory_order_relaxed);  // see process_table.hpp
    r.heartbeat_ns.store(monotonic_ns(), std::memory_order_relaxed);
    r.figures_ns.store(0, std::memory_order_relaxed);
    store_text(r.role, role);
    std::uint32_t tenant = 0;
    // A reaper may be freeing the dead record at the same moment: retry on its change.
    do {
      tenant = process_tenant(w) + 1;
      if (tenant == 0) tenant = 1;
    } while (!r.state_word.compare_exchange_weak(w, process_word(ProcessState::active, tenant),
                                                 std::memory_order_release, std::memory_order_relaxed) &&
             (fd >= 0 || process_state(w) == ProcessState::free));
    if (process_tenant(r.state_word.load(std::memory_order_relaxed)) != tenant) continue;  // view: lost a race
    return std::unique_ptr<ProcessLease>(new ProcessLease(r, fd, Owner{i + 1, tenant}, pid));
  }
  if (fd >= 0) ::close(fd);
  return fail(Errc::full, "segment '" + segment.name() + "': all " + std::to_string(segment.max_writers()) +
                              " process records belong to running processes; raise Limits::max_writers");
}

ProcessLease::~ProcessLease() {
  std::lock_guard lock(lease_mutex());
  for (ProcessLease** p = &g_leases; *p != nullptr; p = &(*p)->next_) {
    if (*p == this) {
      *p = next_;
      break;
    }
  }
  if (fd_ >= 0) ::close(fd_);  // the kernel releases the lock: readers see the owner dead
}

bool ProcessLease::held_by_this_process() const noexcept { return pid_ == current_pid(); }

void ProcessLease::heartbeat() const noexcept {
  record_->heartbeat_ns.store(monotonic_ns(), std::memory_order_relaxed);
}

namespace {
std::uint64_t pair_word(std::uint32_t hi, std::uint32_t lo) { return std::uint64_t{hi} << 32 | lo; }
}  // namespace

void ProcessLease::publish(const PublishedFigures& f) const noexcept {
  ProcessRecord& r = *record_;
  // One publisher per record (the owner, under its process lock). Odd first; each figure is a
  // release store, so a reader whose acquire load sees a new figure also sees the odd sequence
  // when it re-reads it (the connection table's pattern: no fences, which TSan cannot model).
  const std::uint64_t seq = r.figures_seq.load(std::memory_order_relaxed);
  r.figures_seq.store(seq | 1, std::memory_order_relaxed);
  constexpr auto rel = std::memory_order_release;
  r.cpu_ns.store(f.cpu_ns, rel);
  r.rss_bytes.store(f.rss_bytes, rel);
  r.virtual_bytes.store(f.virtual_bytes, rel);
  r.fds_sockets_pipes.store(pair_word(f.fd_sockets, f.fd_pipes), rel);
  r.fds_files_other.store(pair_word(f.fd_files, f.fd_other), rel);
  r.threads.store(f.threads, rel);
  r.figures_ns.store(f.sampled_ns, rel);
  r.figures_seq.store((seq | 1) + 1, rel);
}

PublishedFigures read_figures(const ProcessRecord& r) noexcept {
  constexpr auto acq = std::memory_order_acquire;
  for (int attempt = 0; attempt < 4; ++attempt) {
    const std::uint64_t before = r.figures_seq.load(acq);
    if (before % 2 != 0) continue;
    PublishedFigures f;
    f.cpu_ns = r.cpu_ns.load(acq);
    f.rss_bytes = r.rss_bytes.load(acq);
    f.virtual_bytes = r.virtual_bytes.load(acq);
    const std::uint64_t sp = r.fds_sockets_pipes.load(acq), fo = r.fds_files_other.load(acq);
    f.fd_sockets = static_cast<std::uint32_t>(sp >> 32);
    f.fd_pipes = static_cast<std::uint32_t>(sp);
    f.fd_files = static_cast<std::uint32_t>(fo >> 32);
    f.fd_other = static_cast<std::uint32_t>(fo);
    f.threads = r.threads.load(acq);
    f.sampled_ns = r.figures_ns.load(acq);
    if (r.figures_seq.load(std::memory_order_relaxed) == before) return f;
  }
  return {};
}

// Segment's lease accessors live here, beside the mutex that guards Segment::lease_.
Result<Owner> Segment::owner(std::string_view role) const {
  std::unique_ptr<ProcessLease> inherited;  // destroyed after the lock is let go (it takes it)
  std::lock_guard lock(lease_mutex());
  if (lease_ && lease_->held_by_this_process()) return lease_->owner();
  inherited = std::move(lease_);  // from our parent through fork(): its descriptor is closed
  auto claimed = ProcessLease::claim(*this, role);
  if (!claimed) return std::unexpected(claimed.error());
  lease_ = std::move(*claimed);
  lease_->next_ = g_leases;  // listed for the fork handler
  g_leases = lease_.get();
  return lease_->owner();
}

const ProcessLease* Segment::lease() const {
  std::lock_guard lock(lease_mutex());
  return lease_ && lease_->held_by_this_process() ? lease_.get() : nullptr;
}

}  // namespace wsm::shm
