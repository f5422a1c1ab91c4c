#include "wsm/exporter/live_page.hpp"

#include "live_page_files.hpp"

namespace wsm::exporter {

std::optional<Response> live_page(std::string_view path) {
  struct File {
    std::string_view path, content_type, body;
  };
  static constexpr File kFiles[] = {
      {"/", "text/html; charset=utf-8", live_page_files::kIndexHtml},
      {"/live.css", "text/css; charset=utf-8", live_page_files::kLiveCss},
      {"/live.js", "text/javascript; charset=utf-8", live_page_files::kLiveJs},
      {"/report_errors.js", "text/javascript; charset=utf-8", live_page_files::kReportErrorsJs},
  };
  for (const File& f : kFiles) {
    if (f.path != path) continue;
    Response r;
    r.content_type = f.content_type;
    r.body = f.body;  // static storage: no copy
    return r;
  }
  return std::nullopt;
}

}  // namespace wsm::exporter
