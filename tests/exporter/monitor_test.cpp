// The exporter's Monitor in-process, on what its locking and its reads of the mapping promise:
// a scrape never waits for a reap (a reap may wait seconds for another process's reap lock), and a
// segment file that shrinks under the exporter is reported damaged, not a SIGBUS, and is attached
// again once re-created.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>
#include <unistd.h>

#include "exporter_test_support.hpp"
#include "monitor.hpp"
#include "routes.hpp"
#include "wsm/shm/segment.hpp"

namespace {

using namespace wsm;
using namespace wsm::exporter;

// A Monitor of `segment` (resource monitoring off: /proc is not what these tests are about).
std::unique_ptr<Monitor> monitor_of(const std::string& segment) {
  Settings s;
  s.segment = segment;
  s.resource_monitoring = false;
  return std::make_unique<Monitor>(s, exposition::IdLabelPolicy(exposition::IdLabelMode::drop));
}

// A segment a test writer recorded t_monitored_total 3 into, and a Monitor attached to it.
class WrittenSegment : public ::testing::Test {
 protected:
  void SetUp() override {
    test::run_writer(name_, {"counter", "t_monitored_total", "-", "3"});
    monitor_->tick();
    ASSERT_TRUE(monitor_->attached()) << monitor_->status().reason;
  }
  const std::string name_ = test::unique_segment_name("monitor");
  test::SegmentGuard guard_{name_};
  std::unique_ptr<Monitor> monitor_ = monitor_of(name_);
};

std::string scrape(Monitor& monitor) {
  ScrapeBuffers buffers;
  return std::string(monitor.scrape(exposition::Format::prometheus_text, false, buffers).bytes);
}

// Another process holds the reap lock (the header's reaper word names a live pid, the sequence is
// even: no fold runs, so snapshots need not wait). The interval's reap waits for that lock; a
// scrape meanwhile must answer at once, not after the reap gave up.
TEST_F(WrittenSegment, AScrapeDoesNotWaitForTheIntervalsReap) {
  const std::string& name = name_;
  Monitor& monitor = *monitor_;

  auto segment = shm::Segment::open(name);
  ASSERT_TRUE(segment) << segment.error().message();
  shm::SegmentHeader& h = segment->header();
  test::Child holder = test::Child::spawn({"/bin/sleep", "600"});
  h.reaper.store(static_cast<std::uint64_t>(holder.pid()));
  const std::uint64_t seq = h.reap_seq.load();
  ASSERT_EQ(seq % 2, 0u);

  std::atomic<bool> ticked{false};
  std::thread ticker([&] {
    monitor.tick();
    ticked = true;
  });
  // The tick has begun (status() answers with its count): it now waits for the reap lock.
  ASSERT_TRUE(test::wait_until([&] { return monitor.status().ticks == 2; }));
  const std::string body = scrape(monitor);
  EXPECT_NE(body.find("t_monitored_total 3"), std::string::npos) << body;
  // Let the lock go: a reap still waiting for it takes it now and folds (the sequence moves on).
  // Had the scrape waited for the tick, that reap would have given up before the scrape ran.
  h.reaper.store(0);
  ticker.join();
  EXPECT_TRUE(ticked);
  EXPECT_EQ(h.reap_seq.load(), seq + 2) << "the scrape answered only after the interval's reap gave up";
}

TEST_F(WrittenSegment, AFileThatShrinksIsReportedDamagedAndFollowedWhenRecreated) {
  const std::string& name = name_;
  Monitor& monitor = *monitor_;
  ASSERT_NE(scrape(monitor).find("t_monitored_total 3"), std::string::npos);

  // What `truncate -s 64K` does to a 27 MiB segment the exporter has mapped.
  ASSERT_EQ(::truncate(("/dev/shm/wsm." + name).c_str(), 64 * 1024), 0);
  const std::string damaged = scrape(monitor);  // used to die of SIGBUS here
  EXPECT_EQ(damaged.find("t_monitored_total"), std::string::npos) << damaged;
  EXPECT_NE(damaged.find("wsm_segment_attached 0"), std::string::npos) << damaged;
  EXPECT_FALSE(monitor.attached());
  EXPECT_NE(monitor.status().reason.find("is damaged"), std::string::npos) << monitor.status().reason;

  ScrapeBuffers buffers;
  monitor.tick();  // the truncated file is still there: still damaged, said so
  const Response health = handle(monitor, {"GET", "/healthz", "", "", ""}, buffers);
  EXPECT_EQ(health.status, 503);
  EXPECT_NE(std::string(health.body).find("damaged"), std::string::npos) << health.body;

  ASSERT_TRUE(shm::Segment::remove(name));
  test::run_writer(name, {"counter", "t_monitored_total", "-", "5"});
  monitor.tick();
  ASSERT_TRUE(monitor.attached()) << monitor.status().reason;
  EXPECT_NE(scrape(monitor).find("t_monitored_total 5"), std::string::npos);
}

}  // namespace
