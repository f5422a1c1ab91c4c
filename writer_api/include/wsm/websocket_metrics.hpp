// wsm::ws::Metrics: typed calls that record WebSocket events into the catalogue's metrics
// (websocket_catalogue.hpp).
//
//   auto reg = wsm::Registry::open("demo", {.role = "worker"});
//   wsm::ws::Metrics metrics(*reg);
//   auto conn = metrics.connection_opened(Role::doctor, "u1", "p7", Compression::deflate);
//   metrics.message_received(conn, MessageType::subscribe, 52);
//   metrics.message_sent(conn, MessageType::ack, Priority::low, TargetType::direct, 24);
//   metrics.connection_closed(conn, DisconnectReason::client_close);
//
// Cost: every label of these calls is an enum, so each family keeps an array of handles indexed by
// the flattened enum values. Every combination is registered when Metrics is constructed (so each
// series exports 0 from the first scrape; MetricsOptions::preregister) and is a load and a branch
// from then on; a call is that plus the handle's record (an add into this thread's own cell), a
// few ns. Nothing on the record path allocates, locks or registers. connection_opened is the cold
// path. A category switched off (WEBSOCKET_METRICS_CATEGORIES) holds sink handles: its families
// are never registered and its calls record nothing.
// The per-message calls (messages, bytes, latencies, broadcasts, compression, matches) are always
// inlined: a server makes ten or more a message, and out of line each paid a call, a frame and
// reloading the table it had in a register (issue 17's end-to-end budget). An event loop's thread
// can go further with `auto local = metrics.local();` (LocalMetrics, below): the same per-message
// calls into the same series, each a single add into that thread's own cell.
//
// Compiled out (WSM_COMPILED_OUT, see writer.hpp): every call below is empty after inlining (the
// handle tables hand out default handles without a load, connections get no record, and
// connection_opened returns a closed Connection without registering its identity). The
// constructor still registers the catalogue's series: start-up, not per event.
//
// Identifier labels: websocket_connections_active{role,user_id,patient_id} gets one series per
// distinct (role, user, patient) in the process, up to MetricsOptions::max_identities; past that
// (or for ids that are not valid label values) connections count under user_id="" patient_id="".
// The per-connection detail (ids, counts, heartbeat, health) goes to the segment's connection
// table instead, one record per open connection, freed on close; websocket_health_score is read
// from there by the exporter (see the catalogue).
//
// Threads: calls on one Connection must not run concurrently (as for the connection's stream);
// everything else may be called from any thread, except a LocalMetrics: only from the thread that
// made it. A Connection belongs to the process that opened it: do not carry open connections
// across fork().
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>

#include "wsm/shm/connection_entry.hpp"
#include "wsm/websocket_catalogue.hpp"
#include "wsm/websocket_categories.hpp"
#include "wsm/writer.hpp"

namespace wsm::ws {

struct MetricsOptions {
  std::string process_role = "worker";  // role label of process-level gauges (thread pool)
  std::size_t max_identities = 1000;    // identity series of connections_active per process
  bool connection_table = true;         // give each open connection a connection-table record
  // What is recorded; unset: WEBSOCKET_METRICS_CATEGORIES (websocket_categories.hpp), every
  // category when that is unset (or invalid: one line on stderr says so).
  std::optional<Categories> categories{};
  // Register every label set the catalogue enumerates at construction, so each series exports 0
  // from the first scrape (rate() sees the first event, panels and alerts have data). Off: each
  // is registered on its first use.
  bool preregister = true;
};

namespace detail {

// Index of a combination of enum values in a family's handle array.
template <class... E>
[[nodiscard]] constexpr std::size_t flat(E... e) noexcept {
  std::size_t i = 0;
  ((i = i * kValueCount<E> + static_cast<std::size_t>(e)), ...);
  return i;
}

// Registers series from the catalogue; one per Metrics, shared by its handle tables.
class Resolver {
 public:
  Resolver(Registry registry, std::string process_role);
  ~Resolver();
  // The handle of `metric` with these label values (in the catalogue's label order).
  Counter counter(Metric metric, std::span<const std::string_view> values);
  Gauge gauge(Metric metric, std::span<const std::string_view> values);
  Histogram histogram(Metric metric, std::span<const std::string_view> values);
  void make(Metric m, std::span<const std::string_view> v, Counter& out) { out = counter(m, v); }
  void make(Metric m, std::span<const std::string_view> v, Gauge& out) { out = gauge(m, v); }
  void make(Metric m, std::span<const std::string_view> v, Histogram& out) { out = histogram(m, v); }
  // Gauge of connections_active for an identity; the anonymous one past the cap or on error.
  Gauge identity(Role role, std::string_view user_id, std::string_view patient_id, std::size_t cap);

