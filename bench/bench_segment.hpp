// A Registry on a segment of its own ("bench-<what>-<pid>-<n>"), unlinked when this goes out of
// scope, so benchmark runs never meet each other's segments or leave one behind. The mapping stays
// valid after the unlink (the writer API keeps it for the life of the process).
#pragma once

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

#include "wsm/shm/segment.hpp"
#include "wsm/writer.hpp"

namespace wsm::bench {

class BenchSegment {
 public:
  explicit BenchSegment(const std::string& what, const shm::Limits& limits = {})
      : name_("bench-" + what + "-" + std::to_string(::getpid()) + "-" + std::to_string(next())),
        registry_(open(name_, limits)) {}
  ~BenchSegment() { (void)shm::Segment::remove(name_); }
  BenchSegment(const BenchSegment&) = delete;
  BenchSegment& operator=(const BenchSegment&) = delete;

  [[nodiscard]] Registry& registry() noexcept { return registry_; }
  [[nodiscard]] const std::string& name() const noexcept { return name_; }

 private:
  static int next() {
    static std::atomic<int> n{0};
    return n++;
  }
  static Registry open(const std::string& name, const shm::Limits& limits) {
    // Enabled whatever the environment says: a disabled registry would measure the sink.
    RegistryOptions options;
    options.limits = limits;
    options.enabled = true;
    auto r = Registry::open(name, options);
    if (!r) {
      std::fprintf(stderr, "cannot open segment %s: %s\n", name.c_str(), r.error().message().c_str());
      std::exit(1);
    }
    return *r;
  }
  std::string name_;
  Registry registry_;
};

}  // namespace wsm::bench
