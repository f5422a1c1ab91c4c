// Named points in the segment code where a test stops or kills a process at the worst moment: a
// registrant between claiming a catalog entry and publishing it, a reaper between the two stores
// of a word move, a writer between claiming a slot and publishing it. Compiled in only when the
// project is configured with WSM_TEST_POINTS=ON (scripts/test does); in any other build arm() does
// nothing and compiled() is false, so shipped binaries carry no hook.
//
// A process arms a point with arm(), or through its environment:
//   WSM_TEST_POINT=<point>:<action>[:<n>]   e.g. reaper.mid_move:exit:37, catalog.after_claim:stop
// On the n-th pass (default 1) the action runs: stop (raise SIGSTOP: the process is alive but
// makes no progress until SIGCONT), exit (_exit(77), as a crash would), or pause:<us> on every
// pass (hold the point that long: lets a random SIGKILL land inside it).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace wsm::shm::test_points {

enum class Point : std::uint8_t { catalog_after_claim, reaper_mid_move, slot_after_claim };
enum class Action : std::uint8_t { stop, exit, pause };

[[nodiscard]] bool compiled() noexcept;
// Arms `point` in this process (replacing what the environment said); a no-op when not compiled.
void arm(Point point, Action action, std::uint64_t nth = 1, std::uint64_t pause_us = 0) noexcept;
void disarm() noexcept;
// "reaper.mid_move" -> Point (for the environment and for tests building it).
[[nodiscard]] std::optional<Point> point_named(std::string_view name) noexcept;

}  // namespace wsm::shm::test_points