  [[nodiscard]] Registry& registry() noexcept { return registry_; }
  [[nodiscard]] const std::string& process_role() const noexcept { return process_role_; }
  std::mutex& mutex() noexcept { return mutex_; }

 private:
  Registry registry_;
  std::string process_role_;
  std::mutex mutex_;
  struct Identities;
  std::unique_ptr<Identities> identities_;
};

// The enum values of combination `i` of a family's handle array (the inverse of flat()).
template <class... E>
[[nodiscard]] constexpr std::tuple<E...> unflat(std::size_t i) noexcept {
  std::tuple<E...> out;
  [&]<std::size_t... k>(std::index_sequence<k...>) {
    // The last enum varies fastest, as in flat().
    constexpr std::size_t n = sizeof...(E);
    ((std::get<n - 1 - k>(out) = static_cast<std::tuple_element_t<n - 1 - k, std::tuple<E...>>>(
          i % kValueCount<std::tuple_element_t<n - 1 - k, std::tuple<E...>>>),
      i /= kValueCount<std::tuple_element_t<n - 1 - k, std::tuple<E...>>>),
     ...);
  }(std::index_sequence_for<E...>{});
  return out;
}

template <Metric M>
struct MetricTag {};

// A family's label values, in catalogue order, from the enums of one combination: by default each
// enum's own value; the overloads below derive a label or add a fixed one.
template <Metric M, class... E>
[[nodiscard]] std::array<std::string_view, sizeof...(E)> label_set(MetricTag<M>, const Resolver&, E... e) noexcept {
  return {label_value(e)...};
}
[[nodiscard]] inline std::array<std::string_view, 3> label_set(MetricTag<Metric::disconnections_total>,
                                                               const Resolver&, Role r, DisconnectReason d) noexcept {
  return {label_value(r), label_value(d), disconnect_status(d)};
}
[[nodiscard]] inline std::array<std::string_view, 3> label_set(MetricTag<Metric::messages_received_total>,
                                                               const Resolver&, MessageType t, Role r) noexcept {
  return {label_value(t), label_value(source_of(r)), label_value(r)};
}
[[nodiscard]] inline std::array<std::string_view, 2> label_set(MetricTag<Metric::compression_ratio_percent>,
                                                               const Resolver&, MessageType t) noexcept {
  return {label_value(Compression::deflate), label_value(t)};
}
[[nodiscard]] inline std::array<std::string_view, 2> label_set(MetricTag<Metric::thread_pool_utilization_percent>,
                                                               const Resolver& resolver, PoolType p) noexcept {
  return {label_value(p), resolver.process_role()};
}
[[nodiscard]] inline std::array<std::string_view, 3> label_set(MetricTag<Metric::transferred_bytes_total>,
                                                               const Resolver&, Direction d, Compression k,
                                                               Role r) noexcept {
  return {label_value(d), protocol_of(k), label_value(r)};
}

// The handles of one family, one per combination of its enum labels: all registered at
// construction (MetricsOptions::preregister), else each on its first use; sinks when the family's
// category is off.
template <class Handle, Metric M, class... Dims>
class HandleTable {
 public:
  static constexpr std::size_t kSize = (kValueCount<Dims> * ... * std::size_t{1});

  [[gnu::always_inline]] Handle get(Resolver& resolver, Dims... dims) noexcept {
    // Compiled out: a default handle, whose record calls are empty too, without the acquire load
    // (an atomic load the compiler may not drop) and the index arithmetic.
    if constexpr (!kRecording) return Handle{};
    const std::size_t i = flat(dims...);
    // Acquire: pairs with the release in resolve(), so handles_[i] is whole.
    if (ready_[i].load(std::memory_order_acquire)) [[likely]] return handles_[i];
    return resolve(resolver, i, dims...);
  }

  // At construction, before any other thread can see the table.
  void prepare(Resolver& resolver, Categories categories, bool preregister) noexcept {
    for (std::size_t i = 0; i < kSize; ++i) {
      if (!categories.enabled(M)) {
        ready_[i].store(true, std::memory_order_relaxed);  // the default handle: a sink
      } else if (preregister) {
        std::apply([&](Dims... d) { resolve(resolver, i, d...); }, unflat<Dims...>(i));
      }
    }
  }

