// The live connections of every writer's connection table as JSON (the seed's
// get_connection_metrics), read from the segment at each request.
//
//   GET /api/v1/connections        ?role=R  only connections of that role
//                                  ?sort=health (default: lowest score first, then id) | id
//                                        (writer pid, then open order) | opened (oldest first)
//                                  ?limit=N 1-100000 (default 100): the first N after sorting;
//                                  `total` counts every match
//   GET /api/v1/connections/{id}   one connection, by exactly the id the list shows; 400 when the
//                                  id is not of the policy's form, 404 when no live connection
//                                  has it (both errors name the form)
//
// A connection: id, role, user_id, patient_id (when recorded), writer_pid, opened_at and
// age_seconds, messages and bytes in/out, last_heartbeat_at and heartbeat_age_seconds (null until
// a heartbeat was answered), health_score (0 worst .. 100; null if not a number). Times are Unix
// seconds.
//
// Identifiers follow --id-labels, as in /metrics; `id` is always there, in a form safe under the
// policy (shown_connection_id, health_scores.hpp), and is what /api/v1/connections/{id} takes:
//   raw   as recorded; id is "<pid>-<sequence>" (shm::format_connection_id);
//   hash  HMAC-SHA256 pseudonyms, the same ones /metrics shows (id: of "<pid>-<sequence>");
//   drop  user_id and patient_id left out of every answer (`id_labels: "drop"` says so), and the
//         connection id too: id is "<record>.<tenant>.<segment>" (shm::format_record_id), where
//         the connection lives in the table, fixed for its life and never reused for another.
// Errors: {"error": "..."} with 400 (bad parameter or id), 404 (no such connection), 503 (no
// segment attached).
#pragma once

#include <string_view>

#include "wsm/exporter/api.hpp"
#include "wsm/exporter/monitor.hpp"

namespace wsm::exporter {

inline constexpr std::size_t kConnectionsDefaultLimit = 100;
inline constexpr std::size_t kConnectionsMaxLimit = 100000;

[[nodiscard]] ApiResult api_connections(Monitor& monitor, std::string_view query);
// `id` is the path after /api/v1/connections/.
[[nodiscard]] ApiResult api_connection(Monitor& monitor, std::string_view id);

}  // namespace wsm::exporter
