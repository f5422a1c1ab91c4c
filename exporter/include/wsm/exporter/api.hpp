// The JSON API's content as plain functions of the Monitor (the HTTP layer only routes).
//   GET /api/v1/summary      connections by role, messages, failures, rates, CPU and memory,
//                            latency, which thresholds are breached
//   GET /api/v1/percentiles  ?metric=NAME&LABEL=VALUE...&q=0.5,0.95,0.99 (q optional): quantiles
//                            from the HDR buckets of the matching series (summed), with bounds
//   GET /api/v1/snapshots    ?n=10 (1-720): the last n interval snapshots, oldest first
//   GET /api/v1/writers      the writer slots: pid, tid, role, state, alive, heartbeat age, bytes
//   GET /api/v1/segment      usage against capacity (series, families, writers, string, retired
//                            and arena bytes) and what was dropped
//   GET /api/v1/breakdown    latency p50/p95/p99 per message type, compression ratio per type,
//                            buffer utilisation, queue sizes and active subscriptions per label set
//   GET /api/v1/exemplars    ?window=300&top=10 (window 1-900 s, top 1-100; both optional): the
//                            slowest exemplars of websocket_message_latency_seconds recorded in
//                            the window, per message_type: {"metric", "window_seconds", "top",
//                            "by_message_type": {type: [{"trace_id", "span_id", "value_seconds",
//                            "time" (unix s), "labels"}, ...slowest first]}} (exemplar_log.hpp)
//   GET /healthz             200 with the segment state; 503 with the reason while there is none
//   GET /api/v1/connections[/{id}]  the connection tables: connections_api.hpp
// (GET / and its two files are the live page, live_page.hpp, which reads these endpoints.)
// Errors: {"error": "..."} with 400 (bad parameter) or 404 (unknown metric or series).
#pragma once

#include <expected>
#include <nlohmann/json.hpp>
#include <string_view>

#include "wsm/exporter/monitor.hpp"
#include "wsm/exporter/quantile.hpp"

namespace wsm::exporter {

struct ApiResult {
  int status = 200;
  nlohmann::json body;
};

[[nodiscard]] ApiResult api_error(int status, std::string message);
[[nodiscard]] ApiResult api_summary(Monitor& monitor);
// The same, with "breached" and "thresholds" judged against `thresholds` instead of the settings'
// (the Python collector's alert_thresholds, set at run time).
[[nodiscard]] ApiResult api_summary(Monitor& monitor, const ws::Thresholds& thresholds);
[[nodiscard]] ApiResult api_percentiles(Monitor& monitor, std::string_view query);
[[nodiscard]] ApiResult api_snapshots(Monitor& monitor, std::string_view query);
[[nodiscard]] ApiResult api_healthz(Monitor& monitor);
[[nodiscard]] ApiResult api_writers(Monitor& monitor);    // api_segment.cpp
[[nodiscard]] ApiResult api_segment(Monitor& monitor);    // api_segment.cpp
[[nodiscard]] ApiResult api_breakdown(Monitor& monitor);  // api_breakdown.cpp
[[nodiscard]] ApiResult api_exemplars(Monitor& monitor, std::string_view query);  // api_exemplars.cpp

// {"q", "value", "lower", "upper"} of a quantile; an unbounded edge is null.
[[nodiscard]] nlohmann::json quantile_json(const Quantile& q);

// A count parameter NAME=VALUE: VALUE is a whole integer in 1..max, or the 400 that names both.
[[nodiscard]] std::expected<std::size_t, ApiResult> count_parameter(std::string_view name, const std::string& value,
                                                                    std::size_t max);

// Decoded name=value pairs of a query string (application/x-www-form-urlencoded); nullopt when
// an escape is malformed.
[[nodiscard]] std::optional<std::vector<std::pair<std::string, std::string>>> parse_query(std::string_view query);

}  // namespace wsm::exporter
