#include "forked.hpp"

#include <cerrno>
#include <fcntl.h>
#include <stdexcept>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace wsm::test {

namespace {

void close_fd(int& fd) noexcept {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

void make_pipe(int& read_fd, int& write_fd) {
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error("pipe() failed");
  read_fd = fds[0];
  write_fd = fds[1];
}

}  // namespace

Forked Forked::run(const std::function<int()>& fn) {
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork() failed");
  if (pid == 0) {
    int code = 100;
    try {
      code = fn();
    } catch (...) {
    }
    ::_exit(code);
  }
  return Forked(pid);
}

Forked::Forked(Forked&& o) noexcept : pid_(o.pid_), reaped_(o.reaped_) { o.pid_ = -1; }

Forked& Forked::operator=(Forked&& o) noexcept {
  if (this != &o) {
    end();
    pid_ = o.pid_;
    reaped_ = o.reaped_;
    o.pid_ = -1;
  }
  return *this;
}

Forked::~Forked() { end(); }

void Forked::end() noexcept {
  if (pid_ > 0 && !reaped_) {
    kill(SIGKILL);
    (void)wait(std::chrono::seconds(10));
  }
}

void Forked::kill(int sig) const noexcept {
  if (pid_ > 0 && !reaped_) ::kill(pid_, sig);
}

std::optional<int> Forked::wait(std::chrono::milliseconds timeout) {
  if (reaped_ || pid_ <= 0) return std::nullopt;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    if (r < 0 || std::chrono::steady_clock::now() > deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

Pipe::Pipe() { make_pipe(read_fd_, write_fd_); }
Pipe::~Pipe() {
  close_fd(read_fd_);
  close_fd(write_fd_);
}

void Pipe::send(std::uint64_t value) const noexcept {
  while (::write(write_fd_, &value, sizeof value) < 0 && errno == EINTR) {
  }
}

std::optional<std::uint64_t> Pipe::receive() {
  std::uint64_t v = 0;
  for (;;) {
    const ssize_t n = ::read(read_fd_, &v, sizeof v);
    if (n == sizeof v) return v;
    if (n < 0 && errno == EINTR) continue;
    return std::nullopt;  // EOF (a short read cannot happen: writes are atomic and whole)
  }
}

std::vector<std::uint64_t> Pipe::receive_all() {
  close_write();
  std::vector<std::uint64_t> out;
  while (auto v = receive()) out.push_back(*v);
  return out;
}

std::vector<std::uint64_t> Pipe::receive_available() {
  std::vector<std::uint64_t> out;
  const int flags = ::fcntl(read_fd_, F_GETFL);
  ::fcntl(read_fd_, F_SETFL, flags | O_NONBLOCK);
  std::uint64_t v = 0;
  while (::read(read_fd_, &v, sizeof v) == sizeof v) out.push_back(v);
  ::fcntl(read_fd_, F_SETFL, flags);
  return out;
}

void Pipe::close_write() noexcept { close_fd(write_fd_); }

StartGate::StartGate() { make_pipe(read_fd_, write_fd_); }
StartGate::~StartGate() {
  close_fd(read_fd_);
  close_fd(write_fd_);
}

void StartGate::wait() noexcept {
  char c;
  while (::read(read_fd_, &c, 1) < 0 && errno == EINTR) {
  }
}

// One byte per waiter rather than EOF: every child forked later holds a copy of the write end,
// so the pipe would never reach EOF while any of them lives.
void StartGate::open() noexcept {
  const std::vector<char> tokens(kMaxWaiters, 'g');
  (void)!::write(write_fd_, tokens.data(), tokens.size());
  close_fd(write_fd_);
}

}  // namespace wsm::test
