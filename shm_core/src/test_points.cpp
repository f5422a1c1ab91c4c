#include "test_point_pass.hpp"

#include <atomic>
#include <charconv>
#include <csignal>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <unistd.h>

namespace wsm::shm::test_points {

namespace {

constexpr std::string_view kNames[] = {"catalog.after_claim", "reaper.mid_move", "slot.after_claim"};

#ifdef WSM_TEST_POINTS
struct Armed {
  std::atomic<bool> set{false};
  std::atomic<Point> point{};
  std::atomic<Action> action{};
  std::atomic<std::uint64_t> nth{1};
  std::atomic<std::uint64_t> pause_us{0};
  std::atomic<std::uint64_t> passes{0};
};
Armed g_armed;

void arm_from_environment() {
  const char* spec = std::getenv("WSM_TEST_POINT");
  if (spec == nullptr) return;
  const std::string_view s = spec;
  const auto colon = s.find(':');
  const auto point = point_named(s.substr(0, colon));
  if (!point || colon == std::string_view::npos) return;
  std::string_view rest = s.substr(colon + 1);
  const auto colon2 = rest.find(':');
  const std::string_view action = rest.substr(0, colon2);
  std::uint64_t number = 0;
  if (colon2 != std::string_view::npos) {
    const std::string_view n = rest.substr(colon2 + 1);
    std::from_chars(n.data(), n.data() + n.size(), number);
  }
  if (action == "stop") arm(*point, Action::stop, number == 0 ? 1 : number);
  if (action == "exit") arm(*point, Action::exit, number == 0 ? 1 : number);
  if (action == "pause") arm(*point, Action::pause, 1, number);
}
#endif

}  // namespace

std::optional<Point> point_named(std::string_view name) noexcept {
  for (std::size_t i = 0; i < std::size(kNames); ++i) {
    if (kNames[i] == name) return static_cast<Point>(i);
  }
  return std::nullopt;
}

#ifdef WSM_TEST_POINTS
bool compiled() noexcept { return true; }

void arm(Point point, Action action, std::uint64_t nth, std::uint64_t pause_us) noexcept {
  // Relaxed: a test arms before it starts the work that passes the point.
  g_armed.point.store(point, std::memory_order_relaxed);
  g_armed.action.store(action, std::memory_order_relaxed);
  g_armed.nth.store(nth, std::memory_order_relaxed);
  g_armed.pause_us.store(pause_us, std::memory_order_relaxed);
  g_armed.passes.store(0, std::memory_order_relaxed);
  g_armed.set.store(true, std::memory_order_release);
}

void disarm() noexcept { g_armed.set.store(false, std::memory_order_release); }

void pass(Point point) noexcept {
  static std::once_flag environment;
  std::call_once(environment, arm_from_environment);
  if (!g_armed.set.load(std::memory_order_acquire) || g_armed.point.load(std::memory_order_relaxed) != point) {
    return;
  }
  switch (g_armed.action.load(std::memory_order_relaxed)) {
    case Action::pause:
      std::this_thread::sleep_for(std::chrono::microseconds(g_armed.pause_us.load(std::memory_order_relaxed)));
      return;
    case Action::stop:
    case Action::exit:
      if (g_armed.passes.fetch_add(1, std::memory_order_relaxed) + 1 != g_armed.nth.load(std::memory_order_relaxed)) {
        return;
      }
      if (g_armed.action.load(std::memory_order_relaxed) == Action::exit) ::_exit(77);
      ::raise(SIGSTOP);  // the whole process stops here until a SIGCONT
      return;
  }
}
#else
bool compiled() noexcept { return false; }
void arm(Point, Action, std::uint64_t, std::uint64_t) noexcept {}
void disarm() noexcept {}
#endif

}  // namespace wsm::shm::test_points
