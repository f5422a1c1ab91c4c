// wsm-demo-server: a medical-telemetry WebSocket server (protocol.hpp) that records every
// catalogue metric through wsm::ws::Metrics.
//
// The parent opens the metrics registry (creating the segment), makes sure no other process
// listens on the port, binds one SO_REUSEPORT listener per worker on the same port, forks the workers and waits. Every listener exists before any worker
// runs, so the port is ready as soon as this prints its "listening" line; the kernel spreads
// connections across the listeners. Each worker records through its own writer slots (the writer
// API gives a forked child slots of its own). SIGTERM/SIGINT are forwarded to the workers, which
// close their connections ("going away") and exit; the parent exits when all of them did.
#include <CLI/CLI.hpp>

#include <arpa/inet.h>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <netdb.h>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include "worker.hpp"
#include "wsm/latency_clock.hpp"
#include "wsm/websocket_metrics.hpp"
#include "wsm/writer.hpp"

namespace {

using wsm::demo::ServerOptions;

// The address to bind for host:port (freeaddrinfo it), or nullptr and why.
addrinfo* resolve(const std::string& host, int port, std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found); rc != 0) {
    error = "cannot resolve " + host + ": " + ::gai_strerror(rc);
    return nullptr;
  }
  return found;
}

// A listening socket on host:port with SO_REUSEPORT; port 0 picks one (then reuse it).
int listen_on(const std::string& host, int port, std::string& error) {
  addrinfo* found = resolve(host, port, error);
  if (found == nullptr) return -1;
  int fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int on = 1;
  if (fd < 0 || ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0 ||
      ::bind(fd, found->ai_addr, found->ai_addrlen) != 0 || ::listen(fd, 1024) != 0) {
    error = "cannot listen on " + host + ":" + std::to_string(port) + ": " + std::strerror(errno);
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(found);
  return fd;
}

// SO_REUSEPORT lets any process of this user join a port's listeners: a second server started
// on a busy port would start "fine" and take half the connections into its own segment. So a
// named port must be free first: a plain bind (no SO_REUSEPORT) fails while anyone listens on it.
bool port_free(const std::string& host, int port, std::string& error) {
  addrinfo* found = resolve(host, port, error);
  if (found == nullptr) return false;
  const int fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int on = 1;
  bool free = fd >= 0 && ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) == 0 &&
              ::bind(fd, found->ai_addr, found->ai_addrlen) == 0;
  if (!free) {
    error = errno == EADDRINUSE
                ? host + ":" + std::to_string(port) +
                      " is in use by another process (another wsm-demo-server would split the "
                      "connections with it); stop it or choose another --port"
                : "cannot bind " + host + ":" + std::to_string(port) + ": " + std::strerror(errno);
  }
  if (fd >= 0) ::close(fd);
  ::freeaddrinfo(found);
  return free;
}

int bound_port(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6&>(addr).sin6_port
                                          : reinterpret_cast<sockaddr_in&>(addr).sin_port);
}

int run_worker(int fd, const ServerOptions& options, wsm::Registry registry) {
  wsm::ws::Metrics metrics(registry, {.process_role = "worker", .max_identities = 1000, .connection_table = true});
  wsm::demo::Worker worker(fd, options, metrics);
  return worker.run();
}

// Forwards SIGTERM/SIGINT to the workers and reaps them; returns 0 if all ended cleanly.
int supervise(const std::vector<pid_t>& workers, const sigset_t& signals) {
  std::vector<pid_t> running = workers;
  int status_out = 0;
  while (!running.empty()) {
    siginfo_t info{};
    if (::sigwaitinfo(&signals, &info) < 0) continue;
    if (info.si_signo == SIGTERM || info.si_signo == SIGINT) {
      for (pid_t p : running) ::kill(p, SIGTERM);
      continue;
    }
    int status = 0;
    for (pid_t p; (p = ::waitpid(-1, &status, WNOHANG)) > 0;) {
      std::erase(running, p);
      if (WIFEXITED(status) && WEXITSTATUS(status) == 0) continue;
      status_out = 1;
      if (WIFSIGNALED(status)) {
        std::fprintf(stderr, "wsm-demo-server: worker %d killed by signal %d; %zu left\n", p,
                     WTERMSIG(status), running.size());
      } else {
        std::fprintf(stderr, "wsm-demo-server: worker %d exited with %d; %zu left\n", p,
                     WEXITSTATUS(status), running.size());
      }
    }
  }
  return status_out;
}

}  // namespace

