#include "run.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <memory>
#include <optional>
#include <utility>

#include "trace_ids.hpp"

namespace wsm::loadgen {

namespace {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using ws::Role;

std::int64_t mono_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}
double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

enum class Phase { connecting, publishing, draining, closing, done };

// Where a client is; barriers compare these. failed is terminal and passes every barrier.
enum class Stage { connecting, subscribing, ready, publishing, published, unsubscribing, drained, closing, closed, failed };

class Run;

// A message to write, with what the summary needs once it is written.
struct Pending {
  std::string text;
  std::string kind;        // sent_by_type key
  bool expects_reply = false;
  bool publish = false;
};

class Client : public std::enable_shared_from_this<Client> {
 public:
  Client(Run& run, unsigned index, Role role, std::string user, std::string patient)
      : run_(run), index_(index), role_(role), user_(std::move(user)), patient_(std::move(patient)) {}

  void connect();
  void start_publishing();
  void start_draining();
  void close();
  void abort();
  void pump();  // monitors: publish what the rate, the window and the quota allow
  // --churn-every: a subscriber that is ready closes cleanly and reconnects, declaring attempt 1.
  void leave_and_return();
  // --stall-clients: 3 s after each connection this subscriber stops reading for --stall-for
  // (its pings go unanswered, the server's queue for it fills), then reads as long, and so on.
  void make_staller() { staller_ = true; }
  [[nodiscard]] bool staller() const noexcept { return staller_; }

  [[nodiscard]] Stage stage() const noexcept { return stage_; }
  [[nodiscard]] Role role() const noexcept { return role_; }
  [[nodiscard]] bool monitor() const noexcept { return role_ == Role::patient_monitor; }
  void set_quota(std::optional<std::uint64_t> q) { quota_ = q; }

 private:
  void on_connect(std::uint64_t gen, beast::error_code ec);
  void on_handshake(std::uint64_t gen, beast::error_code ec);
  void read(std::uint64_t gen);
  void on_read(std::uint64_t gen, beast::error_code ec);
  void on_lost(std::uint64_t gen, const char* what, beast::error_code ec);
  void press(std::uint64_t gen);
  void resume(std::uint64_t gen);  // ends a stall: reads again; the first read tells if it was closed
  // Stops reading (begin) or reads again after `after` (default: --stall-for), then arms the other.
  void arm_stall(std::uint64_t gen, bool begin, std::optional<Clock::duration> after = std::nullopt);
  void send(Pending p);
  void write_next();
  void catch_up();
  void subscription(bool subscribe);
  void set_stage(Stage s);
  std::string publish_message(std::uint64_t n);
  websocket::stream<beast::tcp_stream>& ws() { return *ws_; }

