#include "agent_check_server.hpp"

#include <array>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <thread>

#include "listener.hpp"
#include "wsm/exporter/agent_check.hpp"

namespace wsm::exporter {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// A peer that neither reads the reply nor closes is dropped after this.
constexpr auto kConnectionTimeout = std::chrono::seconds(5);

// One agent-check connection: write the line, half-close, then read until HAProxy closes. Closing
// with HAProxy's `agent-send` text still unread would send a reset that can discard the reply
// before HAProxy reads it; draining first ends the connection with an orderly FIN both ways.
class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(tcp::socket socket, std::string line, std::atomic<int>& open)
      : socket_(std::move(socket)), timer_(socket_.get_executor()), line_(std::move(line)), open_(open) {
    ++open_;
  }
  ~Exchange() { --open_; }

  void start() {
    timer_.expires_after(kConnectionTimeout);
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) self->socket_.close(ec);
    });
    asio::async_write(socket_, asio::buffer(line_),
                      [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                        if (ec) return self->finish();
                        self->socket_.shutdown(tcp::socket::shutdown_send, ec);
                        self->drain();
                      });
  }

 private:
  void drain() {
    socket_.async_read_some(asio::buffer(scratch_), [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
      if (ec) return self->finish();  // EOF: HAProxy has read the line and closed
      self->drain();
    });
  }

  void finish() {
    boost::system::error_code ignored;
    timer_.cancel();
    socket_.close(ignored);
  }

  tcp::socket socket_;
  asio::steady_timer timer_;
  std::string line_;
  std::array<char, 512> scratch_{};
  std::atomic<int>& open_;
};

}  // namespace

struct AgentCheckServer::State {
  explicit State(const Monitor& m) : monitor(m) {}

  void accept() {
    acceptor.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (ec) {  // out of descriptors: try again shortly, the connection waits in the queue
        retry.expires_after(std::chrono::milliseconds(100));
        retry.async_wait([this](boost::system::error_code wait) {
          if (!wait) accept();
        });
        return;
      }
      if (open.load() >= kMaxAgentConnections) {
        socket.close(ec);
      } else {
        const AgentDecision decision =
            decide_agent_state(agent_figures(monitor), monitor.settings().thresholds,
                               monitor.settings().agent_check_capacity);
        std::make_shared<Exchange>(std::move(socket), agent_reply_line(decision), open)->start();
      }
      accept();
    });
  }

  const Monitor& monitor;
  std::atomic<int> open{0};
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  asio::steady_timer retry{io};
  std::thread thread;
};

AgentCheckServer::AgentCheckServer(std::unique_ptr<State> state) : state_(std::move(state)) {}

Result<std::unique_ptr<AgentCheckServer>> AgentCheckServer::start(const std::string& listen, const Monitor& monitor) {
  // The setting was validated as IPV4:PORT (settings.cpp).
  const auto endpoint = endpoint_of(listen);
  if (!endpoint) return fail(Errc::invalid_argument, "--agent-check-listen " + listen + ": not IPV4:PORT");
  auto state = std::make_unique<State>(monitor);
  const boost::system::error_code ec = open_listener(state->acceptor, *endpoint);
  if (!ec) {
    state->accept();
    state->thread = std::thread([&io = state->io] { io.run(); });
    return std::unique_ptr<AgentCheckServer>(new AgentCheckServer(std::move(state)));
  }
  return fail(Errc::system, "cannot listen for agent checks on " + listen + ": " + ec.message());
}

AgentCheckServer::~AgentCheckServer() {
  state_->io.stop();
  state_->thread.join();
}

}  // namespace wsm::exporter
