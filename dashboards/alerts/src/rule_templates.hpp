// The Prometheus rules file with @PLACEHOLDER@ marks where render_alert_rules puts thresholds.
#pragma once

#include <string_view>

namespace wsm::alerts {

// Every rule (recording and alerting) lives in this one template; see rule_templates.cpp.
extern const std::string_view kRuleTemplate;

}  // namespace wsm::alerts