  Run& run_;
  unsigned index_;
  Role role_;
  std::string user_, patient_;
  Stage stage_ = Stage::connecting;
  std::optional<websocket::stream<beast::tcp_stream>> ws_;
  std::uint64_t generation_ = 0;  // bumped per connection: handlers of an old one are ignored
  beast::flat_buffer buffer_;
  websocket::response_type handshake_response_;
  std::deque<Pending> outbox_;
  bool writing_ = false;
  // Requests awaiting their reply, in order: the server answers each one exactly once, in order.
  struct Inflight {
    Clock::time_point sent;
    bool publish;
  };
  std::deque<Inflight> inflight_;
  unsigned attempt_ = 0;    // unexpected drops since the last successful handshake
  unsigned declared_ = 0;   // the attempt number this connection's handshake declared
  bool leaving_ = false;    // closing to come back (--churn-every): the read's error is expected
  bool rejoining_ = false;  // the next handshake declares a reconnection after leaving
  bool staller_ = false;
  bool stalled_ = false;    // not reading now
  bool resuming_ = false;   // reading again after a stall; the first read tells if the server closed
  bool read_pending_ = false;
  std::optional<net::steady_timer> timer_;  // pacing and reconnect backoff
  std::optional<net::steady_timer> stall_timer_;
  std::optional<std::uint64_t> quota_;      // publishes left for this monitor (nullopt: until stopped)
  std::uint64_t published_ = 0;
  Clock::time_point next_send_{};
  std::uint64_t seq_ = 0;
};

class Run {
 public:
  Run(const Options& options, const std::vector<Role>& roles)
      : options_(options), signals_(io_, SIGINT, SIGTERM), deadline_(io_), stop_timer_(io_), churn_timer_(io_) {
    summary_.clients = roles.size();
    unsigned monitors = 0, others = 0;
    for (Role r : roles) (r == Role::patient_monitor ? monitors : others)++;
    monitors_ = monitors;
    unsigned m = 0, k = 0;
    for (std::size_t i = 0; i < roles.size(); ++i) {
      const Role r = roles[i];
      std::string user, patient;
      if (r == Role::patient_monitor) {
        ++m;
        user = "monitor-" + std::to_string(m);
        patient = "p" + std::to_string(m);
      } else {
        ++k;
        user = std::string(ws::label_value(r)) + "-" + std::to_string(k);
        patient = "p" + std::to_string(monitors == 0 ? 1 : (k - 1) % monitors + 1);
      }
      clients_.push_back(std::make_shared<Client>(*this, static_cast<unsigned>(i), r, user, patient));
    }
    // Spread the message count over the monitors.
    for (std::size_t i = 0, mi = 0; i < clients_.size(); ++i) {
      if (!clients_[i]->monitor() || !options.messages) continue;
      const std::uint64_t share = *options.messages / monitors + (mi < *options.messages % monitors ? 1 : 0);
      clients_[i]->set_quota(share);
      ++mi;
    }
    if (!options.messages) {
      for (auto& c : clients_) c->set_quota(std::nullopt);
    }
    unsigned stallers = 0;
    for (auto& c : clients_) {
      if (!c->monitor() && stallers < options.stall_clients) {
        c->make_staller();
        ++stallers;
      }
    }
  }

  Summary go() {
    tcp::resolver resolver(io_);
    beast::error_code ec;
    endpoints_ = resolver.resolve(options_.target.host, options_.target.port, ec);
    started_ = Clock::now();
    if (ec) {
      std::fprintf(stderr, "wsm-loadgen: cannot resolve %s: %s\n", options_.target.host.c_str(), ec.message().c_str());
      summary_.connect_failures = clients_.size();
      return summary_;
    }
    signals_.async_wait([this](beast::error_code e, int) { on_signal(e); });
    deadline_.expires_after(options_.timeout);
    deadline_.async_wait([this](beast::error_code e) {
      if (e) return;
      std::fprintf(stderr, "wsm-loadgen: timed out after %lld ms in phase %d\n",
                   static_cast<long long>(options_.timeout.count()), static_cast<int>(phase_));
      summary_.timed_out = true;
      abort_all();
    });
    for (auto& c : clients_) c->connect();
    io_.run();
    summary_.duration_s = std::chrono::duration<double>(Clock::now() - started_).count();
    return summary_;
  }

  // Re-evaluates the barriers after a client changed stage. Moving a phase changes stages, which
  // calls back here: those calls only ask for another pass.
  void update() {
    if (updating_) {
      again_ = true;
      return;
    }
    updating_ = true;
    do {
      again_ = false;
      advance();
    } while (again_);
    updating_ = false;
  }

  void advance() {
    const auto passed = [&](Stage at_least, bool monitors_only) {
      return std::all_of(clients_.begin(), clients_.end(), [&](const auto& c) {
        if (monitors_only && !c->monitor()) return true;
        return c->stage() == Stage::failed || c->stage() >= at_least;
      });
    };
    if (phase_ == Phase::connecting && passed(Stage::ready, false)) {
      phase_ = Phase::publishing;
      if (options_.duration) {
        stop_timer_.expires_after(*options_.duration);
        stop_timer_.async_wait([this](beast::error_code e) {
          if (!e) stop_publishing();
        });
      }
      for (auto& c : clients_) {
        if (c->monitor() && c->stage() == Stage::ready) c->start_publishing();
      }
      if (options_.churn_every.count() > 0) arm_churn();
    }
    if (phase_ == Phase::publishing && passed(Stage::published, true)) {
      phase_ = Phase::draining;
      stop_timer_.cancel();
      for (auto& c : clients_) {
        if (c->stage() != Stage::failed && c->stage() >= Stage::ready) c->start_draining();
      }
    }
    if (phase_ == Phase::draining && passed(Stage::drained, false)) {
      phase_ = Phase::closing;
      for (auto& c : clients_) {
        if (c->stage() != Stage::failed && c->stage() < Stage::closing) c->close();
      }
    }
    if (phase_ == Phase::closing && passed(Stage::closed, false)) finish();
  }

