#include "protocol.hpp"

#include <charconv>
#include <nlohmann/json.hpp>

namespace wsm::demo {

namespace {

using nlohmann::json;

// Message types a client may send; the rest (ack, error, unknown) only come from the server.
std::optional<MessageType> client_type(std::string_view name) {
  const auto t = ws::parse_label_value<MessageType>(name);
  if (!t || *t == MessageType::ack || *t == MessageType::error || *t == MessageType::unknown) {
    return std::nullopt;
  }
  return t;
}

Inbound failed(Inbound in, FailureReason reason, std::string detail) {
  in.failure = reason;
  in.detail = std::move(detail);
  return in;
}

// "a%20b+c" -> "a b c"; nullopt on a bad escape.
std::optional<std::string> url_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%') {
      unsigned v = 0;
      if (i + 2 >= s.size()) return std::nullopt;
      auto r = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
      if (r.ec != std::errc{} || r.ptr != s.data() + i + 3) return std::nullopt;
      out += static_cast<char>(v);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

std::optional<SubscriptionType> stream_of(MessageType type) noexcept {
  switch (type) {
    case MessageType::ecg_data: return SubscriptionType::ecg;
    case MessageType::vitals: return SubscriptionType::vitals;
    case MessageType::alert: return SubscriptionType::alerts;
    default: return std::nullopt;
  }
}

Priority priority_of(MessageType type) noexcept {
  switch (type) {
    case MessageType::alert: return Priority::critical;
    case MessageType::ecg_data: return Priority::high;
    case MessageType::vitals:
    case MessageType::announcement: return Priority::normal;
    default: return Priority::low;
  }
}

bool valid_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > 40) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string_view traceparent_of(const Inbound& in) noexcept {
  if (!in.envelope.is_object()) return {};
  const auto trace = in.envelope.find(std::string_view("traceparent"));
  if (trace == in.envelope.end() || !trace->is_string()) return {};
  return trace->get_ref<const std::string&>();
}

Inbound parse_inbound(std::string_view text, bool is_text) {
  Inbound in;
  if (!is_text) return failed(std::move(in), FailureReason::malformed, "binary frames are not accepted");
  json& j = in.envelope;
  j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return failed(std::move(in), FailureReason::malformed, "not a JSON object");
  if (auto seq = j.find("seq"); seq != j.end()) {
    if (!seq->is_number_integer()) return failed(std::move(in), FailureReason::malformed, "seq must be an integer");
    in.seq = seq->get<std::int64_t>();
  }
  const auto type = j.find("type");
  if (type == j.end() || !type->is_string()) {
    return failed(std::move(in), FailureReason::malformed, "no string field 'type'");
  }
  const auto t = client_type(type->get_ref<const std::string&>());
  if (!t) return failed(std::move(in), FailureReason::unknown_type, "unknown type");
  in.type = *t;
  if (in.type == MessageType::announcement) {
    const auto text_field = j.find("text");
    if (text_field == j.end() || !text_field->is_string()) {
      return failed(std::move(in), FailureReason::malformed, "announcement needs a string 'text'");
    }
    return in;
  }
  const auto patient = j.find("patient");
  if (patient == j.end() || !patient->is_string()) {
    return failed(std::move(in), FailureReason::malformed, "no string field 'patient'");
  }
  in.patient = patient->get<std::string>();
  const bool subscription = in.type == MessageType::subscribe || in.type == MessageType::unsubscribe;
  if (!valid_id(in.patient) && !(subscription && in.patient == "*")) {
    return failed(std::move(in), FailureReason::malformed, "patient is not a valid id");
  }
  if (!subscription) return in;
  const auto streams = j.find("streams");
  if (streams == j.end()) {
    in.streams = kAllStreams;
    return in;
  }
  if (!streams->is_array()) return failed(std::move(in), FailureReason::malformed, "streams must be an array");
  for (const json& s : *streams) {
    const auto st = s.is_string() ? ws::parse_label_value<SubscriptionType>(s.get_ref<const std::string&>())
                                  : std::nullopt;
    // An unknown stream is a well-formed request the hub refuses (invalid_request): mark it.
    if (!st) {
      in.streams = 0;
      return in;
    }
    in.streams |= stream_bit(*st);
  }
  return in;
}

std::string ack_message(std::optional<std::int64_t> seq, std::size_t recipients) {
  json j = {{"type", "ack"}, {"recipients", recipients}};
  if (seq) j["seq"] = *seq;
  return j.dump();
}

std::string error_message(std::optional<std::int64_t> seq, std::string_view reason,
                          std::string_view detail) {
  json j = {{"type", "error"}, {"reason", reason}, {"detail", detail}};
  if (seq) j["seq"] = *seq;
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

ConnectRequest parse_connect_target(std::string_view target) {
  ConnectRequest r;
  const auto q = target.find('?');
  if (target.substr(0, q) != "/ws") {
    r.problem = "WebSocket endpoint is /ws";
    return r;
  }
  std::string_view query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
  bool role_given = false;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const auto eq = pair.find('=');
    const std::string_view key = pair.substr(0, eq);
    const auto value = url_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
    if (!value) {
      r.problem = "bad %-escape in the query";
      return r;
    }
    if (key == "role") {
      role_given = true;
      r.role = ws::parse_label_value<Role>(*value);
      if (r.role == Role::unknown) r.role.reset();
    } else if (key == "user") {
      r.user = *value;
    } else if (key == "patient") {
      r.patient = *value;
    } else if (key == "attempt") {
      auto [p, ec] = std::from_chars(value->data(), value->data() + value->size(), r.attempt);
      if (ec != std::errc{} || p != value->data() + value->size()) r.problem = "attempt must be a number";
    }
  }
  if (!r.role) {
    r.problem = role_given ? "role must be doctor, nurse, patient_monitor or admin" : "no role given";
  } else if ((!r.user.empty() && !valid_id(r.user)) || (!r.patient.empty() && !valid_id(r.patient))) {
    r.problem = "user and patient must be 1-40 of [A-Za-z0-9_.:-]";
  } else if (*r.role == Role::patient_monitor && r.patient.empty()) {
    r.problem = "a patient_monitor must name its patient";
  }
  return r;
}

}  // namespace wsm::demo
