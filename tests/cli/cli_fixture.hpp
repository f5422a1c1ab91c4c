// What the CLI tests share: the test writer, the wsm binary, segment files and tmux.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace wsm::test {

// The writer's series, as cli_test_writer.cpp records them.
inline constexpr std::uint64_t kDoctorSent = 5, kNurseSent = 7;
inline constexpr double kDoctorActive = 3, kNurseActive = 4;
inline constexpr int kLatencySamples = 100;  // 1..100 ms
inline constexpr std::uint64_t kStreamLatencyNs = 2'000'000;

// A running (or exited) cli-test-writer with its segment removed at the end.
struct TestWriter {
  SegmentGuard segment;
  Child child;
};
// Starts the writer on a fresh segment `name` and waits until it has recorded everything.
// `then`: "hold", "stream" or "exit" (waits for the exit too).
[[nodiscard]] std::unique_ptr<TestWriter> start_writer(const std::string& name, const std::string& then,
                                                       const std::vector<std::string>& flags = {});

// Runs the built wsm with these arguments.
[[nodiscard]] CommandResult wsm(const std::vector<std::string>& args);

[[nodiscard]] std::string shm_path(const std::string& segment);
[[nodiscard]] std::vector<std::byte> read_bytes(const std::string& path);
void write_bytes(const std::string& path, const std::vector<std::byte>& bytes);

// Polls `done` until it holds or `timeout` passes; true if it held.
[[nodiscard]] bool eventually(const std::function<bool()>& done,
                              std::chrono::milliseconds timeout = std::chrono::seconds(20));

// A program on PATH, or empty.
[[nodiscard]] std::string on_path(const std::string& program);

}  // namespace wsm::test