 private:
  [[gnu::noinline, gnu::cold]] Handle resolve(Resolver& resolver, std::size_t i, Dims... dims) noexcept {
    std::lock_guard lock(resolver.mutex());
    if (!ready_[i].load(std::memory_order_relaxed)) {
      try {
        resolver.make(M, label_set(MetricTag<M>{}, resolver, dims...), handles_[i]);
      } catch (...) {  // allocation failure: the default handle is a sink
        handles_[i] = Handle{};
      }
      ready_[i].store(true, std::memory_order_release);
    }
    return handles_[i];
  }

  std::array<std::atomic<bool>, kSize> ready_{};
  std::array<Handle, kSize> handles_{};
};

// A series' cell bound to the calling thread, as Counter::local() binds it but without its fork
// check (a fork handler clears LocalMetrics' cells in the child instead): a record is the add
// alone. Null: not bound yet.
struct BoundCounter {
  [[nodiscard]] static BoundCounter of(const Counter& c) noexcept { return {wsm::detail::Binder::cell_of(c)}; }
  [[gnu::always_inline]] void inc(std::uint64_t n = 1) const noexcept {
    if constexpr (kRecording) wsm::detail::add_own(*cell, n);
  }
  std::atomic<std::uint64_t>* cell = nullptr;
};
struct BoundHistogram {
  [[nodiscard]] static BoundHistogram of(const Histogram& h) noexcept {
    return {wsm::detail::Binder::cell_of(h), wsm::detail::Binder::scheme_of(h)};
  }
  [[gnu::always_inline]] void record(std::uint64_t v) const noexcept {
    if constexpr (kRecording) wsm::detail::record_into(cell, scheme, v);
  }
  template <class Rep, class Period>
  [[gnu::always_inline]] void record(std::chrono::duration<Rep, Period> d) const noexcept {
    record(wsm::detail::to_ns(d));
  }
  std::atomic<std::uint64_t>* cell = nullptr;
  shm::HistogramScheme scheme{};
};
template <class Handle>
struct BoundOf;
template <>
struct BoundOf<Counter> {
  using type = BoundCounter;
};
template <>
struct BoundOf<Histogram> {
  using type = BoundHistogram;
};

// One family's cells bound to the calling thread, indexed like its HandleTable and bound from it
// on a combination's first use (registering it there if it was not yet).
template <class Shared>
class LocalTable;
template <class Handle, Metric M, class... Dims>
class LocalTable<HandleTable<Handle, M, Dims...>> {
 public:
  using Shared = HandleTable<Handle, M, Dims...>;
  using Bound = typename BoundOf<Handle>::type;

  explicit LocalTable(Shared& shared) noexcept : shared_(&shared) {}

  [[gnu::always_inline]] Bound get(Resolver& resolver, Dims... dims) noexcept {
    if constexpr (!kRecording) return Bound{};
    const std::size_t i = flat(dims...);
    if (bound_[i].cell != nullptr) [[likely]] return bound_[i];
    return bind(resolver, i, dims...);
  }
  void clear() noexcept { bound_ = {}; }

 private:
  [[gnu::noinline, gnu::cold]] Bound bind(Resolver& resolver, std::size_t i, Dims... dims) noexcept {
    return bound_[i] = Bound::of(shared_->get(resolver, dims...));
  }

  Shared* shared_;
  std::array<Bound, Shared::kSize> bound_{};
};

struct MetricsState;
struct MessageCalls;

}  // namespace detail

// One open connection: what connection_opened returns and per-connection calls take. Move-only.
// Destroying it while still open counts it closed with DisconnectReason::network_error.
class Connection {
 public:
  Connection() = default;
  Connection(Connection&& o) noexcept { *this = std::move(o); }
  Connection& operator=(Connection&& o) noexcept;
  ~Connection();

  [[nodiscard]] bool is_open() const noexcept { return state_ != nullptr; }
  [[nodiscard]] Role role() const noexcept { return role_; }
  [[nodiscard]] Compression compression() const noexcept { return compression_; }
  // Its connection-table id (shm::format_connection_id), 0 when the table had no room.
  [[nodiscard]] std::uint64_t id() const noexcept { return entry_ ? entry_->id() : 0; }
  // The record's counts, for the owner's own use (e.g. health scoring); nullptr without one.
  [[nodiscard]] const shm::ConnectionRecord* record() const noexcept {
    return entry_ ? &entry_->record() : nullptr;
  }

