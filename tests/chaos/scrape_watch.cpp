#include "scrape_watch.hpp"

#include <cstdlib>

#include "exporter_test_support.hpp"

namespace wsm::chaos {

ScrapeWatch::ScrapeWatch(std::string prefix) : prefix_(std::move(prefix)), thread_([this] { run(); }) {}

ScrapeWatch::~ScrapeWatch() { stop(); }

void ScrapeWatch::stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

std::vector<std::string> ScrapeWatch::violations() const {
  std::lock_guard lock(mutex_);
  return violations_;
}

std::map<std::string, double> ScrapeWatch::last() const {
  std::lock_guard lock(mutex_);
  return last_;
}

void ScrapeWatch::run() {
  while (!stop_.load()) {
    const int port = port_.load();
    const auto r = port == 0 ? std::nullopt : test::http_get(port, "/metrics", {}, std::chrono::seconds(5));
    if (!r || r->status != 200) {
      // The exporter is down or restarting, or a fold is half done (503): both are expected here.
      failed_.fetch_add(1);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    const test::ParsedExposition e = test::parse_exposition(r->body);
    std::lock_guard lock(mutex_);
    for (const std::string& line : e.errors) violations_.push_back("unparsable line: " + line);
    for (const auto& [series, text] : e.samples) {
      if (!series.starts_with(prefix_)) continue;
      char* end = nullptr;
      const double v = std::strtod(text.c_str(), &end);
      if (end == text.c_str() || *end != '\0') {
        violations_.push_back(series + ": value '" + text + "' is not a number");
        continue;
      }
      auto [it, fresh] = last_.try_emplace(series, v);
      if (!fresh && v < it->second) {
        violations_.push_back(series + ": " + std::to_string(it->second) + " -> " + std::to_string(v));
      }
      it->second = v;
    }
    ok_.fetch_add(1);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace wsm::chaos
