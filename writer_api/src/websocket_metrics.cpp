// The cold half of wsm::ws::Metrics: choosing categories, registering catalogue series and
// identities, opening and closing connections.
#include "wsm/websocket_metrics.hpp"

#include <pthread.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <unordered_map>

namespace wsm::ws {

namespace detail {

namespace {

// Registry calls take an initializer_list of labels; build one of the spec's size.
template <class Make>
auto with_labels(const MetricSpec& spec, std::span<const std::string_view> values, Make make) {
  std::array<Label, kMaxLabels> l{};
  const std::size_t n = std::min(spec.label_count, values.size());
  for (std::size_t i = 0; i < n; ++i) l[i] = {spec.labels[i], values[i]};
  switch (n) {
    case 1: return make({l[0]});
    case 2: return make({l[0], l[1]});
    case 3: return make({l[0], l[1], l[2]});
    default: return make({l[0], l[1], l[2], l[3]});
  }
}

}  // namespace

struct Resolver::Identities {
  std::unordered_map<std::string, Gauge> gauges;  // "role\x1fuser\x1fpatient"
  std::array<std::optional<Gauge>, kValueCount<Role>> anonymous;
};

Resolver::Resolver(Registry registry, std::string process_role)
    : registry_(registry), process_role_(std::move(process_role)) {}
Resolver::~Resolver() = default;

Counter Resolver::counter(Metric metric, std::span<const std::string_view> values) {
  const MetricSpec& s = spec(metric);
  return with_labels(s, values, [&](Labels l) { return registry_.counter(s.name, l, s.help); });
}

Gauge Resolver::gauge(Metric metric, std::span<const std::string_view> values) {
  const MetricSpec& s = spec(metric);
  return with_labels(s, values, [&](Labels l) { return registry_.gauge(s.name, l, s.help, s.gauge_mode); });
}

Histogram Resolver::histogram(Metric metric, std::span<const std::string_view> values) {
  const MetricSpec& s = spec(metric);
  return with_labels(s, values, [&](Labels l) { return registry_.histogram(s.name, l, s.help); });
}

Gauge Resolver::identity(Role role, std::string_view user_id, std::string_view patient_id,
                         std::size_t cap) {
  std::lock_guard lock(mutex_);
  if (!identities_) identities_ = std::make_unique<Identities>();
  const MetricSpec& s = spec(Metric::connections_active);
  auto& anonymous = identities_->anonymous[static_cast<std::size_t>(role)];
  const auto anonymous_gauge = [&] {
    if (!anonymous) {
      anonymous = gauge(Metric::connections_active, std::array<std::string_view, 3>{label_value(role), "", ""});
    }
    return *anonymous;
  };
  if (user_id.empty() && patient_id.empty()) return anonymous_gauge();
  std::string key;
  key.append(label_value(role)).append(1, '\x1f').append(user_id).append(1, '\x1f').append(patient_id);
  if (auto it = identities_->gauges.find(key); it != identities_->gauges.end()) return it->second;
  if (identities_->gauges.size() >= cap) return anonymous_gauge();
  // try_: an id that is not a valid label value counts anonymously instead of in a sink.
  auto g = registry_.try_gauge(s.name, {{"role", label_value(role)}, {"user_id", user_id},
                                        {"patient_id", patient_id}},
                               s.help, s.gauge_mode);
  if (!g) return anonymous_gauge();
  identities_->gauges.emplace(std::move(key), *g);
  return *g;
}

namespace {

// MetricsOptions::categories, else the variable, else every category.
Categories chosen_categories(const MetricsOptions& options) {
  if (options.categories) return *options.categories;
  const char* text = std::getenv(kCategoriesVariable);
  if (text == nullptr) return Categories::all();
  auto parsed = parse_categories(text);
  if (parsed) return *parsed;
  // A worker must not stop over a monitoring setting: say so once and lose nothing.
  std::fprintf(stderr, "wsm: %s; recording every category\n", parsed.error().message().c_str());
  return Categories::all();
}

}  // namespace

MetricsState::MetricsState(Registry registry, MetricsOptions o)
    : resolver(registry, o.process_role), options(std::move(o)), categories(chosen_categories(options)) {
  const bool preregister = options.preregister && registry.enabled();
  const auto prepare = [&](auto&... tables) { (tables.prepare(resolver, categories, preregister), ...); };
  prepare(connections_total, disconnections, duration, reconnections, sent, received, size, latency,
          broadcast, failed, compression, backpressure, buffer, queue, pool, stale, subscriptions,
          matches, sub_failures, transferred, heartbeats_sent, heartbeats_acked);
  if (preregister && categories.enabled(Category::connection)) {
    for (std::size_t r = 0; r < kValueCount<Role>; ++r) {
      resolver.identity(static_cast<Role>(r), "", "", options.max_identities);
    }
  }
}

}  // namespace detail

Metrics::Metrics(Registry registry, MetricsOptions options)
    : state_(std::make_unique<detail::MetricsState>(registry, std::move(options))) {}

Metrics::~Metrics() = default;

Connection Metrics::open(Role role, std::string_view user_id, std::string_view patient_id,
                         Compression compression) {
  auto& s = *state_;
  s.connections_total.get(s.resolver, role, ConnectionStatus::success).inc();
  Connection c;
  c.state_ = state_.get();
  c.role_ = role;
  c.compression_ = compression;
  c.opened_ns_ = shm::monotonic_ns();
  if (s.categories.enabled(Category::connection)) {
    c.active_ = s.resolver.identity(role, user_id, patient_id, s.options.max_identities);
    c.active_.inc();
  }
  const shm::Segment* segment = s.resolver.registry().segment();
  if (s.options.connection_table && segment != nullptr) {
    if (auto entry = shm::ConnectionEntry::claim(*segment, {label_value(role), user_id, patient_id})) {
      c.entry_.emplace(*entry);
    }
  }
  return c;
}

void Connection::close(DisconnectReason reason) noexcept {
  if (state_ == nullptr) return;
  auto& s = *state_;
  s.disconnections.get(s.resolver, role_, reason).inc();
  s.duration.get(s.resolver, role_, reason).record(shm::monotonic_ns() - opened_ns_);
  active_.dec();
  if (entry_) entry_->release();
  entry_.reset();
  state_ = nullptr;
}

Connection& Connection::operator=(Connection&& o) noexcept {
  if (this == &o) return *this;
  close(DisconnectReason::network_error);
  state_ = std::exchange(o.state_, nullptr);
  entry_ = std::exchange(o.entry_, std::nullopt);
  active_ = o.active_;
  opened_ns_ = o.opened_ns_;
  role_ = o.role_;
  compression_ = o.compression_;
  return *this;
}

Connection::~Connection() { close(DisconnectReason::network_error); }

namespace {

// Every LocalMetrics of the process, so that the child of a fork() can clear their cells (the
// parent's) once, instead of each call checking whether it still runs in the process that bound
// them. Never destroyed: a LocalMetrics may end during exit.
struct LocalMetricsList {
  std::mutex mutex;
  LocalMetrics* head = nullptr;
};
LocalMetricsList& local_metrics_list() {
  static auto* list = new LocalMetricsList;
  return *list;
}

}  // namespace

LocalMetrics::LocalMetrics(detail::MetricsState& state) noexcept : state_(&state), tables_(state) {
  LocalMetricsList& list = local_metrics_list();
  // Installed before the first LocalMetrics joins the list, so every fork() after that clears it.
  // The mutex is held across fork(), so a child never inherits it locked by another thread.
  static const bool fork_handler = [] {
    ::pthread_atfork([] { local_metrics_list().mutex.lock(); }, [] { local_metrics_list().mutex.unlock(); },
                     [] {
                       LocalMetricsList& l = local_metrics_list();
                       l.mutex.unlock();
                       for (LocalMetrics* m = l.head; m != nullptr; m = m->next_) m->tables_.clear();
                     });
    return true;
  }();
  (void)fork_handler;
  std::lock_guard lock(list.mutex);
  next_ = list.head;
  if (next_ != nullptr) next_->prev_ = this;
  list.head = this;
}

LocalMetrics::~LocalMetrics() {
  LocalMetricsList& list = local_metrics_list();
  std::lock_guard lock(list.mutex);
  (prev_ != nullptr ? prev_->next_ : list.head) = next_;
  if (next_ != nullptr) next_->prev_ = prev_;
}

}  // namespace wsm::ws