 private:
  friend class Metrics;
  friend struct detail::MessageCalls;
  void close(DisconnectReason reason) noexcept;
  // The connection-table record the per-connection calls update; never one when compiled out,
  // so those updates vanish with the branch.
  [[nodiscard]] shm::ConnectionEntry* entry() noexcept {
    if constexpr (!kRecording) return nullptr;
    return entry_ ? &*entry_ : nullptr;
  }

  detail::MetricsState* state_ = nullptr;  // null: closed or never opened
  std::optional<shm::ConnectionEntry> entry_;
  Gauge active_;
  std::uint64_t opened_ns_ = 0;
  Role role_ = Role::doctor;
  Compression compression_ = Compression::none;
};

namespace detail {

struct MetricsState {
  // Resolves the categories and prepares every table (websocket_metrics.cpp).
  MetricsState(Registry registry, MetricsOptions o);

  Resolver resolver;
  MetricsOptions options;
  Categories categories = Categories::all();
  HandleTable<Counter, Metric::connections_total, Role, ConnectionStatus> connections_total;
  HandleTable<Counter, Metric::disconnections_total, Role, DisconnectReason> disconnections;
  HandleTable<Histogram, Metric::connection_duration_seconds, Role, DisconnectReason> duration;
  HandleTable<Counter, Metric::reconnection_attempts_total, Role, AttemptNumber> reconnections;
  HandleTable<Counter, Metric::messages_sent_total, MessageType, Priority, Role, TargetType> sent;
  HandleTable<Counter, Metric::messages_received_total, MessageType, Role> received;
  HandleTable<Histogram, Metric::message_size_bytes, MessageType, Direction, Compression> size;
  HandleTable<Histogram, Metric::message_latency_seconds, MessageType, ProcessingStage> latency;
  HandleTable<Histogram, Metric::broadcast_latency_seconds, TargetType, BroadcastType, RecipientCount>
      broadcast;
  HandleTable<Counter, Metric::failed_messages_total, MessageType, FailureReason, Role> failed;
  HandleTable<Histogram, Metric::compression_ratio_percent, MessageType> compression;
  HandleTable<Counter, Metric::backpressure_events_total, BackpressureType, Severity, Role> backpressure;
  HandleTable<Gauge, Metric::buffer_utilization_percent, BufferType, Role> buffer;
  HandleTable<Gauge, Metric::queue_size, QueueType, Role> queue;
  HandleTable<Gauge, Metric::thread_pool_utilization_percent, PoolType> pool;
  HandleTable<Counter, Metric::stale_connections_total, StaleType, Role> stale;
  HandleTable<Gauge, Metric::subscriptions_active, SubscriptionType, Role> subscriptions;
  HandleTable<Counter, Metric::subscription_matches_total, SubscriptionType, MatchType, Role> matches;
  HandleTable<Counter, Metric::subscription_failures_total, SubscriptionFailure, Role> sub_failures;
  HandleTable<Counter, Metric::transferred_bytes_total, Direction, Compression, Role> transferred;
  HandleTable<Counter, Metric::heartbeats_sent_total, Role> heartbeats_sent;
  HandleTable<Counter, Metric::heartbeats_acked_total, Role> heartbeats_acked;
};

// The per-message families of a MetricsState bound to one thread (LocalMetrics), under the same
// member names, so that MessageCalls serves both. About 7 KB: a cell per label combination.
struct LocalTables {
  explicit LocalTables(MetricsState& s) noexcept
      : received(s.received), sent(s.sent), size(s.size), latency(s.latency), broadcast(s.broadcast),
        compression(s.compression), matches(s.matches) {}
  void clear() noexcept {
    received.clear();
    sent.clear();
    size.clear();
    latency.clear();
    broadcast.clear();
    compression.clear();
    matches.clear();
  }

