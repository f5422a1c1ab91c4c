#include "wsm/exporter/connections_api.hpp"

#include <algorithm>
#include <cmath>

#include "wsm/exporter/health_scores.hpp"

namespace wsm::exporter {

namespace {

using nlohmann::json;
using exposition::IdLabelMode;

double seconds(std::uint64_t ns) { return static_cast<double>(ns) / 1e9; }

// Seconds from `then` to `now`; 0 when a clock step put `then` in the future.
double age(std::uint64_t then_ns, std::uint64_t now_ns) { return then_ns < now_ns ? seconds(now_ns - then_ns) : 0.0; }

json connection_json(const shm::ConnectionInfo& c, const exposition::IdLabelPolicy& policy, std::uint64_t now_ns) {
  json j = json::object();
  j["id"] = shown_connection_id(c, policy);
  j["role"] = c.role;
  if (policy.mode() != IdLabelMode::drop) {
    const bool hash = policy.mode() == IdLabelMode::hash;
    if (!c.user_id.empty()) j["user_id"] = hash ? policy.pseudonym(c.user_id) : c.user_id;
    if (!c.patient_id.empty()) j["patient_id"] = hash ? policy.pseudonym(c.patient_id) : c.patient_id;
  }
  j["writer_pid"] = c.pid;
  j["opened_at"] = seconds(c.opened_unix_ns);
  j["age_seconds"] = age(c.opened_unix_ns, now_ns);
  j["messages"] = {{"in", c.messages_in}, {"out", c.messages_out}};
  j["bytes"] = {{"in", c.bytes_in}, {"out", c.bytes_out}};
  const bool beat = c.last_heartbeat_unix_ns != 0;
  j["last_heartbeat_at"] = beat ? json(seconds(c.last_heartbeat_unix_ns)) : json(nullptr);
  j["heartbeat_age_seconds"] = beat ? json(age(c.last_heartbeat_unix_ns, now_ns)) : json(nullptr);
  j["health_score"] = std::isfinite(c.health_score) ? json(c.health_score) : json(nullptr);
  return j;
}

bool is_pseudonym(std::string_view s) {
  return s.size() == 16 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// What /api/v1/connections/{id} takes under a policy, for its errors.
std::string expected_id_form(IdLabelMode mode) {
  switch (mode) {
    case IdLabelMode::drop: return "<record>.<tenant>.<segment>, e.g. 12.3.9f86d081";
    case IdLabelMode::hash: return "16-hex-digit pseudonyms, e.g. 0123456789abcdef";
    case IdLabelMode::raw: return "<pid>-<sequence>, e.g. 1234-7";
  }
  return {};
}

enum class Order { health, id, opened };

}  // namespace

ApiResult api_connections(Monitor& monitor, std::string_view query) {
  const auto params = parse_query(query);
  if (!params) return api_error(400, "malformed query string: a %-escape is incomplete");
  std::optional<std::string> role;
  Order order = Order::health;
  std::string order_name = "health";
  std::size_t limit = kConnectionsDefaultLimit;
  std::vector<std::string> seen;
  for (const auto& [name, value] : *params) {
    if (std::find(seen.begin(), seen.end(), name) != seen.end()) {
      return api_error(400, "parameter '" + name + "' is given twice");
    }
    seen.push_back(name);
    if (name == "role") {
      role = value;
    } else if (name == "sort") {
      if (value == "health") order = Order::health;
      else if (value == "id") order = Order::id;
      else if (value == "opened") order = Order::opened;
      else return api_error(400, "sort: '" + value + "' is not an order; expected health, id or opened");
      order_name = value;
    } else if (name == "limit") {
      const auto v = count_parameter(name, value, kConnectionsMaxLimit);
      if (!v) return v.error();
      limit = *v;
    } else {
      return api_error(400, "unknown parameter '" + name + "'; expected role, sort or limit");
    }
  }

  auto connections = monitor.connections();
  if (!connections) return api_error(503, monitor.status().reason);
  const std::uint64_t now = shm::unix_ns();
  if (role) std::erase_if(*connections, [&](const shm::ConnectionInfo& c) { return c.role != *role; });
  switch (order) {
    case Order::health: order_worst_first(*connections); break;
    case Order::id:
      std::sort(connections->begin(), connections->end(),
                [](const shm::ConnectionInfo& a, const shm::ConnectionInfo& b) { return a.id < b.id; });
      break;
    case Order::opened:
      std::sort(connections->begin(), connections->end(), [](const shm::ConnectionInfo& a, const shm::ConnectionInfo& b) {
        return a.opened_unix_ns != b.opened_unix_ns ? a.opened_unix_ns < b.opened_unix_ns : a.id < b.id;
      });
      break;
  }
  const exposition::IdLabelPolicy& policy = monitor.id_policy();
  json list = json::array();
  for (std::size_t i = 0; i < connections->size() && i < limit; ++i) {
    list.push_back(connection_json((*connections)[i], policy, now));
  }
  return {200,
          {{"time", seconds(now)},
           {"id_labels", exposition::to_string(policy.mode())},
           {"sort", order_name},
           {"limit", limit},
           {"total", connections->size()},
           {"connections", std::move(list)}}};
}

ApiResult api_connection(Monitor& monitor, std::string_view id) {
  const exposition::IdLabelPolicy& policy = monitor.id_policy();
  // Enough of a bad id to recognise it in the error, printable ASCII only (JSON needs UTF-8).
  std::string shown(id.substr(0, 64));
  std::replace_if(shown.begin(), shown.end(), [](char c) { return c < 0x20 || c > 0x7e; }, '?');
  const std::string mode(exposition::to_string(policy.mode()));
  const std::string form = expected_id_form(policy.mode());
  // Each policy's form is parsed to find the connection quickly; the answer is then the one
  // connection whose listed id (shown_connection_id) is exactly `id`.
  std::optional<shm::ConnectionInfo> found;
  bool malformed = false;
  switch (policy.mode()) {
    case IdLabelMode::drop:
      if (const auto record = shm::parse_record_id(id)) {
        if (!monitor.attached()) return api_error(503, monitor.status().reason);
        found = monitor.connection(*record);
      } else {
        malformed = true;
      }
      break;
    case IdLabelMode::hash:
      if (is_pseudonym(id)) {
        auto connections = monitor.connections();
        if (!connections) return api_error(503, monitor.status().reason);
        for (const shm::ConnectionInfo& c : *connections) {
          if (shown_connection_id(c, policy) == id) found = c;
        }
      } else {
        malformed = true;
      }
      break;
    case IdLabelMode::raw:
      if (const auto raw = shm::parse_connection_id(id); raw && shm::format_connection_id(*raw) == id) {
        if (!monitor.attached()) return api_error(503, monitor.status().reason);
        found = monitor.connection(*raw);
      } else {
        malformed = true;
      }
      break;
  }
  if (malformed) {
    return api_error(400, "'" + shown + "' is not a connection id: with --id-labels " + mode + ", ids are " +
                              form + ", as /api/v1/connections lists them");
  }
  if (found && shown_connection_id(*found, policy) != id) found.reset();
  if (!found) {
    return api_error(404, "no live connection '" + shown + "': it closed, its writer exited, it never existed" +
                              (policy.mode() == IdLabelMode::drop ? ", or its segment was re-created" : "") +
                              "; with --id-labels " + mode + ", ids are " + form +
                              ", as /api/v1/connections lists them");
  }
  const std::uint64_t now = shm::unix_ns();
  return {200,
          {{"time", seconds(now)},
           {"id_labels", mode},
           {"connection", connection_json(*found, policy, now)}}};
}

}  // namespace wsm::exporter
