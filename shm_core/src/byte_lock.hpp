// One byte of the segment file as a lock held by a running process: an open-file-description lock
// (F_OFD_*), which the kernel drops when the last descriptor of its description closes, at the
// holder's death in particular, whatever pid namespace looks. Process records (process_lease.cpp)
// and the reap lock (reaper.cpp) are such bytes; liveness.cpp tests them.
#pragma once

#include <cerrno>
#include <cstdint>
#include <fcntl.h>

#include "wsm/shm/liveness.hpp"

namespace wsm::shm {

// Takes the byte at `offset` through `fd` without waiting; on failure errno says why (EAGAIN or
// EACCES: a running process holds it).
[[nodiscard]] inline bool try_lock_byte(int fd, std::uint64_t offset) noexcept {
  struct flock l{};
  l.l_type = F_WRLCK;
  l.l_whence = SEEK_SET;
  l.l_start = static_cast<off_t>(offset);
  l.l_len = 1;
  return ::fcntl(fd, F_OFD_SETLK, &l) == 0;
}

// Whether a running process holds the byte: alive (held), dead (free), unknown (cannot test). A
// lock of this very process shows as held when `fd` is another description than the holder's.
[[nodiscard]] inline Liveness byte_holder(int fd, std::uint64_t offset) noexcept {
  if (fd < 0) return Liveness::unknown;
  struct flock probe{};
  probe.l_type = F_RDLCK;  // conflicts with the holder's write lock
  probe.l_whence = SEEK_SET;
  probe.l_start = static_cast<off_t>(offset);
  probe.l_len = 1;
  if (::fcntl(fd, F_OFD_GETLK, &probe) != 0) return Liveness::unknown;
  return probe.l_type == F_UNLCK ? Liveness::dead : Liveness::alive;
}

}  // namespace wsm::shm
