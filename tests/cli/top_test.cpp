// wsm top: --once for scripts, and the live view driven in a real tmux pane (80x24): the rows show
// the writer's families with a rate above zero, `q` quits and the pane closes, SIGTERM restores the
// terminal modes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "cli_fixture.hpp"
#include "wsm/shm/quantile.hpp"

namespace wsm::test {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::vector<std::string> words(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// The first line that starts with `prefix`, split into words; empty if none.
std::vector<std::string> row(const std::string& screen, const std::string& prefix) {
  for (const std::string& line : lines_of(screen)) {
    if (line.starts_with(prefix)) return words(line);
  }
  return {};
}

// "950", "12.3k", "4.56M" -> number; NaN for "-" or anything else.
double count_value(const std::string& s) {
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end == s.c_str()) return std::nan("");
  const std::string suffix = end;
  if (suffix.empty()) return v;
  if (suffix == "k") return v * 1e3;
  if (suffix == "M") return v * 1e6;
  if (suffix == "G") return v * 1e9;
  return std::nan("");
}

// "850ns", "152us", "1.52ms", "2.10s" -> nanoseconds; NaN otherwise.
double duration_ns(const std::string& s) {
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  const std::string unit = end;
  if (unit == "ns") return v;
  if (unit == "us") return v * 1e3;
  if (unit == "ms") return v * 1e6;
  if (unit == "s") return v * 1e9;
  return std::nan("");
}

TEST(Top, OncePrintsRatesPercentilesAndConnections) {
  auto w = start_writer(unique_segment_name("top-once"), "stream");
  auto r = wsm({"top", "--once", "--interval", "0.3", w->segment.name()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.out.starts_with("wsm top " + w->segment.name())) << r.out;
  for (const std::string& line : lines_of(r.out)) EXPECT_LE(line.size(), 80u) << line;

  // Only sent{doctor} and latency keep moving; test_requests_total stands still.
  const auto sent = row(r.out, "websocket_messages_sent_total ");
  ASSERT_EQ(sent.size(), 3u) << r.out;
  EXPECT_GT(count_value(sent[1]), 0) << r.out;
  EXPECT_GT(count_value(sent[2]), static_cast<double>(kDoctorSent + kNurseSent)) << r.out;
  const auto requests = row(r.out, "test_requests_total ");
  ASSERT_EQ(requests.size(), 3u) << r.out;
  EXPECT_EQ(count_value(requests[1]), 0) << r.out;

  // The streaming writer records 2 ms each time: every percentile of the interval is 2 ms,
  // within the stated error bound.
  const auto latency = row(r.out, "websocket_message_latency_seconds ");
  ASSERT_EQ(latency.size(), 5u) << r.out;
  EXPECT_GT(count_value(latency[1]), 0) << r.out;
  for (int i = 2; i < 5; ++i) {
    const double ns = duration_ns(latency[static_cast<std::size_t>(i)]);
    EXPECT_NEAR(ns, kStreamLatencyNs, kStreamLatencyNs * shm::kQuantileRelativeError) << latency[static_cast<std::size_t>(i)];
  }

  // Connections: the gauge summed by role, as the writer set it.
  EXPECT_NE(r.out.find("connections: doctor 3 nurse 4  (total 7)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("writers: 2 alive in 1 process\n"), std::string::npos) << r.out;
}

TEST(Top, OnceFailsOnAMissingSegment) {
  auto r = wsm({"top", "--once", unique_segment_name("top-missing")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no such segment"), std::string::npos) << r.err;
  EXPECT_EQ(wsm({"top", "--interval", "0", "x"}).exit_code, 2);
}

// A tmux server of our own (private socket, no user config), killed and its socket removed at the
// end.
class Tmux {
 public:
  Tmux()
      : path_(on_path("tmux")),
        socket_("/tmp/wsm-test-tmux-" + std::to_string(::getpid()) + "-" + std::to_string(next_++)) {}
  ~Tmux() {
    if (!path_.empty()) (void)(*this)({"kill-server"});
    ::unlink(socket_.c_str());
  }
  [[nodiscard]] bool available() const { return !path_.empty(); }
  CommandResult operator()(std::vector<std::string> args) const {
    args.insert(args.begin(), {path_, "-S", socket_, "-f", "/dev/null"});
    return run(args);
  }
  [[nodiscard]] std::string screen() const { return (*this)({"capture-pane", "-p", "-t", "top"}).out; }
  [[nodiscard]] bool session_alive() const { return (*this)({"has-session", "-t", "top"}).exit_code == 0; }

 private:
  static inline int next_ = 0;
  std::string path_;
  std::string socket_;
};

TEST(Top, LiveInTmuxShowsRatesAndQuitsOnQ) {
  Tmux tmux;
  ASSERT_TRUE(tmux.available()) << "tmux is not installed: run scripts/setup";
  auto w = start_writer(unique_segment_name("top-tmux"), "stream");
  auto started = tmux({"new-session", "-d", "-x", "80", "-y", "24", "-s", "top",
                       bin("wsm") + " top --interval 0.3 " + w->segment.name()});
  ASSERT_EQ(started.exit_code, 0) << started.err;

  // The first frame has no rate yet ("-"); a later one must show the counter moving.
  std::string screen;
  const bool moving = eventually([&] {
    screen = tmux.screen();
    const auto sent = row(screen, "websocket_messages_sent_total ");
    return sent.size() == 3 && count_value(sent[1]) > 0;
  });
  ASSERT_TRUE(moving) << screen;
  const auto lines = lines_of(screen);
  ASSERT_FALSE(lines.empty());
  EXPECT_TRUE(lines[0].starts_with("wsm top " + w->segment.name())) << screen;
  EXPECT_NE(lines[0].find("q: quit"), std::string::npos) << screen;
  EXPECT_LE(lines.size(), 24u);
  for (const std::string& line : lines) EXPECT_LE(line.size(), 80u) << line;
  for (const char* family : {"websocket_message_latency_seconds ", "test_requests_total ",
                             "websocket_connections_active "}) {
    EXPECT_FALSE(row(screen, family).empty()) << family << " missing in\n" << screen;
  }
  EXPECT_GT(count_value(row(screen, "websocket_message_latency_seconds ")[1]), 0) << screen;

  ASSERT_EQ(tmux({"send-keys", "-t", "top", "q"}).exit_code, 0);
  EXPECT_TRUE(eventually([&] { return !tmux.session_alive(); })) << "wsm top did not quit on q:\n"
                                                                  << tmux.screen();
}

TEST(Top, SigtermRestoresTheTerminal) {
  Tmux tmux;
  ASSERT_TRUE(tmux.available()) << "tmux is not installed: run scripts/setup";
  auto w = start_writer(unique_segment_name("top-term"), "hold");
  const std::string report = "/tmp/wsm-top-term-" + w->segment.name();
  ::unlink(report.c_str());
  // The shell stays after wsm top to record its exit code and the terminal modes it left behind.
  auto started = tmux({"new-session", "-d", "-x", "80", "-y", "24", "-s", "top",
                       bin("wsm") + " top " + w->segment.name() + "; echo rc=$? > " + report +
                           "; stty -a >> " + report + "; sleep 60"});
  ASSERT_EQ(started.exit_code, 0) << started.err;
  ASSERT_TRUE(eventually([&] { return !row(tmux.screen(), "test_requests_total ").empty(); }))
      << tmux.screen();

  // While it runs, the pane's terminal is in raw mode: no line editing, no echo.
  const std::string tty = words(tmux({"display-message", "-p", "-t", "top", "#{pane_tty}"}).out).at(0);
  const auto raw = words(run({on_path("stty"), "-F", tty, "-a"}).out);
  EXPECT_NE(std::find(raw.begin(), raw.end(), "-icanon"), raw.end()) << tty;
  EXPECT_NE(std::find(raw.begin(), raw.end(), "-echo"), raw.end()) << tty;

  // wsm top is the pane shell's child.
  const std::string shell = words(tmux({"display-message", "-p", "-t", "top", "#{pane_pid}"}).out).at(0);
  std::ifstream children("/proc/" + shell + "/task/" + shell + "/children");
  pid_t top_pid = 0;
  ASSERT_TRUE(children >> top_pid) << "no child of the pane's shell " << shell;
  ASSERT_EQ(::kill(top_pid, SIGTERM), 0);

  std::string modes;
  ASSERT_TRUE(eventually([&] {
    std::ifstream in(report);
    modes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return modes.find("rows") != std::string::npos;
  })) << "wsm top did not exit on SIGTERM";
  EXPECT_TRUE(modes.starts_with("rc=0\n")) << modes;
  const auto mode_words = words(modes);
  for (const char* on : {"icanon", "echo"}) {
    EXPECT_NE(std::find(mode_words.begin(), mode_words.end(), on), mode_words.end()) << on << " in\n" << modes;
    EXPECT_EQ(std::find(mode_words.begin(), mode_words.end(), std::string("-") + on), mode_words.end())
        << "-" << on << " in\n" << modes;
  }
  ::unlink(report.c_str());
}

}  // namespace
}  // namespace wsm::test
