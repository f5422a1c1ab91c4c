// W3C trace context for the load: a `traceparent` ("00-<32 hex trace id>-<16 hex span id>-01")
// for each connection's upgrade request and for each message's envelope, fresh random ids each
// time, so wsm-demo-server records them as exemplars. With --trace-log FILE every trace id sent
// is written there, one per line, for a test to look for in Prometheus.
#pragma once

#include <cstdio>
#include <random>
#include <string>

namespace wsm::loadgen {

class TraceIds {
 public:
  // log_path empty: no log. False (with errno) when the log cannot be opened.
  bool open_log(const std::string& log_path);
  ~TraceIds();
  // A new traceparent, its trace id logged.
  [[nodiscard]] std::string next();

 private:
  std::mt19937_64 random_{std::random_device{}()};
  std::FILE* log_ = nullptr;
};

}  // namespace wsm::loadgen
