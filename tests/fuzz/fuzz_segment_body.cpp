// A valid header for tiny limits with arbitrary bytes behind it: gets past validation every time,
// so the fuzzer spends its effort on catalog entries, slots, arenas, the journal and the retired
// arena. The input's first 192 bytes also overwrite the header's mutable part (counters, reap
// sequence, reaper, journal) at offset 192.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "segment_exercise.hpp"
#include "wsm/shm/layout.hpp"

namespace {

std::vector<std::uint64_t> valid_template() {
  const auto name = "fuzz-template-" + std::to_string(::getpid());
  (void)wsm::shm::Segment::remove(name);
  auto created = wsm::shm::Segment::create(name, {wsm::fuzz::tiny_limits()});
  std::vector<std::uint64_t> bytes((created->size() + 7) / 8);
  std::memcpy(bytes.data(), created->base(), created->size());
  (void)wsm::shm::Segment::remove(name);
  return bytes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::vector<std::uint64_t> kTemplate = valid_template();
  std::vector<std::uint64_t> segment = kTemplate;
  auto* bytes = reinterpret_cast<std::uint8_t*>(segment.data());
  const std::size_t total = segment.size() * 8;
  constexpr std::size_t kMutable = offsetof(wsm::shm::SegmentHeader, strings_used);
  const std::size_t head = std::min<std::size_t>(size, sizeof(wsm::shm::SegmentHeader) - kMutable);
  std::memcpy(bytes + kMutable, data, head);
  const std::size_t body = std::min(size - head, total - sizeof(wsm::shm::SegmentHeader));
  std::memcpy(bytes + sizeof(wsm::shm::SegmentHeader), data + head, body);
  auto view = wsm::shm::Segment::view({reinterpret_cast<std::byte*>(bytes), total});
  if (view) wsm::fuzz::exercise(*view);
  return 0;
}
