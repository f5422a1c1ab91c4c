// A writer records only into a segment its own user owns: anyone can create /dev/shm/wsm.<name>
// first, and the owner of the file could read the counts or truncate it under the writer. The
// opt-in: RegistryOptions::trusted_group / WSM_TRUSTED_GROUP names a group whose segments are
// trusted. Needs root (a child makes the segment as nobody).
#include <gtest/gtest.h>

#include <cstdlib>
#include <grp.h>
#include <unistd.h>

#include "forked.hpp"
#include "test_support.hpp"
#include "wsm/shm/segment.hpp"
#include "wsm/writer.hpp"

namespace {

using namespace wsm;
using wsm::test::Forked;
using wsm::test::SegmentGuard;

constexpr uid_t kNobody = 65534;   // Debian's nobody
constexpr gid_t kNogroup = 65534;  // and nogroup

// Creates the segment as nobody:nogroup, the way a hostile local user would, before any writer.
void create_as_nobody(const std::string& name) {
  auto child = Forked::run([&] {
    if (::setgroups(0, nullptr) != 0 || ::setresgid(kNogroup, kNogroup, kNogroup) != 0 ||
        ::setresuid(kNobody, kNobody, kNobody) != 0) {
      return 10;
    }
    return shm::Segment::create(name, {}) ? 0 : 11;
  });
  ASSERT_EQ(child.wait(), 0);
}

// Registry::open in a child (a process keeps the segments it opened), 0 when it opened.
int open_in_child(const std::string& name, const RegistryOptions& options, std::string env = {}) {
  auto child = Forked::run([&] {
    if (!env.empty()) ::setenv("WSM_TRUSTED_GROUP", env.c_str(), 1);
    auto reg = Registry::open(name, options);
    if (reg) return 0;
    const std::string& m = reg.error().message();
    const bool clear = reg.error().code() == Errc::permission && m.find("is owned by uid 65534") != std::string::npos &&
                       m.find("WSM_TRUSTED_GROUP") != std::string::npos && m.find(name) != std::string::npos;
    return clear ? 1 : 2;
  });
  return child.wait().value_or(-1);
}

TEST(SegmentOwner, AWriterRefusesASegmentOfAnotherUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to create the segment as nobody";
  SegmentGuard g(wsm::test::unique_segment_name("owner"));
  create_as_nobody(g.name());
  EXPECT_EQ(open_in_child(g.name(), {.role = "root-worker", .enabled = true}), 1)
      << "1: refused with a clear error; 0: it was opened";
  // Nothing was recorded into it: no writer slot was claimed.
  auto s = shm::Segment::open(g.name(), {shm::Access::read_only});
  ASSERT_TRUE(s) << s.error().message();
  for (std::uint32_t i = 0; i < s->max_writers(); ++i) {
    EXPECT_EQ(s->slot(i).state_word.load(), 0u) << "slot " << i;
  }
}

TEST(SegmentOwner, ATrustedGroupOptsIn) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to create the segment as nobody";
  SegmentGuard g(wsm::test::unique_segment_name("owner"));
  create_as_nobody(g.name());
  EXPECT_EQ(open_in_child(g.name(), {.trusted_group = "nogroup", .enabled = true}), 0);
  EXPECT_EQ(open_in_child(g.name(), {.enabled = true}, "nogroup"), 0) << "WSM_TRUSTED_GROUP";
  EXPECT_EQ(open_in_child(g.name(), {.trusted_group = "root", .enabled = true}), 1) << "another group";
}

TEST(SegmentOwner, AnUnknownTrustedGroupIsAClearError) {
  SegmentGuard g(wsm::test::unique_segment_name("owner"));
  auto reg = Registry::open(g.name(), {.trusted_group = "wsm-no-such-group", .enabled = true});
  ASSERT_FALSE(reg);
  EXPECT_NE(reg.error().message().find("trusted group 'wsm-no-such-group'"), std::string::npos)
      << reg.error().message();
}

}  // namespace
