// Request -> Response for every endpoint, without HTTP: the HTTP layer (http_exchange.cpp)
// only copies the method, the decoded path, the query and two headers in and the response out.
#pragma once

#include <string>
#include <string_view>

#include "wsm/exporter/monitor.hpp"

namespace wsm::exporter {

struct Request {
  std::string_view method;
  std::string_view path;
  std::string_view query;
  std::string_view accept;
  std::string_view accept_encoding;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  bool gzipped = false;
  bool negotiated = false;  // the body depends on Accept and Accept-Encoding (Vary)
  std::string owned;        // JSON bodies
  std::string_view body;    // into `owned` or the thread's ScrapeBuffers
};

[[nodiscard]] Response handle(Monitor& monitor, const Request& request, ScrapeBuffers& buffers);

}  // namespace wsm::exporter
