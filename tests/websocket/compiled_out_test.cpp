// WSM_COMPILED_OUT: every record call of the writer API and of wsm::ws::Metrics leaves the
// segment as registration left it (series registered, no cell, no connection record). The same
// source is built twice (tests/websocket/CMakeLists.txt): against wsm::writer_compiled_out,
// where it checks that nothing lands, and against wsm::writer, where the same calls must land,
// so the test cannot pass by recording nothing in both builds.
#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>

#include "facade_calls.hpp"
#include "segment_totals.hpp"
#include "test_support.hpp"
#include "wsm/shm/connection_table.hpp"
#include "wsm/websocket_metrics.hpp"

// Set by CMake per executable: what this build must do, independently of the definition the
// writer target passes on (if that wiring broke, this fails to compile).
static_assert(wsm::kRecording == (WSM_TEST_EXPECT_RECORDING != 0),
              "the test executable was built against the wrong writer library");

namespace wsm::ws {
namespace {

using namespace std::chrono_literals;
using test::Totals;

class RecordCalls : public ::testing::Test {
 protected:
  RecordCalls() : guard_(test::unique_segment_name("compiled-out")) {
    auto reg = Registry::open(guard_.name(), facade_calls::small_segment_options());
    EXPECT_TRUE(reg) << reg.error().message();
    if (reg) registry_ = *reg;
  }
  const shm::Segment& segment() const { return *registry_.segment(); }

  // Series that some cell holds, and those whose value is not zero.
  static std::size_t held(const Totals& t) {
    std::size_t n = 0;
    for (const auto& [key, p] : t.points()) n += p.recorded || p.counter != 0 || p.count != 0 || p.gauge != 0;
    return n;
  }

  test::SegmentGuard guard_;
  Registry registry_ = facade_calls::disabled_registry();  // Registry has no default constructor
};

TEST_F(RecordCalls, OfTheWriterHandlesLandOnlyWhenCompiledIn) {
  ASSERT_TRUE(registry_.enabled());
  const Counter counter = registry_.counter("test_compiled_out_events_total");
  const Gauge gauge = registry_.gauge("test_compiled_out_level");
  const Histogram histogram = registry_.histogram("test_compiled_out_wait_seconds");
  const Histogram sizes = registry_.histogram("test_compiled_out_payload_bytes");
  ASSERT_FALSE(registry_.last_error()) << registry_.last_error()->message();
  counter.inc();
  counter.inc(4);
  counter.local().inc(2);
  gauge.set(10);
  gauge.add(3);
  gauge.inc();
  gauge.sub(2);
  gauge.dec();
  histogram.record(250us);
  histogram.local().record(1ms);
  sizes.record(1024);
  sizes.local().record(std::uint64_t{64});

  const Totals t(segment());
  // Registration runs in both builds: the series exist either way.
  const shm::Point& events = t.at("test_compiled_out_events_total", {});
  const shm::Point& level = t.at("test_compiled_out_level", {});
  const shm::Point& wait = t.at("test_compiled_out_wait_seconds", {});
  const shm::Point& payload = t.at("test_compiled_out_payload_bytes", {});
  if constexpr (kRecording) {
    EXPECT_EQ(events.counter, 7u);
    EXPECT_EQ(level.gauge, 11.0);
    EXPECT_EQ(wait.count, 2u);
    EXPECT_EQ(wait.sum, 1'250'000u);  // ns
    EXPECT_EQ(payload.count, 2u);
    EXPECT_EQ(payload.sum, 1088u);
    EXPECT_EQ(held(t), 4u);
  } else {
    EXPECT_EQ(held(t), 0u) << "a compiled-out record call reached the segment";
  }
}

TEST_F(RecordCalls, OfTheWebSocketFacadeLandOnlyWhenCompiledIn) {
  Metrics m(registry_, {.process_role = "worker", .max_identities = 10});
  Connection open = facade_calls::exercise(m);  // one call of every kind; leaves one connection open
  // The live connection's record in the connection table, while it is open.
  const std::size_t open_records = shm::list_connections(segment()).size();
  m.connection_closed(open, DisconnectReason::client_close);
  facade_calls::exercise_local(m);

  const Totals t(segment());
  EXPECT_GT(t.points().size(), 1000u) << "the constructor registers the catalogue in both builds";
  if constexpr (kRecording) {
    EXPECT_EQ(open_records, 1u);
    EXPECT_EQ(t.at("websocket_messages_sent_total", {{"message_type", "vitals"}, {"priority", "high"},
                                                     {"role", "nurse"}, {"target_type", "subscribers"}}).counter, 1u);
    EXPECT_EQ(t.at("websocket_disconnections_total",
                   {{"role", "doctor"}, {"reason", "client_close"}, {"status", "normal"}}).counter, 1u);
    EXPECT_EQ(t.at("websocket_queue_size", {{"queue_type", "send"}, {"role", "nurse"}}).gauge, 4.0);
    EXPECT_EQ(t.at("websocket_messages_received_total", {{"message_type", "announcement"}, {"source_type", "user"},
                                                         {"role", "admin"}}).counter, 1u)
        << "exercise_local()";
    // At least one series per call above (several calls record two or three).
    EXPECT_GE(held(t), 20u);
  } else {
    EXPECT_EQ(open_records, 0u) << "a compiled-out connection claimed a connection record";
    EXPECT_EQ(held(t), 0u) << "a compiled-out facade call reached the segment";
  }
}

}  // namespace
}  // namespace wsm::ws
