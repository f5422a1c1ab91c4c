#include "terminal.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <poll.h>
#include <string>
#include <sys/ioctl.h>
#include <unistd.h>

namespace wsm::cli {

namespace {

volatile std::sig_atomic_t g_stop = 0;

extern "C" void on_stop(int) { g_stop = 1; }
extern "C" void on_resize(int) {}  // only interrupts the wait, so the next frame fits

void handle(int sig, void (*handler)(int)) {
  struct sigaction sa {};
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: poll() returns EINTR and the loop looks at the flag
  ::sigaction(sig, &sa, nullptr);
}

void write_all(std::string_view s) {
  while (!s.empty()) {
    const ssize_t n = ::write(STDOUT_FILENO, s.data(), s.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    s.remove_prefix(static_cast<std::size_t>(n));
  }
}

constexpr std::string_view kEnter = "\x1b[?1049h\x1b[?25l";  // alternate screen, hide cursor
constexpr std::string_view kLeave = "\x1b[?25h\x1b[?1049l";  // show cursor, main screen back

}  // namespace

Terminal::Terminal() {
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) handle(sig, on_stop);
  handle(SIGWINCH, on_resize);
  screen_ = ::isatty(STDOUT_FILENO) == 1;
  if (!screen_) return;
  if (::isatty(STDIN_FILENO) == 1 && ::tcgetattr(STDIN_FILENO, &saved_) == 0) {
    termios raw = saved_;
    // Keys arrive one by one and unechoed; ISIG stays so Ctrl-C still raises SIGINT.
    raw.c_lflag &= static_cast<tcflag_t>(~(ICANON | ECHO));
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    keyboard_ = ::tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
  }
  write_all(kEnter);
}

Terminal::~Terminal() {
  if (!screen_) return;
  write_all(kLeave);
  if (keyboard_) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
}

TerminalSize Terminal::size() const noexcept {
  winsize ws{};
  if (screen_ && ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
    return {ws.ws_col, ws.ws_row};
  }
  return {};
}

void Terminal::draw(std::string_view frame) const {
  if (!screen_) {
    write_all(frame);
    write_all("\n\n");  // frames one after another, a blank line between them
    return;
  }
  // Home, then each line cleared to its end, then everything below cleared: no flicker, no
  // leftovers from a longer previous frame. One write so the frame appears at once.
  std::string out = "\x1b[H";
  std::size_t start = 0;
  while (start <= frame.size()) {
    const std::size_t end = std::min(frame.find('\n', start), frame.size());
    out.append(frame.substr(start, end - start));
    out.append("\x1b[K");
    if (end == frame.size()) break;
    out.append("\r\n");
    start = end + 1;
  }
  out.append("\x1b[J");
  write_all(out);
}

std::optional<char> Terminal::wait_key(std::chrono::milliseconds timeout) const {
  pollfd p{keyboard_ ? STDIN_FILENO : -1, POLLIN, 0};  // fd -1: poll only sleeps
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return std::nullopt;
  char c = 0;
  if ((p.revents & POLLIN) != 0 && ::read(STDIN_FILENO, &c, 1) == 1) return c;
  if ((p.revents & (POLLHUP | POLLERR)) != 0) g_stop = 1;  // the terminal went away
  return std::nullopt;
}

bool Terminal::stop_requested() noexcept { return g_stop != 0; }

}  // namespace wsm::cli
