#include "wsm/exporter/settings.hpp"

#include <CLI/CLI.hpp>
#include <arpa/inet.h>
#include <charconv>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "wsm/shm/segment.hpp"
#include "wsm/websocket_categories.hpp"
#include "wsm/websocket_thresholds.hpp"

namespace wsm::exporter {

namespace {

// Before thresholds had one definition the exporter read failures per second from this variable;
// the same number now means a fraction, so an old setting is refused rather than misread.
constexpr const char* kRenamedFailureVariable = "WEBSOCKET_FAILED_RATE_THRESHOLD";

// Applies a value; returns what is allowed when the value is not.
using Apply = std::optional<std::string> (*)(Settings&, const std::string&);

struct Key {
  const char* json;   // config-file key
  const char* flag;   // command-line flag
  const char* env;    // environment variable
  const char* value;  // value name in --help
  const char* help;
  Apply apply;
  bool is_switch = false;  // also a bare flag meaning "on" (--allow-foreign-segment)
  const ws::ThresholdSpec* threshold = nullptr;  // set: a threshold, applied by its spec
};

std::optional<std::string> set_switch(bool& field, const std::string& v) {
  if (v == "on" || v == "true" || v == "1") {
    field = true;
  } else if (v == "off" || v == "false" || v == "0") {
    field = false;
  } else {
    return "on or off";
  }
  return std::nullopt;
}

// The whole number 1-`most` that `text` is, or nullopt. Read as a double, so "5.0" (a JSON
// config's float) is the integer 5.
std::optional<double> whole_number(const std::string& text, double most) {
  double v = 0;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  if (r.ec != std::errc() || r.ptr != text.data() + text.size() || !(v >= 1 && v <= most) || v != std::floor(v)) {
    return std::nullopt;
  }
  return v;
}

// A whole number of seconds 1-`most` into `field`; what is allowed when the text is not one.
std::optional<std::string> set_seconds(int& field, const std::string& text, int most) {
  const auto v = whole_number(text, most);
  if (!v) return "an integer 1-" + std::to_string(most) + " (seconds)";
  field = static_cast<int>(*v);
  return std::nullopt;
}

// "IPV4:PORT" with a port 1-65535: what --listen and --agent-check-listen accept.
bool is_ipv4_port(const std::string& v) {
  const auto colon = v.rfind(':');
  if (colon == std::string::npos) return false;
  in_addr addr{};
  if (::inet_pton(AF_INET, v.substr(0, colon).c_str(), &addr) != 1) return false;
  int port = 0;
  const std::string p = v.substr(colon + 1);
  const auto r = std::from_chars(p.data(), p.data() + p.size(), port);
  return r.ec == std::errc() && r.ptr == p.data() + p.size() && port >= 1 && port <= 65535;
}

const char* categories_help() {
  static const std::string help = "categories to derive: " + ws::categories_allowed() +
                                  " (default all; workers read the same variable for what they record)";
  return help.c_str();
}

const Key kFixedKeys[] = {
    {"segment", "--segment", "WSM_SEGMENT", "NAME",
     "segment to read, /dev/shm/wsm.<NAME> (default wsm)",
     [](Settings& s, const std::string& v) -> std::optional<std::string> {
       if (!shm::Segment::object_name(v)) return "a name of 1-200 characters [A-Za-z0-9_.-]";
       s.segment = v;
       return std::nullopt;
     }},
    {"listen", "--listen", "WSM_LISTEN", "ADDR:PORT",
     "HTTP address (default 127.0.0.1:9470)",
     [](Settings& s, const std::string& v) -> std::optional<std::string> {
       if (!is_ipv4_port(v)) return "IPV4:PORT with an IPv4 address and a port 1-65535, e.g. 127.0.0.1:9470";
       s.listen = v;
       return std::nullopt;
     }},
    {"interval", "--interval", "WEBSOCKET_METRICS_INTERVAL", "SECONDS",
     "snapshot, reap and derive every SECONDS, 1-60 (default 5)",
     [](Settings& s, const std::string& v) { return set_seconds(s.interval_seconds, v, 60); }},
    {"resource_monitoring", "--resource-monitoring", "WEBSOCKET_RESOURCE_MONITORING", "on|off",
     "CPU, memory, fds and threads of writers and exporter from /proc (default on)",
     [](Settings& s, const std::string& v) { return set_switch(s.resource_monitoring, v); }},
    {"categories", "--categories", ws::kCategoriesVariable, "LIST",
     categories_help(),
     [](Settings& s, const std::string& v) -> std::optional<std::string> {
       auto parsed = ws::parse_categories(v);
       if (!parsed) return ws::categories_allowed();
       s.categories = *parsed;
       return std::nullopt;
     }},
    {"id_labels", "--id-labels", "WSM_ID_LABELS", "drop|hash|raw",
     "user_id, patient_id, connection_id: sum them away, keyed hash, or as is (default drop)",
     [](Settings& s, const std::string& v) -> std::optional<std::string> {
       const auto mode = exposition::parse_id_label_mode(v);
       if (!mode) return "drop, hash or raw";
       s.id_labels = *mode;
       return std::nullopt;
     }},
    {"id_hash_key", "--id-hash-key", "WSM_ID_HASH_KEY", "FILE",
     "key for --id-labels hash, created 0600 if absent "
     "(default $XDG_STATE_HOME/wsm/id-hash.key or ~/.local/state/wsm/id-hash.key)",
     [](Settings& s, const std::string& v) -> std::optional<std::string> {
       if (v.empty()) return "a file path";
       s.id_hash_key = v;
       return std::nullopt;
     }},
    {"allow_foreign_segment", "--allow-foreign-segment", "WSM_ALLOW_FOREIGN_SEGMENT", "[on|off]",
     "serve a segment file owned by another user (default off: such a segment could carry forged "
     "counts, so it is refused until you say you trust its owner)",
     [](Settings& s, const std::string& v) { return set_switch(s.allow_foreign_segment, v); }, true},
    {"web_config", "--web-config", "WSM_WEB_CONFIG", "FILE",
     "YAML file with tls_server_config (cert_file, key_file) and basic_auth_users (user: crypt(3) "
     "hash); see exporter/README.md (default: plain HTTP, no authentication)",
     [](Settings& s, const std::string& v) -> std::optional<std::string> {
       if (v.empty()) return "a file path";
       s.web_config = v;
       return std::nullopt;
     }},
    {"agent_check_listen", "--agent-check-listen", "WSM_AGENT_CHECK_LISTEN", "ADDR:PORT",
     "answer HAProxy's agent-check on this TCP address: a weight from CPU and connections, drain "
     "when the cpu or health score threshold is breached; see exporter/README.md (default off)",
     [](Settings& s, const std::string& v) -> std::optional<std::string> {
       if (v == "off" || v.empty()) {  // so a config file or variable can switch it off again
         s.agent_check_listen.clear();
       } else if (is_ipv4_port(v)) {
         s.agent_check_listen = v;
       } else {
         return "IPV4:PORT with an IPv4 address and a port 1-65535, e.g. 127.0.0.1:9471, or off";
       }
       return std::nullopt;
     }},
    {"agent_check_capacity", "--agent-check-capacity", "WSM_AGENT_CHECK_CAPACITY", "CONNECTIONS",
     "live connections at which the agent's weight reaches 1% (full weight below half; default 10000)",
     [](Settings& s, const std::string& v) -> std::optional<std::string> {
       const auto n = whole_number(v, 10'000'000);
       if (!n) return "a whole number of connections 1-10000000";
       s.agent_check_capacity = *n;
       return std::nullopt;
     }},
    {"http_timeout", "--http-timeout", "WSM_HTTP_TIMEOUT", "SECONDS",
     "a request's headers must arrive within SECONDS, 1-300, else the connection is closed (default 10)",
     [](Settings& s, const std::string& v) { return set_seconds(s.http_timeout_seconds, v, 300); }},
};

// The fixed keys, then one per threshold of the shared table (wsm/websocket_thresholds.hpp).
const std::vector<Key>& all_keys() {
  static const std::vector<Key> keys = [] {
    std::vector<Key> k(std::begin(kFixedKeys), std::end(kFixedKeys));
    for (const ws::ThresholdSpec& t : ws::kThresholdSpecs) {
      k.push_back({t.key, t.flag, t.env, t.unit, t.meaning, nullptr, false, &t});
    }
    return k;
  }();
  return keys;
}

std::optional<std::string> apply(const Key& k, Settings& s, const std::string& v) {
  if (k.threshold == nullptr) return k.apply(s, v);
  if (ws::set_threshold(*k.threshold, v, s.thresholds)) return std::nullopt;
  return std::string(k.threshold->integer ? "a whole number in " : "a number in ") + k.threshold->allowed;
}

// "segment, listen, ...": every config-file key, for --help and the unknown-key error.
std::string key_names() {
  std::string known;
  for (const Key& k : all_keys()) known += std::string(known.empty() ? "" : ", ") + k.json;
  return known;
}

std::string error_line(const std::string& source, const std::string& value, const std::string& allowed) {
  return source + ": '" + value + "' is not allowed; expected " + allowed;
}

// The config file's value as the text a flag would carry.
std::optional<std::string> json_text(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "on" : "off";
  if (v.is_number()) return v.dump();
  return std::nullopt;
}

std::optional<std::string> apply_config(Settings& s, const std::string& path) {
  std::ifstream in(path);
  if (!in) return "--config: cannot read '" + path + "'; expected a readable JSON file";
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    return "--config " + path + ": not valid JSON (" + e.what() + ")";
  }
  if (!doc.is_object()) return "--config " + path + ": expected a JSON object of settings";
  for (const auto& [key, value] : doc.items()) {
    const auto text = json_text(value);
    const std::string source = path + ": \"" + key + "\"";
    if (!text) return source + ": expected a string, number or boolean";
    if (auto err = set_key(s, key, *text, source)) return err;
  }
  return std::nullopt;
}

std::string one_line(std::string s) {
  for (char& c : s) {
    if (c == '\n') c = ' ';
  }
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

}  // namespace

std::optional<std::string> set_key(Settings& settings, const std::string& key, const std::string& value,
                                   const std::string& source) {
  for (const Key& k : all_keys()) {
    if (key != k.json) continue;
    if (auto allowed = apply(k, settings, value)) return error_line(source, value, *allowed);
    return std::nullopt;
  }
  return source + ": unknown key; expected one of " + key_names();
}

std::expected<exposition::IdLabelPolicy, std::string> id_label_policy(const Settings& settings) {
  if (settings.id_labels != exposition::IdLabelMode::hash) return exposition::IdLabelPolicy(settings.id_labels);
  const std::string path = settings.id_hash_key.empty() ? exposition::default_hash_key_path() : settings.id_hash_key;
  auto key = exposition::load_or_create_hash_key(path);
  if (!key) return std::unexpected("--id-hash-key: " + key.error().message());
  return exposition::IdLabelPolicy(settings.id_labels, *key);
}

ParseOutcome parse_settings(const std::vector<std::string>& args, const Environment& env) {
  CLI::App app{"wsm-exporter: serves a wsmetrics segment to Prometheus (/metrics), as JSON "
               "(/api/v1/summary, /api/v1/percentiles, /api/v1/snapshots, /api/v1/connections, "
               "/api/v1/connections/{id}, /api/v1/writers, /api/v1/segment, /api/v1/breakdown, "
               "/api/v1/exemplars, /healthz) and as a live page (/)",
               "wsm-exporter"};
  app.footer("Each flag has the environment variable shown; precedence: flag > environment > "
             "--config FILE > default.\nExit codes: 0 stopped by SIGTERM/SIGINT, 1 runtime failure, "
             "2 bad flag or value.");
  std::string config_path;
  auto* config = app.add_option("--config", config_path,
                                "JSON file with any of the keys " + key_names() + " [env: WSM_CONFIG]")
                     ->type_name("FILE");
  const std::vector<Key>& keys = all_keys();
  std::vector<std::string> values(keys.size());
  std::vector<CLI::Option*> options;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const Key& k = keys[i];
    auto* option = app.add_option(k.flag, values[i], std::string(k.help) + " [env: " + k.env + "]")
                       ->type_name(k.value);
    if (k.is_switch) option->expected(0, 1);  // bare: "on"
    options.push_back(option);
  }

