#include "test_support.hpp"

#include <arpa/inet.h>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <zlib.h>

#include "wsm/shm/segment.hpp"

extern char** environ;

namespace wsm::test {

namespace {

std::string drain(int fd) {
  std::string out;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      out.append(buf, static_cast<std::size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      break;
    }
  }
  return out;
}

pid_t spawn_process(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                    int out_fd, int err_fd) {
  // Everything is built before fork(): the child of a threaded test may not allocate.
  std::vector<std::string> merged = env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string kv = *e;
    const std::string key = kv.substr(0, kv.find('='));
    bool overridden = false;
    for (const std::string& o : env) overridden |= o.compare(0, key.size() + 1, key + "=") == 0;
    if (!overridden) merged.push_back(kv);
  }
  std::vector<char*> envp;
  for (std::string& kv : merged) envp.push_back(kv.data());
  envp.push_back(nullptr);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  if (out_fd >= 0) ::dup2(out_fd, STDOUT_FILENO);
  if (err_fd >= 0) ::dup2(err_fd, STDERR_FILENO);
  ::execve(args[0], args.data(), envp.data());
  std::fprintf(stderr, "exec %s: %s\n", args[0], std::strerror(errno));
  ::_exit(127);
}

std::optional<int> wait_pid(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (r < 0) return std::nullopt;
    if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace

std::string unique_segment_name(const std::string& prefix) {
  static std::atomic<int> counter{0};
  return "t-" + prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

SegmentGuard::SegmentGuard(std::string name) : name_(std::move(name)) {
  (void)shm::Segment::remove(name_);
}
SegmentGuard::~SegmentGuard() { (void)shm::Segment::remove(name_); }

Child Child::spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                   bool capture_stdout) {
  Child c;
  int pipe_fds[2] = {-1, -1};
  if (capture_stdout && ::pipe2(pipe_fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  c.pid_ = spawn_process(argv, env, pipe_fds[1], -1);
  if (capture_stdout) {
    ::close(pipe_fds[1]);
    c.stdout_fd_ = pipe_fds[0];
  }
  return c;
}

Child::Child(Child&& o) noexcept : pid_(o.pid_), stdout_fd_(o.stdout_fd_), reaped_(o.reaped_) {
  o.pid_ = -1;
  o.stdout_fd_ = -1;
}

Child::~Child() {
  if (pid_ > 0 && !reaped_) {
    ::kill(pid_, SIGKILL);
    (void)wait_pid(pid_, std::chrono::seconds(10));
  }
  if (stdout_fd_ >= 0) ::close(stdout_fd_);
}

void Child::signal(int sig) const {
  if (pid_ > 0 && !reaped_) ::kill(pid_, sig);
}

std::optional<int> Child::wait(std::chrono::milliseconds timeout) {
  auto r = wait_pid(pid_, timeout);
  if (r) reaped_ = true;
  return r;
}

std::string Child::read_stdout() { return stdout_fd_ >= 0 ? drain(stdout_fd_) : std::string(); }

CommandResult run(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                  std::chrono::milliseconds timeout) {
  char out_path[] = "/tmp/wsm-test-out-XXXXXX";
  char err_path[] = "/tmp/wsm-test-err-XXXXXX";
  const int out_fd = ::mkstemp(out_path);
  const int err_fd = ::mkstemp(err_path);
  ::unlink(out_path);
  ::unlink(err_path);
  const pid_t pid = spawn_process(argv, env, out_fd, err_fd);
  CommandResult r;
  if (auto code = wait_pid(pid, timeout)) {
    r.exit_code = *code;
  } else {
    ::kill(pid, SIGKILL);
    (void)wait_pid(pid, std::chrono::seconds(10));
    r.exit_code = -1;
  }
  ::lseek(out_fd, 0, SEEK_SET);
  ::lseek(err_fd, 0, SEEK_SET);
  r.out = drain(out_fd);
  r.err = drain(err_fd);
  ::close(out_fd);
  ::close(err_fd);
  return r;
}

TempDir::TempDir(const std::string& prefix)
    : path_((std::filesystem::temp_directory_path() / unique_segment_name(prefix)).string()) {
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;  // a destructor does not throw; what is left is in the system's temp dir
  std::filesystem::remove_all(path_, ec);
}

std::string bin(const std::string& name) { return std::string(WSM_BIN_DIR) + "/" + name; }

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

int connect_to(const std::string& host, int port, std::chrono::milliseconds timeout) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) return -1;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  // Linux bounds a blocking connect() by the send timeout; cleared again once connected.
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(timeout).count();
  timeval tv{static_cast<time_t>(us / 1'000'000), static_cast<suseconds_t>(us % 1'000'000)};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  tv = {0, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  return fd;
}

int connect_loopback(int port, std::chrono::milliseconds timeout) { return connect_to("127.0.0.1", port, timeout); }

HttpResponse parse_response_head(const std::string& head) {
  HttpResponse r;
  std::size_t line_end = head.find("\r\n");
  const std::string status_line = head.substr(0, line_end);
  if (status_line.size() >= 12) r.status = std::atoi(status_line.c_str() + 9);
  while (line_end != std::string::npos) {
    const std::size_t start = line_end + 2;
    line_end = head.find("\r\n", start);
    const std::string line = head.substr(start, line_end == std::string::npos ? std::string::npos : line_end - start);
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    r.headers[name] = value;
  }
  return r;
}

std::optional<HttpResponse> read_response(int fd, std::string& pending, bool answers_head,
                                          std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::optional<HttpResponse> r;
  std::size_t body_start = 0, body_size = 0;  // once the head is known
  char buf[65536];
  for (;;) {
    if (const auto head_end = pending.find("\r\n\r\n"); !r && head_end != std::string::npos) {
      r = parse_response_head(pending.substr(0, head_end));
      const auto length = r->headers.find("content-length");
      body_start = head_end + 4;
      body_size = answers_head || length == r->headers.end() ? 0 : std::stoul(length->second);
    }
    if (r && pending.size() >= body_start + body_size) {
      r->body = pending.substr(body_start, body_size);
      pending.erase(0, body_start + body_size);
      return r;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) return std::nullopt;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return std::nullopt;
    pending.append(buf, static_cast<std::size_t>(n));
  }
}

std::optional<HttpResponse> http_get(int port, const std::string& path,
                                     const std::map<std::string, std::string>& headers,
                                     std::chrono::milliseconds timeout) {
  const int fd = connect_loopback(port);
  if (fd < 0) return std::nullopt;
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                    "\r\nConnection: close\r\n";
  for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
  req += "\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return std::nullopt;
  }
  std::string raw;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[65536];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    raw.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  const auto head_end = raw.find("\r\n\r\n");
  if (head_end == std::string::npos) return std::nullopt;
  HttpResponse r = parse_response_head(raw.substr(0, head_end));
  std::string body = raw.substr(head_end + 4);
  // De-chunk a chunked body.
  if (auto it = r.headers.find("transfer-encoding"); it != r.headers.end() && it->second == "chunked") {
    std::string plain;
    std::size_t pos = 0;
    for (;;) {
      const std::size_t eol = body.find("\r\n", pos);
      if (eol == std::string::npos) break;
      const std::size_t size = std::strtoul(body.substr(pos, eol - pos).c_str(), nullptr, 16);
      if (size == 0) break;
      plain += body.substr(eol + 2, size);
      pos = eol + 2 + size + 2;
    }
    body = std::move(plain);
  }
  r.body = std::move(body);
  return r;
}

bool wait_for_http(int port, const std::string& path, int status, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto r = http_get(port, path, {}, std::chrono::seconds(2)); r && r->status == status) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

std::string gunzip(const std::string& data) {
  z_stream z{};
  if (inflateInit2(&z, 15 + 16) != Z_OK) return {};
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  std::string out;
  char buf[65536];
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof buf - z.avail_out);
  }
  const bool whole = z.avail_in == 0;
  inflateEnd(&z);
  // One member and nothing after it: a second member is what curl (7.88) stops reading at.
  return rc == Z_STREAM_END && whole ? out : std::string("<gunzip failed>");
}

}  // namespace wsm::test