  [[nodiscard]] Phase phase() const noexcept { return phase_; }
  // True from the second call on: a refused upgrade is explained once per run.
  [[nodiscard]] bool refusal_reported() noexcept { return std::exchange(refusal_reported_, true); }
  [[nodiscard]] bool publishing_stopped() const noexcept { return stop_publishing_; }
  [[nodiscard]] bool aborting() const noexcept { return aborting_; }
  [[nodiscard]] const Options& options() const noexcept { return options_; }
  [[nodiscard]] net::io_context& io() noexcept { return io_; }
  [[nodiscard]] TraceIds& traces() noexcept { return traces_; }
  [[nodiscard]] const tcp::resolver::results_type& endpoints() const noexcept { return endpoints_; }
  [[nodiscard]] double per_monitor_interval_s() const noexcept {
    return options_.rate > 0 ? static_cast<double>(std::max(1u, monitors_)) / options_.rate : 0;
  }
  Summary& summary() noexcept { return summary_; }

 private:
  // Every --churn-every, the next subscriber in turn (stallers aside) leaves and comes back.
  void arm_churn() {
    churn_timer_.expires_after(options_.churn_every);
    churn_timer_.async_wait([this](beast::error_code e) {
      if (e || phase_ != Phase::publishing || stop_publishing_) return;
      for (std::size_t k = 0; k < clients_.size(); ++k) {
        auto& c = clients_[(next_churn_ + k) % clients_.size()];
        if (c->monitor() || c->staller() || c->stage() != Stage::ready) continue;
        next_churn_ = (next_churn_ + k + 1) % clients_.size();
        c->leave_and_return();
        break;
      }
      arm_churn();
    });
  }

  void stop_publishing() {
    stop_publishing_ = true;
    for (auto& c : clients_) {
      if (c->monitor() && c->stage() == Stage::publishing) c->pump();
    }
  }

  void on_signal(beast::error_code ec) {
    if (ec) return;
    summary_.interrupted = true;
    if (stop_publishing_ || phase_ != Phase::publishing) {
      abort_all();  // a second signal, or nothing left to drain gracefully
      return;
    }
    stop_publishing();
    signals_.async_wait([this](beast::error_code e, int) { on_signal(e); });
  }

  void abort_all() {
    aborting_ = true;
    for (auto& c : clients_) c->abort();
    finish();
  }

  void finish() {
    phase_ = Phase::done;
    beast::error_code ignored;
    signals_.cancel(ignored);
    deadline_.cancel();
    stop_timer_.cancel();
    churn_timer_.cancel();
  }

