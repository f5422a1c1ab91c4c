// Renders dashboards/prometheus/prometheus-websocket-alerts.yml from the thresholds.
#pragma once

#include <string>
#include <string_view>

#include "wsm/alerts/thresholds.hpp"

namespace wsm::alerts {

// Where the alerts' runbook_url points by default: the runbooks in this repository, relative to
// its root. Operators who publish docs/runbooks.md elsewhere pass their URL instead.
inline constexpr std::string_view kDefaultRunbookBase = "docs/runbooks.md";

// The Prometheus rules file (recording rules and the nine alerts) for these thresholds.
// render_alert_rules(Thresholds{}) is the committed file.
[[nodiscard]] std::string render_alert_rules(const Thresholds& thresholds,
                                             std::string_view runbook_base = kDefaultRunbookBase);

// A threshold as Prometheus and people read it: shortest round-trip form ("0.5", "80", "1e-06").
[[nodiscard]] std::string format_number(double value);

}  // namespace wsm::alerts
