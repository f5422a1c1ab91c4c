// wsm-loadgen: drives wsm-demo-server with clients of a role mix, bounded in messages and time,
// and prints a JSON summary of what it sent, received and measured (run.hpp explains the phases).
//   wsm-loadgen --url ws://127.0.0.1:8080/ws --clients 6 --messages 600 [--rate 200]
//               [--mix patient_monitor=1,doctor=1,nurse=1] [--deflate on|off] [--malformed-ratio 0.1]
// Exit: 0 the run completed, 1 no client ever connected, 2 usage, 3 timed out.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

#include "options.hpp"
#include "run.hpp"

int main(int argc, char** argv) {
  using namespace wsm::loadgen;
  Options o;
  CLI::App app{"wsm-loadgen: load for wsm-demo-server (loopback only); prints a JSON summary"};
  std::string url, mix = "patient_monitor=1,doctor=1,nurse=1", deflate = "on";
  std::uint64_t messages = 0;
  double duration_s = 0, timeout_s = 0;
  app.add_option("--url", url, "ws://127.0.0.1:PORT/ws (loopback hosts only; no path: /ws)")->required();
  app.add_option("--clients", o.clients, "connections")->capture_default_str()->check(CLI::Range(1, 10000));
  app.add_option("--mix", mix, "role weights ROLE=W,... (doctor, nurse, patient_monitor, admin)")->capture_default_str();
  auto* m = app.add_option("--messages", messages, "publishes in total, spread over the monitors")
                ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{100'000'000}));
  auto* d = app.add_option("--duration", duration_s, "publish for this many seconds instead")
                ->check(CLI::Range(0.1, 86400.0));
  m->excludes(d);
  app.add_option("--rate", o.rate, "publishes per second in total (0: as fast as replies come)")
      ->capture_default_str()->check(CLI::Range(0.0, 1e7));
  app.add_option("--window", o.window, "unanswered publishes per monitor")->capture_default_str()->check(CLI::Range(1, 100000));
  app.add_option("--deflate", deflate, "offer permessage-deflate")->capture_default_str()->check(CLI::IsMember({"on", "off"}));
  app.add_option("--malformed-ratio", o.malformed_ratio, "share of publishes replaced by malformed messages")
      ->capture_default_str()->check(CLI::Range(0.0, 1.0));
  app.add_option("--max-reconnects", o.max_reconnects, "per client, after a dropped connection")
      ->capture_default_str()->check(CLI::Range(0, 100));
  double churn_s = 0, stall_s = 15;
  app.add_option("--churn-every", churn_s,
                 "every SECONDS a subscriber closes and reconnects, declaring a reconnection (0: never)")
      ->capture_default_str()->check(CLI::Range(0.0, 86400.0));
  app.add_option("--stall-clients", o.stall_clients,
                 "subscribers that stop reading 3 s after connecting, for --stall-for seconds, then read "
                 "as long, and so on (backpressure, unanswered pings, a close as stale, a reconnection)")
      ->capture_default_str()->check(CLI::Range(0, 10000));
  app.add_option("--stall-for", stall_s, "length of a stall and of the reading between two")
      ->capture_default_str()->check(CLI::Range(0.1, 86400.0));
  app.add_option("--timeout", timeout_s, "give up after this many seconds (default: 60, or duration + 60)")
      ->check(CLI::Range(1.0, 90000.0));
  app.add_option("--trace-log", o.trace_log,
                 "write every trace id sent (each connection's and each message's W3C traceparent) to FILE, "
                 "one per line");
  CLI11_PARSE(app, argc, argv);
  if (messages == 0 && duration_s == 0) {
    std::fprintf(stderr, "wsm-loadgen: give --messages M or --duration SECONDS (the run is bounded)\n");
    return 2;
  }
  std::string error;
  auto target = parse_loopback_url(url, error);
  if (!target || !parse_mix(mix, o.mix, error)) {
    std::fprintf(stderr, "wsm-loadgen: %s\n", error.c_str());
    return 2;
  }
  o.target = *target;
  o.deflate = deflate == "on";
  o.churn_every = std::chrono::milliseconds(static_cast<long long>(churn_s * 1000));
  o.stall_for = std::chrono::milliseconds(static_cast<long long>(stall_s * 1000));
  if (messages > 0) o.messages = messages;
  if (duration_s > 0) o.duration = std::chrono::milliseconds(static_cast<long long>(duration_s * 1000));
  const double default_timeout = 60 + duration_s;
  o.timeout = std::chrono::milliseconds(static_cast<long long>((timeout_s > 0 ? timeout_s : default_timeout) * 1000));
  const auto roles = assign_roles(o.clients, o.mix);
  if (o.messages && std::count(roles.begin(), roles.end(), wsm::ws::Role::patient_monitor) == 0) {
    std::fprintf(stderr, "wsm-loadgen: --messages needs patient_monitor clients to publish (see --mix)\n");
    return 2;
  }
  const Summary s = run_load(o, roles);
  std::cout << s.to_json().dump(2) << std::endl;
  if (s.timed_out) return 3;
  return s.connected == 0 ? 1 : 0;
}