  const Options& options_;
  TraceIds traces_;
  net::io_context io_{1};
  net::signal_set signals_;
  net::steady_timer deadline_;
  net::steady_timer stop_timer_;  // --duration
  net::steady_timer churn_timer_;  // --churn-every
  std::size_t next_churn_ = 0;
  tcp::resolver::results_type endpoints_;
  std::vector<std::shared_ptr<Client>> clients_;
  unsigned monitors_ = 0;
  Phase phase_ = Phase::connecting;
  bool stop_publishing_ = false;
  bool aborting_ = false;
  bool updating_ = false, again_ = false;
  bool refusal_reported_ = false;
  Clock::time_point started_;
  Summary summary_;
};

// ---- Client ----

void Client::set_stage(Stage s) {
  stage_ = s;
  run_.update();
}

void Client::connect() {
  ++generation_;
  const std::uint64_t gen = generation_;
  ws_.emplace(run_.io());
  buffer_.clear();
  outbox_.clear();
  writing_ = false;
  stage_ = Stage::connecting;
  beast::get_lowest_layer(ws()).expires_after(std::chrono::seconds(5));
  if (staller_) {
    // A small receive buffer before connecting, so a stall reaches the server's queue in seconds.
    const tcp::endpoint endpoint = *run_.endpoints().begin();
    auto& socket = beast::get_lowest_layer(ws()).socket();
    beast::error_code ec;
    socket.open(endpoint.protocol(), ec);
    if (!ec) socket.set_option(net::socket_base::receive_buffer_size(2048), ec);
    beast::get_lowest_layer(ws()).async_connect(
        endpoint, [self = shared_from_this(), gen](beast::error_code e) { self->on_connect(gen, e); });
    return;
  }
  beast::get_lowest_layer(ws()).async_connect(
      run_.endpoints(), [self = shared_from_this(), gen](beast::error_code ec, const tcp::endpoint&) {
        self->on_connect(gen, ec);
      });
}

void Client::on_connect(std::uint64_t gen, beast::error_code ec) {
  if (gen != generation_) return;
  if (ec) {
    on_lost(gen, "connect", ec);
    return;
  }
  beast::get_lowest_layer(ws()).socket().set_option(tcp::no_delay(true));
  websocket::permessage_deflate pmd;
  pmd.client_enable = run_.options().deflate && !staller_;  // whole frames fill its buffers sooner
  ws().set_option(pmd);
  ws().set_option(websocket::stream_base::decorator(
      [traceparent = run_.traces().next()](websocket::request_type& r) { r.set("traceparent", traceparent); }));
  std::string target = run_.options().target.path + "?role=" + std::string(ws::label_value(role_)) +
                       "&user=" + user_ + "&patient=" + patient_;
  declared_ = rejoining_ ? 1 : attempt_;
  if (declared_ > 0) target += "&attempt=" + std::to_string(declared_);
  const std::string host = run_.options().target.host + ":" + run_.options().target.port;
  ws().async_handshake(handshake_response_, host, target,
                       [self = shared_from_this(), gen](beast::error_code e) { self->on_handshake(gen, e); });
}

void Client::on_handshake(std::uint64_t gen, beast::error_code ec) {
  if (gen != generation_) return;
  if (ec) {
    const unsigned status = handshake_response_.result_int();
    if (status != 0 && !run_.refusal_reported()) {  // once: the server said why (e.g. a wrong path)
      std::fprintf(stderr, "wsm-loadgen: the server refused the upgrade of %s: HTTP %u %s\n",
                   run_.options().target.path.c_str(), status, handshake_response_.body().c_str());
    }
    on_lost(gen, "handshake", ec);
    return;
  }
  Summary& s = run_.summary();
  ++s.connected;
  if (declared_ > 0) ++s.reconnects;
  rejoining_ = false;
  attempt_ = 0;
  resuming_ = stalled_ = false;
  if (staller_) arm_stall(gen, true, std::chrono::seconds(3));
  if (handshake_response_[beast::http::field::sec_websocket_extensions].find("permessage-deflate") !=
      beast::string_view::npos) {
    ++s.deflate_negotiated;
  }
  beast::get_lowest_layer(ws()).expires_never();
  ws().set_option(websocket::stream_base::timeout{std::chrono::seconds(5), websocket::stream_base::none(), false});
  read(gen);
  if (role_ == Role::patient_monitor) {
    catch_up();
  } else {
    subscription(true);
    stage_ = Stage::subscribing;
  }
}

// Doctors follow all streams of their patient, nurses vitals and alerts, admins every alert.
void Client::subscription(bool subscribe) {
  const char* streams = role_ == Role::doctor  ? R"(["ecg","vitals","alerts"])"
                        : role_ == Role::nurse ? R"(["vitals","alerts"])"
                                               : R"(["alerts"])";
  const std::string patient = role_ == Role::admin ? "*" : patient_;
  const char* type = subscribe ? "subscribe" : "unsubscribe";
  send({std::string(R"({"type":")") + type + R"(","patient":")" + patient + R"(","streams":)" + streams +
            R"(,"seq":)" + std::to_string(++seq_) + "}",
        type, true, false});
}

// After (re)connecting: do what the current phase asks of this client.
void Client::catch_up() {
  switch (run_.phase()) {
    case Phase::connecting: set_stage(Stage::ready); break;
    case Phase::publishing:
      if (monitor()) {
        start_publishing();
      } else {
        set_stage(Stage::ready);
      }
      break;
    case Phase::draining: start_draining(); break;
    case Phase::closing: close(); break;
    case Phase::done: abort(); break;
  }
}

void Client::start_publishing() {
  stage_ = Stage::publishing;
  next_send_ = Clock::now();
  pump();
}

void Client::pump() {
  if (stage_ != Stage::publishing) return;
  const unsigned window = run_.options().window;
  const double interval = run_.per_monitor_interval_s();
  const auto left = [&] { return !run_.publishing_stopped() && (!quota_ || published_ < *quota_); };
  while (left() && inflight_.size() < window && (interval == 0 || Clock::now() >= next_send_)) {
    send({publish_message(published_), "", true, true});
    ++published_;
    if (interval > 0) {
      next_send_ += std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(interval));
    }
  }
  if (!left() && inflight_.empty()) {
    set_stage(Stage::published);
    return;
  }
  if (left() && inflight_.size() < window && interval > 0) {
    if (!timer_) timer_.emplace(run_.io());
    timer_->expires_at(next_send_);
    timer_->async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->pump();
    });
  }
  // Otherwise replies free the window and call pump() again.
}

