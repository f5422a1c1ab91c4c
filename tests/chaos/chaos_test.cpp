// Chaos: writer processes record known amounts and report each finished batch through a pipe,
// while the test SIGKILLs writers at random moments (also in the middle of registering new series,
// which can leave catalog entries BUSY), SIGKILLs and restarts wsm-exporter (some exporters are
// started to die in the middle of a fold), and scrapes /metrics all the time. Afterwards:
//  - nothing recorded is lost and nothing is invented: a writer's cells stay in the segment when
//    it dies and are folded by the reaper, so each writer's own counter equals its last report
//    plus some ops of the batch a kill cut short (which the test knows from the writer's seed,
//    chaos_plan.hpp), and exactly its last report when it ran to its end; shared series lie
//    between the sum of the reports and that plus the cut batches;
//  - no scraped sample ever went down, across exporter restarts and half-done folds included;
//  - catalog entries left BUSY by killed registrants were recovered;
//  - `wsm check` finds nothing.
// WSM_CHAOS_SECONDS (default 60) sets the length, WSM_CHAOS_SEED the seed (printed either way):
// the seed replays every choice (whom to kill, when, the writers' amounts); the moments the kills
// land at still depend on the machine.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <map>
#include <poll.h>
#include <random>
#include <set>
#include <sstream>
#include <unistd.h>

#include "chaos_plan.hpp"
#include "exporter_test_support.hpp"
#include "scrape_watch.hpp"
#include "test_support.hpp"
#include "wsm/shm/layout.hpp"
#include "wsm/shm/liveness.hpp"
#include "wsm/shm/segment.hpp"
#include "wsm/shm/test_points.hpp"

namespace {

using namespace std::chrono_literals;
using wsm::test::Child;
using Clock = std::chrono::steady_clock;

constexpr int kSlots = 6;                  // count writers running at any time
constexpr std::uint64_t kMaxBatches = 400; // a writer that is not killed ends after 0.5-2 s
constexpr std::uint64_t kRegisterCount = 300;

std::uint64_t env_number(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

// Complete lines the child wrote to stdout so far (its fd is non-blocking); sets eof at its end.
struct LineReader {
  std::string partial;
  bool eof = false;
  std::vector<std::string> read(int fd) {
    std::vector<std::string> lines;
    char buf[4096];
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n > 0) {
        partial.append(buf, static_cast<std::size_t>(n));
        continue;
      }
      if (n == 0) eof = true;
      if (n < 0 && errno == EINTR) continue;
      break;
    }
    for (std::size_t nl; (nl = partial.find('\n')) != std::string::npos; partial.erase(0, nl + 1)) {
      lines.push_back(partial.substr(0, nl));
    }
    return lines;
  }
};

Child spawn_piped(const std::vector<std::string>& argv, const std::vector<std::string>& env = {}) {
  Child c = Child::spawn(argv, env, true);
  ::fcntl(c.stdout_fd(), F_SETFL, ::fcntl(c.stdout_fd(), F_GETFL) | O_NONBLOCK);
  return c;
}

// What the writers of one slot reported, and how much more their deaths may have left recorded.
struct Ledger {
  std::uint64_t counted = 0, recorded = 0, sum = 0;        // reported by finished batches
  std::uint64_t counted_slack = 0, recorded_slack = 0, sum_slack = 0;  // batches cut by a kill
  Ledger& operator+=(const Ledger& o) {
    counted += o.counted, recorded += o.recorded, sum += o.sum;
    counted_slack += o.counted_slack, recorded_slack += o.recorded_slack, sum_slack += o.sum_slack;
    return *this;
  }
};

struct CountWriter {
  std::optional<Child> child;
  std::string id;
  LineReader reader;
  std::uint64_t seed = 0, batches = 0;
  std::uint64_t batch = 0, counted = 0, recorded = 0, sum = 0;  // its last report

  void pump() {
    for (const std::string& line : reader.read(child->stdout_fd())) {
      std::istringstream in(line);
      std::string tag;
      in >> tag >> batch >> counted >> recorded >> sum;
      EXPECT_EQ(tag, "R") << "writer report '" << line << "'";
    }
  }
};

