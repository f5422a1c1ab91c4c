#include "worker.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <cstdio>

#include "session.hpp"
#include "wsm/shm/segment.hpp"

namespace wsm::demo {

namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;

// CPU time of the calling thread (the worker's only io thread).
std::uint64_t thread_cpu_ns() {
  rusage u{};
  ::getrusage(RUSAGE_THREAD, &u);
  const auto ns = [](const timeval& t) {
    return static_cast<std::uint64_t>(t.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(t.tv_usec) * 1000u;
  };
  return ns(u.ru_utime) + ns(u.ru_stime);
}

}  // namespace

Worker::Worker(int listen_fd, const ServerOptions& options, ws::Metrics& metrics)
    : options_(options),
      metrics_(metrics),
      local_metrics_(metrics.local()),
      hub_(metrics, local_metrics_, options.max_subscriptions),
      exemplars_(options.tick),
      io_(std::make_unique<net::io_context>(1)) {
  acceptor_.emplace(*io_);
  signals_.emplace(*io_, SIGTERM, SIGINT);
  ticker_.emplace(*io_);
  deadline_.emplace(*io_);
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd, reinterpret_cast<sockaddr*>(&addr), &len);
  acceptor_->assign(addr.ss_family == AF_INET6 ? tcp::v6() : tcp::v4(), listen_fd);
}

Worker::~Worker() {
  torn_down_ = true;
  acceptor_.reset();
  signals_.reset();
  ticker_.reset();
  deadline_.reset();
  io_.reset();  // destroys pending handlers, and with them the sessions they hold
}

int Worker::run() {
  signals_->async_wait([this](const boost::system::error_code& ec, int) {
    if (!ec) stop();
  });
  last_cpu_ns_ = thread_cpu_ns();
  last_wall_ns_ = shm::monotonic_ns();
  accept();
  tick();
  io_->run();
  return 0;
}

void Worker::accept() {
  acceptor_->async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
    if (stopping_) return;
    if (!ec) {
      socket.set_option(tcp::no_delay(true));
      if (options_.socket_send_buffer > 0) {
        boost::system::error_code ignored;
        socket.set_option(net::socket_base::send_buffer_size(options_.socket_send_buffer), ignored);
      }
      start_session(std::move(socket), *this);
    } else if (ec == net::error::no_descriptors || ec == net::error::no_buffer_space) {
      std::fprintf(stderr, "wsm-demo-server[%d]: accept: %s\n", ::getpid(), ec.message().c_str());
    }
    accept();
  });
}

void Worker::tick() {
  // Every connection's wire bytes since the last tick; buffer levels: the fullest connection of
  // each role (the gauge mode is max across workers); queue sizes: this worker's totals by role.
  constexpr std::size_t kRoles = ws::kValueCount<ws::Role>;
  std::array<BufferLevels, kRoles> peak{};
  for (Peer* p : hub_.peers()) {
    p->report_bytes();
    const BufferLevels l = p->levels();
    auto& k = peak[static_cast<std::size_t>(p->role())];
    k.send_queue = std::max(k.send_queue, l.send_queue);
    k.read_buffer = std::max(k.read_buffer, l.read_buffer);
  }
  for (std::size_t r = 0; r < kRoles; ++r) {
    const auto role = static_cast<ws::Role>(r);
    if (role == ws::Role::unknown) continue;
    metrics_.buffer_utilization(ws::BufferType::send_queue, role, peak[r].send_queue);
    metrics_.buffer_utilization(ws::BufferType::read_buffer, role, peak[r].read_buffer);
    publish_queue(role);
  }
  const std::uint64_t cpu = thread_cpu_ns(), wall = shm::monotonic_ns();
  if (wall > last_wall_ns_) {
    metrics_.thread_pool_utilization(
        ws::PoolType::io, 100.0 * static_cast<double>(cpu - last_cpu_ns_) / static_cast<double>(wall - last_wall_ns_));
  }
  last_cpu_ns_ = cpu;
  last_wall_ns_ = wall;
  ticker_->expires_after(options_.tick);
  ticker_->async_wait([this](const boost::system::error_code& ec) {
    if (!ec && !stopping_) tick();
  });
}

void Worker::publish_queue(ws::Role role) noexcept {
  metrics_.queue_size(ws::QueueType::send, role, static_cast<double>(queued_[static_cast<std::size_t>(role)]));
}

void Worker::stop() {
  if (stopping_) return;
  stopping_ = true;
  boost::system::error_code ignored;
  acceptor_->close(ignored);
  ticker_->cancel();
  // Sessions detach as they finish; copy first.
  const std::vector<Peer*> open(sessions_.begin(), sessions_.end());
  for (Peer* p : open) p->shutdown();
  if (sessions_.empty()) return;
  // Clients that do not answer the close frame get two seconds, then their sockets are closed.
  deadline_->expires_after(std::chrono::seconds(2));
  deadline_->async_wait([this](const boost::system::error_code& ec) {
    if (!ec) force_close();
  });
}

void Worker::force_close() {
  const std::vector<Peer*> open(sessions_.begin(), sessions_.end());
  for (Peer* p : open) p->terminate();
  // Whatever still waits after another second is dropped with the io_context (~Worker).
  deadline_->expires_after(std::chrono::seconds(1));
  deadline_->async_wait([this](const boost::system::error_code& ec) {
    if (!ec) io_->stop();
  });
}

void Worker::detach(Peer& session) {
  sessions_.erase(&session);
  if (stopping_ && sessions_.empty() && !torn_down_) deadline_->cancel();
}

}  // namespace wsm::demo
