#include "prometheus_process.hpp"

#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>

#include "url_encode.hpp"

namespace wsm::test {

using nlohmann::json;

Prometheus::Prometheus(int target_port, const std::string& dir, std::vector<std::string> extra_args)
    : port_(free_port()), dir_(dir) {
  std::filesystem::create_directories(dir_ + "/data");
  std::ofstream(dir_ + "/prometheus.yml")
      << "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
         "scrape_configs:\n  - job_name: wsm\n    static_configs:\n      - targets: ['127.0.0.1:"
      << target_port << "']\n";
  std::vector<std::string> args = {"/usr/bin/prometheus", "--config.file=" + dir_ + "/prometheus.yml",
                                   "--storage.tsdb.path=" + dir_ + "/data",
                                   "--web.listen-address=127.0.0.1:" + std::to_string(port_), "--log.level=warn"};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  child_.emplace(Child::spawn(args));
  ready_ = wait_for_http(port_, "/-/ready", 200, std::chrono::seconds(30));
}

Prometheus::~Prometheus() {
  child_->signal(SIGTERM);
  child_->wait(std::chrono::seconds(20));
  std::filesystem::remove_all(dir_);
}

json Prometheus::api(const std::string& path_and_query) const {
  const auto r = http_get(port_, path_and_query);
  if (!r || r->status != 200) return nullptr;
  const auto j = json::parse(r->body, nullptr, false);
  return j.is_object() && j["status"] == "success" ? j["data"] : json(nullptr);
}

json Prometheus::query(const std::string& expr) const {
  const json data = api("/api/v1/query?query=" + url_encode(expr));
  return data.is_object() ? data["result"] : json::array();
}

double Prometheus::value(const std::string& expr) const {
  const json r = query(expr);
  if (r.size() != 1) return std::nan("");
  return std::stod(r[0]["value"][1].get<std::string>());
}

}  // namespace wsm::test
