// A writer of the chaos test, started by it with fork+exec and killed by it at random moments.
//
//   chaos_writer count SEGMENT SLOT WRITER SEED BATCHES
//     Records the batches of chaos_plan.hpp into chaos_ops_total{writer} (its own series),
//     chaos_ops_all_total and chaos_value_bytes{slot} (shared with the other writers that ran in
//     the slot); after each whole batch writes "R <batch> <counter> <count> <sum>"
//     (running totals) to stdout, then exits 0 after BATCHES batches.
//   chaos_writer register SEGMENT ID COUNT
//     Writes "ready", then registers COUNT new series chaos_registered_total{writer=ID,n=...},
//     adding 1 to each; writes "R <n>" after every kRegisterReport of them. Each claimed catalog
//     entry is held BUSY for kClaimPause (the catalog's test hook), so that most kills land
//     between the claim and the publish, which without the pause last some ten nanoseconds.
//
//   chaos_writer flat SEGMENT ID SECONDS
//     Records flat out for SECONDS (a counter inc and a histogram record per op) into
//     load_ops_total{writer=ID} and load_value_bytes{writer=ID}, then writes "ops <n>" (the load run).
//
// Reports are single write(2)s shorter than PIPE_BUF: a report is on the pipe whole or not at all.
#include <charconv>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <unistd.h>

#include <wsm/writer.hpp>

#include "chaos_plan.hpp"
#include "wsm/shm/test_points.hpp"

namespace {

constexpr std::chrono::microseconds kClaimPause{300};

void report(const std::string& line) {
  const std::string out = line + "\n";
  (void)!::write(STDOUT_FILENO, out.data(), out.size());
}

std::uint64_t number(const char* s) {
  std::uint64_t v = 0;
  std::from_chars(s, s + std::strlen(s), v);
  return v;
}

int count(wsm::Registry& reg, const std::string& slot, const std::string& writer, std::uint64_t seed,
          std::uint64_t batches) {
  const wsm::Counter ops = reg.counter("chaos_ops_total", {{"writer", writer}}, "Chaos test: ops of one writer");
  const wsm::Counter all = reg.counter("chaos_ops_all_total", {}, "Chaos test: ops of every writer");
  const wsm::Histogram values = reg.histogram("chaos_value_bytes", {{"slot", slot}}, "Chaos test: values");
  std::uint64_t counted = 0, recorded = 0, sum = 0;
  for (std::uint64_t b = 1; b <= batches; ++b) {
    const wsm::chaos::Batch plan = wsm::chaos::batch(seed, b);
    for (std::uint64_t chunk = 0; chunk < wsm::chaos::kChunks; ++chunk) {
      for (std::uint64_t i = 0; i < wsm::chaos::kOpsPerChunk; ++i) {
        ops.inc(plan.amount);
        all.inc(plan.amount);
        values.record(plan.value);
      }
      // A pause inside the batch, so that most kills land in the middle of one.
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    counted += plan.amount * wsm::chaos::Batch::ops();
    recorded += wsm::chaos::Batch::ops();
    sum += plan.value * wsm::chaos::Batch::ops();
    report("R " + std::to_string(b) + " " + std::to_string(counted) + " " + std::to_string(recorded) + " " +
           std::to_string(sum));
  }
  return 0;
}

int register_series(wsm::Registry& reg, const std::string& id, std::uint64_t n) {
  wsm::shm::test_points::arm(wsm::shm::test_points::Point::catalog_after_claim,
                             wsm::shm::test_points::Action::pause, 1,
                             static_cast<std::uint64_t>(kClaimPause.count()));
  report("ready");
  for (std::uint64_t k = 1; k <= n; ++k) {
    auto c = reg.try_counter("chaos_registered_total", {{"writer", id}, {"n", std::to_string(k)}},
                             "Chaos test: one series per registration");
    if (!c) {
      std::fprintf(stderr, "chaos_writer: %s\n", c.error().message().c_str());
      return 1;
    }
    c->inc();
    if (k % wsm::chaos::kRegisterReport == 0) report("R " + std::to_string(k));
  }
  report("done");
  return 0;
}

int flat(wsm::Registry& reg, const std::string& id, std::uint64_t seconds) {
  const wsm::Counter ops = reg.counter("load_ops_total", {{"writer", id}}, "Load run: ops of one writer");
  const wsm::Histogram values = reg.histogram("load_value_bytes", {{"writer", id}}, "Load run: values");
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  std::uint64_t n = 0;
  while (std::chrono::steady_clock::now() < end) {
    for (std::uint64_t i = 0; i < 4096; ++i) {
      ops.inc();
      values.record(1 + (i & 1023));
    }
    n += 4096;
  }
  report("ops " + std::to_string(n));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (!((mode == "count" && argc == 7) || ((mode == "register" || mode == "flat") && argc == 5))) {
    std::fprintf(stderr, "usage: chaos_writer count SEGMENT SLOT WRITER SEED BATCHES | register SEGMENT ID COUNT | "
                         "flat SEGMENT ID SECONDS\n");
    return 2;
  }
  auto reg = wsm::Registry::open(argv[2], {.role = "chaos-" + mode});
  if (!reg) {
    std::fprintf(stderr, "chaos_writer: %s\n", reg.error().message().c_str());
    return 1;
  }
  if (mode == "count") return count(*reg, argv[3], argv[4], number(argv[5]), number(argv[6]));
  if (mode == "flat") return flat(*reg, argv[3], number(argv[4]));
  return register_series(*reg, argv[3], number(argv[4]));
}
