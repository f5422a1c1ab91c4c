// A program whose allocations are known, for overhead_profile_test.py: argv[1] malloc/free pairs
// (through a volatile pointer, so the compiler keeps every one), nothing else allocated on purpose.
#include <cstdlib>

int main(int argc, char** argv) {
  const long pairs = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 0;
  for (long i = 0; i < pairs; ++i) {
    void* volatile block = std::malloc(static_cast<std::size_t>(64 + i % 512));
    std::free(block);
  }
  return 0;
}
