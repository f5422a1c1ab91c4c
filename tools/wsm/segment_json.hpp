// The aggregated view of a segment as JSON: the stable machine interface of `wsm dump --json`.
//   {"segment":"demo","generation":"<hex>","series":[
//     {"name":"...","type":"counter|gauge|histogram","labels":{"k":"v"},"value":N},
//     {"name":"..._seconds","type":"histogram","labels":{},"count":N,"sum":S,
//      "buckets":[[upper_bound,cumulative_count],...,["+Inf",count]]}]}
// Histogram buckets list the upper edge (in base units: seconds, bytes) of every non-empty HDR
// bucket with the cumulative count up to it, which is lossless; sum is in base units too.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "wsm/shm/aggregation.hpp"

namespace wsm::cli {

[[nodiscard]] nlohmann::json segment_json(const std::string& segment, const shm::Snapshot& snapshot,
                                          const shm::Aggregation& aggregation);

}  // namespace wsm::cli