struct Chaos {
  std::string segment;
  std::mt19937_64 rng;
  wsm::chaos::ScrapeWatch watch{"chaos_"};
  std::optional<Child> exporter;
  bool exporter_crashes = false;  // the running exporter was started to die mid-fold
  int port = 0;
  std::array<CountWriter, kSlots> writers;
  std::array<Ledger, kSlots> ledgers;
  // Every count writer that ended: its id, its last report, and the batch a kill cut (if killed).
  struct Ended {
    std::string id;
    std::uint64_t counted = 0;
    std::optional<wsm::chaos::Batch> cut;
  };
  std::vector<Ended> ended;
  std::uint64_t writers_started = 0, writers_killed = 0, writers_finished = 0;
  std::uint64_t exporter_kills = 0, exporter_mid_fold_deaths = 0, exporter_restarts = 0;
  std::uint64_t registrants_killed = 0;
  std::set<std::pair<std::uint32_t, std::uint64_t>> abandoned;  // (series index, state word) BUSY, owner dead
  std::uint64_t registrant_id = 0;
  std::map<std::string, std::uint64_t> registered;  // registrant id -> series it last reported

  std::uint64_t below(std::uint64_t n) { return rng() % n; }

  void start_exporter(bool crash_mid_fold) {
    port = wsm::test::free_port();
    std::vector<std::string> env;
    if (crash_mid_fold) env.push_back("WSM_TEST_POINT=reaper.mid_move:exit:" + std::to_string(1 + below(100)));
    exporter.emplace(Child::spawn({wsm::test::bin("wsm-exporter"), "--segment", segment, "--listen",
                                   "127.0.0.1:" + std::to_string(port), "--interval", "1",
                                   "--resource-monitoring", "off"},
                                  env));
    exporter_crashes = crash_mid_fold;
    watch.set_port(port);
    ++exporter_restarts;
  }

  // Restarts an exporter that ended by itself: 77 is the test hook's death in the middle of a move.
  void tend_exporter() {
    const auto code = exporter->wait(0ms);
    if (!code) return;
    if (*code == 77 && exporter_crashes) {
      ++exporter_mid_fold_deaths;
    } else {
      ADD_FAILURE() << "wsm-exporter ended with " << *code << " without being killed";
    }
    start_exporter(below(2) == 0);
  }

  void kill_exporter() {
    exporter->signal(SIGKILL);
    (void)exporter->wait(10s);
    ++exporter_kills;
    if (below(3) == 0) std::this_thread::sleep_for(std::chrono::milliseconds(below(1500)));
    start_exporter(exporter_kills % 2 == 1);  // every other one is set to die mid-fold
  }

  void start_writer(int slot) {
    CountWriter& w = writers[slot];
    w.reader = LineReader{};
    w.batch = w.counted = w.recorded = w.sum = 0;
    w.seed = rng();
    w.batches = kMaxBatches / 4 + below(kMaxBatches);
    w.id = "w";
    w.id += std::to_string(writers_started);
    w.child.emplace(spawn_piped({wsm::test::bin("chaos_writer"), "count", segment, std::to_string(slot), w.id,
                                 std::to_string(w.seed), std::to_string(w.batches)}));
    ++writers_started;
  }

  // Books a writer that ended: its reports, and the batch a kill cut short.
  void settle(int slot, int code) {
    CountWriter& w = writers[slot];
    while (!w.reader.eof) {
      w.pump();
      if (!w.reader.eof) std::this_thread::sleep_for(1ms);
    }
    w.pump();
    Ledger& l = ledgers[slot];
    l.counted += w.counted, l.recorded += w.recorded, l.sum += w.sum;
    ended.push_back({w.id, w.counted, std::nullopt});
    if (code == 128 + SIGKILL) {
      ++writers_killed;
      const wsm::chaos::Batch cut = wsm::chaos::batch(w.seed, w.batch + 1);
      l.counted_slack += cut.amount * cut.ops();
      l.recorded_slack += cut.ops();
      l.sum_slack += cut.value * cut.ops();
      ended.back().cut = cut;
    } else {
      ++writers_finished;
      EXPECT_EQ(code, 0) << "chaos_writer count (slot " << slot << ")";
      EXPECT_EQ(w.batch, w.batches) << "a writer that ended by itself reported every batch";
    }
    w.child.reset();
  }