  std::vector<std::string> reversed(args.rbegin(), args.rend() - (args.empty() ? 0 : 1));
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    return {std::nullopt, 0, app.help()};
  } catch (const CLI::ParseError& e) {
    return {std::nullopt, 2, one_line(e.what()) + "; see --help"};
  }

  Settings s;
  if (config->count() == 0) {
    if (const char* c = env("WSM_CONFIG"); c != nullptr && *c != '\0') config_path = c;
  }
  if (!config_path.empty()) {
    if (auto err = apply_config(s, config_path)) return {std::nullopt, 2, *err};
  }
  if (const char* old = env(kRenamedFailureVariable); old != nullptr && *old != '\0') {
    return {std::nullopt, 2,
            std::string(kRenamedFailureVariable) + " (failed messages per second) was replaced by "
            "WEBSOCKET_FAILURE_RATE_THRESHOLD, a fraction of sent messages (0.05 = 5%), as the alert "
            "rules read it; unset it and set that instead"};
  }
  for (const Key& k : keys) {
    if (const char* v = env(k.env); v != nullptr) {
      if (auto err = set_key(s, k.json, v, k.env)) return {std::nullopt, 2, *err};
    }
  }
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (options[i]->count() == 0) continue;
    if (keys[i].is_switch && values[i].empty()) values[i] = "on";
    if (auto err = set_key(s, keys[i].json, values[i], keys[i].flag)) return {std::nullopt, 2, *err};
  }
  // The resource category off is resource monitoring off: nothing is read from /proc.
  if (!s.categories.enabled(ws::Category::resource)) s.resource_monitoring = false;
  return {std::move(s), 0, {}};
}

}  // namespace wsm::exporter
