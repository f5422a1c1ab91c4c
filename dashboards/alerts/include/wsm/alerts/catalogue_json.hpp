// The metric catalogue (writer_api/catalogue) as JSON, for what is generated outside C++: the
// Grafana views (dashboards/grafana/generate.py) and the Python lints read names, label names,
// enumerated label values and thresholds from this one rendering instead of a hand-kept copy, so a
// renamed family or value breaks generation and the tests, not a dashboard in production.
#pragma once

#include <string>

#include "wsm/websocket_thresholds.hpp"

namespace wsm::alerts {

// {"families": {name: {type, unit, category, source, labels: {label: [values] | null}}},
//  "thresholds": {...}}: a label's values are its enum's names, null when free-form (identifiers,
// the exporter's process roles). Two-space indented, ending in a newline; `catalogue_json({})` is
// the committed dashboards/catalogue.json.
[[nodiscard]] std::string catalogue_json(const ws::Thresholds& thresholds);

}  // namespace wsm::alerts
