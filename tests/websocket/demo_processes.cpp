#include "demo_processes.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <csignal>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace wsm::test {

DemoServer::DemoServer(const std::string& segment, int workers, std::vector<std::string> extra_args)
    : port_(free_port()) {
  std::vector<std::string> argv = {bin("wsm-demo-server"), "--port", std::to_string(port_), "--workers",
                                   std::to_string(workers), "--segment", segment};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  child_.emplace(Child::spawn(argv));
  EXPECT_TRUE(wait_for_http(port_, "/healthz")) << "wsm-demo-server did not answer on port " << port_;
  // Every worker runs (the listeners all exist before the parent forks).
  EXPECT_TRUE(eventually([&] { return static_cast<int>(this->workers().size()) == workers; }));
}

DemoServer::~DemoServer() {
  if (!child_) return;
  if (!stop()) {
    for (pid_t w : workers()) ::kill(w, SIGKILL);
  }
}

std::vector<pid_t> DemoServer::workers() const { return children_of(child_->pid()); }

std::optional<int> DemoServer::stop() {
  child_->signal(SIGTERM);
  return child_->wait(std::chrono::seconds(15));
}

std::vector<pid_t> children_of(pid_t pid) {
  std::vector<pid_t> out;
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator(tasks, ec)) {
    std::ifstream in(task.path() / "children");
    for (pid_t child; in >> child;) out.push_back(child);
  }
  return out;
}

char process_state(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return 0;
  const auto close = stat.rfind(')');  // the command name may hold spaces and parentheses
  return close != std::string::npos && close + 2 < stat.size() ? stat[close + 2] : 0;
}

bool running(pid_t pid) {
  const char s = process_state(pid);
  return s != 0 && s != 'Z' && s != 'X';
}

LoadResult run_loadgen(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  std::vector<std::string> argv = {bin("wsm-loadgen")};
  argv.insert(argv.end(), args.begin(), args.end());
  const CommandResult r = run(argv, {}, timeout);
  LoadResult out;
  out.exit_code = r.exit_code;
  out.err = r.err;
  out.summary = nlohmann::json::parse(r.out, nullptr, false);
  return out;
}

Totals::Totals(const std::string& segment) {
  // raw: these tests check per-connection identity labels, which dump drops by default.
  const CommandResult r = run({bin("wsm"), "dump", "--json", "--id-labels", "raw", segment});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  json_ = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_TRUE(json_.is_object()) << r.out;
}

double Totals::sum(const std::string& name, const std::function<bool(const nlohmann::json&)>& where) const {
  double total = 0;
  if (!json_.is_object()) return total;
  for (const auto& s : json_["series"]) {
    if (s["name"] != name || (where && !where(s["labels"]))) continue;
    total += s["type"] == "histogram" ? s["count"].get<double>() : s["value"].get<double>();
  }
  return total;
}

RawClient::RawClient(int port, const std::string& target, int receive_buffer) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (receive_buffer > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return;
  const std::string request = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n"
                              "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
  if (::write(fd_, request.data(), request.size()) != static_cast<ssize_t>(request.size())) return;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  std::size_t end;
  while ((end = in_.find("\r\n\r\n")) == std::string::npos) {
    if (!fill(in_.size() + 1, deadline)) return;
  }
  response_ = in_.substr(0, end + 4);
  in_.erase(0, end + 4);
  upgraded_ = response_.starts_with("HTTP/1.1 101");
}

RawClient::~RawClient() {
  if (fd_ >= 0) ::close(fd_);
}

bool RawClient::fill(std::size_t need, std::chrono::steady_clock::time_point deadline) {
  while (in_.size() < need) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{fd_, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char buf[4096];
    const ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n <= 0) return false;
    in_.append(buf, static_cast<std::size_t>(n));
  }
  return true;
}

void RawClient::send_text(const std::string& text) {
  // A client frame: FIN + text, masked (the mask is all zero bytes: the payload goes as is).
  std::string frame = "\x81";
  if (text.size() < 126) {
    frame += static_cast<char>(0x80 | text.size());
  } else {
    frame += static_cast<char>(0x80 | 126);
    frame += static_cast<char>((text.size() >> 8) & 0xff);
    frame += static_cast<char>(text.size() & 0xff);
  }
  frame.append(4, '\0');
  frame += text;
  EXPECT_EQ(::write(fd_, frame.data(), frame.size()), static_cast<ssize_t>(frame.size()));
}

std::optional<std::string> RawClient::next_text(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (!fill(2, deadline)) return std::nullopt;
    const auto opcode = static_cast<unsigned char>(in_[0]) & 0x0f;
    std::size_t len = static_cast<unsigned char>(in_[1]) & 0x7f, header = 2;
    if (len == 126) {
      if (!fill(4, deadline)) return std::nullopt;
      len = (static_cast<std::size_t>(static_cast<unsigned char>(in_[2])) << 8) | static_cast<unsigned char>(in_[3]);
      header = 4;
    } else if (len == 127) {
      if (!fill(10, deadline)) return std::nullopt;
      len = 0;
      for (int i = 2; i < 10; ++i) len = (len << 8) | static_cast<unsigned char>(in_[static_cast<std::size_t>(i)]);
      header = 10;
    }
    if (!fill(header + len, deadline)) return std::nullopt;
    std::string payload = in_.substr(header, len);
    in_.erase(0, header + len);
    if (opcode == 0x1) return payload;
    if (opcode == 0x8) return std::nullopt;
    // Pings and anything else: skipped (this client never answers pings).
  }
}

bool eventually(const std::function<bool()>& ready, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!ready()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

}  // namespace wsm::test
