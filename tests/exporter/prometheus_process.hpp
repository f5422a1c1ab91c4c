// A real Prometheus (Debian's /usr/bin/prometheus, 2.42) for the tests: started on a free loopback
// port with a temp config scraping one target every second and a temp data dir, stopped by pid
// (SIGTERM) and its directory removed when destroyed.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace wsm::test {

class Prometheus {
 public:
  // extra_args: more flags, e.g. --enable-feature=exemplar-storage.
  Prometheus(int target_port, const std::string& dir, std::vector<std::string> extra_args = {});
  ~Prometheus();
  Prometheus(const Prometheus&) = delete;
  Prometheus& operator=(const Prometheus&) = delete;
  [[nodiscard]] bool ready() const { return ready_; }

  // The result vector of an instant query (empty when Prometheus has no data).
  [[nodiscard]] nlohmann::json query(const std::string& expr) const;
  // The single value of a query; NaN when there is not exactly one.
  [[nodiscard]] double value(const std::string& expr) const;
  // GET path (with its query) from the HTTP API: the "data" of a successful answer, else null.
  [[nodiscard]] nlohmann::json api(const std::string& path_and_query) const;

 private:
  int port_;
  std::string dir_;
  bool ready_ = false;
  std::optional<Child> child_;
};

}  // namespace wsm::test
