// wsm-bench-python-segment NAME SERIES WRITERS: creates the segment /dev/shm/wsm.NAME sized as
// bench/scrape.cpp sizes its own (bench/scrape_limits.hpp) and exits, leaving it for
// bench/python_scrape.py's Python workers. The Python module's Registry.open creates segments with
// the default limits only (16384 series, 256 KiB per writer), too small for 100k series, and
// opening an existing segment takes the limits it was created with. Exit 0 if created, 1 if not
// (the segment already exists, or creation failed: the message says why), 2 on bad arguments.
#include <wsm/writer.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "scrape_limits.hpp"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s NAME SERIES WRITERS\n", argv[0]);
    return 2;
  }
  const std::string name = argv[1];
  const long series = std::strtol(argv[2], nullptr, 10), writers = std::strtol(argv[3], nullptr, 10);
  if (series <= 0 || writers <= 0) {
    std::fprintf(stderr, "%s: SERIES and WRITERS must be positive\n", argv[0]);
    return 2;
  }
  // An existing segment would keep its own (maybe smaller) limits: refuse rather than mislead.
  if (std::filesystem::exists("/dev/shm/wsm." + name)) {
    std::fprintf(stderr, "%s: /dev/shm/wsm.%s exists already\n", argv[0], name.c_str());
    return 1;
  }
  // Two slots more than the workers need: this process takes some while it creates the segment.
  auto reg = wsm::Registry::open(
      name, {.limits = wsm::bench::scrape_limits(static_cast<std::size_t>(series), static_cast<int>(writers) + 2),
             .role = "bench-create", .enabled = true});
  if (!reg) {
    std::fprintf(stderr, "%s: %s\n", argv[0], reg.error().message().c_str());
    return 1;
  }
  return 0;
}
