#include "wsm/exposition/gzip.hpp"

#include <isa-l/igzip_lib.h>

#include <algorithm>
#include <cstdint>
#include <limits>

namespace wsm::exposition {

namespace {

// The buffer igzip needs at each level (0 needs none), at its default sizes.
std::size_t level_buffer_bytes(int level) {
  switch (level) {
    case 1: return ISAL_DEF_LVL1_DEFAULT;
    case 2: return ISAL_DEF_LVL2_DEFAULT;
    case 3: return ISAL_DEF_LVL3_DEFAULT;
    default: return 0;
  }
}

// Room made without zero-filling it: every byte is written by igzip before it counts.
void resize_for_writing(std::string& s, std::size_t size) {
  s.resize_and_overwrite(size, [](char*, std::size_t n) { return n; });
}

}  // namespace

// One block for igzip's state and its level buffer (~0.4 MB): above the exporter's mmap threshold
// (main.cpp), so it goes back to the kernel when the stream ends instead of staying in the heap.
// Not value-initialised: isal_deflate_init sets the state, and igzip writes the buffer before it
// reads it.
struct GzipStream::Stream {
  isal_zstream z;
  std::uint8_t level_buffer[std::max({ISAL_DEF_LVL1_DEFAULT, ISAL_DEF_LVL2_DEFAULT, ISAL_DEF_LVL3_DEFAULT})];
};

GzipStream::GzipStream(std::string& out, int level) : stream_(new Stream), out_(out) {
  isal_zstream& z = stream_->z;
  isal_deflate_init(&z);
  z.gzip_flag = IGZIP_GZIP;
  z.flush = NO_FLUSH;  // one member: blocks end where igzip likes, not at our pieces' ends
  z.level = static_cast<std::uint32_t>(std::clamp(level, 0, 3));
  failed_ = level < 0 || level > 3;
  if (const std::size_t n = level_buffer_bytes(level); n != 0) {
    z.level_buf = stream_->level_buffer;
    z.level_buf_size = static_cast<std::uint32_t>(n);
  }
  // Room for a 100k-series body from the start (a gzipped exposition is ~8 bytes a series), above
  // the mmap threshold too; room never written costs nothing.
  resize_for_writing(out_, std::max<std::size_t>(out_.capacity(), kFirstRoom));
}

GzipStream::~GzipStream() {
  if (!finished_) out_.clear();
}

void GzipStream::add(std::string& text) {
  failed_ = failed_ || !deflate(text, false);
  text.clear();
}

bool GzipStream::deflate(std::string_view in, bool last) {
  isal_zstream& z = stream_->z;
  if (failed_) return false;
  do {
    // igzip counts bytes in 32 bits: a larger piece goes in slices.
    const std::size_t slice = std::min<std::size_t>(in.size(), std::numeric_limits<std::uint32_t>::max());
    z.next_in = reinterpret_cast<std::uint8_t*>(const_cast<char*>(in.data()));
    z.avail_in = static_cast<std::uint32_t>(slice);
    z.end_of_stream = last && slice == in.size() ? 1 : 0;
    int idle = 0;  // calls in a row that took nothing and gave nothing: a stuck stream, not a loop
    while (z.avail_in > 0 || (z.end_of_stream != 0 && z.internal_state.state != ZSTATE_END)) {
      if (written_ == out_.size()) resize_for_writing(out_, 2 * out_.size());  // keeps what is written
      const std::size_t room = std::min<std::size_t>(out_.size() - written_, std::numeric_limits<std::uint32_t>::max());
      const std::uint32_t before_in = z.avail_in;
      z.next_out = reinterpret_cast<std::uint8_t*>(out_.data() + written_);
      z.avail_out = static_cast<std::uint32_t>(room);
      if (isal_deflate(&z) != COMP_OK) return false;
      written_ += room - z.avail_out;
      idle = z.avail_in == before_in && z.avail_out == room ? idle + 1 : 0;
      if (idle > 2) return false;
    }
    in.remove_prefix(slice);
  } while (!in.empty());
  return true;
}

Result<void> GzipStream::finish() {
  finished_ = true;
  const bool ok = deflate({}, true);
  out_.resize(ok ? written_ : 0);
  if (!ok) return fail(Errc::system, "gzip: igzip could not compress the body");
  return {};
}

Result<void> gzip(std::string_view in, std::string& out, int level) {
  GzipStream stream(out, level);
  std::string piece(in);
  stream.add(piece);
  return stream.finish();
}

}  // namespace wsm::exposition
