#include "wsm/exporter/routes.hpp"

#include "wsm/exporter/api.hpp"
#include "wsm/exporter/connections_api.hpp"
#include "wsm/exporter/live_page.hpp"
#include "wsm/exporter/negotiation.hpp"

namespace wsm::exporter {

namespace {

// Strings in a body may quote what a client sent (a parameter name, a path) or a label value:
// invalid UTF-8 becomes U+FFFD, where the default dump() would throw and end the exporter.
Response json_response(ApiResult r) {
  Response out;
  out.status = r.status;
  // Replace, not throw: ids and roles come from writers and may end mid-way through a UTF-8 character.
  out.owned = r.body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  out.owned += '\n';
  out.body = out.owned;
  return out;
}

}  // namespace

Response handle(Monitor& monitor, const Request& request, ScrapeBuffers& buffers) {
  if (request.method != "GET" && request.method != "HEAD") {
    return json_response(api_error(405, "method " + std::string(request.method) + " is not allowed; use GET"));
  }
  if (request.path == "/metrics") {
    const exposition::Format format = negotiate_format(request.accept);
    const auto body = monitor.scrape(format, accepts_gzip(request.accept_encoding), buffers);
    Response r;
    r.content_type = exposition::content_type(format);
    r.gzipped = body.gzipped;
    r.negotiated = true;
    r.body = body.bytes;
    return r;
  }
  if (request.path == "/api/v1/summary") return json_response(api_summary(monitor));
  if (request.path == "/api/v1/percentiles") return json_response(api_percentiles(monitor, request.query));
  if (request.path == "/api/v1/snapshots") return json_response(api_snapshots(monitor, request.query));
  if (request.path == "/healthz") return json_response(api_healthz(monitor));
  if (request.path == "/api/v1/connections") return json_response(api_connections(monitor, request.query));
  if (constexpr std::string_view one = "/api/v1/connections/"; request.path.starts_with(one)) {
    return json_response(api_connection(monitor, request.path.substr(one.size())));
  }
  if (request.path == "/api/v1/writers") return json_response(api_writers(monitor));
  if (request.path == "/api/v1/segment") return json_response(api_segment(monitor));
  if (request.path == "/api/v1/breakdown") return json_response(api_breakdown(monitor));
  if (request.path == "/api/v1/exemplars") return json_response(api_exemplars(monitor, request.query));
  if (auto page = live_page(request.path)) return std::move(*page);
  return json_response(api_error(404, "no endpoint '" + std::string(request.path) +
                                          "'; try /, /metrics, /api/v1/summary, /api/v1/percentiles, "
                                          "/api/v1/snapshots, /api/v1/connections, /api/v1/writers, "
                                          "/api/v1/segment, /api/v1/breakdown, /api/v1/exemplars or /healthz"));
}

}  // namespace wsm::exporter
