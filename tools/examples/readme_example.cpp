#include <wsm/writer.hpp>
#include <chrono>
#include <cstdio>
int main() {
  auto reg = wsm::Registry::open("demo");  // creates the segment if absent
  if (!reg) { std::fprintf(stderr, "%s\n", reg.error().message().c_str()); return 1; }
  auto sent = reg->counter("websocket_messages_sent_total", {{"role", "doctor"}});
  auto active = reg->gauge("websocket_connections_active", {{"role", "doctor"}});
  auto latency = reg->histogram("websocket_message_latency_seconds", {{"message_type", "ecg_data"}});
  auto size = reg->histogram("websocket_message_size_bytes", {{"direction", "out"}});
  sent.inc();
  sent.inc(4);
  active.add(1);
  latency.record(std::chrono::microseconds(250));
  size.record(1024);
}
