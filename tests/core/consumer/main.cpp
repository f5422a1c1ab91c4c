// Records through the installed writer API, reads the segment back through the installed core
// library, and exits 0 only when what it recorded is there.
//   wsm_consumer SEGMENT
#include <wsm/shm/aggregation.hpp>
#include <wsm/shm/snapshot.hpp>
#include <wsm/writer.hpp>

#include <cstdio>

namespace {

int record_and_check(const std::string& name) {
  auto reg = wsm::Registry::open(name);
  if (!reg) {
    std::fprintf(stderr, "%s\n", reg.error().message().c_str());
    return 1;
  }
  reg->counter("consumer_runs_total", {{"via", "find_package"}}).inc(3);
  reg->histogram("consumer_latency_seconds").record(std::chrono::milliseconds(2));

  auto segment = wsm::shm::Segment::open(name, {wsm::shm::Access::read_only});
  if (!segment) {
    std::fprintf(stderr, "%s\n", segment.error().message().c_str());
    return 1;
  }
  wsm::shm::CatalogView catalog;
  auto snap = wsm::shm::Snapshot::take(*segment, catalog);
  if (!snap) {
    std::fprintf(stderr, "%s\n", snap.error().message().c_str());
    return 1;
  }
  std::uint64_t runs = 0, latencies = 0;
  for (const auto& p : wsm::shm::Aggregation::of(catalog, *snap).points) {
    if (p.family->name == "consumer_runs_total") runs = p.counter;
    if (p.family->name == "consumer_latency_seconds") latencies = p.count;
  }
  std::printf("consumer_runs_total %llu, consumer_latency_seconds count %llu\n",
              static_cast<unsigned long long>(runs), static_cast<unsigned long long>(latencies));
  return runs == 3 && latencies == 1 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s SEGMENT\n", argv[0]);
    return 2;
  }
  const int rc = record_and_check(argv[1]);
  (void)wsm::shm::Segment::remove(argv[1]);
  return rc;
}
