// Arbitrary bytes mapped as a segment: validation must refuse or the reader, reaper and
// registration must cope, whatever the bytes say.
#include <cstdint>
#include <cstring>
#include <vector>

#include "segment_exercise.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::vector<std::uint64_t> aligned((size + 7) / 8);
  std::memcpy(aligned.data(), data, size);
  auto segment = wsm::shm::Segment::view({reinterpret_cast<std::byte*>(aligned.data()), size});
  if (segment) wsm::fuzz::exercise(*segment);
  return 0;
}
