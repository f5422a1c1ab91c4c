// The writer the CLI tests look at: records a known set of series into a small segment, says so
// by creating a file, then holds (until killed), streams (until killed) or exits.
//
//   cli-test-writer SEGMENT READY_FILE [--paths K] [--series-cap C] [--max-series S]
//                   [--role R] [--then hold|stream|exit]
//
// Recorded, in this order (the tests compute their expectations from the same numbers):
//   websocket_messages_sent_total{role="doctor"} 5, {role="nurse"} 7          (counter)
//   websocket_connections_active{role="doctor"} 3, {role="nurse"} 4           (gauge, mode sum)
//   websocket_message_latency_seconds{message_type="ecg_data"} 1..100 ms      (histogram)
//   test_requests_total{method="GET"|"POST",path="/p<k>"} 1 each, k < K       (counter)
// stream: then forever sent{doctor} += 1 and latency 2 ms, once per millisecond.
#include <wsm/writer.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s SEGMENT READY_FILE [options]\n", argv[0]);
    return 2;
  }
  int paths = 2;
  std::string role = "cli-test";
  std::string then = "hold";
  wsm::RegistryOptions options;
  options.limits = {.max_writers = 8, .max_families = 16, .max_series = 64,
                    .series_cap_per_family = 16, .arena_bytes = 64 * 1024,
                    .string_bytes = 16 * 1024, .retired_bytes = 64 * 1024};
  for (int i = 3; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const char* v = argv[i + 1];
    if (flag == "--paths") paths = std::atoi(v);
    else if (flag == "--series-cap") options.limits.series_cap_per_family = static_cast<std::uint32_t>(std::atoi(v));
    else if (flag == "--max-series") options.limits.max_series = static_cast<std::uint32_t>(std::atoi(v));
    else if (flag == "--role") role = v;
    else if (flag == "--then") then = v;
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  options.role = role;
  options.enabled = true;
  auto reg = wsm::Registry::open(argv[1], options);
  if (!reg) {
    std::fprintf(stderr, "cli-test-writer: %s\n", reg.error().message().c_str());
    return 1;
  }
  auto doctor = reg->counter("websocket_messages_sent_total", {{"role", "doctor"}}, "Messages sent");
  doctor.inc(5);
  reg->counter("websocket_messages_sent_total", {{"role", "nurse"}}).inc(7);
  reg->gauge("websocket_connections_active", {{"role", "doctor"}}, "Open connections").set(3);
  reg->gauge("websocket_connections_active", {{"role", "nurse"}}).set(4);
  auto latency = reg->histogram("websocket_message_latency_seconds", {{"message_type", "ecg_data"}},
                                "Receipt to delivery");
  for (int ms = 1; ms <= 100; ++ms) latency.record(std::chrono::milliseconds(ms));
  for (int k = 0; k < paths; ++k) {
    const std::string path = "/p" + std::to_string(k);
    for (const char* method : {"GET", "POST"}) {
      reg->counter("test_requests_total", {{"method", method}, {"path", path}}).inc();
    }
  }
  if (auto e = reg->last_error()) {
    std::fprintf(stderr, "cli-test-writer: %s\n", e->message().c_str());
  }
  if (std::FILE* f = std::fopen(argv[2], "w")) std::fclose(f);

  if (then == "exit") return 0;
  if (then == "stream") {
    for (;;) {
      doctor.inc();
      latency.record(std::chrono::milliseconds(2));
      reg->heartbeat();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  for (;;) ::pause();
}
