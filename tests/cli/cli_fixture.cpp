#include "cli_fixture.hpp"

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include <gtest/gtest.h>

namespace wsm::test {

std::unique_ptr<TestWriter> start_writer(const std::string& name, const std::string& then,
                                         const std::vector<std::string>& flags) {
  const std::string ready = "/tmp/wsm-cli-ready-" + name;
  ::unlink(ready.c_str());
  std::vector<std::string> argv = {bin("cli-test-writer"), name, ready, "--then", then};
  argv.insert(argv.end(), flags.begin(), flags.end());
  auto w = std::unique_ptr<TestWriter>(new TestWriter{SegmentGuard(name), Child::spawn(argv)});
  const bool recorded = eventually([&] { return ::access(ready.c_str(), F_OK) == 0; });
  ::unlink(ready.c_str());
  EXPECT_TRUE(recorded) << "cli-test-writer did not get ready";
  if (then == "exit") {
    EXPECT_EQ(w->child.wait(), std::optional<int>(0));
  }
  return w;
}

CommandResult wsm(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {bin("wsm")};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv);
}

std::string shm_path(const std::string& segment) { return "/dev/shm/wsm." + segment; }

std::vector<std::byte> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> bytes(chars.size());
  std::memcpy(bytes.data(), chars.data(), chars.size());
  return bytes;
}

void write_bytes(const std::string& path, const std::vector<std::byte>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  ::chmod(path.c_str(), 0600);
}

bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

std::string on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  for (std::size_t start = 0; start <= dirs.size();) {
    const std::size_t end = std::min(dirs.find(':', start), dirs.size());
    const std::string candidate = dirs.substr(start, end - start) + "/" + program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return {};
}

}  // namespace wsm::test
