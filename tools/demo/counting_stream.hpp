// A stream layer that counts the bytes read and written through it: under a
// websocket::stream it sees frames as they go on the wire (headers, control frames, compressed
// payloads), which is what websocket_transferred_bytes_total and the compression ratio need.
// Counting serves monitoring only: CountingStream<Next, false> (the compiled-out server's) keeps
// the layer and counts nothing, so that build does not pay for it.
#pragma once

#include <boost/asio/associated_allocator.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/websocket/teardown.hpp>

#include <cstdint>
#include <utility>

namespace wsm::demo {

struct ByteCounts {
  std::uint64_t read = 0;
  std::uint64_t written = 0;
};

// Adds the transferred bytes to a counter (if Count), then calls the wrapped handler.
template <class Handler, bool Count = true>
struct CountingHandler {
  Handler handler;
  std::uint64_t* counter;
  void operator()(boost::beast::error_code ec, std::size_t n) {
    if constexpr (Count) *counter += n;
    std::move(handler)(ec, n);
  }
};

template <class NextLayer, bool Count = true>
class CountingStream {
 public:
  using executor_type = typename NextLayer::executor_type;
  using next_layer_type = NextLayer;

  template <class... Args>
  explicit CountingStream(Args&&... args) : next_(std::forward<Args>(args)...) {}

  [[nodiscard]] executor_type get_executor() noexcept { return next_.get_executor(); }
  [[nodiscard]] NextLayer& next_layer() noexcept { return next_; }
  [[nodiscard]] const NextLayer& next_layer() const noexcept { return next_; }
  [[nodiscard]] const ByteCounts& counts() const noexcept { return counts_; }

  template <class MutableBuffers, class Handler>
  auto async_read_some(const MutableBuffers& buffers, Handler&& handler) {
    return next_.async_read_some(
        buffers, CountingHandler<std::decay_t<Handler>, Count>{std::forward<Handler>(handler), &counts_.read});
  }
  template <class ConstBuffers, class Handler>
  auto async_write_some(const ConstBuffers& buffers, Handler&& handler) {
    return next_.async_write_some(
        buffers, CountingHandler<std::decay_t<Handler>, Count>{std::forward<Handler>(handler), &counts_.written});
  }

 private:
  NextLayer next_;
  ByteCounts counts_;
};

// websocket::stream closes its transport through these (found by argument-dependent lookup).
template <class NextLayer, bool Count>
void teardown(boost::beast::role_type role, CountingStream<NextLayer, Count>& stream, boost::beast::error_code& ec) {
  using boost::beast::websocket::teardown;
  teardown(role, stream.next_layer(), ec);
}
template <class NextLayer, bool Count, class Handler>
void async_teardown(boost::beast::role_type role, CountingStream<NextLayer, Count>& stream, Handler&& handler) {
  using boost::beast::websocket::async_teardown;
  async_teardown(role, stream.next_layer(), std::forward<Handler>(handler));
}

}  // namespace wsm::demo

// The wrapped handler keeps the executor and allocator of the handler it wraps, so Beast's
// composed operations continue where they would have without the counting layer.
template <class Handler, bool Count, class Executor>
struct boost::asio::associated_executor<wsm::demo::CountingHandler<Handler, Count>, Executor> {
  using type = boost::asio::associated_executor_t<Handler, Executor>;
  static type get(const wsm::demo::CountingHandler<Handler, Count>& h, const Executor& e = Executor()) noexcept {
    return boost::asio::get_associated_executor(h.handler, e);
  }
};
template <class Handler, bool Count, class Allocator>
struct boost::asio::associated_allocator<wsm::demo::CountingHandler<Handler, Count>, Allocator> {
  using type = boost::asio::associated_allocator_t<Handler, Allocator>;
  static type get(const wsm::demo::CountingHandler<Handler, Count>& h, const Allocator& a = Allocator()) noexcept {
    return boost::asio::get_associated_allocator(h.handler, a);
  }
};