  LocalTable<decltype(MetricsState::received)> received;
  LocalTable<decltype(MetricsState::sent)> sent;
  LocalTable<decltype(MetricsState::size)> size;
  LocalTable<decltype(MetricsState::latency)> latency;
  LocalTable<decltype(MetricsState::broadcast)> broadcast;
  LocalTable<decltype(MetricsState::compression)> compression;
  LocalTable<decltype(MetricsState::matches)> matches;
};

// The per-message calls, written once for both kinds of tables: a MetricsState's handles (the
// calls of Metrics, from any thread) and a LocalTables' bound cells (those of LocalMetrics, from
// one thread). `t.family.get(resolver, labels...)` gives what records, on either.
struct MessageCalls {
  template <class Tables>
  [[gnu::always_inline]] static void received(Tables& t, Resolver& r, Connection& c, MessageType type,
                                              std::size_t payload_bytes) noexcept {
    t.received.get(r, type, c.role_).inc();
    t.size.get(r, type, Direction::in, c.compression_).record(payload_bytes);
    if (auto* e = c.entry()) shm::ConnectionEntry::add(e->record().messages_in, 1);
  }
  template <class Tables>
  [[gnu::always_inline]] static void sent(Tables& t, Resolver& r, Connection& c, MessageType type, Priority priority,
                                          TargetType target, std::size_t payload_bytes) noexcept {
    t.sent.get(r, type, priority, c.role_, target).inc();
    t.size.get(r, type, Direction::out, c.compression_).record(payload_bytes);
    if (auto* e = c.entry()) shm::ConnectionEntry::add(e->record().messages_out, 1);
  }
  template <class Tables>
  [[gnu::always_inline]] static void latency(Tables& t, Resolver& r, MessageType type, ProcessingStage stage,
                                             std::chrono::nanoseconds d) noexcept {
    t.latency.get(r, type, stage).record(d);
  }
  template <class Tables>
  [[gnu::always_inline]] static void broadcast(Tables& t, Resolver& r, TargetType target, BroadcastType type,
                                               std::size_t recipients, std::chrono::nanoseconds d) noexcept {
    t.broadcast.get(r, target, type, recipient_count(recipients)).record(d);
  }
  template <class Tables>
  [[gnu::always_inline]] static void compression(Tables& t, Resolver& r, MessageType type, std::size_t payload_bytes,
                                                 std::size_t compressed_bytes) noexcept {
    if (payload_bytes == 0) return;
    t.compression.get(r, type).record(static_cast<std::uint64_t>(compressed_bytes) * 100 / payload_bytes);
  }
  template <class Tables>
  [[gnu::always_inline]] static void matched(Tables& t, Resolver& r, SubscriptionType type, MatchType match,
                                             Role role) noexcept {
    t.matches.get(r, type, match, role).inc();
  }
};

}  // namespace detail

class LocalMetrics;

class Metrics {
 public:
  // Records into `registry`'s segment. A disabled registry makes every call a no-op sink. A
  // moved-from Metrics must not be used.
  explicit Metrics(Registry registry, MetricsOptions options = {});
  Metrics(Metrics&&) noexcept = default;
  Metrics& operator=(Metrics&&) noexcept = default;
  ~Metrics();

  // The categories this Metrics records (MetricsOptions::categories).
  [[nodiscard]] Categories categories() const noexcept { return state_->categories; }

  // The per-message calls bound to the calling thread (LocalMetrics), for an event loop's thread.
  [[nodiscard]] LocalMetrics local() noexcept;

  // ---- connection ----
  // A successful upgrade: counts it, adds it to connections_active and claims its record.
  // Compiled out: a closed Connection (nothing registered, counted or claimed).
  [[nodiscard]] Connection connection_opened(Role role, std::string_view user_id,
                                             std::string_view patient_id, Compression compression) {
    if constexpr (!kRecording) return Connection{};
    return open(role, user_id, patient_id, compression);
  }
  // An upgrade that was refused or failed (status != success).
  void connection_failed(Role role, ConnectionStatus status) noexcept {
    auto& s = *state_;
    s.connections_total.get(s.resolver, role, status).inc();
  }
  void connection_closed(Connection& c, DisconnectReason reason) noexcept {
    if constexpr (kRecording) c.close(reason);
  }
  // A client declared this connection its attempt-th reconnection (1 = first retry).
  void reconnection_attempt(Role role, unsigned attempt) noexcept {
    auto& s = *state_;
    s.reconnections.get(s.resolver, role, attempt_number(attempt)).inc();
  }

