// websocket_health_score, read from the writers' connection tables (shm/connection_table.hpp)
// rather than from a segment gauge: a gauge series per connection would grow the catalog with
// every connection ever seen (the catalogue explains it). One source for /metrics, the summary's
// min_score and /api/v1/connections' default order, so the LowHealthScore alert
// (`min by (job, instance, role) (websocket_health_score) < 70`) sees what the API shows.
//
// In /metrics, by the identifier-label policy:
//   hash, raw  websocket_health_score{connection_id, role} for the rule's `worst_connections`
//              lowest scores over all writers (ties: lower connection id first); connection_id is
//              "<pid>-<sequence>" (raw) or its pseudonym (hash), as /api/v1/connections shows it.
//   drop       websocket_health_score{role}: each role's lowest score over all its live
//              connections, which is what dropping connection_id from per-connection series of a
//              min-mode gauge gives (one series per role, no identifiers).
// A connection whose score is not a number (a writer bug) is ordered after every real score and
// left out of minima.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "wsm/exporter/derived_rules.hpp"
#include "wsm/exposition/format.hpp"
#include "wsm/exposition/id_labels.hpp"
#include "wsm/shm/connection_table.hpp"

namespace wsm::exporter {

// Sorts lowest score first, then by connection id.
void order_worst_first(std::vector<shm::ConnectionInfo>& connections);

// The lowest score of any connection; nullopt when there is none.
[[nodiscard]] std::optional<double> lowest_health_score(std::span<const shm::ConnectionInfo> connections);

// The family as the policy exposes it (see above); no samples when there are no connections.
[[nodiscard]] exposition::ComputedFamily health_score_family(std::vector<shm::ConnectionInfo> connections,
                                                             const exposition::IdLabelPolicy& policy,
                                                             const HealthRule& rule);

// A connection's id as the policy shows it, in /api/v1/connections and (hash, raw) in /metrics'
// connection_id label; /api/v1/connections/{id} takes exactly this string:
//   raw   "<pid>-<sequence>" (shm::format_connection_id), the connection id as recorded;
//   hash  the pseudonym of that;
//   drop  "<record>.<tenant>.<segment>" (shm::format_record_id): where the connection lives in the
//         table, which names no connection, user or patient (not even the dropped connection_id),
//         is fixed for the connection's life and never names a later one.
[[nodiscard]] std::string shown_connection_id(const shm::ConnectionInfo& connection,
                                              const exposition::IdLabelPolicy& policy);

}  // namespace wsm::exporter
