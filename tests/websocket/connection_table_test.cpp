// The connection table in the segment: claim, count, list, free on close, free when the owner
// dies (reaper), a full table, and consistent copies while records are re-claimed.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <fstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "test_support.hpp"
#include "wsm/shm/connection_entry.hpp"
#include "wsm/shm/connection_table.hpp"
#include "wsm/shm/reaper.hpp"

namespace wsm::shm {
namespace {

Segment make_segment(const test::SegmentGuard& guard, std::uint32_t max_connections) {
  CreateOptions options;
  options.limits.max_writers = 4;
  options.limits.max_series = 64;
  options.limits.series_cap_per_family = 64;
  options.limits.max_connections = max_connections;
  auto s = Segment::create(guard.name(), options);
  EXPECT_TRUE(s) << s.error().message();
  return std::move(*s);
}

TEST(ConnectionTable, ClaimCountListAndRelease) {
  test::SegmentGuard guard(test::unique_segment_name("conn"));
  const Segment segment = make_segment(guard, 8);
  auto a = ConnectionEntry::claim(segment, {"doctor", "user-with-a-rather-long-identifier-0123456789", "p7"});
  auto b = ConnectionEntry::claim(segment, {"patient_monitor", "m1", "p9"});
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->id(), b->id());
  ConnectionEntry::add(a->record().messages_in, 3);
  ConnectionEntry::add(a->record().bytes_in, 300);
  ConnectionEntry::add(a->record().messages_out, 2);
  ConnectionEntry::add(a->record().bytes_out, 123);
  a->set_heartbeat(42);
  a->set_health(55.5);

  auto all = list_connections(segment);
  ASSERT_EQ(all.size(), 2u);
  const ConnectionInfo& c = all[0].id == a->id() ? all[0] : all[1];
  EXPECT_EQ(c.pid, ::getpid());
  EXPECT_EQ(c.role, "doctor");
  EXPECT_EQ(c.user_id, std::string("user-with-a-rather-long-identifier-0123456789").substr(0, 40));
  EXPECT_EQ(c.patient_id, "p7");
  EXPECT_EQ(c.messages_in, 3u);
  EXPECT_EQ(c.bytes_in, 300u);
  EXPECT_EQ(c.messages_out, 2u);
  EXPECT_EQ(c.bytes_out, 123u);
  EXPECT_EQ(c.last_heartbeat_unix_ns, 42u);
  EXPECT_DOUBLE_EQ(c.health_score, 55.5);
  EXPECT_GT(c.opened_unix_ns, 0u);

  auto found = find_connection(segment, b->id());
  ASSERT_TRUE(found);
  EXPECT_EQ(found->role, "patient_monitor");
  EXPECT_EQ(found->patient_id, "p9");

  a->release();
  all = list_connections(segment);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].id, b->id());
  EXPECT_FALSE(find_connection(segment, a->id()));
}

TEST(ConnectionTable, FullTableFailsAndCountsTheDrop) {
  test::SegmentGuard guard(test::unique_segment_name("conn"));
  const Segment segment = make_segment(guard, 2);
  auto a = ConnectionEntry::claim(segment, {"nurse", "u1", ""});
  auto b = ConnectionEntry::claim(segment, {"nurse", "u2", ""});
  ASSERT_TRUE(a && b);
  auto c = ConnectionEntry::claim(segment, {"nurse", "u3", ""});
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), Errc::full);
  EXPECT_EQ(segment.header().connections_dropped.load(), 1u);
  b->release();
  auto d = ConnectionEntry::claim(segment, {"nurse", "u4", ""});
  ASSERT_TRUE(d);
  EXPECT_EQ(list_connections(segment).size(), 2u);
}

TEST(ConnectionTable, NoTableMeansEveryClaimFails) {
  test::SegmentGuard guard(test::unique_segment_name("conn"));
  const Segment segment = make_segment(guard, 0);
  EXPECT_FALSE(ConnectionEntry::claim(segment, {"admin", "", ""}));
  EXPECT_TRUE(list_connections(segment).empty());
}

// A child claims records and is killed: readers leave them out, the reaper frees them.
TEST(ConnectionTable, ReaperFreesRecordsOfDeadProcesses) {
  test::SegmentGuard guard(test::unique_segment_name("conn"));
  const Segment segment = make_segment(guard, 4);
  auto mine = ConnectionEntry::claim(segment, {"doctor", "u1", ""});
  ASSERT_TRUE(mine);
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  if (child == 0) {
    auto opened = Segment::open(guard.name());
    const bool ok = opened && ConnectionEntry::claim(*opened, {"nurse", "u2", ""}) &&
                    ConnectionEntry::claim(*opened, {"nurse", "u3", ""});
    const char byte = ok ? 1 : 0;
    (void)!::write(ready[1], &byte, 1);
    ::pause();
    ::_exit(0);
  }
  char byte = 0;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1);
  ASSERT_EQ(byte, 1);
  EXPECT_EQ(list_connections(segment).size(), 3u);
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  ::close(ready[0]);
  ::close(ready[1]);

  const auto live = list_connections(segment);
  ASSERT_EQ(live.size(), 1u);
  EXPECT_EQ(live[0].id, mine->id());
  auto report = Reaper(segment).reap();
  ASSERT_TRUE(report) << report.error().message();
  EXPECT_EQ(report->connections_freed, 2u);
  EXPECT_EQ(segment.header().connections_reaped.load(), 2u);
  // Both freed records can be claimed again; ours was never touched.
  EXPECT_TRUE(ConnectionEntry::claim(segment, {"admin", "a", ""}));
  EXPECT_TRUE(ConnectionEntry::claim(segment, {"admin", "b", ""}));
  EXPECT_TRUE(find_connection(segment, mine->id()));
}

