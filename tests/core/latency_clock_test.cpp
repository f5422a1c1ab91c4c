// wsm::LatencyClock: the source it chooses, and durations that agree with CLOCK_MONOTONIC on
// whichever source it reads. CMake runs this suite twice: as the machine offers, and with
// WSM_LATENCY_CLOCK=clock_gettime (the fallback every machine without a trusted TSC takes).
#include "wsm/latency_clock.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using wsm::LatencyClock;
using wsm::detail::choose_latency_source;
using wsm::detail::LatencySource;

TEST(LatencyClockChoice, TscOnlyWhereTheKernelKeepsTimeWithIt) {
  EXPECT_EQ(choose_latency_source(true, "tsc", nullptr).source, LatencySource::tsc);
  EXPECT_EQ(choose_latency_source(true, "tsc", "auto").source, LatencySource::tsc);
  EXPECT_EQ(choose_latency_source(true, "kvm-clock", nullptr).source, LatencySource::clock_gettime);
  EXPECT_EQ(choose_latency_source(true, "hpet", nullptr).source, LatencySource::clock_gettime);
  EXPECT_EQ(choose_latency_source(true, "", nullptr).source, LatencySource::clock_gettime);  // no /sys
  EXPECT_EQ(choose_latency_source(false, "tsc", nullptr).source, LatencySource::clock_gettime);
}

TEST(LatencyClockChoice, SettingForcesClockGettimeAndUnknownValuesWarn) {
  const auto forced = choose_latency_source(true, "tsc", "clock_gettime");
  EXPECT_EQ(forced.source, LatencySource::clock_gettime);
  EXPECT_TRUE(forced.warning.empty());
  const auto unknown = choose_latency_source(true, "tsc", "rdtsc");
  EXPECT_EQ(unknown.source, LatencySource::tsc);  // as auto
  EXPECT_NE(unknown.warning.find("WSM_LATENCY_CLOCK"), std::string_view::npos);
  EXPECT_TRUE(choose_latency_source(true, "tsc", nullptr).warning.empty());
}

// What this machine and environment should give, stated without the code under test.
std::string expected_source() {
  const char* setting = std::getenv("WSM_LATENCY_CLOCK");
  if (setting != nullptr && std::string(setting) == "clock_gettime") return "clock_gettime";
  std::string kernel;
  std::ifstream("/sys/devices/system/clocksource/clocksource0/current_clocksource") >> kernel;
#if defined(__x86_64__)
  return kernel == "tsc" ? "tsc" : "clock_gettime";
#else
  return "clock_gettime";
#endif
}

TEST(LatencyClock, ReadsTheSourceThisMachineOffers) {
  EXPECT_EQ(LatencyClock::source(), expected_source());
}

// A LatencyClock read between two steady_clock reads: the steady interval it lies in.
struct Bracketed {
  LatencyClock::time_point at;
  std::chrono::steady_clock::time_point before, after;
};
Bracketed bracketed() {
  Bracketed b;
  b.before = std::chrono::steady_clock::now();
  b.at = LatencyClock::now();
  b.after = std::chrono::steady_clock::now();
  return b;
}

// Over 50 ms the clock's duration lies within the steady_clock bounds the brackets allow, widened
// by 0.5% (the TSC's measured rate is good to ~1e-4). Bracketing makes a preemption between two
// reads widen the bounds instead of failing the test.
TEST(LatencyClock, DurationsAgreeWithCLOCK_MONOTONIC) {
  const Bracketed start = bracketed();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const Bracketed end = bracketed();
  const double measured = std::chrono::duration<double>(end.at - start.at).count();
  const double shortest = std::chrono::duration<double>(end.before - start.after).count();
  const double longest = std::chrono::duration<double>(end.after - start.before).count();
  EXPECT_GE(measured, shortest * 0.995) << LatencyClock::source();
  EXPECT_LE(measured, longest * 1.005) << LatencyClock::source();
}

TEST(LatencyClock, NeverGoesBackwardsAcrossThreads) {
  // Time points of one thread, then another's: the second thread's first read follows the first's
  // last (the TSC is in step across CPUs where the kernel keeps time with it).
  std::vector<LatencyClock::time_point> seen(2);
  for (int round = 0; round < 100; ++round) {
    std::thread([&] { seen[0] = LatencyClock::now(); }).join();
    std::thread([&] { seen[1] = LatencyClock::now(); }).join();
    ASSERT_LE(seen[0], seen[1]) << "round " << round << ", " << LatencyClock::source();
  }
  LatencyClock::time_point last = LatencyClock::now();
  for (int i = 0; i < 100000; ++i) {
    const LatencyClock::time_point t = LatencyClock::now();
    ASSERT_GE(t, last);
    last = t;
  }
}

}  // namespace
