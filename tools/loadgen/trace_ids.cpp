#include "trace_ids.hpp"

#include <cinttypes>

namespace wsm::loadgen {

bool TraceIds::open_log(const std::string& log_path) {
  if (log_path.empty()) return true;
  log_ = std::fopen(log_path.c_str(), "w");
  return log_ != nullptr;
}

TraceIds::~TraceIds() {
  if (log_ != nullptr) std::fclose(log_);
}

std::string TraceIds::next() {
  // | 1: an all-zero id is invalid in W3C trace context.
  const std::uint64_t hi = random_() | 1, lo = random_(), span = random_() | 1;
  char text[64];
  std::snprintf(text, sizeof text, "00-%016" PRIx64 "%016" PRIx64 "-%016" PRIx64 "-01", hi, lo, span);
  if (log_ != nullptr) std::fprintf(log_, "%.32s\n", text + 3);
  return text;
}

}  // namespace wsm::loadgen
