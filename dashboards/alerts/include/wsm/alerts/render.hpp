// Renders dashboards/prometheus/prometheus-websocket-alerts.yml from the thresholds.
#pragma once

#include <string>
#include <string_view>

#include "wsm/websocket_thresholds.hpp"

namespace wsm::alerts {

// Where the alerts' runbook_url points by default: the runbooks in this repository, relative to
// its root. Operators who publish docs/runbooks.md elsewhere pass their URL instead.
inline constexpr std::string_view kDefaultRunbookBase = "docs/runbooks.md";

// The Prometheus rules file (recording rules and the nine alerts) for these thresholds.
// render_alert_rules(Thresholds{}) is the committed file. A non-empty `for_override` (a Prometheus
// duration such as "1s", checked by is_prometheus_duration) replaces every alert's `for:`, for
// end-to-end tests and staging systems that must see alerts fire within seconds.
[[nodiscard]] std::string render_alert_rules(const ws::Thresholds& thresholds,
                                             std::string_view runbook_base = kDefaultRunbookBase,
                                             std::string_view for_override = {});

// A duration as Prometheus writes them in rules: one or more <digits><unit> with the units
// ms, s, m, h, d, w, y in decreasing order ("1s", "1m30s").
[[nodiscard]] bool is_prometheus_duration(std::string_view text);

// A threshold as Prometheus and people read it: shortest round-trip form ("0.5", "80", "1e-06").
[[nodiscard]] std::string format_number(double value);

}  // namespace wsm::alerts
