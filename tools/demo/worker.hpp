// One pre-forked worker process of wsm-demo-server: a single-threaded io_context serving the
// connections the kernel hands to its SO_REUSEPORT listener, until SIGTERM or SIGINT.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>

#include "exemplar_pacer.hpp"
#include "hub.hpp"
#include "peer.hpp"
#include "wsm/websocket_metrics.hpp"

namespace wsm::demo {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;
  int workers = 2;
  std::string segment = "wsm";
  std::size_t queue_limit = 64;             // messages queued per connection before drops
  std::size_t max_message_bytes = 64 * 1024;
  std::chrono::milliseconds heartbeat{1000};  // ping interval
  // Monitoring's periodic work: the tick that sets buffer, queue and pool levels, and the exemplar
  // pacer's interval (one exemplar per message type and stage each).
  std::chrono::milliseconds tick{1000};
  unsigned max_missed_heartbeats = 3;       // then the connection is closed as stale
  std::size_t max_subscriptions = 32;       // (patient, stream) pairs per connection
  bool deflate = true;                      // offer permessage-deflate
  int socket_send_buffer = 0;               // SO_SNDBUF of connections (0: the kernel's choice)
};

class Worker {
 public:
  Worker(int listen_fd, const ServerOptions& options, ws::Metrics& metrics);
  // Destroys the io objects first: sessions still pending in the io_context end (and count their
  // close) while the hub and the session set they use still exist.
  ~Worker();
  // Serves until SIGTERM/SIGINT, then closes every connection ("going away"); returns the exit code.
  int run();

  [[nodiscard]] boost::asio::io_context& io() noexcept { return *io_; }
  [[nodiscard]] Hub& hub() noexcept { return hub_; }
  [[nodiscard]] ws::Metrics& metrics() noexcept { return metrics_; }
  // The per-message calls bound to this worker's one thread (see ws::LocalMetrics).
  [[nodiscard]] ws::LocalMetrics& local_metrics() noexcept { return local_metrics_; }
  [[nodiscard]] const ServerOptions& options() const noexcept { return options_; }
  [[nodiscard]] bool stopping() const noexcept { return stopping_; }
  [[nodiscard]] std::size_t sessions() const noexcept { return sessions_.size(); }
  [[nodiscard]] ExemplarPacer& exemplars() noexcept { return exemplars_; }

  // Messages queued (delta > 0) or taken from (delta < 0) a send queue of a `role` connection.
  // A plain add into this worker's totals: websocket_queue_size is set from them at every tick
  // and when a connection ends, not on every message (monitoring only: nothing when compiled out).
  void queue_changed(ws::Role role, std::ptrdiff_t delta) noexcept {
    if constexpr (kRecording) queued_[static_cast<std::size_t>(role)] += delta;
  }
  // Sets websocket_queue_size of `role` from the totals now.
  void publish_queue(ws::Role role) noexcept;

  // Every session from accept to its end, so a stop reaches the ones not upgraded yet.
  void attach(Peer& session) { sessions_.insert(&session); }
  void detach(Peer& session);

 private:
  void accept();
  void stop();
  void force_close();  // clients that ignored the close frame
  void tick();  // every options.tick: buffer levels and queue sizes by role, thread pool utilisation

  const ServerOptions& options_;
  ws::Metrics& metrics_;
  ws::LocalMetrics local_metrics_;  // made by the constructor, on the thread that runs the worker
  Hub hub_;
  std::unordered_set<Peer*> sessions_;
  ExemplarPacer exemplars_;
  std::array<std::ptrdiff_t, ws::kValueCount<ws::Role>> queued_{};
  bool stopping_ = false;
  std::uint64_t last_cpu_ns_ = 0, last_wall_ns_ = 0;
  bool torn_down_ = false;
  // Declared last, destroyed first (see ~Worker).
  std::unique_ptr<boost::asio::io_context> io_;
  std::optional<boost::asio::ip::tcp::acceptor> acceptor_;
  std::optional<boost::asio::signal_set> signals_;
  std::optional<boost::asio::steady_timer> ticker_;
  std::optional<boost::asio::steady_timer> deadline_;
};

}  // namespace wsm::demo
