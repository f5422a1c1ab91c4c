// A Registry on a segment of its own ("bench-<what>-<pid>-<n>"), unlinked when this goes out of
// scope, so benchmark runs never meet each other's segments or leave one behind. The mapping stays
// valid after the unlink (the writer API keeps it for the life of the process). SIGTERM/SIGINT
// (scripts/bench's timeout, Ctrl-C) unlink it too, since static destructors do not run then.
#pragma once

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unistd.h>

#include "wsm/shm/segment.hpp"
#include "wsm/writer.hpp"

namespace wsm::bench {

class BenchSegment {
 public:
  explicit BenchSegment(const std::string& what, const shm::Limits& limits = {})
      : name_("bench-" + what + "-" + std::to_string(::getpid()) + "-" + std::to_string(next())),
        registry_(open(name_, limits)) {
    unlink_on_signal(name_);
  }
  ~BenchSegment() {
    unlink_on_signal({});
    (void)shm::Segment::remove(name_);
  }
  BenchSegment(const BenchSegment&) = delete;
  BenchSegment& operator=(const BenchSegment&) = delete;

  [[nodiscard]] Registry& registry() noexcept { return registry_; }
  [[nodiscard]] const std::string& name() const noexcept { return name_; }

 private:
  static int next() {
    static std::atomic<int> n{0};
    return n++;
  }
  // A few segments are alive at once at most (registration keeps two), so a small fixed table of
  // paths the handler can read without allocating. An empty name clears this segment's entry.
  static constexpr int kPaths = 4;
  static inline char paths[kPaths][256];
  void unlink_on_signal(const std::string& name) {
    const std::string mine = "/dev/shm/wsm." + name_;
    for (auto& path : paths) {
      if (name.empty() ? mine == path : path[0] == '\0') {
        std::strncpy(path, name.empty() ? "" : mine.c_str(), sizeof path - 1);
        break;
      }
    }
    struct sigaction action {};
    action.sa_handler = [](int sig) {
      for (const auto& path : paths) {
        if (path[0] != '\0') ::unlink(path);  // async-signal-safe
      }
      std::signal(sig, SIG_DFL);
      std::raise(sig);
    };
    for (const int sig : {SIGTERM, SIGINT}) ::sigaction(sig, &action, nullptr);
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
