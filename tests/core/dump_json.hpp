// `wsm dump --json NAME` run as a separate process and read back by series key, for the tests
// that check the CLI shows the same exact totals the library computes.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "wsm/shm/error.hpp"

namespace wsm::test {

struct Dump {
  nlohmann::json document;
  std::map<std::string, nlohmann::json> series;  // by series_key(name, labels)
};

// Runs the built `wsm dump --json`; fails with its stderr when it exits non-zero.
[[nodiscard]] Result<Dump> dump_json(const std::string& segment);

}  // namespace wsm::test
