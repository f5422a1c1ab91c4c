// wsm-exporter: serves a wsmetrics segment to Prometheus and as a JSON API. See --help.
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <malloc.h>

#include "agent_check_server.hpp"
#include "http_server.hpp"
#include "wsm/exporter/monitor.hpp"
#include "wsm/exporter/settings.hpp"

namespace {

constexpr std::uint64_t kWaitingPollNs = 250'000'000;  // look for a missing segment 4x a second

timespec to_timespec(std::uint64_t ns) {
  return {static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
}

}  // namespace

int main(int argc, char** argv) {
  using namespace wsm::exporter;
  // Signals are taken synchronously by the main loop (sigtimedwait), so every thread started
  // from here on (the HTTP server's) inherits them blocked. SIGPIPE: a client that hung up.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  sigset_t blocked = stop;
  sigaddset(&blocked, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &blocked, nullptr);

  // A scrape allocates and frees blocks of a few hundred KB to MBs (a body, a gzip body, a part's
  // text, igzip's buffers); a fixed mmap threshold hands them back to the kernel at once instead
  // of keeping them in the heap (glibc's dynamic threshold would), so the RSS between scrapes stays
  // small. 256 KB, not 1 MB: the blocks of a gzipped scrape are smaller (0.3-1 MB), and at 1 MB they
  // stayed resident, ~0.5-1.5 MB between Prometheus's scrapes at 100k series.
  mallopt(M_MMAP_THRESHOLD, 256 << 10);
  // One heap for every thread: the scrape's threads (tally.hpp, part_writer.hpp) and the HTTP
  // server's allocate little, and an arena of their own kept ~0.7 MB resident between scrapes.
  mallopt(M_ARENA_MAX, 1);

  auto parsed = parse_settings(std::vector<std::string>(argv, argv + argc),
                               [](const char* name) -> const char* { return std::getenv(name); });
  if (!parsed.settings) {
    std::fprintf(parsed.exit_code == 0 ? stdout : stderr, parsed.exit_code == 0 ? "%s" : "wsm-exporter: %s\n",
                 parsed.message.c_str());
    return parsed.exit_code;
  }
  const Settings settings = std::move(*parsed.settings);

  auto policy = id_label_policy(settings);
  if (!policy) {
    std::fprintf(stderr, "wsm-exporter: %s\n", policy.error().c_str());
    return 2;
  }

  HttpOptions http{settings.listen, {}, settings.http_timeout_seconds};
  if (!settings.web_config.empty()) {
    auto web = load_web_config(settings.web_config);
    if (!web) {
      std::fprintf(stderr, "wsm-exporter: %s\n", web.error().message().c_str());
      return 2;
    }
    http.web = std::move(*web);
  }

  Monitor monitor(settings, std::move(*policy));
  monitor.tick();
  auto server = HttpServer::start(http, monitor);
  if (!server) {
    std::fprintf(stderr, "wsm-exporter: %s\n", server.error().message().c_str());
    return 1;
  }
  std::unique_ptr<AgentCheckServer> agent;
  if (!settings.agent_check_listen.empty()) {
    auto started = AgentCheckServer::start(settings.agent_check_listen, monitor);
    if (!started) {
      std::fprintf(stderr, "wsm-exporter: %s\n", started.error().message().c_str());
      return 1;
    }
    agent = std::move(*started);
    std::fprintf(stderr, "wsm-exporter: answering HAProxy agent checks on %s\n", settings.agent_check_listen.c_str());
  }
  std::fprintf(stderr, "wsm-exporter: serving segment '%s' on %s://%s/metrics every %d s%s\n",
               settings.segment.c_str(), http.web.tls() ? "https" : "http", settings.listen.c_str(),
               settings.interval_seconds, http.web.users.empty() ? "" : " (basic authentication)");

  const std::uint64_t interval_ns = static_cast<std::uint64_t>(settings.interval_seconds) * 1'000'000'000;
  std::uint64_t next = wsm::shm::monotonic_ns() + interval_ns;
  for (;;) {
    const std::uint64_t now = wsm::shm::monotonic_ns();
    const bool waiting = !monitor.attached();
    const std::uint64_t due = waiting ? std::min(next, now + kWaitingPollNs) : next;
    if (due > now) {
      const timespec timeout = to_timespec(due - now);
      const int sig = sigtimedwait(&stop, nullptr, &timeout);
      if (sig == SIGTERM || sig == SIGINT) {
        std::fprintf(stderr, "wsm-exporter: %s, stopping\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        break;
      }
      if (sig < 0 && errno != EAGAIN) continue;  // EINTR: look again
      if (sig < 0 && !waiting && wsm::shm::monotonic_ns() < next) continue;
    }
    monitor.tick();
    if (wsm::shm::monotonic_ns() >= next) next += interval_ns * ((wsm::shm::monotonic_ns() - next) / interval_ns + 1);
  }
  agent.reset();
  server->reset();
  return 0;
}
