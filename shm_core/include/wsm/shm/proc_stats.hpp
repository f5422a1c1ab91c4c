// What /proc says about one process (the exporter about writers it can see; a writer about itself): CPU time, memory, threads and open file descriptors.
// Reading another user's /proc/<pid>/fd is refused by the kernel; the fd counts are then absent.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <sys/types.h>

namespace wsm::shm {

struct FdCounts {
  std::uint32_t socket = 0, pipe = 0, file = 0, other = 0;
  [[nodiscard]] std::uint32_t total() const noexcept { return socket + pipe + file + other; }
};

struct ProcessStat {
  std::uint64_t start_ticks = 0;  // field 22: tells a reused pid apart
  std::uint64_t cpu_ticks = 0;    // utime + stime, in clock ticks
  std::uint64_t rss_bytes = 0;
  std::uint64_t virtual_bytes = 0;
  std::uint32_t threads = 0;
  std::optional<FdCounts> fds;
};

// nullopt when the process is gone (or /proc cannot be read, or it is in a pid namespace we
// cannot see into).
[[nodiscard]] std::optional<ProcessStat> read_process(pid_t pid, bool count_fds);
// The calling process, through /proc/self (which names it in any pid namespace).
[[nodiscard]] std::optional<ProcessStat> read_own_process(bool count_fds);

[[nodiscard]] long clock_ticks_per_second() noexcept;

// The first KB of a /proc or /sys file (all such a file holds); nullopt when it cannot be read.
[[nodiscard]] std::optional<std::string> read_small_file(const std::string& path);

}  // namespace wsm::shm
