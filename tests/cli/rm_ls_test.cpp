// wsm rm (refuses while a writer lives, --force, dead writers, unreadable segments) and
// wsm ls --json (what the writer made).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_fixture.hpp"

namespace wsm::test {
namespace {

bool exists(const std::string& segment) { return ::access(shm_path(segment).c_str(), F_OK) == 0; }

TEST(Rm, RefusesWhileAWriterLivesAndRemovesWithForce) {
  auto w = start_writer(unique_segment_name("rm-live"), "hold", {"--role", "rm-role"});
  const std::string name = w->segment.name();
  auto refused = wsm({"rm", name});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("refusing"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("pid " + std::to_string(w->child.pid()) + " (rm-role)"), std::string::npos)
      << refused.err;
  EXPECT_TRUE(exists(name));

  auto forced = wsm({"rm", "--force", name});
  EXPECT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_NE(forced.out.find("removed segment '" + name + "'"), std::string::npos) << forced.out;
  EXPECT_FALSE(exists(name));
}

TEST(Rm, RemovesOnceTheWritersAreGone) {
  auto w = start_writer(unique_segment_name("rm-dead"), "hold");
  const std::string name = w->segment.name();
  EXPECT_EQ(wsm({"rm", name}).exit_code, 1);
  w->child.signal(SIGKILL);
  ASSERT_TRUE(w->child.wait());
  auto r = wsm({"rm", name});  // its slots are still ACTIVE, but the pid is gone
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(exists(name));
  auto again = wsm({"rm", name});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("no such segment"), std::string::npos) << again.err;
}

TEST(Rm, UnreadableSegmentsNeedForceUnlessNeverInitialised) {
  // A header with a bad magic: the writer table cannot be trusted, so only --force removes it.
  SegmentGuard garbage(unique_segment_name("rm-garbage"));
  write_bytes(shm_path(garbage.name()), std::vector<std::byte>(4096, std::byte{0x5a}));
  auto refused = wsm({"rm", garbage.name()});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("--force"), std::string::npos) << refused.err;
  EXPECT_TRUE(exists(garbage.name()));
  EXPECT_EQ(wsm({"rm", "--force", garbage.name()}).exit_code, 0);
  EXPECT_FALSE(exists(garbage.name()));

  // All zeroes: its creator died before publishing the magic, so nobody attached to it.
  SegmentGuard unborn(unique_segment_name("rm-unborn"));
  write_bytes(shm_path(unborn.name()), std::vector<std::byte>(4096));
  auto removed = wsm({"rm", unborn.name()});
  EXPECT_EQ(removed.exit_code, 0) << removed.err;
  EXPECT_FALSE(exists(unborn.name()));
}

TEST(Ls, JsonListsTheWritersSegment) {
  const int paths = 3;
  auto w = start_writer(unique_segment_name("ls"), "hold", {"--paths", std::to_string(paths)});
  auto r = wsm({"ls", "--json"});
  const auto doc = nlohmann::json::parse(r.out);
  const nlohmann::json* mine = nullptr;
  for (const auto& s : doc) {
    if (s["name"] == w->segment.name()) mine = &s;
  }
  ASSERT_NE(mine, nullptr) << r.out;
  struct stat st {};
  ASSERT_EQ(::stat(shm_path(w->segment.name()).c_str(), &st), 0);
  EXPECT_EQ((*mine)["bytes"], st.st_size);
  EXPECT_EQ((*mine)["live_writers"], 2) << "the main thread's slot and the process gauge slot";
  EXPECT_EQ((*mine)["dead_writers"], 0);
  EXPECT_EQ((*mine)["series"], 2 + 2 + 1 + 2 * paths + 4) << "recorded series plus one overflow series per family";
  EXPECT_EQ((*mine)["max_series"], 64);

  auto text = wsm({"ls"});
  EXPECT_NE(text.out.find(w->segment.name()), std::string::npos) << text.out;
}

}  // namespace
}  // namespace wsm::test