  void tend_writers(bool restart) {
    for (int s = 0; s < kSlots; ++s) {
      CountWriter& w = writers[s];
      if (!w.child) continue;
      w.pump();
      if (const auto code = w.child->wait(0ms)) {
        settle(s, *code);
        if (restart) start_writer(s);
      }
    }
  }

  void kill_writer(int slot) {
    CountWriter& w = writers[slot];
    if (!w.child) return;
    w.child->signal(SIGKILL);
    const auto code = w.child->wait(10s);
    ASSERT_TRUE(code.has_value());
    settle(slot, *code);
  }

  // A registrant killed at a random moment of registering fresh series; records every catalog
  // entry it left BUSY (the exporter's reaper should reset them).
  void kill_registrant(const wsm::shm::Segment& view) {
    std::string id = "r";  // (not "r" + ...: GCC 12 warns falsely of an overlapping memcpy there)
    id += std::to_string(registrant_id++);
    Child r = spawn_piped({wsm::test::bin("chaos_writer"), "register", segment, id, std::to_string(kRegisterCount)});
    LineReader reader;
    const auto deadline = Clock::now() + 10s;
    bool ready = false;
    while (!ready && !reader.eof && Clock::now() < deadline) {
      for (const std::string& line : reader.read(r.stdout_fd())) ready |= line == "ready";
      if (!ready) {
        pollfd p{r.stdout_fd(), POLLIN, 0};
        ::poll(&p, 1, 10);
      }
    }
    ASSERT_TRUE(ready) << "chaos_writer register did not start";
    std::this_thread::sleep_for(std::chrono::microseconds(below(3000)));
    r.signal(SIGKILL);
    const auto code = r.wait(10s);
    ASSERT_TRUE(code.has_value());
    while (!reader.eof) {
      for (const std::string& line : reader.read(r.stdout_fd())) {
        if (line.starts_with("R ")) registered[id] = std::strtoull(line.c_str() + 2, nullptr, 10);
      }
      if (!reader.eof) std::this_thread::sleep_for(1ms);
    }
    if (*code != 128 + SIGKILL) {
      EXPECT_EQ(*code, 0) << "chaos_writer register";
      return;
    }
    ++registrants_killed;
    for (std::uint32_t i = 0; i < view.max_series(); ++i) {
      const std::uint64_t w = view.series(i).state_word.load();
      if (wsm::shm::entry_state(w) == wsm::shm::EntryState::busy &&
          wsm::shm::liveness(view, wsm::shm::word_owner(w)) == wsm::shm::Liveness::dead) {
        abandoned.emplace(i, w);
      }
    }
  }
};

wsm::shm::Limits chaos_limits() {
  wsm::shm::Limits l;
  l.max_writers = 256;  // dead writers wait for the next exporter to fold them
  l.max_series = 1 << 17;
  l.series_cap_per_family = 1 << 17;
  l.string_bytes = 16 << 20;
  l.retired_bytes = 64 << 20;  // a few KiB per slot's histogram, 16 B per writer's counter
  l.max_connections = 0;
  return l;
}

