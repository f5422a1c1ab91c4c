// The terminal of a full-screen view (`wsm top`): raw keyboard input, the alternate screen, and
// its restoration on every way out (normal return, q, SIGINT, SIGTERM, SIGHUP).
//
// Plain ANSI escape codes and termios: xterm, the Linux console, screen and tmux all understand
// them, and nothing is linked. Signals only set a flag (restoring from a handler is not
// async-signal-safe); the owner sees it after wait_key() returns and unwinds, and the destructor
// restores the terminal.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>
#include <termios.h>

namespace wsm::cli {

struct TerminalSize {
  int columns = 80;
  int rows = 24;
};

class Terminal {
 public:
  // Installs the signal handlers; takes over the screen only when stdout is a terminal
  // (`interactive`), and the keyboard only when stdin is one too.
  Terminal();
  ~Terminal();
  Terminal(const Terminal&) = delete;
  Terminal& operator=(const Terminal&) = delete;

  [[nodiscard]] bool interactive() const noexcept { return screen_; }
  [[nodiscard]] TerminalSize size() const noexcept;
  // Replaces the screen with `frame` (lines separated by '\n'), or appends it when not interactive.
  void draw(std::string_view frame) const;
  // Waits up to `timeout` for a key; nullopt on timeout, a signal or a resize (see stop_requested).
  [[nodiscard]] std::optional<char> wait_key(std::chrono::milliseconds timeout) const;
  [[nodiscard]] static bool stop_requested() noexcept;

 private:
  bool screen_ = false;
  bool keyboard_ = false;
  termios saved_{};
};

}  // namespace wsm::cli
