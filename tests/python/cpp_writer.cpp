// The C++ side of tests/python/mixed_test.py: records the series the Python side records, with the
// same names, labels and units, into segment argv[1], argv[2] times each.
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "wsm/writer.hpp"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s SEGMENT N\n", argv[0]);
    return 2;
  }
  auto reg = wsm::Registry::open(argv[1]);
  if (!reg) {
    std::fprintf(stderr, "%s\n", reg.error().message().c_str());
    return 1;
  }
  const long n = std::atol(argv[2]);
  auto sent = reg->try_counter("pymixed_messages_sent_total", {{"role", "doctor"}, {"region", "eu"}});
  auto latency = reg->try_histogram("pymixed_latency_seconds", {{"message_type", "ecg_data"}});
  auto size = reg->try_histogram("pymixed_size_bytes", {{"direction", "out"}});
  if (!sent || !latency || !size) {
    std::fprintf(stderr, "registration failed\n");
    return 1;
  }
  for (long i = 0; i < n; ++i) {
    sent->inc();
    latency->record(std::chrono::milliseconds(i % 2 ? 250 : 125));
    size->record(static_cast<std::uint64_t>(100 + i % 7));
  }
  return 0;
}
