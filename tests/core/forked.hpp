// Child processes that run a function of the test itself (fork without exec): writers that share
// the test's handles, die at chosen moments and report back through pipes.
#pragma once

#include <chrono>
#include <csignal>
#include <cstdint>
#include <functional>
#include <optional>
#include <sys/types.h>
#include <vector>

namespace wsm::test {

// A forked child running fn; killed (SIGKILL) and reaped on destruction if still running.
class Forked {
 public:
  // fn's result is the child's exit code. The child leaves with _exit (no atexit handlers, no
  // return into the test framework); an exception becomes exit code 100.
  static Forked run(const std::function<int()>& fn);
  Forked(Forked&& other) noexcept;
  Forked& operator=(Forked&& other) noexcept;
  ~Forked();

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  void kill(int sig = SIGKILL) const noexcept;
  // The exit code, or 128 + signal; nullopt when it did not end within the timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout = std::chrono::seconds(30));

 private:
  explicit Forked(pid_t pid) : pid_(pid) {}
  void end() noexcept;  // kills and reaps the child if it still runs
  pid_t pid_ = -1;
  bool reaped_ = false;
};

// A pipe carrying u64 messages from children to the parent.
class Pipe {
 public:
  Pipe();
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  ~Pipe();

  // Child side: one message, written whole (8 bytes are below PIPE_BUF, so writes never mix).
  void send(std::uint64_t value) const noexcept;
  // Parent side: closes its write end and reads until every child has closed its own (EOF).
  [[nodiscard]] std::vector<std::uint64_t> receive_all();
  // Parent side: blocks for the next message; nullopt at EOF (after close_write()).
  [[nodiscard]] std::optional<std::uint64_t> receive();
  // Parent side: reads whatever is there now without blocking.
  [[nodiscard]] std::vector<std::uint64_t> receive_available();
  void close_write() noexcept;

 private:
  int read_fd_ = -1;
  int write_fd_ = -1;
};

// Children block in wait() until the parent calls open(): starts racers at the same moment.
class StartGate {
 public:
  StartGate();
  StartGate(const StartGate&) = delete;
  StartGate& operator=(const StartGate&) = delete;
  ~StartGate();
  void wait() noexcept;  // in a child
  void open() noexcept;  // in the parent, once every child is forked; at most kMaxWaiters

 private:
  static constexpr std::size_t kMaxWaiters = 4096;  // well inside a pipe's 64 KiB buffer
  int read_fd_ = -1;
  int write_fd_ = -1;
};

}  // namespace wsm::test
