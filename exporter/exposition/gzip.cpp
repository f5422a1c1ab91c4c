#include "wsm/exposition/gzip.hpp"

#include <libdeflate.h>

namespace wsm::exposition {

struct Gzip::Stream {
  libdeflate_compressor* compressor = nullptr;
};

Gzip::Gzip(int level) : stream_(std::make_unique<Stream>()) {
  stream_->compressor = libdeflate_alloc_compressor(level);
}

Gzip::~Gzip() {
  if (stream_ && stream_->compressor != nullptr) libdeflate_free_compressor(stream_->compressor);
}

Gzip::Gzip(Gzip&&) noexcept = default;
Gzip& Gzip::operator=(Gzip&& other) noexcept {
  if (this != &other) {
    if (stream_ && stream_->compressor != nullptr) libdeflate_free_compressor(stream_->compressor);
    stream_ = std::move(other.stream_);
  }
  return *this;
}

Result<void> Gzip::compress(std::string_view in, std::string& out) {
  if (!stream_ || stream_->compressor == nullptr) {
    return fail(Errc::system, "gzip: libdeflate compressor could not be set up");
  }
  // The bound is enough for one call. resize_and_overwrite neither zero-fills the room nor
  // allocates once the buffer has grown to an exposition's bound.
  const std::size_t bound = libdeflate_gzip_compress_bound(stream_->compressor, in.size());
  std::size_t written = 0;
  out.resize_and_overwrite(bound, [&](char* p, std::size_t n) {
    written = libdeflate_gzip_compress(stream_->compressor, in.data(), in.size(), p, n);
    return written;
  });
  if (written == 0 && !in.empty()) return fail(Errc::system, "gzip: libdeflate_gzip_compress failed");
  return {};
}

}  // namespace wsm::exposition