// A reader racing a writer that keeps re-claiming one record never sees a mixed copy: the role,
// user and patient of every listed record belong to the same tenant.
TEST(ConnectionTable, CopiesAreConsistentWhileRecordsAreReclaimed) {
  test::SegmentGuard guard(test::unique_segment_name("conn"));
  const Segment segment = make_segment(guard, 1);
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (std::uint64_t n = 0; !stop.load(std::memory_order_relaxed); ++n) {
      const std::string user = "user-" + std::to_string(n % 2);
      auto e = ConnectionEntry::claim(segment, {n % 2 ? "nurse" : "doctor", user, user});
      if (!e) continue;
      for (int k = 0; k < 100; ++k) ConnectionEntry::add(e->record().messages_in, 1);  // stay open a while
      e->release();
    }
  });
  std::uint64_t seen = 0;
  // Until enough copies were checked (bounded, for a machine too busy to run the writer).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (seen < 20000 && std::chrono::steady_clock::now() < deadline) {
    for (const ConnectionInfo& c : list_connections(segment)) {
      ++seen;
      const bool odd = c.user_id == "user-1";
      EXPECT_EQ(c.role, odd ? "nurse" : "doctor");
      EXPECT_EQ(c.patient_id, c.user_id);
    }
  }
  stop = true;
  writer.join();
  EXPECT_GT(seen, 0u);
}

// Pages of the table no writer wrote are holes of the segment's file: reading one maps a page of
// zeros into the reader, for nothing. The scans (list, find, count, the reaper's free) skip them, find every
// connection, and leave this process's RssShmem as it was, where a scan of every record mapped the
// whole table (768 KiB) into the exporter.
TEST(ConnectionTable, ScansFindEveryConnectionAndMapNoUnwrittenPage) {
  test::SegmentGuard guard(test::unique_segment_name("connholes"));
  const Segment segment = make_segment(guard, 4096);
  std::vector<ConnectionEntry> entries;
  for (int n = 0; n < 50; ++n) {
    auto e = ConnectionEntry::claim(segment, {"doctor", "u", "p"});
    ASSERT_TRUE(e);
    entries.push_back(std::move(*e));
  }
  for (int n = 0; n < 20; ++n) entries[n].release();  // closed: their records are free again
  entries.erase(entries.begin(), entries.begin() + 20);
  const auto* table = reinterpret_cast<const std::byte*>(&segment.connection(0));
  const std::span<const std::byte> bytes(table, 4096 * sizeof(ConnectionRecord));
  std::size_t written = 0;
  for (const auto part : segment.written_parts(bytes)) written += part.size();
  ASSERT_GT(written, 0u);
  ASSERT_LT(written, bytes.size() / 4) << "the table should be mostly holes for this test to mean anything";
  const auto rss_shmem_kb = [] {
    std::ifstream in("/proc/self/status");
    for (std::string line; std::getline(in, line);) {
      if (line.starts_with("RssShmem:")) return std::stoul(line.substr(9));
    }
    return 0ul;
  };
  ASSERT_TRUE(segment.release_pages(bytes));  // none of the table mapped here now
  const auto before = rss_shmem_kb();

  const auto all = list_connections(segment);
  EXPECT_EQ(all.size(), entries.size());
  for (const ConnectionEntry& e : entries) {
    const auto found = find_connection(segment, e.id());
    ASSERT_TRUE(found) << format_connection_id(e.id());
    EXPECT_EQ(found->id, e.id());
  }
  EXPECT_EQ(free_dead_connections(segment), 0u);
  EXPECT_EQ(connections_in_use(segment), entries.size());
  // The written pages, and a few outside the table (the header, the liveness tests' slots).
  EXPECT_LE(rss_shmem_kb(), before + written / 1024 + 64) << "a scan mapped pages no writer wrote";
}

TEST(ConnectionTable, IdsFormatAndParse) {
  const std::uint64_t id = std::uint64_t{4321} << 32 | 17;
  EXPECT_EQ(format_connection_id(id), "4321-17");
  EXPECT_EQ(parse_connection_id("4321-17"), id);
  for (const char* bad : {"", "-", "12", "12-", "-3", "a-1", "1-2-3", "99999999999-1"}) {
    EXPECT_FALSE(parse_connection_id(bad)) << bad;
  }
}

}  // namespace
}  // namespace wsm::shm
