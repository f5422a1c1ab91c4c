// gzip (RFC 1952) of a body written a piece at a time, through ISA-L's igzip (Debian libisal).
// A scrape hands over the text of each part as soon as it is written (Monitor::scrape), so a
// gzipped body never exists whole as text: at 100k series the OpenMetrics text Prometheus asks for
// is 13 MB and its gzip ~0.8 MB. Held whole for a one-call compressor (libdeflate, used before), it
// put the exporter's peak at ~68 MB against a 60 MB goal. igzip streams, and at level 1 it is
// also the fastest of the three measured (zlib, libdeflate, igzip: exporter README, "Compression").
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "wsm/shm/error.hpp"

namespace wsm::exposition {

class GzipStream {
 public:
  // igzip's level 1: an exposition is repetitive text and compresses ~15x even so, and level 3
  // costs ~6x the CPU for a body ~1% smaller.
  static constexpr int kLevel = 1;
  // The room `out` starts with when it has less.
  static constexpr std::size_t kFirstRoom = std::size_t{1} << 20;

  // Starts one gzip member that replaces `out`'s contents (keeping its capacity). `out` belongs to
  // the stream until finish(). Levels 0-3 (igzip's).
  explicit GzipStream(std::string& out, int level = kLevel);
  ~GzipStream();
  GzipStream(const GzipStream&) = delete;
  GzipStream& operator=(const GzipStream&) = delete;

  // Compresses `text` after what was added before, and empties it, keeping its capacity for the
  // next piece the caller writes.
  void add(std::string& text);

  // Ends the member: `out` holds it whole. After a failure `out` is empty and the error says why.
  // Without finish(), `out` is left empty too: a member never ended is not a body.
  [[nodiscard]] Result<void> finish();

 private:
  // Feeds `in` to the stream (the last input: `last`), growing `out_` for what comes out.
  bool deflate(std::string_view in, bool last);

  struct Stream;                    // isal_zstream (~80 KB) and level 1's buffer (~280 KB)
  std::unique_ptr<Stream> stream_;
  std::string& out_;
  std::size_t written_ = 0;         // bytes of out_ that hold the member so far
  bool failed_ = false;
  bool finished_ = false;
};

// The whole of `in` as one gzip member in `out` (tests, the benchmark, small bodies).
[[nodiscard]] Result<void> gzip(std::string_view in, std::string& out, int level = GzipStream::kLevel);

}  // namespace wsm::exposition
