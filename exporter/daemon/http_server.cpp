#include "http_server.hpp"

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdio>
#include <optional>
#include <sys/resource.h>
#include <thread>

#include "http_session.hpp"
#include "listener.hpp"

namespace wsm::exporter {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// Each connection is a descriptor: the usual soft limit (1024) would be reached before the
// connection cap, and accept() would fail for everyone. Raised to the hard limit, as Go's runtime
// does for node_exporter.
void raise_open_file_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  limit.rlim_cur = limit.rlim_max;
  (void)::setrlimit(RLIMIT_NOFILE, &limit);
}

Result<std::unique_ptr<asio::ssl::context>> tls_context(const WebConfig& web) {
  auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                   asio::ssl::context::no_tlsv1_1);  // TLS 1.2 and newer
  boost::system::error_code ec;
  ctx->use_certificate_chain_file(web.cert_file, ec);  // the leaf, then any chain
  if (ec) return fail(Errc::invalid_argument, "--web-config: cannot use cert_file '" + web.cert_file + "': " + ec.message());
  ctx->use_private_key_file(web.key_file, asio::ssl::context::pem, ec);
  if (ec) return fail(Errc::invalid_argument, "--web-config: cannot use key_file '" + web.key_file + "': " + ec.message());
  return ctx;
}

}  // namespace

// Declaration order is destruction order backwards: the I/O context (whose queued handlers own
// the last sessions) goes before what sessions point to (context, auth, counter, TLS context).
struct HttpServer::State {
  State(Monitor& monitor, const WebConfig& web, int timeout_seconds)
      : auth(web.users), context{monitor, auth, workers, std::chrono::seconds(timeout_seconds), open} {}

  void accept() {
    acceptor.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (ec) {
        // Out of descriptors (EMFILE) or memory: say so once, try again shortly (the pending
        // connection stays in the listen queue until then).
        if (!accept_error_logged) std::fprintf(stderr, "wsm-exporter: http: accept: %s\n", ec.message().c_str());
        accept_error_logged = true;
        retry.expires_after(std::chrono::milliseconds(100));
        retry.async_wait([this](boost::system::error_code wait) {
          if (!wait) accept();
        });
        return;
      }
      accept_error_logged = false;
      if (open.load() >= kMaxConnections) {
        if (!cap_logged) std::fprintf(stderr, "wsm-exporter: http: %d connections open, closing new ones\n", kMaxConnections);
        cap_logged = true;
        socket.close(ec);
      } else {
        cap_logged = false;
        socket.set_option(tcp::no_delay(true), ec);
        if (tls) {
          std::make_shared<Session<boost::beast::ssl_stream<boost::beast::tcp_stream>>>(context, std::move(socket), *tls)
              ->start();
        } else {
          std::make_shared<Session<boost::beast::tcp_stream>>(context, std::move(socket))->start();
        }
      }
      accept();
    });
  }

  std::unique_ptr<asio::ssl::context> tls;
  BasicAuth auth;
  std::atomic<int> open{0};
  asio::thread_pool workers{kWorkerThreads};
  SessionContext context;
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  asio::steady_timer retry{io};
  bool cap_logged = false, accept_error_logged = false;  // log a state once, not per connection
  std::thread io_thread;
};

HttpServer::HttpServer(std::unique_ptr<State> state) : state_(std::move(state)) {}

Result<std::unique_ptr<HttpServer>> HttpServer::start(const HttpOptions& options, Monitor& monitor) {
  const auto endpoint = endpoint_of(options.listen);
  if (!endpoint) return fail(Errc::invalid_argument, "cannot listen on " + options.listen + ": not IPV4:PORT");
  auto state = std::make_unique<State>(monitor, options.web, options.timeout_seconds);
  if (options.web.tls()) {
    auto ctx = tls_context(options.web);
    if (!ctx) return std::unexpected(ctx.error());
    state->tls = std::move(*ctx);
  }
  raise_open_file_limit();
  const boost::system::error_code ec = open_listener(state->acceptor, *endpoint);
  if (!ec) {
    state->accept();
    state->io_thread = std::thread([&io = state->io] { io.run(); });
    return std::unique_ptr<HttpServer>(new HttpServer(std::move(state)));
  }
  return fail(Errc::system, "cannot listen on " + options.listen + (options.web.tls() ? " with TLS" : "") + ": " +
                                ec.message());
}

HttpServer::~HttpServer() {
  // Stop the sockets first, then let the workers finish the answers they compute (the monitor
  // they read outlives the server); their replies land in the stopped context and are dropped.
  state_->io.stop();
  state_->io_thread.join();
  state_->workers.join();
}

}  // namespace wsm::exporter
