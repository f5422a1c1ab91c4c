// The buffers a /metrics answer is built in (the text, its gzip), shared by the HTTP workers
// through a pool: a worker leases a set for one answer and gives it back. Scrapes serialise on the
// Monitor anyway, so one set (two when a gzip overlaps the next scrape) serves every worker,
// where a set per worker thread kept four copies of a 7 MB body alive at 100k series.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace wsm::exporter {

// One answer's buffers: one serialisation buffer and one gzip buffer. The HTTP answer takes the
// body it sends out of them (a move, where a copy cost a second 7 MB buffer at 100k series), so
// between scrapes a set holds no body. A gzipped answer's text holds one part at a time (each is
// handed to the GzipStream once written) and is freed at the end.
struct ScrapeBuffers {
  std::string text;
  std::string gzip;
  std::size_t text_reserve = 0;  // the last whole text's size and some room
};

class ScrapeBufferPool {
 public:
  class Lease {
   public:
    Lease(ScrapeBufferPool& pool, std::unique_ptr<ScrapeBuffers> buffers)
        : pool_(&pool), buffers_(std::move(buffers)) {}
    Lease(Lease&&) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (buffers_) pool_->give_back(std::move(buffers_));
    }
    ScrapeBuffers& operator*() const noexcept { return *buffers_; }

   private:
    ScrapeBufferPool* pool_;
    std::unique_ptr<ScrapeBuffers> buffers_;
  };

  // A free set, or a new one when every set is leased.
  [[nodiscard]] Lease lease() {
    std::lock_guard lock(mutex_);
    if (free_.empty()) return Lease(*this, std::make_unique<ScrapeBuffers>());
    auto buffers = std::move(free_.back());
    free_.pop_back();
    return Lease(*this, std::move(buffers));
  }

 private:
  void give_back(std::unique_ptr<ScrapeBuffers> buffers) {
    std::lock_guard lock(mutex_);
    free_.push_back(std::move(buffers));
  }
  std::mutex mutex_;
  std::vector<std::unique_ptr<ScrapeBuffers>> free_;
};

}  // namespace wsm::exporter
