// A small multi-process writer: a parent registers handles, forks N workers (pre-fork servers do
// exactly this), and each worker records simulated WebSocket traffic for a while.
//   wsm-demo-writer [--segment NAME] [--workers N] [--seconds S]
#include <wsm/writer.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace {

struct Options {
  std::string segment = "ws-demo";
  int workers = 2;
  double seconds = 10;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--segment")) o.segment = argv[i + 1];
    else if (!std::strcmp(argv[i], "--workers")) o.workers = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--seconds")) o.seconds = std::atof(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: %s [--segment NAME] [--workers N] [--seconds S]\n", argv[0]);
      std::exit(2);
    }
  }
  return o;
}

void work(wsm::Registry& reg, int worker, double seconds) {
  const char* roles[] = {"doctor", "nurse", "patient_monitor"};
  std::mt19937 rng(static_cast<unsigned>(worker) * 7919u);
  std::lognormal_distribution<double> latency_us(5.0, 0.7);
  std::uniform_int_distribution<int> size(64, 8192);
  auto active = reg.gauge("websocket_connections_active", {{"role", roles[worker % 3]}},
                          "Open WebSocket connections");
  active.add(10);
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    for (const char* role : roles) {
      auto sent = reg.counter("websocket_messages_sent_total", {{"role", role}, {"message_type", "ecg_data"}},
                              "Messages sent to clients");
      auto latency = reg.histogram("websocket_message_latency_seconds", {{"message_type", "ecg_data"}},
                                   "Time from receipt to delivery");
      auto bytes = reg.histogram("websocket_message_size_bytes", {{"direction", "out"}},
                                 "Size of messages sent");
      for (int i = 0; i < 100; ++i) {
        sent.inc();
        latency.record(std::chrono::nanoseconds(static_cast<long>(latency_us(rng) * 1000)));
        bytes.record(static_cast<std::uint64_t>(size(rng)));
      }
    }
    reg.heartbeat();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  auto reg = wsm::Registry::open(o.segment, {.role = "demo-writer", .enabled = std::nullopt});
  if (!reg) {
    std::fprintf(stderr, "wsm-demo-writer: %s\n", reg.error().message().c_str());
    return 1;
  }
  for (int w = 0; w < o.workers; ++w) {
    if (::fork() == 0) {
      work(*reg, w, o.seconds);
      return 0;
    }
  }
  int status = 0;
  while (::wait(&status) > 0) {
  }
  return 0;
}
