// Helpers shared by the test suites: real processes, real segments, real sockets.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace wsm::test {

// A segment name no other test (or test run) uses: "<prefix>-<pid>-<counter>".
[[nodiscard]] std::string unique_segment_name(const std::string& prefix);

// Removes /dev/shm/wsm.<name> when constructed and again when destroyed.
class SegmentGuard {
 public:
  explicit SegmentGuard(std::string name);
  ~SegmentGuard();
  SegmentGuard(const SegmentGuard&) = delete;
  SegmentGuard& operator=(const SegmentGuard&) = delete;
  [[nodiscard]] const std::string& name() const { return name_; }

 private:
  std::string name_;
};

// A private temporary directory (under the system's, named like a segment), removed with all
// it holds when destroyed.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A child process started with fork+exec; killed (SIGKILL) and reaped on destruction if running.
class Child {
 public:
  // argv[0] is the program path; env entries are added to the current environment ("K=V").
  static Child spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
                     bool capture_stdout = false);
  Child(Child&& other) noexcept;
  Child& operator=(Child&&) = delete;
  ~Child();
  [[nodiscard]] pid_t pid() const { return pid_; }
  void signal(int sig) const;
  // Waits for exit; returns the exit code, or 128 + signal; nullopt on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // With capture_stdout: everything the child wrote to stdout (call after wait()).
  std::string read_stdout();
  // With capture_stdout: the read end of the child's stdout, to poll while it runs (else -1).
  [[nodiscard]] int stdout_fd() const { return stdout_fd_; }

 private:
  Child() = default;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  bool reaped_ = false;
};

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
// Runs a program to completion (argv[0] is the path), capturing stdout and stderr.
[[nodiscard]] CommandResult run(const std::vector<std::string>& argv,
                                const std::vector<std::string>& env = {},
                                std::chrono::milliseconds timeout = std::chrono::seconds(60));

// Path of a built executable: WSM_BIN_DIR/<name>.
[[nodiscard]] std::string bin(const std::string& name);

// A TCP port on 127.0.0.1 that was free a moment ago.
[[nodiscard]] int free_port();

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};
// A TCP connection to host:port (an IPv4 address), for tests that speak a protocol by hand; -1 when
// refused or not accepted within the timeout (a server whose listen queue is full lets connect()
// hang).
[[nodiscard]] int connect_to(const std::string& host, int port,
                             std::chrono::milliseconds timeout = std::chrono::seconds(10));
// connect_to("127.0.0.1", port, timeout).
[[nodiscard]] int connect_loopback(int port, std::chrono::milliseconds timeout = std::chrono::seconds(10));
// The status and (lower-case) headers of a response head: the status line and header lines,
// without the blank line that ends them.
[[nodiscard]] HttpResponse parse_response_head(const std::string& head);
// Reads one response (head, then a Content-Length body unless it answers a HEAD request) from a
// connection that stays open; bytes read past it stay in `pending` for the next call. nullopt if
// the connection closed or the timeout passed first.
[[nodiscard]] std::optional<HttpResponse> read_response(int fd, std::string& pending, bool answers_head = false,
                                                        std::chrono::milliseconds timeout = std::chrono::seconds(10));
// One HTTP/1.1 request to 127.0.0.1:port (Connection: close); nullopt if it could not connect.
[[nodiscard]] std::optional<HttpResponse> http_get(int port, const std::string& path,
                                                   const std::map<std::string, std::string>& headers = {},
                                                   std::chrono::milliseconds timeout = std::chrono::seconds(10));
// Polls until GET path answers with `status` or the timeout passes.
[[nodiscard]] bool wait_for_http(int port, const std::string& path, int status = 200,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(15));

// The text of a body that is exactly one gzip member; "<gunzip failed>" otherwise.
[[nodiscard]] std::string gunzip(const std::string& data);

}  // namespace wsm::test
