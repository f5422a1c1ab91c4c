#include "session.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <algorithm>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unistd.h>

#include "counting_stream.hpp"
#include "protocol.hpp"
#include "worker.hpp"
#include "wsm/latency_clock.hpp"

namespace wsm::demo {

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;
using ws::BackpressureType;
using ws::Compression;
using ws::ConnectionStatus;
using ws::Direction;
using ws::DisconnectReason;
using ws::ProcessingStage;
using ws::Severity;
using ws::StaleType;
using ws::TargetType;

// The clock is read only for the latency histograms, so it is part of what monitoring costs: the
// compiled-out build (wsm-demo-server-compiled-out) does not read it. A message reads it three
// times plus once per write; where two stages meet they share a read. LatencyClock reads the TSC
// where the kernel does (main() reads it once before forking, so no message pays its calibration).
[[gnu::always_inline]] inline std::uint64_t now_ns() {
  if constexpr (!kRecording) return 0;
  return static_cast<std::uint64_t>(LatencyClock::now().time_since_epoch().count());
}
std::chrono::nanoseconds between(std::uint64_t start_ns, std::uint64_t end_ns) {
  return std::chrono::nanoseconds(end_ns - start_ns);
}

// The client offered permessage-deflate; Beast accepts any well-formed offer when enabled.
bool offers_deflate(const http::request<http::string_body>& request) {
  const auto ext = request[http::field::sec_websocket_extensions];
  return ext.find("permessage-deflate") != beast::string_view::npos;
}

class Session final : public std::enable_shared_from_this<Session>, public Peer {
 public:
  Session(tcp::socket socket, Worker& worker)
      : worker_(worker),
        metrics_(worker.metrics()),
        local_(worker.local_metrics()),
        ws_(std::move(socket)),
        wire_(ws_.next_layer().counts()),
        heartbeat_(worker.io()) {}

  ~Session() override {
    finish(reason_.value_or(worker_.stopping() ? DisconnectReason::server_shutdown
                                               : DisconnectReason::network_error));
    if (!queue_.empty()) {  // a write that never completed (its handler dropped at shutdown)
      worker_.queue_changed(role_, -static_cast<std::ptrdiff_t>(queue_.size()));
      worker_.publish_queue(role_);
    }
    worker_.detach(*this);
  }

  void start() {
    worker_.attach(*this);
    beast::get_lowest_layer(ws_).expires_after(10s);
    http::async_read(ws_.next_layer(), buffer_, request_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_request(ec); });
  }

  // ---- Peer ----
  [[nodiscard]] Role role() const noexcept override { return role_; }

  bool deliver(Outgoing message) override {
    if (!upgraded_ || finished_ || closing_) return false;
    const std::size_t limit = worker_.options().queue_limit;
    // Replies answer the client's own requests and are never dropped, up to a hard bound that
    // only a client sending without reading reaches: it is closed as a slow consumer.
    const bool reply = message.target == TargetType::direct;
    if ((!reply && queue_.size() >= limit) || queue_.size() >= 4 * limit) {
      metrics_.failure(message.type, ws::FailureReason::queue_full, role_);
      metrics_.backpressure(BackpressureType::queue_full, Severity::critical, role_);
      dropped_since_tick_ = true;
      if (reply) abort(DisconnectReason::slow_consumer);
      return false;
    }
    queue_.push_back(std::move(message));
    worker_.queue_changed(role_, 1);
    if (!above_watermark_ && queue_.size() * 4 >= limit * 3) {
      above_watermark_ = true;
      metrics_.backpressure(BackpressureType::queue_high_watermark, Severity::warning, role_);
    }
    if (!writing_) write_next();
    return true;
  }

  void shutdown() override {
    if (finished_ || closing_) return;
    closing_ = true;
    reason_ = DisconnectReason::server_shutdown;
    if (!upgraded_) {
      beast::get_lowest_layer(ws_).close();
      return;
    }
    // The pending read completes once the client answers the close frame.
    ws_.async_close(websocket::close_code::going_away, [self = shared_from_this()](beast::error_code) {});
  }

  void terminate() override { abort(DisconnectReason::server_shutdown); }