  // ---- messages ----
  [[gnu::always_inline]] void message_received(Connection& c, MessageType type, std::size_t payload_bytes) noexcept {
    detail::MessageCalls::received(*state_, state_->resolver, c, type, payload_bytes);
  }
  [[gnu::always_inline]] void message_sent(Connection& c, MessageType type, Priority priority, TargetType target,
                                           std::size_t payload_bytes) noexcept {
    detail::MessageCalls::sent(*state_, state_->resolver, c, type, priority, target, payload_bytes);
  }
  // Bytes moved on the connection's socket (frames, after compression).
  [[gnu::always_inline]] void bytes_transferred(Connection& c, Direction direction, std::uint64_t wire_bytes) noexcept {
    auto& s = *state_;
    s.transferred.get(s.resolver, direction, c.compression_, c.role_).inc(wire_bytes);
    if (auto* e = c.entry()) {
      auto& rec = e->record();
      shm::ConnectionEntry::add(direction == Direction::in ? rec.bytes_in : rec.bytes_out, wire_bytes);
    }
  }
  [[gnu::always_inline]] void latency(MessageType type, ProcessingStage stage, std::chrono::nanoseconds d) noexcept {
    detail::MessageCalls::latency(*state_, state_->resolver, type, stage, d);
  }
  // The same with the trace the message belongs to (exemplar.hpp), e.g. from its traceparent.
  void latency(MessageType type, ProcessingStage stage, std::chrono::nanoseconds d, const Exemplar& trace) noexcept {
    auto& s = *state_;
    s.latency.get(s.resolver, type, stage).record(d, trace);
  }
  // A message queued for `recipients` connections, `d` after it was read.
  [[gnu::always_inline]] void broadcast(TargetType target, BroadcastType type, std::size_t recipients,
                                        std::chrono::nanoseconds d) noexcept {
    detail::MessageCalls::broadcast(*state_, state_->resolver, target, type, recipients, d);
  }
  // A permessage-deflate frame of `compressed_bytes` for a payload of `payload_bytes`.
  [[gnu::always_inline]] void compression(MessageType type, std::size_t payload_bytes,
                                          std::size_t compressed_bytes) noexcept {
    detail::MessageCalls::compression(*state_, state_->resolver, type, payload_bytes, compressed_bytes);
  }
  void failure(MessageType type, FailureReason reason, Role role) noexcept {
    auto& s = *state_;
    s.failed.get(s.resolver, type, reason, role).inc();
  }

  // ---- performance ----
  void backpressure(BackpressureType type, Severity severity, Role role) noexcept {
    auto& s = *state_;
    s.backpressure.get(s.resolver, type, severity, role).inc();
  }
  void buffer_utilization(BufferType type, Role role, double percent) noexcept {
    auto& s = *state_;
    s.buffer.get(s.resolver, type, role).set(percent);
  }
  // Messages added to (delta > 0) or taken from (delta < 0) the queues of a role's connections.
  void queue_changed(QueueType type, Role role, double delta) noexcept {
    auto& s = *state_;
    s.queue.get(s.resolver, type, role).add(delta);
  }
  // The same gauge set to this process's current total, for a server that keeps the count itself
  // and samples it (e.g. once a second) instead of paying a gauge update per message. Use one form
  // or the other for a (type, role), not both.
  void queue_size(QueueType type, Role role, double messages) noexcept {
    auto& s = *state_;
    s.queue.get(s.resolver, type, role).set(messages);
  }
  // This process's pool: CPU time of its threads, percent of their wall time.
  void thread_pool_utilization(PoolType type, double percent) noexcept {
    auto& s = *state_;
    s.pool.get(s.resolver, type).set(percent);
  }

  // ---- health ----
  void heartbeat_sent(Connection& c) noexcept {
    auto& s = *state_;
    s.heartbeats_sent.get(s.resolver, c.role_).inc();
  }
  void heartbeat_acked(Connection& c) noexcept {
    auto& s = *state_;
    s.heartbeats_acked.get(s.resolver, c.role_).inc();
    if (auto* e = c.entry()) e->set_heartbeat(shm::unix_ns());
  }
  // The connection's health, 0 (worst) to 100, kept in its connection-table record.
  void health(Connection& c, double score) noexcept {
    if (auto* e = c.entry(); e && state_->categories.enabled(Category::health)) e->set_health(score);
  }
  void stale_connection(StaleType type, Role role) noexcept {
    auto& s = *state_;
    s.stale.get(s.resolver, type, role).inc();
  }

