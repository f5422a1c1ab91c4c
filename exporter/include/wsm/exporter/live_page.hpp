// The live page: GET / (index.html) and the files it loads: /live.css, /report_errors.js and
// /live.js. They live in live_page/ and are compiled in (cmake/embed_files.cmake); the page reads
// only the JSON API of the same exporter (api.hpp), so it needs no network beyond this host.
#pragma once

#include <optional>
#include <string_view>

#include "wsm/exporter/routes.hpp"

namespace wsm::exporter {

// The page file served at `path`, or nullopt when `path` is not one of them.
[[nodiscard]] std::optional<Response> live_page(std::string_view path);

}  // namespace wsm::exporter