TEST(Chaos, KillsAndRestartsLoseAndInventNothing) {
  if (!wsm::shm::test_points::compiled()) {
    GTEST_SKIP() << "needs test points (configure with -DWSM_TEST_POINTS=ON, as scripts/test does): "
                    "exporters die mid-fold and registrants hold entries BUSY through them";
  }
  const std::uint64_t seconds = env_number("WSM_CHAOS_SECONDS", 60);
  const std::uint64_t seed = env_number("WSM_CHAOS_SEED", std::random_device{}());
  std::printf("chaos: seed %llu, %llu s (rerun with WSM_CHAOS_SEED=%llu WSM_CHAOS_SECONDS=%llu)\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seconds),
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seconds));
  std::fflush(stdout);
  wsm::test::SegmentGuard guard(wsm::test::unique_segment_name("chaos"));
  auto view = wsm::shm::Segment::create(guard.name(), {chaos_limits()});
  ASSERT_TRUE(view) << view.error().message();
  // A registrant adds up to kRegisterCount series: budget the register events so that the catalog
  // never fills (a full catalog is another test's subject), spread over the run.
  const std::uint64_t max_registrants = (chaos_limits().max_series / 2) / kRegisterCount;

  Chaos c;
  c.segment = guard.name();
  c.rng.seed(seed);
  c.start_exporter(false);
  ASSERT_TRUE(wsm::test::wait_for_http(c.port, "/healthz")) << "wsm-exporter did not start";
  for (int s = 0; s < kSlots; ++s) c.start_writer(s);

  const auto end = Clock::now() + std::chrono::seconds(seconds);
  auto next_writer_kill = Clock::now() + 100ms;
  auto next_registrant = Clock::now() + 500ms;
  auto next_exporter_kill = Clock::now() + 2s;
  while (Clock::now() < end && !::testing::Test::HasFatalFailure()) {
    c.tend_writers(true);
    c.tend_exporter();
    const auto now = Clock::now();
    if (now >= next_writer_kill) {
      const int slot = static_cast<int>(c.below(kSlots));
      c.kill_writer(slot);
      c.start_writer(slot);
      next_writer_kill = now + std::chrono::milliseconds(20 + c.below(300));
    }
    if (now >= next_registrant && c.registrants_killed < max_registrants) {
      c.kill_registrant(*view);
      next_registrant = now + std::chrono::milliseconds(200 + c.below(seconds * 1000 / max_registrants));
    }
    if (now >= next_exporter_kill) {
      c.kill_exporter();
      next_exporter_kill = now + std::chrono::milliseconds(500 + c.below(4000));
    }
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_FALSE(::testing::Test::HasFatalFailure());

  // The end: every writer killed mid-run, then one exporter that is left to reap in peace.
  for (int s = 0; s < kSlots; ++s) c.kill_writer(s);
  c.exporter->signal(SIGKILL);
  (void)c.exporter->wait(10s);
  c.start_exporter(false);
  ASSERT_TRUE(wsm::test::wait_for_http(c.port, "/healthz")) << "the last wsm-exporter did not start";
  // Reaped when it started; a scrape after the next interval sees the folded totals.
  std::optional<wsm::test::HttpResponse> health;
  ASSERT_TRUE(wsm::test::wait_until([&] {
    health = wsm::test::http_get(c.port, "/healthz");
    return health && health->status == 200 &&
           nlohmann::json::parse(health->body).value("intervals", 0) >= 2;
  })) << "the last exporter never finished a second interval";
  const std::uint64_t seen = c.watch.scrapes_ok();
  ASSERT_TRUE(wsm::test::wait_until([&] { return c.watch.scrapes_ok() > seen + 1; }));
  c.watch.stop();

  std::printf("chaos: %llu writers started, %llu killed, %llu ran to their end; %llu registrants "
              "killed leaving %zu BUSY entries; exporter killed %llu times, died mid-fold %llu times; "
              "%llu scrapes answered, %llu not (exporter down or restarting)\n",
              static_cast<unsigned long long>(c.writers_started), static_cast<unsigned long long>(c.writers_killed),
              static_cast<unsigned long long>(c.writers_finished),
              static_cast<unsigned long long>(c.registrants_killed), c.abandoned.size(),
              static_cast<unsigned long long>(c.exporter_kills),
              static_cast<unsigned long long>(c.exporter_mid_fold_deaths),
              static_cast<unsigned long long>(c.watch.scrapes_ok()),
              static_cast<unsigned long long>(c.watch.scrapes_failed()));

  // No sample ever went down.
  for (const std::string& v : c.watch.violations()) ADD_FAILURE() << "scrape: " << v;

  // Every total within what the writers reported and the batches cut by kills.
  const auto last = c.watch.last();
  auto value = [&](const std::string& series) -> std::uint64_t {
    const auto it = last.find(series);
    return it == last.end() ? 0 : static_cast<std::uint64_t>(it->second);
  };
  auto expect_within = [](std::uint64_t got, std::uint64_t reported, std::uint64_t slack, const std::string& what) {
    EXPECT_GE(got, reported) << what << ": counts were lost";
    EXPECT_LE(got, reported + slack) << what << ": counts were invented";
  };
  for (const Chaos::Ended& e : c.ended) {
    const std::string series = "chaos_ops_total{writer=\"" + e.id + "\"}";
    const std::uint64_t got = value(series);
    if (!e.cut) {
      EXPECT_EQ(got, e.counted) << series << " ran to its end";
      continue;
    }
    // Killed: its report plus j whole ops (each adds the cut batch's amount) of that batch.
    expect_within(got, e.counted, e.cut->amount * e.cut->ops(), series + " (killed)");
    EXPECT_EQ((got - e.counted) % e.cut->amount, 0u) << series << " (killed): " << got << " is not "
                                                     << e.counted << " plus whole ops of " << e.cut->amount;
  }
  Ledger all;
  for (int s = 0; s < kSlots; ++s) {
    const Ledger& l = c.ledgers[s];
    all += l;
    const std::string labels = "{slot=\"" + std::to_string(s) + "\"}";
    expect_within(value("chaos_value_bytes_count" + labels), l.recorded, l.recorded_slack,
                  "chaos_value_bytes_count" + labels);
    // A kill between a record's _sum and its bucket leaves one value in the sum only.
    expect_within(value("chaos_value_bytes_sum" + labels), l.sum, l.sum_slack, "chaos_value_bytes_sum" + labels);
  }
  expect_within(value("chaos_ops_all_total"), all.counted, all.counted_slack, "chaos_ops_all_total");
  EXPECT_GT(c.writers_killed, 0u);
  // A registrant adds 1 to each series it registered and reports every kRegisterReport of them.
  std::map<std::string, std::uint64_t> registered;
  for (const auto& [series, v] : last) {
    if (!series.starts_with("chaos_registered_total{")) continue;
    const std::size_t at = series.find("writer=\"");
    if (at != std::string::npos) registered[series.substr(at + 8, series.find('"', at + 8) - at - 8)] += static_cast<std::uint64_t>(v);
  }
  for (const auto& [id, reported] : c.registered) {
    expect_within(registered[id], reported, wsm::chaos::kRegisterReport - 1, "chaos_registered_total of " + id);
  }

  // The chaos happened: kills of writers mid-batch, of exporters mid-fold, of registrants mid-claim.
  EXPECT_GT(c.exporter_kills, 0u);
  EXPECT_GT(c.exporter_mid_fold_deaths, 0u) << "no exporter died in the middle of a fold";
  EXPECT_GT(c.abandoned.size(), 0u) << "no registrant died holding a catalog entry BUSY";
  EXPECT_GT(c.watch.scrapes_ok(), seconds) << "scrapes should succeed most of the time";
  std::uint64_t dropped = view->header().series_dropped.load() + view->header().cells_dropped.load() +
                          view->header().writers_dropped.load() + view->header().retired_dropped.load();
  EXPECT_EQ(dropped, 0u) << "the segment's limits were reached: the totals above do not prove anything";

  // Every entry a killed registrant left BUSY was recovered by an exporter's reaper.
  for (const auto& [index, word] : c.abandoned) {
    EXPECT_NE(view->series(index).state_word.load(), word)
        << "series entry " << index << " is still BUSY under its dead registrant";
  }
  for (std::uint32_t i = 0; i < view->max_series(); ++i) {
    EXPECT_NE(wsm::shm::entry_state(view->series(i).state_word.load()), wsm::shm::EntryState::busy)
        << "series entry " << i;
  }

  const auto check = wsm::test::run({wsm::test::bin("wsm"), "check", guard.name()});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  c.exporter->signal(SIGTERM);
  EXPECT_EQ(c.exporter->wait(10s), 0);
}

}  // namespace