  // ---- subscriptions ----
  void subscription_added(SubscriptionType type, Role role) noexcept { subscriptions(type, role).inc(); }
  void subscription_removed(SubscriptionType type, Role role) noexcept { subscriptions(type, role).dec(); }
  // A published message matched a subscription of a connection of `role`.
  [[gnu::always_inline]] void subscription_matched(SubscriptionType type, MatchType match, Role role) noexcept {
    detail::MessageCalls::matched(*state_, state_->resolver, type, match, role);
  }
  void subscription_failed(SubscriptionFailure failure, Role role) noexcept {
    auto& s = *state_;
    s.sub_failures.get(s.resolver, failure, role).inc();
  }

 private:
  Connection open(Role role, std::string_view user_id, std::string_view patient_id, Compression compression);
  Gauge subscriptions(SubscriptionType type, Role role) noexcept {
    auto& s = *state_;
    return s.subscriptions.get(s.resolver, type, role);
  }

  std::unique_ptr<detail::MetricsState> state_;
};

// The per-message calls of a Metrics bound to the calling thread, for the thread of an event
// loop: a server makes ten or more of them a message (issue 17's end-to-end budget), and through
// Metrics each finds its series' handle (an acquire load and the handle) and then this thread's
// cell of it (a thread-local table). Here a label combination's first call does that and keeps
// the cell; every later call is one add into it, as cheap as a counter of the server's own.
// Same series, same values and same connection-record counts as the Metrics calls of the same
// names, which may be mixed with these (the other calls are on Metrics only).
//
//   wsm::ws::LocalMetrics local = metrics.local();  // on the event loop's thread, at its start
//   local.message_received(conn, MessageType::vitals, 120);
//
// Single thread: call it only on the thread that called local(), and not once that thread has
// ended: the cells are that thread's own, written without a lock prefix, so two threads would
// lose adds. Hence neither copyable nor movable. It must not outlive its Metrics. About 7 KB (a
// cell pointer per label combination of its families): one per thread, not one per connection.
// In the child of a fork() every LocalMetrics forgets its cells (a fork handler clears them, so no
// call pays a check) and binds afresh on its next call: the parent's cells are not the child's.
// Compiled out (WSM_COMPILED_OUT): every call is empty, as for Metrics.
class LocalMetrics {
 public:
  LocalMetrics(const LocalMetrics&) = delete;
  LocalMetrics& operator=(const LocalMetrics&) = delete;
  ~LocalMetrics();

  [[gnu::always_inline]] void message_received(Connection& c, MessageType type, std::size_t payload_bytes) noexcept {
    if constexpr (kRecording) detail::MessageCalls::received(tables_, state_->resolver, c, type, payload_bytes);
  }
  [[gnu::always_inline]] void message_sent(Connection& c, MessageType type, Priority priority, TargetType target,
                                           std::size_t payload_bytes) noexcept {
    if constexpr (kRecording) {
      detail::MessageCalls::sent(tables_, state_->resolver, c, type, priority, target, payload_bytes);
    }
  }
  [[gnu::always_inline]] void latency(MessageType type, ProcessingStage stage, std::chrono::nanoseconds d) noexcept {
    if constexpr (kRecording) detail::MessageCalls::latency(tables_, state_->resolver, type, stage, d);
  }
  [[gnu::always_inline]] void broadcast(TargetType target, BroadcastType type, std::size_t recipients,
                                        std::chrono::nanoseconds d) noexcept {
    if constexpr (kRecording) detail::MessageCalls::broadcast(tables_, state_->resolver, target, type, recipients, d);
  }
  [[gnu::always_inline]] void compression(MessageType type, std::size_t payload_bytes,
                                          std::size_t compressed_bytes) noexcept {
    if constexpr (kRecording) {
      detail::MessageCalls::compression(tables_, state_->resolver, type, payload_bytes, compressed_bytes);
    }
  }
  [[gnu::always_inline]] void subscription_matched(SubscriptionType type, MatchType match, Role role) noexcept {
    if constexpr (kRecording) detail::MessageCalls::matched(tables_, state_->resolver, type, match, role);
  }

 private:
  friend class Metrics;
  // Joins the process's list of LocalMetrics, which the fork handler clears in a child.
  explicit LocalMetrics(detail::MetricsState& state) noexcept;

  detail::MetricsState* state_;
  detail::LocalTables tables_;
  LocalMetrics* prev_ = nullptr;  // the process's list of LocalMetrics (websocket_metrics.cpp)
  LocalMetrics* next_ = nullptr;
};

inline LocalMetrics Metrics::local() noexcept { return LocalMetrics(*state_); }

}  // namespace wsm::ws
