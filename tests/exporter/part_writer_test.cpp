// PartWriter (the scrape's second thread): parts are written in the order handed over, one at a
// time, on a thread of their own while the caller goes on; a part that throws is reported by
// finish() and the parts after it are not written; without a thread of its own each part is
// written in place.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <stdexcept>
#include <thread>
#include <vector>

#include "wsm/exporter/part_writer.hpp"

namespace {

using wsm::exporter::PartWriter;

TEST(PartWriter, WritesThePartsInOrderOnItsOwnThreadWhileTheCallerGoesOn) {
  const std::thread::id caller = std::this_thread::get_id();
  std::vector<int> written;  // only the writing thread touches it until finish()
  std::vector<std::thread::id> threads;
  std::promise<void> caller_went_on;
  std::future<void> went_on = caller_went_on.get_future();
  bool waited = false;
  PartWriter parts(true);
  parts.write([&] {
    // Returns only once the caller got past write(): the part is not written in place, and
    // write() does not wait for the part it hands over.
    waited = went_on.wait_for(std::chrono::seconds(30)) == std::future_status::ready;
    written.push_back(1);
    threads.push_back(std::this_thread::get_id());
  });
  caller_went_on.set_value();
  for (int k = 2; k <= 50; ++k) {
    parts.write([&written, &threads, k] {
      written.push_back(k);
      threads.push_back(std::this_thread::get_id());
    });
  }
  parts.finish();
  EXPECT_TRUE(waited) << "write() waited for the part it handed over";
  ASSERT_EQ(written.size(), 50u);
  for (int k = 1; k <= 50; ++k) EXPECT_EQ(written[static_cast<std::size_t>(k - 1)], k);
  for (const std::thread::id t : threads) EXPECT_NE(t, caller);
}

TEST(PartWriter, WaitsForThePartBeforeHandingOverTheNext) {
  PartWriter parts(true);
  std::atomic<int> running{0}, most{0};
  for (int k = 0; k < 20; ++k) {
    parts.write([&] {
      most = std::max(most.load(), ++running);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      --running;
    });
    EXPECT_LE(running.load(), 1);
  }
  parts.finish();
  EXPECT_EQ(most.load(), 1);
}

TEST(PartWriter, AFailedPartIsReportedAndThePartsAfterItAreNotWritten) {
  for (const bool own_thread : {true, false}) {
    PartWriter parts(own_thread);
    std::vector<int> written;
    parts.write([&] { written.push_back(1); });
    parts.write([] { throw std::runtime_error("out of room"); });
    parts.write([&] { written.push_back(3); });
    try {
      parts.finish();
      ADD_FAILURE() << "finish() reported nothing (own thread: " << own_thread << ")";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "out of room");
    }
    EXPECT_EQ(written, std::vector<int>{1}) << "own thread: " << own_thread;
  }
}

TEST(PartWriter, WithoutAThreadOfItsOwnWritesEachPartInPlace) {
  PartWriter parts(false);
  std::thread::id where;
  parts.write([&] { where = std::this_thread::get_id(); });
  EXPECT_EQ(where, std::this_thread::get_id()) << "written by the time write() returns";
  parts.finish();
}

TEST(PartWriter, ADestroyedWriterHasWrittenWhatItWasHanded) {
  std::atomic<int> written{0};
  {
    PartWriter parts(true);
    for (int k = 0; k < 5; ++k) {
      parts.write([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        ++written;
      });
    }
  }  // no finish(): an exception on the caller's side leaves the loop this way
  EXPECT_EQ(written.load(), 5);
}

}  // namespace
