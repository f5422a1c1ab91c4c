// The exporter's Monitor in-process, on what its locking and its reads of the mapping promise:
// the interval's reap runs outside the lock the API's requests take, and a
// segment file that shrinks under the exporter is reported damaged, not a SIGBUS, and is attached
// again once re-created.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <thread>
#include <unistd.h>

#include "exporter_test_support.hpp"
#include "wsm/exporter/monitor.hpp"
#include "wsm/exporter/routes.hpp"
#include "wsm/shm/segment.hpp"
#include "wsm/shm/test_points.hpp"

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

// The interval's reap runs outside the Monitor's mutex: while a fold is under way (each word move
// held by the reaper's test point), /healthz and the API's other reads answer at once. (A scrape's
// snapshot still waits for a running fold through the reap sequence, by design: a count must not
// be seen twice; what it must never wait for is the reap lock, which the reap no longer waits for.)
TEST_F(WrittenSegment, TheApiAnswersWhileTheIntervalReaps) {
  if (!shm::test_points::compiled()) GTEST_SKIP() << "needs WSM_TEST_POINTS=ON (scripts/test builds with it)";
  // A writer that exits: its cells are the next interval's fold.
  test::run_writer(name_, {"counter", "t_folded_total", "a=1", "4", "counter", "t_folded_total", "a=2", "5"});
  auto segment = shm::Segment::open(name_, {shm::Access::read_only});
  ASSERT_TRUE(segment) << segment.error().message();
  const auto folding = [&] { return segment->header().reap_seq.load() % 2 == 1; };
  shm::test_points::arm(shm::test_points::Point::reaper_mid_move, shm::test_points::Action::pause, 1, 500'000);
  std::thread ticker([&] { monitor_->tick(); });
  ASSERT_TRUE(test::wait_until(folding)) << "no fold began";
  ScrapeBuffers buffers;
  const Response health = handle(*monitor_, {"GET", "/healthz", "", "", ""}, buffers);
  EXPECT_EQ(health.status, 200) << health.body;
  EXPECT_TRUE(folding()) << "/healthz answered only after the interval's fold";
  ticker.join();
  shm::test_points::disarm();
  EXPECT_NE(scrape(*monitor_).find("t_folded_total{a=\"2\"} 5"), std::string::npos);
}

// A gzipped answer sends the gzip buffer: the text it was made from is not kept for the next
// scrape (at 100k series ~13 MB of OpenMetrics, resident between Prometheus's scrapes).
TEST_F(WrittenSegment, AGzippedScrapeKeepsNoTextBetweenScrapes) {
  ScrapeBuffers buffers;
  for (int round = 0; round < 2; ++round) {
    const auto body = monitor_->scrape(exposition::Format::openmetrics, true, buffers);
    ASSERT_TRUE(body.gzipped);
    EXPECT_EQ(body.bytes.data(), buffers.gzip.data());
    EXPECT_NE(test::gunzip(std::string(body.bytes)).find("t_monitored_total 3"), std::string::npos);
    EXPECT_LT(buffers.text.capacity(), 64u) << "the text stayed allocated";
  }
}

// The lines of an exposition minus the exporter's own figures of time (which differ scrape by
// scrape): what two scrapes of an unchanged segment must agree on.
std::string without_timings(const std::string& exposition) {
  std::string kept;
  std::size_t start = 0;
  while (start < exposition.size()) {
    const std::size_t end = exposition.find('\n', start);
    const std::string_view line(exposition.data() + start, (end == std::string::npos ? exposition.size() : end) - start);
    if (!line.starts_with("wsm_scrape_duration_seconds ") && !line.starts_with("wsm_snapshot_duration_seconds ")) {
      kept.append(line);
      kept += '\n';
    }
    start = end == std::string::npos ? exposition.size() : end + 1;
  }
  return kept;
}

// Gzipped, a scrape is compressed a part at a time as the parts are written (many parts here:
// 12.6k series, 1,024 points a part at least): the member holds every part, in order, exactly as the
// uncompressed scrape writes them, and is one member (what curl reads).
TEST_F(WrittenSegment, AGzippedScrapeInPartsIsTheWholeExposition) {
  std::vector<std::string> ops;
  for (int family = 0; family < 5; ++family) {
    for (int id = 0; id < 2500; ++id) {
      ops.insert(ops.end(), {"counter", "t_part" + std::to_string(family) + "_total", "id=" + std::to_string(id),
                             std::to_string(id % 97 + 1)});
    }
  }
  ops.insert(ops.end(), {"hist", "t_part_latency_seconds", "route=a", "1500000", "7"});
  test::run_writer(name_, ops);
  // With these histograms' buckets the scrape's accumulators are large enough for pages of their
  // own (scratch.hpp), which the parts give back as they go. A second writer: one arena (256 KiB)
  // holds the counters or these, not both.
  std::vector<std::string> histograms;
  for (int route = 0; route < 80; ++route) {
    histograms.insert(histograms.end(), {"hist", "t_part_latency_seconds", "route=r" + std::to_string(route), "2500000", "3"});
  }
  test::run_writer(name_, histograms);
  monitor_->tick();
  ASSERT_GT(5 * 2500, static_cast<int>(2 * kScrapePartPoints));
  for (const auto format : {exposition::Format::openmetrics, exposition::Format::prometheus_text}) {
    ScrapeBuffers plain_buffers, gzip_buffers;
    const std::string plain(monitor_->scrape(format, false, plain_buffers).bytes);
    const auto gzipped = monitor_->scrape(format, true, gzip_buffers);
    ASSERT_TRUE(gzipped.gzipped);
    const std::string inflated = test::gunzip(std::string(gzipped.bytes));
    ASSERT_NE(plain.find("t_part4_total{id=\"2499\"} 75"), std::string::npos) << plain.substr(0, 2000);
    EXPECT_NE(plain.find("t_part_latency_seconds_count{route=\"a\"} 7"), std::string::npos);
    // Every value, in every part: a part is written on a second thread while the next is emitted
    // and the pages of the parts before it are given back (part_writer.hpp, Tally::next_part).
    if (format == exposition::Format::prometheus_text) {
      const auto parsed = test::parse_exposition(plain);
      int wrong = 0;
      for (int family = 0; family < 5; ++family) {
        for (int id = 0; id < 2500; ++id) {
          const std::string series = "t_part" + std::to_string(family) + "_total{id=\"" + std::to_string(id) + "\"}";
          if (test::sample(parsed, series) != id % 97 + 1 && ++wrong <= 5) ADD_FAILURE() << series << " is not " << id % 97 + 1;
        }
      }
      // The bucket totals are read as the part is written: 2.5 ms lies below the 2^22 ns edge.
      for (int route = 0; route < 80; ++route) {
        const std::string series = "t_part_latency_seconds_bucket{route=\"r" + std::to_string(route) + "\",le=\"0.004194304\"}";
        if (test::sample(parsed, series) != 3 && ++wrong <= 5) ADD_FAILURE() << series << " is not 3";
      }
      EXPECT_EQ(wrong, 0);
    }
    const std::string a = without_timings(inflated), b = without_timings(plain);
    const auto differ = std::ranges::mismatch(a, b);
    EXPECT_TRUE(a == b) << "sizes " << a.size() << " vs " << b.size() << ", first difference at: "
                        << a.substr(static_cast<std::size_t>(differ.in1 - a.begin()), 200);
    EXPECT_LT(gzipped.bytes.size(), plain.size() / 4);
  }
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