void Client::start_draining() {
  if (monitor()) {
    set_stage(Stage::drained);
    return;
  }
  if (stalled_) resume(generation_);  // the unsubscribe's reply must be read
  stage_ = Stage::unsubscribing;
  subscription(false);
}

void Client::close() {
  if (stage_ == Stage::closing || stage_ == Stage::closed || stage_ == Stage::failed) return;
  stage_ = Stage::closing;
  if (timer_) timer_->cancel();
  const std::uint64_t gen = generation_;
  ws().async_close(websocket::close_code::normal, [self = shared_from_this(), gen](beast::error_code) {
    if (gen != self->generation_ || self->stage_ != Stage::closing) return;
    ++self->run_.summary().disconnected;
    self->set_stage(Stage::closed);
  });
}

void Client::abort() {
  ++generation_;
  if (timer_) timer_->cancel();
  if (ws_) beast::get_lowest_layer(ws()).close();
  if (stage_ != Stage::closed) stage_ = Stage::failed;
}

// A publish: mostly ECG, every fourth vitals, every twentieth an alert; with --malformed-ratio, a
// share of them replaced by messages the server must refuse (bad JSON, unknown type, no patient,
// another patient's data, a subscription a monitor may not make).
std::string Client::publish_message(std::uint64_t n) {
  Summary& s = run_.summary();
  const double ratio = run_.options().malformed_ratio;
  const auto seq = std::to_string(++seq_);
  // Offset by 3 so the bad ones do not all fall on the alert slots (n % 20 == 19).
  const auto share = [&](std::uint64_t k) { return static_cast<std::uint64_t>(static_cast<double>(k) * ratio); };
  if (ratio > 0 && share(n + 4) > share(n + 3)) {
    ++s.malformed_sent;
    switch (s.malformed_sent % 5) {
      case 0: return "{\"type\":\"vitals\",\"patient\":";  // truncated JSON
      case 1: return R"({"type":"telepathy","patient":")" + patient_ + R"(","seq":)" + seq + "}";
      case 2: return R"({"type":"vitals","seq":)" + seq + "}";
      case 3: return R"({"type":"vitals","patient":"someone-else","seq":)" + seq + R"(,"heart_rate":1})";
      default: return R"({"type":"subscribe","patient":")" + patient_ + R"(","seq":)" + seq + "}";  // monitors may not
    }
  }
  const std::string head = R"(","patient":")" + patient_ + R"(","seq":)" + seq + R"(,"ts":)" + std::to_string(mono_ns()) +
                           R"(,"traceparent":")" + run_.traces().next() + '"';
  if (n % 20 == 19) return R"({"type":"alert)" + head + R"(,"level":"critical","text":"arrhythmia detected"})";
  if (n % 4 == 3) return R"({"type":"vitals)" + head + R"(,"heart_rate":72,"spo2":98,"bp":"120/80","temp":36.8})";
  std::string samples;
  for (int i = 0; i < 32; ++i) samples += (i ? "," : "") + std::to_string(512 + ((static_cast<int>(n) * 7 + i * 37) % 200) - 100);
  return R"({"type":"ecg_data)" + head + R"(,"lead":"II","hz":250,"samples":[)" + samples + "]}";
}

