// Writes a scrape's parts out on a thread of its own, one part behind the thread that emits them:
// while it writes (and compresses) part k, the scrape's thread emits part k+1 (Tally::next_part)
// and applies the identifier-label policy to it. A 100k-series text scrape spent ~9 ms on these
// steps one after the other on the 2-core VM, ~5 ms emitting and ~4 ms writing: in turn they take
// the longer of the two (bench/scrape.cpp, BM_Scrape). The part handed over stays readable while
// the next is made because Tally and IdLabelPolicy keep the part before the last one.
//
// Only the scrape's thread calls write() and finish(); what it hands over touches nothing that
// thread touches until the part is done (exposition::Writer, the body, the gzip stream).
#pragma once

#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>

namespace wsm::exporter {

class PartWriter {
 public:
  // own_thread false (one core): write() writes the part in place.
  explicit PartWriter(bool own_thread);
  ~PartWriter();  // finish(), an exception from a part dropped
  PartWriter(const PartWriter&) = delete;
  PartWriter& operator=(const PartWriter&) = delete;

  // Waits for the part handed over before, then hands this one over.
  void write(std::function<void()> part);
  // Waits for the last part; rethrows what a part threw (the parts after it were not written).
  void finish();

 private:
  void run();
  void wait_idle(std::unique_lock<std::mutex>& lock);

  std::mutex mutex_;
  std::condition_variable changed_;
  std::function<void()> next_;        // GUARDED_BY(mutex_): handed over, not yet started
  bool busy_ = false;                 // GUARDED_BY(mutex_): a part is being written
  bool stopping_ = false;             // GUARDED_BY(mutex_)
  std::exception_ptr failed_;         // GUARDED_BY(mutex_): the first exception of a part
  std::thread thread_;                // last: started once the rest is set
};

}  // namespace wsm::exporter
