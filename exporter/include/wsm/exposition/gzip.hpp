// gzip (RFC 1952) through libdeflate, keeping one compressor and the caller's output buffer
// between calls so a scrape's compression allocates nothing after the first. libdeflate at
// level 1 against zlib at levels 1-6 on the 100k-series body (bench_scrape BM_Compress): ~30%
// less CPU than zlib's fastest level, and a smaller body (exporter README, "Compression").
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "wsm/shm/error.hpp"

namespace wsm::exposition {

class Gzip {
 public:
  // Level 1 (fastest): an exposition is repetitive text and compresses ~15x even so, while the
  // exporter's CPU budget is small.
  explicit Gzip(int level = 1);
  ~Gzip();
  Gzip(Gzip&&) noexcept;
  Gzip& operator=(Gzip&&) noexcept;

  // Replaces `out` with the gzip member of `in`.
  [[nodiscard]] Result<void> compress(std::string_view in, std::string& out);

 private:
  struct Stream;
  std::unique_ptr<Stream> stream_;
};

}  // namespace wsm::exposition
