// Content negotiation of GET /metrics from the Accept and Accept-Encoding headers (RFC 9110
// q-values). Prometheus sends
//   Accept: application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;
//           version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2
//   Accept-Encoding: gzip
// OpenMetrics is answered when the client prefers it (a strictly higher q than the text format,
// whose q is that of text/plain, text/* or */*); anything else, including no Accept header or an
// Accept header naming neither, gets the text format, which every Prometheus reads.
#pragma once

#include <string_view>

#include "wsm/exposition/format.hpp"

namespace wsm::exporter {

[[nodiscard]] exposition::Format negotiate_format(std::string_view accept) noexcept;
// True when gzip has a q > 0 (directly, or through `*` when gzip is not listed).
[[nodiscard]] bool accepts_gzip(std::string_view accept_encoding) noexcept;

}  // namespace wsm::exporter
