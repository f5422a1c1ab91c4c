// Writes the seed corpora: real tiny segments with families, series, cells of every kind, a dead
// writer (with exemplar cells) and retired cells, so the fuzzers start from meaningful structure.
//   make_seeds <corpus dir>
#include <wsm/writer.hpp>

#include <cstdio>
#include <fstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

#include "segment_exercise.hpp"
#include "wsm/shm/layout.hpp"
#include "wsm/shm/reaper.hpp"

namespace {

void write_file(const std::string& path, const void* data, std::size_t size) {
  std::ofstream(path, std::ios::binary).write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
}

void record(const std::string& name, bool die) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    wsm::RegistryOptions options;
    options.limits = wsm::fuzz::tiny_limits();
    auto reg = wsm::Registry::open(name, options);
    const auto trace = wsm::Exemplar::from_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    reg->counter("seed_events_total", {{"role", "doctor"}}, "events").inc(7, *trace);
    reg->gauge("seed_level", {{"k", "v\"q"}}, "level", wsm::GaugeMode::max).set(3.5);
    reg->histogram("seed_latency_seconds", {}, "latency").record(std::chrono::microseconds(300), *trace);
    if (die) ::_exit(0);
    std::exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds <corpus dir>\n");
    return 2;
  }
  const std::string dir = argv[1];
  const std::string name = "fuzz-seed-" + std::to_string(::getpid());
  (void)wsm::shm::Segment::remove(name);
  record(name, true);
  auto segment = wsm::shm::Segment::open(name);
  // The body target takes the header's mutable part, then everything after the header.
  const auto write_both = [&](const std::string& seed) {
    write_file(dir + "/segment/" + seed, segment->base(), segment->size());
    constexpr std::size_t kMutable = offsetof(wsm::shm::SegmentHeader, strings_used);
    std::string body(reinterpret_cast<const char*>(segment->base()) + kMutable,
                     sizeof(wsm::shm::SegmentHeader) - kMutable);
    body.append(reinterpret_cast<const char*>(segment->base()) + sizeof(wsm::shm::SegmentHeader),
                segment->size() - sizeof(wsm::shm::SegmentHeader));
    write_file(dir + "/segment_body/" + seed, body.data(), body.size());
  };
  write_both("dead-writer");  // with its exemplar cells
  (void)wsm::shm::Reaper(*segment).reap();
  write_both("reaped");
  (void)wsm::shm::Segment::remove(name);
  const std::string labels[] = {std::string("role\0doctor", 11), std::string("a\0x\0b\0y\\\"\n", 11),
                                std::string("user_id\0\xff\xfe", 10), std::string("__r\0v", 5)};
  int i = 0;
  for (const auto& l : labels) write_file(dir + "/labels/seed-" + std::to_string(i++), l.data(), l.size());
  return 0;
}
