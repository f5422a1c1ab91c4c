#include "wsm/shm/proc_stats.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <string>
#include <unistd.h>

namespace wsm::shm {

std::optional<std::string> read_small_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string out(1024, '\0');
  const ssize_t n = ::read(fd, out.data(), out.size());
  ::close(fd);
  if (n <= 0) return std::nullopt;
  out.resize(static_cast<std::size_t>(n));
  return out;
}

namespace {

std::optional<FdCounts> count_fds(const std::string& proc_dir) {
  const std::string dir = proc_dir + "/fd";
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return std::nullopt;
  FdCounts c;
  char target[256];
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    const ssize_t n = ::readlinkat(::dirfd(d), e->d_name, target, sizeof target - 1);
    if (n <= 0) continue;  // closed meanwhile
    target[n] = '\0';
    if (std::strncmp(target, "socket:", 7) == 0) {
      ++c.socket;
    } else if (std::strncmp(target, "pipe:", 5) == 0) {
      ++c.pipe;
    } else if (target[0] == '/') {
      ++c.file;
    } else {
      ++c.other;
    }
  }
  ::closedir(d);
  return c;
}

// proc_dir: "/proc/<pid>" or "/proc/self".
std::optional<ProcessStat> read_process_at(const std::string& proc_dir, bool with_fds) {
  const auto stat = read_small_file(proc_dir + "/stat");
  if (!stat) return std::nullopt;
  // The command name (field 2) is in parentheses and may contain anything: fields resume after
  // the last ')'. Then field 3 (state) onwards, space-separated.
  const auto close = stat->rfind(')');
  if (close == std::string::npos) return std::nullopt;
  const char* p = stat->c_str() + close + 1;
  unsigned long long f[25] = {};  // f[k] = field k (1-based), from field 3
  for (int k = 3; k <= 24; ++k) {
    while (*p == ' ') ++p;
    if (k == 3) {  // state: a letter
      while (*p != ' ' && *p != '\0') ++p;
      continue;
    }
    char* end = nullptr;
    f[k] = std::strtoull(p, &end, 10);
    if (end == p) return std::nullopt;
    p = end;
  }
  static const long page = ::sysconf(_SC_PAGESIZE);
  ProcessStat s;
  s.cpu_ticks = f[14] + f[15];
  s.threads = static_cast<std::uint32_t>(f[20]);
  s.start_ticks = f[22];
  s.virtual_bytes = f[23];
  s.rss_bytes = f[24] * static_cast<std::uint64_t>(page > 0 ? page : 4096);
  if (with_fds) s.fds = count_fds(proc_dir);
  return s;
}

}  // namespace

long clock_ticks_per_second() noexcept {
  static const long ticks = ::sysconf(_SC_CLK_TCK);
  return ticks > 0 ? ticks : 100;
}

std::optional<ProcessStat> read_process(pid_t pid, bool with_fds) {
  return read_process_at("/proc/" + std::to_string(pid), with_fds);
}

std::optional<ProcessStat> read_own_process(bool with_fds) { return read_process_at("/proc/self", with_fds); }

}  // namespace wsm::shm