  // Wire bytes since the last report (frames, control frames, after compression): at the worker's
  // tick and at the connection's end, not per message. CountingStream keeps the exact counts; this
  // only publishes them, so websocket_transferred_bytes_total (and the connection record's bytes)
  // trail the wire by at most a tick and are exact once the connection has ended.
  void report_bytes() noexcept override {
    if (!upgraded_) return;
    const ByteCounts now = wire_;
    if (now.read > reported_.read) metrics_.bytes_transferred(conn_, Direction::in, now.read - reported_.read);
    if (now.written > reported_.written) {
      metrics_.bytes_transferred(conn_, Direction::out, now.written - reported_.written);
    }
    reported_ = now;
  }

  [[nodiscard]] BufferLevels levels() const noexcept override {
    const auto& o = worker_.options();
    BufferLevels l;
    l.send_queue = 100.0 * static_cast<double>(queue_.size()) / static_cast<double>(o.queue_limit);
    l.read_buffer = 100.0 * static_cast<double>(read_peak_) / static_cast<double>(o.max_message_bytes);
    read_peak_ = 0;  // the peak since the last look
    return l;
  }

 private:
  // ---- HTTP ----
  void on_request(beast::error_code ec) {
    if (ec) return;  // gone before asking anything: not a connection attempt
    if (!websocket::is_upgrade(request_)) {
      if (request_.target() == "/healthz") {
        reply_http(http::status::ok, "{\"status\":\"ok\",\"worker\":" + std::to_string(::getpid()) +
                                         ",\"connections\":" + std::to_string(worker_.hub().peers().size()) + "}\n");
      } else {
        reply_http(http::status::not_found, "{\"error\":\"WebSocket endpoint is /ws, health is /healthz\"}\n");
      }
      return;
    }
    const beast::string_view target = request_.target();
    const ConnectRequest connect = parse_connect_target(std::string_view(target.data(), target.size()));
    role_ = connect.role.value_or(Role::unknown);
    if (!connect.problem.empty() || worker_.stopping()) {
      metrics_.connection_failed(role_, ConnectionStatus::rejected);
      const std::string why = connect.problem.empty() ? "the server is stopping" : connect.problem;
      reply_http(connect.problem.empty() ? http::status::service_unavailable : http::status::bad_request,
                 "{\"error\":\"" + why + "\"}\n");
      return;
    }
    user_ = connect.user;
    patient_ = connect.patient;
    const beast::string_view traceparent = request_["traceparent"];
    trace_ = Exemplar::from_traceparent(std::string_view(traceparent.data(), traceparent.size()));
    attempt_ = connect.attempt;
    const auto& o = worker_.options();
    compression_ = o.deflate && offers_deflate(request_) ? Compression::deflate : Compression::none;
    beast::get_lowest_layer(ws_).expires_never();  // the WebSocket layer times out on its own
    ws_.set_option(websocket::stream_base::timeout{5s, websocket::stream_base::none(), false});
    websocket::permessage_deflate pmd;
    pmd.server_enable = o.deflate;
    ws_.set_option(pmd);
    ws_.read_message_max(o.max_message_bytes);
    ws_.auto_fragment(false);  // one frame per message: its wire size is what one write moved
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "wsm-demo-server"); }));
    ws_.async_accept(request_, [self = shared_from_this()](beast::error_code e) { self->on_accept(e); });
  }

  void reply_http(http::status status, std::string body) {
    auto res = std::make_shared<http::response<http::string_body>>(status, request_.version());
    res->set(http::field::content_type, "application/json");
    res->set(http::field::server, "wsm-demo-server");
    res->keep_alive(false);
    res->body() = std::move(body);
    res->prepare_payload();
    http::async_write(ws_.next_layer(), *res, [self = shared_from_this(), res](beast::error_code, std::size_t) {
      beast::error_code ignored;
      beast::get_lowest_layer(self->ws_).socket().shutdown(tcp::socket::shutdown_send, ignored);
    });
  }

  // ---- WebSocket ----
  void on_accept(beast::error_code ec) {
    if (ec) {
      metrics_.connection_failed(role_, ConnectionStatus::failed);
      return;
    }
    conn_ = metrics_.connection_opened(role_, user_, patient_, compression_);
    if (attempt_ > 0) metrics_.reconnection_attempt(role_, attempt_);
    upgraded_ = true;
    reported_ = wire_;  // the handshake was HTTP, not WebSocket traffic
    buffer_.consume(buffer_.size());
    worker_.hub().add(*this);
    ws_.control_callback([this](websocket::frame_type kind, beast::string_view) {
      if (kind == websocket::frame_type::pong) on_pong();
    });
    schedule_heartbeat();
    read();
  }

  void read() {
    ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    const std::uint64_t read_ns = now_ns();
    if (ec) {
      finish(reason_for(ec));
      return;
    }
    auto text = std::make_shared<const std::string>(beast::buffers_to_string(buffer_.data()));
    if constexpr (kRecording) read_peak_ = std::max(read_peak_, text->size());
    buffer_.consume(buffer_.size());
    handle(text, ws_.got_text(), read_ns);
    if (!finished_) read();
  }

  DisconnectReason reason_for(const beast::error_code& ec) {
    if (reason_) return *reason_;
    if (ec == websocket::error::closed) return DisconnectReason::client_close;
    if (ec == websocket::error::message_too_big || ec == websocket::error::buffer_overflow) {
      metrics_.failure(ws::MessageType::unknown, ws::FailureReason::too_large, role_);
      return DisconnectReason::protocol_error;
    }
    if (ec == websocket::condition::protocol_violation) return DisconnectReason::protocol_error;
    if (worker_.stopping()) return DisconnectReason::server_shutdown;
    return DisconnectReason::network_error;
  }

  // One client message: count it, check it, route it, answer it. Three clock reads: read_ns (the
  // frame read), parsed_ns (parse done, routing starts: also when a published message is queued
  // for its subscribers, which routing does at once) and routed_ns (routing done: the end of the
  // route stage and of the broadcast, and when the reply is queued).
  void handle(const std::shared_ptr<const std::string>& text, bool is_text, std::uint64_t read_ns) {
    Inbound in = parse_inbound(*text, is_text);
    local_.message_received(conn_, in.type, text->size());
    const std::uint64_t parsed_ns = now_ns();
    const MessageTrace trace = trace_of(in, parsed_ns);
    in.envelope = nullptr;  // nothing reads the parsed message any more: freed before routing
    latency(in.type, ProcessingStage::parse, read_ns, parsed_ns, trace.parse, trace.exemplar);
    if (in.failure) {
      refuse(in, *in.failure, in.detail);
      return;
    }
    Hub& hub = worker_.hub();
    switch (in.type) {
      case ws::MessageType::ecg_data:
      case ws::MessageType::vitals:
      case ws::MessageType::alert: {
        if (role_ != Role::patient_monitor || in.patient != patient_) {
          refuse(in, ws::FailureReason::unauthorized, "only the patient's own monitor publishes for it");
          return;
        }
        const std::size_t n = hub.publish(*this, in.patient, in.type, text, parsed_ns);
        const std::uint64_t routed_ns = now_ns();
        latency(in.type, ProcessingStage::route, parsed_ns, routed_ns, trace.route, trace.exemplar);
        local_.broadcast(TargetType::subscribers,
                         in.type == ws::MessageType::alert ? ws::BroadcastType::alert : ws::BroadcastType::telemetry,
                         n, between(read_ns, routed_ns));
        reply(ack_message(in.seq, n), ws::MessageType::ack, routed_ns);
        return;
      }
      case ws::MessageType::subscribe:
      case ws::MessageType::unsubscribe: {
        const auto refused = in.type == ws::MessageType::subscribe ? hub.subscribe(*this, in.patient, in.streams)
                                                                   : hub.unsubscribe(*this, in.patient, in.streams);
        const std::uint64_t routed_ns = now_ns();
        latency(in.type, ProcessingStage::route, parsed_ns, routed_ns, trace.route, trace.exemplar);
        if (refused) {
          reply(error_message(in.seq, ws::label_value(*refused), "subscription refused"), ws::MessageType::error,
                routed_ns);
        } else {
          reply(ack_message(in.seq, 0), ws::MessageType::ack, routed_ns);
        }
        return;
      }
      case ws::MessageType::announcement: {
        if (role_ != Role::admin) {
          refuse(in, ws::FailureReason::unauthorized, "only admins announce");
          return;
        }
        const std::size_t n = hub.announce(*this, text, parsed_ns);
        const std::uint64_t routed_ns = now_ns();
        latency(in.type, ProcessingStage::route, parsed_ns, routed_ns, trace.route, trace.exemplar);
        local_.broadcast(TargetType::all, ws::BroadcastType::announcement, n, between(read_ns, routed_ns));
        reply(ack_message(in.seq, n), ws::MessageType::ack, routed_ns);
        return;
      }
      default:
        refuse(in, ws::FailureReason::unknown_type, "not a client message type");
    }
  }

  // Which latency stages of a message carry its trace as exemplar: those the worker's pacer gives
  // one now (exemplar_pacer.hpp: the first message of each second per series). The trace is the
  // envelope's traceparent, else the connection's (its upgrade request's), else none; it is looked
  // up and parsed only when a stage takes it.
  struct MessageTrace {
    bool parse = false, route = false;
    std::optional<Exemplar> exemplar;
  };
  MessageTrace trace_of(const Inbound& in, std::uint64_t now_ns) {
    MessageTrace t;
    if constexpr (!kRecording) return t;
    ExemplarPacer& pacer = worker_.exemplars();
    t.parse = pacer.take(in.type, ProcessingStage::parse, now_ns);
    t.route = !in.failure && pacer.take(in.type, ProcessingStage::route, now_ns);
    if (t.parse || t.route) [[unlikely]] t.exemplar = exemplar_of(in);
    return t;
  }
  [[gnu::noinline]] std::optional<Exemplar> exemplar_of(const Inbound& in) const {
    const std::optional<Exemplar> own = Exemplar::from_traceparent(traceparent_of(in));
    return own ? own : trace_;
  }

  // A stage's latency, from start_ns to end_ns, with the exemplar if `traced` (out of line: rare).
  [[gnu::always_inline]] void latency(ws::MessageType type, ProcessingStage stage, std::uint64_t start_ns,
                                      std::uint64_t end_ns, bool traced, const std::optional<Exemplar>& exemplar) {
    if constexpr (!kRecording) return;
    if (traced) [[unlikely]] {
      traced_latency(type, stage, between(start_ns, end_ns), exemplar);
    } else {
      local_.latency(type, stage, between(start_ns, end_ns));
    }
  }
  [[gnu::noinline]] void traced_latency(ws::MessageType type, ProcessingStage stage, std::chrono::nanoseconds d,
                                        const std::optional<Exemplar>& exemplar) {
    if (exemplar) {
      metrics_.latency(type, stage, d, *exemplar);
    } else {
      metrics_.latency(type, stage, d);
    }
  }

  void refuse(const Inbound& in, ws::FailureReason reason, std::string_view detail) {
    metrics_.failure(in.type, reason, role_);
    reply(error_message(in.seq, ws::label_value(reason), detail), ws::MessageType::error);
  }

  void reply(std::string text, ws::MessageType type, std::uint64_t queued_ns = now_ns()) {
    deliver({std::make_shared<const std::string>(std::move(text)), type, priority_of(type),
             TargetType::direct, queued_ns});
  }

  void write_next() {
    if (queue_.empty() || finished_ || closing_) {
      writing_ = false;
      return;
    }
    writing_ = true;
    write_mark_ = wire_.written;
    ws_.text(true);
    ws_.async_write(net::buffer(*queue_.front().text),
                    [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_write(ec); });
  }

  void on_write(beast::error_code ec) {
    writing_ = false;
    if (queue_.empty()) return;
    if (ec) {
      metrics_.failure(queue_.front().type, ws::FailureReason::write_error, role_);
    } else {
      count_sent(queue_.front());
    }
    queue_.pop_front();
    worker_.queue_changed(role_, -1);
    if (finished_) worker_.publish_queue(role_);  // the last write of a finished connection
    if (above_watermark_ && queue_.size() * 2 < worker_.options().queue_limit) above_watermark_ = false;
    if (!ec) write_next();  // else the pending read fails too and ends the session
  }

  // A message written whole: read where it lies in the queue (no copy of it for monitoring).
  void count_sent(const Outgoing& sent) noexcept {
    local_.message_sent(conn_, sent.type, sent.priority, sent.target, sent.text->size());
    local_.latency(sent.type, ProcessingStage::send, between(sent.queued_ns, now_ns()));
    if (compression_ == Compression::deflate) {
      local_.compression(sent.type, sent.text->size(), wire_.written - write_mark_);
    }
  }

  // ---- heartbeats and health ----
  void schedule_heartbeat() {
    heartbeat_.expires_after(worker_.options().heartbeat);
    heartbeat_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->on_heartbeat();
    });
  }

  void on_heartbeat() {
    if (finished_ || closing_) return;
    if (awaiting_pong_) {
      ++missed_;
      metrics_.stale_connection(StaleType::missed_heartbeat, role_);
      if (missed_ >= worker_.options().max_missed_heartbeats) {
        metrics_.stale_connection(StaleType::heartbeat_timeout, role_);
        abort(DisconnectReason::heartbeat_timeout);
        return;
      }
    }
    if (!ping_in_flight_) {
      ping_in_flight_ = true;
      awaiting_pong_ = true;
      ws_.async_ping({}, [self = shared_from_this()](beast::error_code) { self->ping_in_flight_ = false; });
      metrics_.heartbeat_sent(conn_);
    }
    score_health();
    schedule_heartbeat();
  }

  void on_pong() {
    if (!awaiting_pong_) return;  // unsolicited
    awaiting_pong_ = false;
    missed_ = 0;
    metrics_.heartbeat_acked(conn_);
  }

  // 100 for a connection that answers pings, keeps its queue short and loses nothing.
  void score_health() {
    const double queue_percent =
        100.0 * static_cast<double>(queue_.size()) / static_cast<double>(worker_.options().queue_limit);
    double score = 100.0 - 25.0 * missed_ - 0.4 * std::min(queue_percent, 100.0) - (dropped_since_tick_ ? 10.0 : 0.0);
    metrics_.health(conn_, std::clamp(score, 0.0, 100.0));
    dropped_since_tick_ = false;
  }

  // Ends the connection without a close handshake; the pending read then finishes it.
  void abort(DisconnectReason reason) {
    if (!reason_) reason_ = reason;
    beast::get_lowest_layer(ws_).close();
  }

  void finish(DisconnectReason reason) {
    if (finished_) return;
    finished_ = true;
    heartbeat_.cancel();
    if (!upgraded_) return;
    report_bytes();
    // The message being written stays queued: its completion still counts it.
    const std::size_t pending = queue_.size() - (writing_ && !queue_.empty() ? 1 : 0);
    queue_.resize(queue_.size() - pending);
    worker_.queue_changed(role_, -static_cast<std::ptrdiff_t>(pending));
    worker_.publish_queue(role_);  // a connection's end shows at once, not at the next tick
    worker_.hub().remove(*this);
    metrics_.connection_closed(conn_, reason);
  }

  Worker& worker_;
  ws::Metrics& metrics_;
  ws::LocalMetrics& local_;  // the per-message calls (the worker has one thread)
  websocket::stream<CountingStream<beast::tcp_stream, kRecording>> ws_;
  // The wire bytes CountingStream counts, where they lie (inside ws_, for its whole life).
  const ByteCounts& wire_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;  // the upgrade request outlives async_accept
  net::steady_timer heartbeat_;
  ws::Connection conn_;
  Role role_ = Role::unknown;
  std::string user_, patient_;
  unsigned attempt_ = 0;
  Compression compression_ = Compression::none;
  std::deque<Outgoing> queue_;
  ByteCounts reported_;
  std::uint64_t write_mark_ = 0;
  mutable std::size_t read_peak_ = 0;
  std::optional<DisconnectReason> reason_;  // set when the server ends the connection
  std::optional<Exemplar> trace_;           // the upgrade request's W3C traceparent, if any
  unsigned missed_ = 0;
  bool upgraded_ = false, writing_ = false, closing_ = false, finished_ = false;
  bool ping_in_flight_ = false, awaiting_pong_ = false;
  bool above_watermark_ = false, dropped_since_tick_ = false;
};

}  // namespace

void start_session(tcp::socket socket, Worker& worker) {
  std::make_shared<Session>(std::move(socket), worker)->start();
}

}  // namespace wsm::demo
