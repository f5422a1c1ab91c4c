// A real VictoriaMetrics (Debian's victoria-metrics, on a free loopback port with a temporary
// config and data directory, stopped by pid) scrapes three wsm-exporters every second for 15 s.
// It keeps each connection between scrapes, so an exporter that drops idle kept-alive connections
// fails scrapes (civetweb's 500 ms limit failed 33 of 36). Every scrape must succeed.
#include <gtest/gtest.h>

#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>

#include "exporter_test_support.hpp"

namespace {

using namespace wsm::test;

constexpr const char* kVictoriaMetrics = "/usr/bin/victoria-metrics";

class VictoriaMetrics {
 public:
  VictoriaMetrics(const std::vector<int>& targets, std::filesystem::path dir) : port_(free_port()), dir_(std::move(dir)) {
    std::filesystem::create_directories(dir_ / "data");
    std::ofstream config(dir_ / "scrape.yml");
    config << "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: wsm\n    static_configs:\n"
              "      - targets: [";
    for (std::size_t i = 0; i < targets.size(); ++i) config << (i ? ", " : "") << "'127.0.0.1:" << targets[i] << "'";
    config << "]\n";
    config.close();
    // Its log goes to a file: it is chatty, and only wanted when the test fails.
    child_ = std::make_unique<Child>(Child::spawn(
        {"/bin/sh", "-c", "exec \"$@\" >\"$VM_LOG\" 2>&1", "sh", kVictoriaMetrics,
         "-promscrape.config=" + (dir_ / "scrape.yml").string(), "-storageDataPath=" + (dir_ / "data").string(),
         "-httpListenAddr=127.0.0.1:" + std::to_string(port_), "-search.latencyOffset=1s"},
        {"VM_LOG=" + (dir_ / "vm.log").string()}));
    ready_ = wait_for_http(port_, "/metrics", 200, std::chrono::seconds(30));
  }
  ~VictoriaMetrics() {
    child_->signal(SIGTERM);
    (void)child_->wait(std::chrono::seconds(20));
    std::filesystem::remove_all(dir_);
  }
  [[nodiscard]] bool ready() const { return ready_; }
  // One of its own metrics, summed over its label sets (vm_promscrape_scrapes_total has one per
  // status code); NaN when it does not answer or has no such sample.
  [[nodiscard]] double own(const std::string& name) const {
    const auto r = http_get(port_, "/metrics");
    if (!r || r->status != 200) return std::nan("");
    double sum = std::nan("");
    for (const auto& [series, value] : parse_exposition(r->body).samples) {
      if (series != name && !series.starts_with(name + "{")) continue;
      sum = (std::isnan(sum) ? 0 : sum) + std::stod(value);
    }
    return sum;
  }
  [[nodiscard]] std::string log() const {
    std::ifstream in(dir_ / "vm.log");
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

 private:
  int port_;
  std::filesystem::path dir_;
  std::unique_ptr<Child> child_;
  bool ready_ = false;
};

TEST(VictoriaMetricsScrape, EveryOneSecondScrapeOfThreeExportersSucceeds) {
  if (!std::filesystem::exists(kVictoriaMetrics)) GTEST_FAIL() << kVictoriaMetrics << " missing: run scripts/setup";
  std::vector<std::unique_ptr<SegmentGuard>> segments;
  std::vector<std::unique_ptr<Exporter>> exporters;
  std::vector<int> ports;
  for (int i = 0; i < 3; ++i) {
    segments.push_back(std::make_unique<SegmentGuard>(unique_segment_name("vm")));
    run_writer(segments.back()->name(), {"counter", "t_vm_total", "-", std::to_string(i + 1)});
    exporters.push_back(std::make_unique<Exporter>(segments.back()->name()));
    ports.push_back(exporters.back()->port());
  }
  VictoriaMetrics vm(ports, std::filesystem::temp_directory_path() / unique_segment_name("victoria-metrics"));
  ASSERT_TRUE(vm.ready()) << vm.log();
  // About 15 s of scrapes: 3 targets every second.
  ASSERT_TRUE(wait_until([&] { return vm.own("vm_promscrape_scrapes_total") >= 45; }, std::chrono::seconds(40)))
      << "scrapes: " << vm.own("vm_promscrape_scrapes_total") << "\n" << vm.log();
  EXPECT_GT(vm.own("vm_promscrape_scrapes_total"), 0);
  EXPECT_EQ(vm.own("vm_promscrape_scrapes_failed_total"), 0) << vm.log();
  for (auto& exporter : exporters) EXPECT_EQ(exporter->stop(), 0);
}

}  // namespace