void Client::send(Pending p) {
  if (p.kind.empty()) {
    // A publish: its kind is its type, or "malformed" when it is one of the bad ones.
    const auto t = p.text.find(R"("type":")");
    const auto e = t == std::string::npos ? t : p.text.find('"', t + 8);
    const std::string type = e == std::string::npos ? "" : p.text.substr(t + 8, e - t - 8);
    const bool good = (type == "ecg_data" || type == "vitals" || type == "alert") &&
                      p.text.find(R"("ts":)") != std::string::npos;
    p.kind = good ? type : "malformed";
    ++run_.summary().published;
  }
  if (p.expects_reply) inflight_.push_back({Clock::now(), p.publish});
  outbox_.push_back(std::move(p));
  if (!writing_) write_next();
}

void Client::write_next() {
  if (outbox_.empty() || stage_ == Stage::closing) {
    writing_ = false;
    return;
  }
  writing_ = true;
  const std::uint64_t gen = generation_;
  ws().text(true);
  ws().async_write(net::buffer(outbox_.front().text), [self = shared_from_this(), gen](beast::error_code ec, std::size_t) {
    if (gen != self->generation_) return;
    Summary& s = self->run_.summary();
    if (ec) {
      // A stalled client's connection may have been closed by the server: not an error.
      if (!self->stalled_ && !self->resuming_) ++s.write_errors;
      self->writing_ = false;
      return;  // the read side sees the connection end
    }
    ++s.sent;
    ++s.sent_by_type[self->outbox_.front().kind];
    self->outbox_.pop_front();
    self->write_next();
  });
}

void Client::read(std::uint64_t gen) {
  read_pending_ = true;
  ws().async_read(buffer_, [self = shared_from_this(), gen](beast::error_code ec, std::size_t) { self->on_read(gen, ec); });
}

void Client::on_read(std::uint64_t gen, beast::error_code ec) {
  if (gen != generation_) return;
  read_pending_ = false;
  if (ec) {
    if (leaving_) return;  // our own close: leave_and_return() goes on
    // Closing or closed: the close operation's handler counts the end.
    const bool ending = stage_ == Stage::closing || stage_ == Stage::closed || stage_ == Stage::failed;
    if (!ending && !run_.aborting()) on_lost(gen, "read", ec);
    return;
  }
  Summary& s = run_.summary();
  ++s.received;
  resuming_ = false;
  const std::string text = beast::buffers_to_string(buffer_.data());
  buffer_.consume(buffer_.size());
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  const std::string type = j.is_object() && j.contains("type") && j["type"].is_string() ? j["type"].get<std::string>() : "invalid";
  ++s.received_by_type[type];
  if (type == "ack" || type == "error") {
    ++(type == "ack" ? s.acked : s.errors_received);
    if (!inflight_.empty()) {
      if (inflight_.front().publish) s.ack_latency.add(ms_since(inflight_.front().sent));
      inflight_.pop_front();
    }
    if (stage_ == Stage::subscribing && inflight_.empty()) {
      catch_up();
    } else if (stage_ == Stage::unsubscribing && inflight_.empty()) {
      set_stage(Stage::drained);
    } else if (stage_ == Stage::publishing) {
      pump();
    }
  } else if (j.is_object() && j.contains("ts") && j["ts"].is_number_integer()) {
    s.delivery_latency.add(static_cast<double>(mono_ns() - j["ts"].get<std::int64_t>()) / 1e6);
  }
  // Once closing, the close operation reads until the server's close frame; a stalled client
  // reads again when its stall ends.
  if (gen == generation_ && stage_ != Stage::closing && stage_ != Stage::closed && !stalled_) read(gen);
}

