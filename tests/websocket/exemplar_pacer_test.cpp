// The demo server's exemplar pacing (tools/demo/exemplar_pacer.hpp): which message latencies carry
// their trace. Times are given, never read: no clock in this test.
#include <gtest/gtest.h>

#include <chrono>

#include "exemplar_pacer.hpp"

namespace {

using wsm::demo::ExemplarPacer;
using wsm::ws::MessageType;
using wsm::ws::ProcessingStage;
using namespace std::chrono_literals;

TEST(ExemplarPacer, TakesTheFirstMessageOfEachIntervalPerSeries) {
  ExemplarPacer pacer(1s);
  constexpr std::uint64_t t0 = 5'000'000'000;  // any wsm::LatencyClock reading
  EXPECT_TRUE(pacer.take(MessageType::vitals, ProcessingStage::parse, t0));
  EXPECT_FALSE(pacer.take(MessageType::vitals, ProcessingStage::parse, t0));
  EXPECT_FALSE(pacer.take(MessageType::vitals, ProcessingStage::parse, t0 + 999'999'999));
  // Other series have intervals of their own.
  EXPECT_TRUE(pacer.take(MessageType::vitals, ProcessingStage::route, t0 + 1));
  EXPECT_TRUE(pacer.take(MessageType::ecg_data, ProcessingStage::parse, t0 + 2));
  // A second after the one taken, the next is taken, and starts the next interval.
  EXPECT_TRUE(pacer.take(MessageType::vitals, ProcessingStage::parse, t0 + 1'000'000'000));
  EXPECT_FALSE(pacer.take(MessageType::vitals, ProcessingStage::parse, t0 + 1'500'000'000));
  EXPECT_TRUE(pacer.take(MessageType::vitals, ProcessingStage::parse, t0 + 7'000'000'000));
}

TEST(ExemplarPacer, AZeroIntervalTakesEveryMessage) {
  ExemplarPacer pacer(0s);
  for (std::uint64_t t = 1; t < 5; ++t) EXPECT_TRUE(pacer.take(MessageType::alert, ProcessingStage::send, 10));
}

}  // namespace
