#include "wsm/exposition/gzip.hpp"

#include <zlib.h>

namespace wsm::exposition {

struct Gzip::Stream {
  z_stream z{};
  bool ready = false;
};

Gzip::Gzip(int level) : stream_(std::make_unique<Stream>()) {
  // windowBits 15 + 16: a gzip header and trailer instead of zlib's.
  stream_->ready = deflateInit2(&stream_->z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK;
}

Gzip::~Gzip() {
  if (stream_ && stream_->ready) deflateEnd(&stream_->z);
}

Gzip::Gzip(Gzip&&) noexcept = default;
Gzip& Gzip::operator=(Gzip&& other) noexcept {
  if (this != &other) {
    if (stream_ && stream_->ready) deflateEnd(&stream_->z);
    stream_ = std::move(other.stream_);
  }
  return *this;
}

Result<void> Gzip::compress(std::string_view in, std::string& out) {
  if (!stream_ || !stream_->ready) return fail(Errc::system, "gzip: zlib deflate state could not be set up");
  z_stream& z = stream_->z;
  if (deflateReset(&z) != Z_OK) return fail(Errc::system, "gzip: deflateReset failed");
  // deflateBound is enough for one Z_FINISH call; resize() keeps the capacity of earlier scrapes.
  out.resize(deflateBound(&z, static_cast<uLong>(in.size())));
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  if (rc != Z_STREAM_END) {
    out.clear();
    return fail(Errc::system, "gzip: deflate failed (" + std::to_string(rc) + ")");
  }
  out.resize(z.total_out);
  return {};
}

}  // namespace wsm::exposition
