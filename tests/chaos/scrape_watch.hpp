// A thread that scrapes an exporter's /metrics over and over and checks that no sample of the
// chosen families ever goes down from one successful scrape to the next, whichever exporter
// process answered (the port may change when the exporter is restarted).
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace wsm::chaos {

class ScrapeWatch {
 public:
  // Samples whose name starts with `prefix` are watched; every scrape goes to port().
  explicit ScrapeWatch(std::string prefix);
  ~ScrapeWatch();
  ScrapeWatch(const ScrapeWatch&) = delete;
  ScrapeWatch& operator=(const ScrapeWatch&) = delete;

  void set_port(int port) { port_.store(port); }
  void stop();

  [[nodiscard]] std::uint64_t scrapes_ok() const { return ok_.load(); }
  [[nodiscard]] std::uint64_t scrapes_failed() const { return failed_.load(); }
  // "sample: a -> b" for every decrease seen (and lines that did not parse).
  [[nodiscard]] std::vector<std::string> violations() const;
  // The last value of every watched sample ("name{labels}" as written).
  [[nodiscard]] std::map<std::string, double> last() const;

 private:
  void run();
  std::string prefix_;
  std::atomic<int> port_{0};
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> ok_{0}, failed_{0};
  mutable std::mutex mutex_;
  std::map<std::string, double> last_;
  std::vector<std::string> violations_;
  std::thread thread_;
};

}  // namespace wsm::chaos