void Client::arm_stall(std::uint64_t gen, bool begin, std::optional<Clock::duration> after) {
  if (!stall_timer_) stall_timer_.emplace(run_.io());
  stall_timer_->expires_after(after.value_or(run_.options().stall_for));
  stall_timer_->async_wait([self = shared_from_this(), gen, begin](beast::error_code ec) {
    if (ec || gen != self->generation_ || self->stage_ >= Stage::unsubscribing) return;
    if (begin && self->run_.phase() != Phase::publishing) return;  // stalls only while publishing
    if (begin) {
      self->stalled_ = true;
      ++self->run_.summary().stalled;
      self->press(gen);
    } else {
      self->resume(gen);
    }
    self->arm_stall(gen, !begin);
  });
}

void Client::resume(std::uint64_t gen) {
  stalled_ = false;
  resuming_ = true;
  if (!read_pending_) read(gen);
}

// While stalled: a request every 10 ms whose reply (an ack: re-subscribing changes nothing) the
// server must queue. The first reply completes the read that was pending, so from then on nothing
// reads: pings go unanswered and the replies fill the buffers, then the server's queue, wherever
// the client's patient publishes.
void Client::press(std::uint64_t gen) {
  if (!stalled_ || gen != generation_) return;
  subscription(true);
  if (!timer_) timer_.emplace(run_.io());
  timer_->expires_after(std::chrono::milliseconds(10));
  timer_->async_wait([self = shared_from_this(), gen](beast::error_code ec) {
    if (!ec) self->press(gen);
  });
}

void Client::leave_and_return() {
  if (stage_ != Stage::ready) return;
  stage_ = Stage::connecting;  // the barriers wait for it to come back
  leaving_ = true;
  const std::uint64_t gen = generation_;
  ws().async_close(websocket::close_code::normal, [self = shared_from_this(), gen](beast::error_code) {
    if (gen != self->generation_) return;
    Summary& s = self->run_.summary();
    ++s.disconnected;
    ++s.churned;
    self->leaving_ = false;
    self->rejoining_ = true;
    self->connect();
  });
}

// The connection failed or dropped: count it, then reconnect with backoff or give up.
void Client::on_lost(std::uint64_t gen, const char* what, beast::error_code ec) {
  if (gen != generation_) return;
  Summary& s = run_.summary();
  const bool was_connected = stage_ != Stage::connecting;
  if (was_connected && resuming_) {  // closed by the server while this client did not read
    ++s.stall_closes;
    ++s.disconnected;
  } else if (was_connected) {
    ++s.dropped;
    ++s.disconnected;
  } else {
    ++s.connect_failures;
  }
  s.unanswered += inflight_.size();
  inflight_.clear();
  ++generation_;
  resuming_ = stalled_ = false;
  if (ws_) beast::get_lowest_layer(ws()).close();
  if (run_.phase() == Phase::closing || run_.phase() == Phase::done || attempt_ >= run_.options().max_reconnects) {
    std::fprintf(stderr, "wsm-loadgen: client %u (%s): %s: %s; giving up\n", index_,
                 std::string(ws::label_value(role_)).c_str(), what, ec.message().c_str());
    set_stage(run_.phase() == Phase::closing ? Stage::closed : Stage::failed);
    return;
  }
  ++attempt_;
  stage_ = Stage::connecting;
  if (!timer_) timer_.emplace(run_.io());
  timer_->expires_after(std::chrono::milliseconds(50) * (1u << std::min(attempt_, 6u)));
  timer_->async_wait([self = shared_from_this()](beast::error_code e) {
    if (!e) self->connect();
  });
}

}  // namespace

Summary run_load(const Options& options, const std::vector<ws::Role>& roles) {
  Run run(options, roles);
  if (!run.traces().open_log(options.trace_log)) {
    std::perror(("wsm-loadgen: --trace-log " + options.trace_log).c_str());
  }
  return run.go();
}

}  // namespace wsm::loadgen
