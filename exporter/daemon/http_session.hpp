// One client connection of the exporter's HTTP server (http_server.cpp), plain or TLS: read a
// request, have a worker thread answer it (http_exchange.hpp), write the answer, wait for the next.
// Everything here runs on the one I/O thread except answer(), so an idle or slow connection costs a
// socket and a few hundred bytes, never a thread.
//
// Time limits, per connection:
// - a request (request line and headers) must arrive whole within `request_timeout` of its first
//   byte, or of the accept for the first request: a slowloris client is cut off then;
// - between requests a kept-alive connection may stay idle for kKeepAliveIdle. A collector reuses
//   its connection scrape after scrape; if the server closed it first, the next scrape would race
//   the close and fail (civetweb's 500 ms made VictoriaMetrics fail 33 of 36 1 s scrapes). So the
//   idle limit is longer than the idle pools of the usual collectors (Prometheus: 5 min): they
//   close first.
#pragma once

#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "http_exchange.hpp"

namespace wsm::exporter {

inline constexpr std::chrono::minutes kKeepAliveIdle{10};
inline constexpr std::chrono::seconds kLinger{2};

// What every session shares: the worker pool and what answer() needs.
struct SessionContext {
  Monitor& monitor;
  BasicAuth& auth;
  boost::asio::thread_pool& workers;
  std::chrono::seconds request_timeout;
  std::atomic<int>& open_connections;  // counted for the connection cap
};

template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, boost::beast::tcp_stream>;

  template <class... Args>
  explicit Session(SessionContext& context, Args&&... stream_args)
      : context_(context), stream_(std::forward<Args>(stream_args)...) {
    ++context_.open_connections;
  }
  ~Session() { --context_.open_connections; }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void start() {
    lowest().expires_after(context_.request_timeout);
    if constexpr (kTls) {
      stream_.async_handshake(boost::asio::ssl::stream_base::server,
                              [self = this->shared_from_this()](boost::beast::error_code ec) {
                                if (!ec) self->read_request();
                              });
    } else {
      read_request();
    }
  }

 private:
  boost::beast::tcp_stream& lowest() { return boost::beast::get_lowest_layer(stream_); }

  // Between requests: wait up to kKeepAliveIdle for the first byte of the next one (it may be
  // buffered already: a pipelining client).
  void await_next_request() {
    if (buffer_.size() > 0) return read_request();
    lowest().expires_after(kKeepAliveIdle);
    stream_.async_read_some(buffer_.prepare(1024), [self = this->shared_from_this()](boost::beast::error_code ec,
                                                                                     std::size_t n) {
      if (ec) return;  // closed by the client, or idle too long: the socket closes with the session
      self->buffer_.commit(n);
      self->read_request();
    });
  }

  void read_request() {
    parser_.emplace();
    parser_->header_limit(kMaxRequestHeaderBytes);
    parser_->body_limit(kMaxRequestHeaderBytes);  // no route takes a body; a small one is read and ignored
    lowest().expires_after(context_.request_timeout);
    boost::beast::http::async_read(
        stream_, buffer_, *parser_, [self = this->shared_from_this()](boost::beast::error_code ec, std::size_t) {
          self->on_read(ec);
        });
  }

  void on_read(boost::beast::error_code ec) {
    namespace http = boost::beast::http;
    if (ec == http::error::end_of_stream || ec == boost::beast::error::timeout ||
        ec == boost::asio::error::connection_reset || ec == boost::asio::error::eof ||
        ec == boost::asio::ssl::error::stream_truncated) {
      // The client left, or sent nothing whole in time: there is nobody to answer usefully, and a
      // slow client gets nothing it could use to speed up (the old civetweb did the same).
      return;
    }
    if (ec == http::error::header_limit) return write(refusal(400, "Bad Request: request headers too large"));
    if (ec == http::error::body_limit) return write(refusal(413, "Content Too Large"));
    if (ec == http::error::bad_version) {
      // HTTP/0.9 ("GET /path" and no version) has no status line or headers, so no way to say
      // 401, 503 or gzip: refused in HTTP/1.1 words, as Go's net/http (node_exporter) does.
      return write(refusal(400, "Bad Request: HTTP/1.0 or HTTP/1.1 only"));
    }
    if (ec) return write(refusal(400, "Bad Request: " + ec.message()));
    request_.emplace(parser_->release());
    // The answer may take a scrape's time (or wait for a password hash): a worker computes it and
    // hands it back to this connection on the I/O thread.
    boost::asio::post(context_.workers, [self = this->shared_from_this()] {
      WireResponse response;
      try {
        // Leased for this answer only (answer() moves the body out of them), reused by the next.
        const auto buffers = self->context_.monitor.buffer_pool().lease();
        response = answer(*self->request_, self->context_.monitor, self->context_.auth, *buffers);
      } catch (const std::exception& e) {  // e.g. out of memory in a scrape: that request fails, not the exporter
        response = refusal(500, std::string("Internal Server Error: ") + e.what());
      }
      boost::asio::post(self->stream_.get_executor(), [self, response = std::move(response)]() mutable {
        self->write(std::move(response));
      });
    });
  }

  void write(WireResponse response) {
    response_.emplace(std::move(response));
    lowest().expires_after(context_.request_timeout);  // a client that never reads is dropped too
    // Beast writes the header and the body in one gather write (and the socket has TCP_NODELAY),
    // so a small answer leaves in one segment, not a header waiting for a delayed ACK.
    boost::beast::http::async_write(stream_, *response_, [self = this->shared_from_this()](boost::beast::error_code ec,
                                                                                          std::size_t) {
      if (ec) return;
      if (!self->response_->keep_alive()) return self->close();
      self->response_.reset();
      self->request_.reset();
      self->await_next_request();
    });
  }

  void close() {
    if constexpr (kTls) {
      lowest().expires_after(context_.request_timeout);
      stream_.async_shutdown([self = this->shared_from_this()](boost::beast::error_code) {});
    } else {
      boost::beast::error_code ignored;
      lowest().socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
      lowest().expires_after(kLinger);
      drain();
    }
  }

  // A lingering close: closing a socket with unread bytes (the rest of an oversized request)
  // sends a reset, which can destroy the answer before the client reads it. So read and discard
  // until the client closes or kLinger passes.
  void drain() {
    buffer_.clear();
    stream_.async_read_some(buffer_.prepare(1024), [self = this->shared_from_this()](boost::beast::error_code ec,
                                                                                     std::size_t) {
      if (!ec) self->drain();
    });
  }

  SessionContext& context_;
  Stream stream_;
  boost::beast::flat_buffer buffer_{kMaxRequestHeaderBytes * 2};
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  std::optional<WireRequest> request_;
  std::optional<WireResponse> response_;
};

}  // namespace wsm::exporter
