#include "wsm/shm/mapping_guard.hpp"

#include <cerrno>
#include <csignal>
#include <mutex>
#include <sys/mman.h>
#include <unistd.h>

namespace wsm::shm {

namespace {

// The innermost guard of this thread. Touched by the guard's constructor before any fault can
// happen, so the handler's read of it never allocates the thread's TLS block.
thread_local MappingGuard* t_innermost = nullptr;

struct sigaction g_previous {};  // SIGBUS disposition before the first guard; written once
std::uintptr_t g_page_size = 4096;

void pass_on(int sig, siginfo_t* info, void* context) {
  if ((g_previous.sa_flags & SA_SIGINFO) != 0 && g_previous.sa_sigaction != nullptr) {
    g_previous.sa_sigaction(sig, info, context);
    return;
  }
  if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN) {
    g_previous.sa_handler(sig);
    return;
  }
  // Default: put it back and return; the faulting load runs again and the process dies of it as
  // it would have without us (with the right address in its core file).
  struct sigaction fallback {};
  fallback.sa_handler = SIG_DFL;
  sigemptyset(&fallback.sa_mask);
  ::sigaction(SIGBUS, &fallback, nullptr);
}

void on_sigbus(int sig, siginfo_t* info, void* context) {
  const int saved_errno = errno;
  if (info != nullptr && info->si_code == BUS_ADRERR) {
    MappingGuard* guard = MappingGuard::covering(reinterpret_cast<std::uintptr_t>(info->si_addr));
    if (guard != nullptr && guard->patch(reinterpret_cast<std::uintptr_t>(info->si_addr))) {
      errno = saved_errno;
      return;  // the load is retried and reads zeros
    }
  }
  errno = saved_errno;
  pass_on(sig, info, context);
}

void install_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    g_page_size = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
    struct sigaction action {};
    action.sa_sigaction = on_sigbus;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGBUS, &action, &g_previous);
  });
}

}  // namespace

MappingGuard::MappingGuard(const Segment& segment, MappingDamage& damage) noexcept
    : begin_(reinterpret_cast<std::uintptr_t>(segment.base())),
      end_(begin_ + segment.size()),
      damaged_(&damage.damaged_),
      outer_(t_innermost) {
  install_handler();
  // A signal handler of this thread runs between our instructions, never beside them: a plain
  // (compiler-ordered) store is enough for it to see a complete guard.
  std::atomic_signal_fence(std::memory_order_release);
  t_innermost = this;
  std::atomic_signal_fence(std::memory_order_seq_cst);
}

MappingGuard::~MappingGuard() {
  std::atomic_signal_fence(std::memory_order_seq_cst);
  t_innermost = outer_;
}

MappingGuard* MappingGuard::covering(std::uintptr_t address) noexcept {
  for (MappingGuard* g = t_innermost; g != nullptr; g = g->outer_) {
    if (address >= g->begin_ && address < g->end_) return g;
  }
  return nullptr;
}

bool MappingGuard::patch(std::uintptr_t address) noexcept {
  const std::uintptr_t page = address & ~(g_page_size - 1);
  // mmap is a plain system call (async-signal-safe in practice, though POSIX does not list it).
  void* zeros = ::mmap(reinterpret_cast<void*>(page), end_ - page, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  if (zeros == MAP_FAILED) return false;
  // Release: a reader that acquires the mark knows the pages it read may be these zeros.
  damaged_->store(true, std::memory_order_release);
  return true;
}

Error damaged_segment_error(const Segment& segment) {
  return Error(Errc::corrupt,
               "segment '" + segment.name() + "' is damaged: its file (/dev/shm/wsm." + segment.name() +
                   ") shrank below the " + std::to_string(segment.size()) +
                   " bytes it was mapped with while it was read (truncated?); nothing read from it "
                   "is trusted. Remove it (wsm rm) and restart its writers to re-create it");
}

Result<Snapshot> guarded_snapshot(const Segment& segment, CatalogView& catalog, MappingDamage& damage,
                                  const SnapshotOptions& options) {
  Result<Snapshot> snapshot = [&] {
    MappingGuard guard(segment, damage);
    return Snapshot::take(segment, catalog, options);
  }();
  if (damage.damaged()) return std::unexpected(damaged_segment_error(segment));
  return snapshot;
}

}  // namespace wsm::shm
