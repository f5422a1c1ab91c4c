// Liveness from the kernel (liveness.hpp): a process record's lock says whether its owner runs,
// stopped or not, whatever its pid; a forked child owns a record of its own and does not keep its
// parent's alive; bytes with no file behind them answer "unknown", and unknown is never folded.
#include <gtest/gtest.h>

#include <csignal>
#include <unistd.h>

#include "forked.hpp"
#include "test_support.hpp"
#include "wsm/shm/liveness.hpp"
#include "wsm/shm/reaper.hpp"
#include "wsm/writer.hpp"

namespace {

using namespace wsm;
using wsm::test::Forked;
using wsm::test::Pipe;
using wsm::test::SegmentGuard;

std::uint64_t pack(shm::Owner o) { return std::uint64_t{o.process} << 32 | o.tenant; }
shm::Owner unpack(std::uint64_t v) { return {static_cast<std::uint32_t>(v >> 32), static_cast<std::uint32_t>(v)}; }

// A writer process that sends its owner and then waits until killed.
Forked idle_writer(const std::string& segment, Pipe& owner) {
  return Forked::run([&segment, &owner] {
    auto reg = Registry::open(segment);
    if (!reg) return 1;
    reg->counter("jobs_total").inc();
    auto me = reg->segment()->owner();
    if (!me) return 2;
    owner.send(pack(*me));
    for (;;) ::pause();
  });
}

TEST(Liveness, AliveWhileRunningOrStoppedDeadOnceKilled) {
  SegmentGuard g(wsm::test::unique_segment_name("alive"));
  auto segment = shm::Segment::create(g.name(), {});
  ASSERT_TRUE(segment);
  Pipe owner_pipe;
  Forked writer = idle_writer(g.name(), owner_pipe);
  owner_pipe.close_write();
  const auto sent = owner_pipe.receive();
  ASSERT_TRUE(sent);
  const shm::Owner owner = unpack(*sent);
  EXPECT_EQ(shm::liveness(*segment, owner), shm::Liveness::alive);
  writer.kill(SIGSTOP);
  EXPECT_EQ(shm::liveness(*segment, owner), shm::Liveness::alive) << "a stopped process is alive";
  // Its pid means nothing to liveness: scribble over it.
  segment->process(owner.process - 1).pid.store(0x7ffffff0);
  EXPECT_EQ(shm::liveness(*segment, owner), shm::Liveness::alive);
  writer.kill(SIGKILL);
  (void)writer.wait();
  EXPECT_EQ(shm::liveness(*segment, owner), shm::Liveness::dead);
  // A reap folds it and frees its record; a new claimant's tenant differs, so the old owner stays dead.
  auto reaped = shm::Reaper(*segment).reap();
  ASSERT_TRUE(reaped);
  EXPECT_EQ(reaped->processes_freed, 1u);
  auto mine = segment->owner();
  ASSERT_TRUE(mine);
  EXPECT_EQ(shm::liveness(*segment, *mine), shm::Liveness::alive);
  EXPECT_EQ(shm::liveness(*segment, owner), shm::Liveness::dead);
}

// fork(): the child shares its parent's open file descriptions; if it kept the parent's lock, a dead
// parent would look alive as long as the child runs.
TEST(Liveness, ForkedChildOwnsItsOwnRecord) {
  SegmentGuard g(wsm::test::unique_segment_name("fork"));
  auto segment = shm::Segment::create(g.name(), {});
  ASSERT_TRUE(segment);
  Pipe owners;
  Forked parent = Forked::run([&] {
    auto reg = Registry::open(g.name());
    if (!reg) return 1;
    const Counter jobs = reg->counter("jobs_total");
    jobs.inc();
    owners.send(pack(*reg->segment()->owner()));
    if (::fork() == 0) {  // the child records through the inherited handle, then waits
      jobs.inc();
      owners.send(pack(*reg->segment()->owner()));
      for (;;) ::pause();
    }
    return 0;  // the parent exits while its child runs
  });
  owners.close_write();
  ASSERT_EQ(parent.wait(), 0);
  const auto first = owners.receive(), second = owners.receive();
  ASSERT_TRUE(first && second);
  const shm::Owner parent_owner = unpack(*first), child_owner = unpack(*second);
  EXPECT_NE(parent_owner, child_owner);
  EXPECT_EQ(shm::liveness(*segment, parent_owner), shm::Liveness::dead);
  EXPECT_EQ(shm::liveness(*segment, child_owner), shm::Liveness::alive);
  // The child's record names its own pid.
  const auto child_pid = static_cast<pid_t>(segment->process(child_owner.process - 1).pid.load());
  EXPECT_NE(child_pid, parent.pid());
  ::kill(child_pid, SIGKILL);
  // Our grandchild: not ours to wait for; its lock goes when the kernel has torn it down.
  bool dead = false;
  for (int i = 0; i < 5000 && !dead; ++i) {
    dead = shm::liveness(*segment, child_owner) == shm::Liveness::dead;
    if (!dead) ::usleep(1000);
  }
  EXPECT_TRUE(dead) << "the child's record stayed locked after it was killed";
}

// A copy of the bytes has no locks to test: every owner is "unknown", and the reaper folds nothing.
TEST(Liveness, BytesWithoutAFileAreUnknownAndNeverFolded) {
  SegmentGuard g(wsm::test::unique_segment_name("view"));
  auto segment = shm::Segment::create(g.name(), {});
  ASSERT_TRUE(segment);
  Pipe owner_pipe;
  Forked writer = idle_writer(g.name(), owner_pipe);
  owner_pipe.close_write();
  const auto sent = owner_pipe.receive();
  ASSERT_TRUE(sent);
  writer.kill(SIGKILL);
  (void)writer.wait();
  std::vector<std::byte> copy(segment->base(), segment->base() + segment->size());
  auto view = shm::Segment::view(copy);
  ASSERT_TRUE(view);
  EXPECT_EQ(shm::liveness(*view, unpack(*sent)), shm::Liveness::unknown);
  auto reaped = shm::Reaper(*view).reap();
  ASSERT_TRUE(reaped);
  EXPECT_EQ(reaped->slots_freed, 0u);
  EXPECT_EQ(shm::liveness(*segment, unpack(*sent)), shm::Liveness::dead);
}

}  // namespace
