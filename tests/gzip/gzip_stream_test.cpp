// GzipStream: pieces handed over one after the other come out as one gzip member of their
// concatenation, which is what a client that reads one member (curl) needs.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "test_support.hpp"
#include "wsm/exposition/gzip.hpp"

namespace wsm {
namespace {

using exposition::GzipStream;

// Exposition-like text: repetitive lines with changing numbers, as a scrape writes.
std::string lines(std::size_t first, std::size_t count) {
  std::string s;
  for (std::size_t i = first; i < first + count; ++i) {
    s += "websocket_messages_total{id=\"" + std::to_string(i) + "\",role=\"doctor\"} " +
         std::to_string(i * 7919 % 100003) + "\n";
  }
  return s;
}

TEST(GzipStream, PiecesComeOutAsOneMemberOfTheirConcatenation) {
  std::string out = "left from an earlier body";
  std::string whole;
  {
    GzipStream stream(out);
    std::mt19937 random(17);
    std::string piece;
    std::size_t next = 0;
    for (int i = 0; i < 40; ++i) {
      // Pieces of 0 to ~2 MB: an empty part, small ones, and ones larger than out's first room.
      const std::size_t count = i % 7 == 3 ? 0 : random() % (i % 5 == 0 ? 40000 : 2000);
      piece += lines(next, count);
      next += count;
      whole += piece;
      const std::size_t handed = piece.size();
      stream.add(piece);
      EXPECT_TRUE(piece.empty()) << "piece " << i << " came back holding " << piece.size() << " of " << handed;
    }
    ASSERT_TRUE(stream.finish());
  }
  ASSERT_GT(whole.size(), 1u << 20);
  EXPECT_LT(out.size(), whole.size() / 4) << "not compressed";
  EXPECT_EQ(test::gunzip(out), whole);
}

TEST(GzipStream, TheCallerKeepsThePiecesRoomForTheNextPiece) {
  std::string out;
  GzipStream stream(out);
  std::string piece = lines(0, 20000);
  const std::size_t room = piece.capacity();
  stream.add(piece);
  EXPECT_TRUE(piece.empty());
  EXPECT_EQ(piece.capacity(), room) << "the next piece would allocate again";
  piece += lines(20000, 20000);
  stream.add(piece);
  ASSERT_TRUE(stream.finish());
  EXPECT_EQ(test::gunzip(out), lines(0, 40000));
}

TEST(GzipStream, NoPieceIsAnEmptyMember) {
  std::string out = "stale";
  GzipStream stream(out);
  ASSERT_TRUE(stream.finish());
  EXPECT_GE(out.size(), 18u);  // a gzip header and trailer
  EXPECT_EQ(test::gunzip(out), "");
}

TEST(GzipStream, AMemberNeverFinishedLeavesNoBody) {
  std::string out = "stale";
  {
    GzipStream stream(out);
    std::string piece = lines(0, 50000);
    stream.add(piece);
  }
  EXPECT_TRUE(out.empty()) << "an unfinished member was left as if it were a body";
}

TEST(GzipStream, ALevelIgzipHasNotIsAnErrorAndNoBody) {
  std::string out = "stale";
  GzipStream stream(out, 7);
  std::string piece = lines(0, 10);
  stream.add(piece);
  const auto done = stream.finish();
  ASSERT_FALSE(done);
  EXPECT_NE(done.error().message().find("gzip"), std::string::npos);
  EXPECT_TRUE(out.empty());
}

TEST(GzipStream, EveryLevelIsOneMember) {
  const std::string text = lines(0, 30000);
  for (int level = 0; level <= 3; ++level) {
    std::string out;
    ASSERT_TRUE(exposition::gzip(text, out, level)) << "level " << level;
    EXPECT_EQ(test::gunzip(out), text) << "level " << level;
  }
}

TEST(GzipStream, TheWholeInOneCallAndTheBufferReused) {
  std::string out;
  for (const std::string& in : {std::string("# HELP x y\n") + std::string(100000, 'a'), std::string(), std::string("z")}) {
    ASSERT_TRUE(exposition::gzip(in, out));
    EXPECT_EQ(test::gunzip(out), in);
  }
}

}  // namespace
}  // namespace wsm
