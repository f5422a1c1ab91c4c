// wsm-exporter's settings: every key once, with its flag, environment variable, config-file key,
// allowed values and default, in one table (settings.cpp). Precedence: flag > environment >
// --config FILE (JSON) > default. A bad value is one line naming the key (as the source spelled
// it) and what is allowed; the caller exits 2.
#pragma once

#include <expected>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "wsm/exposition/id_labels.hpp"
#include "wsm/websocket_categories.hpp"
#include "wsm/websocket_thresholds.hpp"

namespace wsm::exporter {

struct Settings {
  std::string segment = "wsm";
  std::string listen = "127.0.0.1:9470";
  int interval_seconds = 5;
  bool resource_monitoring = true;  // off too when `categories` leaves out resource
  // What is derived (WEBSOCKET_METRICS_CATEGORIES, as the writers read it for what they record).
  ws::Categories categories = ws::Categories::all();
  exposition::IdLabelMode id_labels = exposition::IdLabelMode::drop;
  std::string id_hash_key;  // empty: exposition::default_hash_key_path()
  bool allow_foreign_segment = false;  // serve a segment file another user owns
  std::string web_config;   // TLS and basic-auth file (web_config.hpp); empty: plain HTTP, no auth
  int http_timeout_seconds = 10;  // a request must arrive whole within this time
  // HAProxy agent check (agent_check.hpp): empty, off; else IPV4:PORT to answer on.
  std::string agent_check_listen;
  // Live connections at which the agent's weight reaches its floor (full weight below half).
  double agent_check_capacity = 10000;
  ws::Thresholds thresholds;  // what the summary's "breached" list compares against
  // Not a key: who the Monitor's log lines say they are from (the Python collector runs one too).
  std::string log_name = "wsm-exporter";
};

struct ParseOutcome {
  std::optional<Settings> settings;  // absent: print `message`, exit with `exit_code`
  int exit_code = 0;                 // 0 after --help, 2 on a usage error
  std::string message;               // --help text, or one line saying what is wrong
};

using Environment = std::function<const char*(const char*)>;

// Parses argv, the environment and the config file they name.
[[nodiscard]] ParseOutcome parse_settings(const std::vector<std::string>& args,
                                          const Environment& env);

// The identifier-label policy of `settings` (with its hash key, loaded or created, for hash), or
// the error to print; the exporter and the Python collector (writer_api/python) build it alike.
[[nodiscard]] std::expected<exposition::IdLabelPolicy, std::string> id_label_policy(const Settings& settings);

// Sets one key by its config-file name from text (as a flag or variable would give it), as used
// for the config file; the message names `source`. Exposed for tests.
[[nodiscard]] std::optional<std::string> set_key(Settings& settings, const std::string& key,
                                                 const std::string& value, const std::string& source);

}  // namespace wsm::exporter