int main(int argc, char** argv) {
  ServerOptions o;
  CLI::App app{"wsm-demo-server: medical-telemetry WebSocket server recording wsmetrics\n"
               "(connect to ws://HOST:PORT/ws?role=doctor&user=u1&patient=p7; GET /healthz)"};
  app.add_option("--host", o.host, "address to listen on")->capture_default_str();
  app.add_option("--port", o.port, "port (0: any free one)")->capture_default_str()->check(CLI::Range(0, 65535));
  app.add_option("--workers", o.workers, "pre-forked worker processes")->capture_default_str()->check(CLI::Range(1, 64));
  app.add_option("--segment", o.segment, "metrics segment (/dev/shm/wsm.NAME)")->capture_default_str();
  app.add_option("--queue-limit", o.queue_limit, "messages queued per connection before drops")
      ->capture_default_str()->check(CLI::Range(1, 1 << 20));
  app.add_option("--max-message-bytes", o.max_message_bytes, "largest message accepted")
      ->capture_default_str()->check(CLI::Range(64, 1 << 26));
  int heartbeat_ms = static_cast<int>(o.heartbeat.count());
  app.add_option("--heartbeat-ms", heartbeat_ms, "ping interval")->capture_default_str()->check(CLI::Range(10, 3'600'000));
  int tick_ms = static_cast<int>(o.tick.count());
  app.add_option("--tick-ms", tick_ms,
                 "interval of monitoring's periodic work: buffer, queue and pool levels, and one exemplar "
                 "per message type and stage")
      ->capture_default_str()->check(CLI::Range(10, 3'600'000));
  app.add_option("--max-missed-heartbeats", o.max_missed_heartbeats, "unanswered pings before a close")
      ->capture_default_str()->check(CLI::Range(1, 1000));
  app.add_option("--max-subscriptions", o.max_subscriptions, "subscriptions per connection")
      ->capture_default_str()->check(CLI::Range(1, 1 << 20));
  app.add_option("--socket-send-buffer", o.socket_send_buffer,
                 "SO_SNDBUF of each connection in bytes (0: the kernel's; small values show backpressure)")
      ->capture_default_str()->check(CLI::Range(0, 1 << 28));
  std::string deflate = "on";
  app.add_option("--deflate", deflate, "offer permessage-deflate")->capture_default_str()->check(CLI::IsMember({"on", "off"}));
  CLI11_PARSE(app, argc, argv);
  o.heartbeat = std::chrono::milliseconds(heartbeat_ms);
  o.tick = std::chrono::milliseconds(tick_ms);
  o.deflate = deflate == "on";

  wsm::RegistryOptions registry_options;
  registry_options.role = "worker";
  auto registry = wsm::Registry::open(o.segment, registry_options);
  if (!registry) {
    std::fprintf(stderr, "wsm-demo-server: %s\n", registry.error().message().c_str());
    return 1;
  }
  if (std::string error; o.port != 0 && !port_free(o.host, o.port, error)) {
    std::fprintf(stderr, "wsm-demo-server: %s\n", error.c_str());
    return 1;
  }
  std::vector<int> listeners;
  for (int i = 0; i < o.workers; ++i) {
    std::string error;
    const int fd = listen_on(o.host, o.port, error);
    if (fd < 0) {
      std::fprintf(stderr, "wsm-demo-server: %s\n", error.c_str());
      return 1;
    }
    if (i == 0) o.port = bound_port(fd);
    listeners.push_back(fd);
  }

  // The latency clock measures the TSC's rate on its first read (~1 ms): here, once for every
  // worker, rather than in each worker's first message.
  if constexpr (wsm::kRecording) (void)wsm::LatencyClock::now();

  // Signals wait for sigwaitinfo in the parent; workers restore the mask and take them in Asio.
  sigset_t signals, previous;
  sigemptyset(&signals);
  for (int s : {SIGTERM, SIGINT, SIGCHLD}) sigaddset(&signals, s);
  ::sigprocmask(SIG_BLOCK, &signals, &previous);
  std::vector<pid_t> workers;
  for (int i = 0; i < o.workers; ++i) {
    const pid_t pid = ::fork();
    if (pid < 0) {
      std::perror("wsm-demo-server: fork");
      for (pid_t p : workers) ::kill(p, SIGTERM);
      break;
    }
    if (pid == 0) {
      ::sigprocmask(SIG_SETMASK, &previous, nullptr);
      for (int k = 0; k < o.workers; ++k) {
        if (k != i) ::close(listeners[static_cast<std::size_t>(k)]);
      }
      std::exit(run_worker(listeners[static_cast<std::size_t>(i)], o, *registry));
    }
    workers.push_back(pid);
  }
  // The workers hold the listeners now: a worker that dies takes its listener with it.
  for (int fd : listeners) ::close(fd);
  std::string pids;
  for (pid_t p : workers) pids += (pids.empty() ? "" : " ") + std::to_string(p);
  std::printf("wsm-demo-server: listening on ws://%s:%d/ws with %zu workers (pids %s), segment %s\n",
              o.host.c_str(), o.port, workers.size(), pids.c_str(), o.segment.c_str());
  std::fflush(stdout);
  return supervise(workers, signals);
}
