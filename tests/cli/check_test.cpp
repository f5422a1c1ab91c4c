// wsm check: a healthy segment (idle or live) has no findings; each kind of damage injected into a
// COPY of a real segment, at the offsets layout.hpp documents, is found and named.
#include <gtest/gtest.h>

#include <cstring>
#include <fcntl.h>
#include <functional>
#include <random>
#include <unistd.h>

#include "cli_fixture.hpp"
#include "wsm/shm/catalog.hpp"
#include "wsm/shm/layout.hpp"
#include "wsm/shm/limits.hpp"
#include "wsm/shm/segment.hpp"
#include "wsm/shm/segment_check.hpp"

namespace wsm::test {
namespace {

// Owners (process record + 1, tenant): record 0 never had the tenant named here, so its owner is
// dead; record 1 is made ACTIVE with this tenant by live_slot() and its byte locked by check().
constexpr shm::Owner kDeadOwner{1, 0x7ffffff0};
constexpr shm::Owner kLiveOwner{2, 77};

// A segment image and where its regions are.
struct Image {
  std::vector<std::byte> bytes;
  shm::RegionLayout layout{};
  shm::Limits limits{};

  template <class T>
  T get(std::uint64_t off) const {
    T v{};
    std::memcpy(&v, bytes.data() + off, sizeof v);
    return v;
  }
  template <class T>
  void put(std::uint64_t off, T v) {
    std::memcpy(bytes.data() + off, &v, sizeof v);
  }
  std::uint64_t family(std::uint32_t i) const { return layout.families_offset + i * sizeof(shm::FamilyEntry); }
  std::uint64_t series(std::uint32_t i) const { return layout.series_offset + i * sizeof(shm::SeriesEntry); }
  std::uint64_t slot(std::uint32_t i) const { return layout.slots_offset + i * sizeof(shm::WriterSlot); }
  std::uint64_t process(std::uint32_t i) const { return layout.processes_offset + i * sizeof(shm::ProcessRecord); }
  std::uint64_t arena(std::uint32_t i) const { return layout.arenas_offset + i * limits.arena_bytes; }
  std::uint64_t retired_index(std::uint32_t id) const { return layout.retired_index_offset + 4ull * id; }

  shm::EntryState series_state(std::uint32_t i) const {
    return shm::entry_state(get<std::uint64_t>(series(i) + offsetof(shm::SeriesEntry, state_word)));
  }
  shm::EntryState family_state(std::uint32_t i) const {
    return shm::entry_state(get<std::uint64_t>(family(i) + offsetof(shm::FamilyEntry, state_word)));
  }
  std::string labels(std::uint32_t i) const {
    const auto off = get<std::uint32_t>(series(i) + offsetof(shm::SeriesEntry, labels_off));
    const auto len = get<std::uint32_t>(series(i) + offsetof(shm::SeriesEntry, labels_len));
    return {reinterpret_cast<const char*>(bytes.data() + layout.strings_offset + off), len};
  }
  // The first series index for which `want` holds.
  std::uint32_t find_series(const std::function<bool(std::uint32_t)>& want) const {
    for (std::uint32_t i = 0; i < limits.max_series; ++i) {
      if (want(i)) return i;
    }
    ADD_FAILURE() << "no such series entry";
    return 0;
  }
  std::uint32_t ready_series() const {
    return find_series([&](std::uint32_t i) {
      return series_state(i) == shm::EntryState::ready && labels(i).starts_with("role=");
    });
  }
  std::uint32_t empty_series() const {
    return find_series([&](std::uint32_t i) { return series_state(i) == shm::EntryState::empty; });
  }
  std::uint32_t ready_family() const {
    for (std::uint32_t i = 0; i < limits.max_families; ++i) {
      if (family_state(i) == shm::EntryState::ready) return i;
    }
    ADD_FAILURE() << "no READY family";
    return 0;
  }
  // Slot 0 made ACTIVE by `owner`, with `cell` as its only published cell.
  void active_slot(shm::Owner owner, std::optional<shm::CellHeader> cell) {
    put(slot(0) + offsetof(shm::WriterSlot, state_word), shm::slot_word(shm::SlotState::active, owner));
    put(slot(0) + offsetof(shm::WriterSlot, cells_bytes), std::uint64_t{cell ? 16u : 0u});
    if (cell) put(arena(0), shm::pack_cell(*cell));
  }
  // The same, owned by a live process: record 1 ACTIVE with kLiveOwner's tenant (check() holds it).
  void live_slot(std::optional<shm::CellHeader> cell) {
    put(process(kLiveOwner.process - 1) + offsetof(shm::ProcessRecord, state_word),
        shm::process_word(shm::ProcessState::active, kLiveOwner.tenant));
    active_slot(kLiveOwner, cell);
  }
};

// A real segment: the test writer recorded and exited, and `wsm reap` folded it, so its counts
// live in the retired arena and every slot is free again.
class Check : public ::testing::Test {
 protected:
  void SetUp() override {
    writer_ = start_writer(unique_segment_name("check"), "exit");
    const auto reaped = wsm({"reap", writer_->segment.name()});
    ASSERT_EQ(reaped.exit_code, 0) << reaped.err;
    image_.bytes = read_bytes(shm_path(writer_->segment.name()));
    ASSERT_GE(image_.bytes.size(), sizeof(shm::SegmentHeader));
    const auto& h = *reinterpret_cast<const shm::SegmentHeader*>(image_.bytes.data());
    image_.limits = {h.max_writers, h.max_families, h.max_series, h.series_cap_default,
                     h.arena_bytes, h.string_bytes, h.retired_bytes, h.max_connections};
    image_.layout = shm::compute_layout(image_.limits);
  }

  // Writes the image to a second segment and runs `wsm check` on it, holding kLiveOwner's record
  // lock on the copy meanwhile, as a live writer process would (process_lease.hpp).
  CommandResult check(const Image& image) {
    copy_ = std::make_unique<SegmentGuard>(unique_segment_name("check-copy"));
    write_bytes(shm_path(copy_->name()), image.bytes);
    const int fd = ::open(shm_path(copy_->name()).c_str(), O_RDWR | O_CLOEXEC);
    struct flock lock{};
    lock.l_type = F_WRLCK;
    lock.l_whence = SEEK_SET;
    lock.l_start = static_cast<off_t>(image.process(kLiveOwner.process - 1));
    lock.l_len = 1;
    EXPECT_EQ(::fcntl(fd, F_OFD_SETLK, &lock), 0);
    auto result = wsm({"check", copy_->name()});
    ::close(fd);
    return result;
  }

  std::unique_ptr<TestWriter> writer_;
  std::unique_ptr<SegmentGuard> copy_;
  Image image_;
};

TEST_F(Check, HealthySegmentAndItsCopyHaveNoFindings) {
  auto r = wsm({"check", writer_->segment.name()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("no findings"), std::string::npos) << r.out;
  // The retired arena really holds the folded cells the damage cases below rely on.
  EXPECT_GT(image_.get<std::uint64_t>(offsetof(shm::SegmentHeader, retired_used)), 8u);
  auto copied = check(image_);
  EXPECT_EQ(copied.exit_code, 0) << copied.out << copied.err;
}

TEST(CheckLive, SegmentWithAStreamingWriterHasNoFindings) {
  auto w = start_writer(unique_segment_name("check-live"), "stream");
  auto r = wsm({"check", w->segment.name()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("no findings"), std::string::npos) << r.out;
}

// The chaos test found it: the check recomputed the layout without the header's max_connections,
// so a segment created with a connection table of any other size had two bad_offsets errors.
TEST(CheckLimits, SegmentWithAnotherConnectionTableSizeHasNoFindings) {
  for (std::uint32_t connections : {0u, 16u}) {
    SegmentGuard g(unique_segment_name("check-connections"));
    shm::Limits limits;
    limits.max_connections = connections;
    ASSERT_TRUE(shm::Segment::create(g.name(), {limits}).has_value());
    auto r = wsm({"check", g.name()});
    EXPECT_EQ(r.exit_code, 0) << connections << " connections: " << r.out << r.err;
  }
}

TEST(CheckUsage, BadNameIsAUsageErrorAndAMissingSegmentAProblem) {
  EXPECT_EQ(wsm({"check", "bad/name"}).exit_code, 2);
  auto r = wsm({"check", unique_segment_name("check-missing")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("No such file"), std::string::npos) << r.err;
}

// One kind of damage: what it does to the image and the finding that must name it.
struct Damage {
  const char* name;
  const char* finding;
  std::function<void(Image&)> apply;
};

std::ostream& operator<<(std::ostream& os, const Damage& d) { return os << d.name; }

using H = shm::SegmentHeader;
using F = shm::FamilyEntry;
using S = shm::SeriesEntry;
using W = shm::WriterSlot;

const Damage kDamages[] = {
    {"bad_magic", "bad_magic", [](Image& m) { m.put<std::uint64_t>(offsetof(H, magic), 0x1234); }},
    {"bad_version", "bad_version", [](Image& m) { m.put<std::uint32_t>(offsetof(H, layout_version), 99); }},
    {"layout_hash", "layout_mismatch",
     [](Image& m) { m.put(offsetof(H, layout_hash), m.get<std::uint64_t>(offsetof(H, layout_hash)) ^ 1); }},
    {"zero_writers_limit", "bad_limits", [](Image& m) { m.put<std::uint32_t>(offsetof(H, max_writers), 0); }},
    {"series_offset", "bad_offsets",
     [](Image& m) { m.put(offsetof(H, series_offset), m.layout.series_offset + 64); }},
    {"truncated", "truncated", [](Image& m) { m.bytes.resize(m.layout.total_bytes / 2); }},
    {"retired_used_past_end", "usage_out_of_range",
     [](Image& m) { m.put<std::uint64_t>(offsetof(H, retired_used), m.limits.retired_bytes + 8); }},
    {"odd_reap_seq_dead_reaper", "reap_stuck",
     [](Image& m) {
       m.put<std::uint64_t>(offsetof(H, reap_seq), 7);
       m.put<std::uint64_t>(offsetof(H, reaper), 0x7ffffff0);  // a last holder; nobody holds the lock
     }},
    {"journal_left_busy", "journal_not_idle",
     [](Image& m) {
       m.put<std::uint64_t>(offsetof(H, journal_state), 1);
       m.put<std::uint64_t>(offsetof(H, journal_target), m.layout.retired_offset + 16);
       m.put<std::uint64_t>(offsetof(H, journal_source), m.layout.arenas_offset + 8);
       m.put<std::uint64_t>(offsetof(H, journal_value), 42);
     }},
    {"journal_bad_state", "journal_bad", [](Image& m) { m.put<std::uint64_t>(offsetof(H, journal_state), 5); }},
    {"family_bad_state", "entry_bad_state",
     [](Image& m) { m.put<std::uint64_t>(m.family(m.ready_family()) + offsetof(F, state_word), 7); }},
    {"series_stuck_busy", "entry_stuck_busy",
     [](Image& m) {
       m.put(m.series(m.empty_series()) + offsetof(S, state_word), shm::entry_word(shm::EntryState::busy, kDeadOwner));
     }},
    {"family_bad_type", "family_malformed",
     [](Image& m) { m.put<std::uint8_t>(m.family(m.ready_family()) + offsetof(F, type), 9); }},
    {"family_name_out_of_arena", "string_out_of_range",
     [](Image& m) {
       m.put<std::uint32_t>(m.family(m.ready_family()) + offsetof(F, name_off),
                            static_cast<std::uint32_t>(m.limits.string_bytes - 4));
     }},
    {"series_labels_out_of_arena", "string_out_of_range",
     [](Image& m) {
       m.put<std::uint32_t>(m.series(m.ready_series()) + offsetof(S, labels_off),
                            static_cast<std::uint32_t>(m.limits.string_bytes - 2));
     }},
    {"series_labels_not_canonical", "series_bad_labels",
     [](Image& m) {
       const auto off = m.get<std::uint32_t>(m.series(m.ready_series()) + offsetof(S, labels_off));
       m.put<char>(m.layout.strings_offset + off, '!');
     }},
    {"series_unknown_family", "series_bad_family",
     [](Image& m) { m.put<std::uint32_t>(m.series(m.ready_series()) + offsetof(S, family_id), m.limits.max_families + 5); }},
    {"series_hash", "series_unreachable",
     [](Image& m) {
       const auto at = m.series(m.ready_series()) + offsetof(S, hash);
       m.put(at, m.get<std::uint64_t>(at) + 1);
     }},
    {"series_duplicate", "series_duplicate",
     [](Image& m) {
       // A copy of a READY entry in the EMPTY entry right after the run it sits in: reachable.
       const std::uint32_t from = m.ready_series();
       std::uint32_t to = from;
       while (m.series_state(to) != shm::EntryState::empty) to = (to + 1) % m.limits.max_series;
       std::memcpy(m.bytes.data() + m.series(to), m.bytes.data() + m.series(from), sizeof(S));
     }},
    {"family_duplicate", "family_duplicate",
     [](Image& m) {
       const std::uint32_t from = m.ready_family();
       std::uint32_t to = from;
       while (m.family_state(to) != shm::EntryState::empty) to = (to + 1) % m.limits.max_families;
       std::memcpy(m.bytes.data() + m.family(to), m.bytes.data() + m.family(from), sizeof(F));
     }},
    {"family_overflow_cache", "family_overflow_bad",
     [](Image& m) {
       const std::uint32_t s = m.ready_series();  // a labelled series, not an overflow series
       const auto fam = m.get<std::uint32_t>(m.series(s) + offsetof(S, family_id));
       m.put<std::uint32_t>(m.family(fam) + offsetof(F, overflow_series), s + 1);
     }},
    {"dead_writer_slot", "slot_dead_writer", [](Image& m) { m.active_slot(kDeadOwner, std::nullopt); }},
    {"slot_bad_state", "slot_bad_state",
     [](Image& m) { m.put<std::uint64_t>(m.slot(0) + offsetof(W, state_word), shm::slot_word(shm::SlotState{9}, kLiveOwner)); }},
    {"slot_abandoned_claim", "slot_abandoned",
     [](Image& m) {
       m.put<std::uint64_t>(m.slot(0) + offsetof(W, state_word), shm::slot_word(shm::SlotState::claiming, kDeadOwner));
     }},
    {"slot_cells_past_arena", "slot_cells_overrun",
     [](Image& m) {
       m.live_slot(std::nullopt);
       m.put<std::uint64_t>(m.slot(0) + offsetof(W, cells_bytes), m.limits.arena_bytes + 8);
     }},
    {"cell_overrun", "cell_overrun",
     [](Image& m) {
       m.live_slot(shm::CellHeader{m.ready_series(), static_cast<std::uint16_t>(shm::MetricType::counter), 100});
     }},
    {"cell_unknown_series", "cell_unknown_series",
     [](Image& m) {
       m.live_slot(shm::CellHeader{m.empty_series(), static_cast<std::uint16_t>(shm::MetricType::counter), 1});
     }},
    {"cell_wrong_kind", "cell_shape_mismatch",
     [](Image& m) {
       m.live_slot(shm::CellHeader{m.ready_series(), static_cast<std::uint16_t>(shm::MetricType::histogram), 1});
     }},
    {"retired_index_points_nowhere", "retired_index_bad",
     [](Image& m) {
       const std::uint32_t s = m.find_series([&](std::uint32_t i) { return m.get<std::uint32_t>(m.retired_index(i)) != 0; });
       m.put<std::uint32_t>(m.retired_index(s), m.get<std::uint32_t>(m.retired_index(s)) + 8);
     }},
    {"retired_cell_unindexed", "retired_cell_unindexed",
     [](Image& m) {
       const std::uint32_t s = m.find_series([&](std::uint32_t i) { return m.get<std::uint32_t>(m.retired_index(i)) != 0; });
       m.put<std::uint32_t>(m.retired_index(s), 0);
     }},
};

class CheckDamage : public Check, public ::testing::WithParamInterface<Damage> {};

TEST_P(CheckDamage, IsFoundAndNamed) {
  Image damaged = image_;
  GetParam().apply(damaged);
  ASSERT_NE(damaged.bytes, image_.bytes) << "the damage changed nothing";
  auto r = check(damaged);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find(std::string(" ") + GetParam().finding + ": "), std::string::npos)
      << "expected a " << GetParam().finding << " finding in:\n" << r.out << r.err;
}

// Every region offset of the header is checked by name, the connection table's too (it used to be
// left to Segment::view, whose message names no field).
TEST_F(Check, ConnectionTableOffsetIsNamed) {
  Image damaged = image_;
  damaged.put(offsetof(H, connections_offset), damaged.layout.connections_offset + 64);
  auto r = check(damaged);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("bad_offsets: header connections_offset (byte 152) is"), std::string::npos) << r.out << r.err;
}

INSTANTIATE_TEST_SUITE_P(Kinds, CheckDamage, ::testing::ValuesIn(kDamages),
                         [](const auto& info) { return std::string(info.param.name); });

// The fuzz target's promise, in small: random damage to a real image never crashes the check or
// makes it read outside the bytes (run under ASan to see the second), and the header's own
// findings stop it before it trusts a bad header.
TEST_F(Check, SurvivesRandomDamage) {
  std::mt19937_64 rng(20240501);
  const shm::CheckOptions quiet{.live = nullptr};
  for (int round = 0; round < 300; ++round) {
    Image m = image_;
    const int flips = 1 + static_cast<int>(rng() % 64);
    for (int k = 0; k < flips; ++k) {
      // Mostly the dense front (header, slots, tables), sometimes anywhere.
      const std::uint64_t span = rng() % 4 == 0 ? m.bytes.size() : m.layout.strings_offset + 256;
      m.bytes[rng() % span] = static_cast<std::byte>(rng());
    }
    if (round % 10 == 0) m.bytes.resize(rng() % m.bytes.size());
    const auto findings = shm::check_segment(m.bytes, quiet);
    for (const auto& f : findings) ASSERT_FALSE(f.message.empty());
  }
  EXPECT_TRUE(shm::check_segment(image_.bytes, quiet).empty());
  EXPECT_EQ(shm::check_segment({}, quiet).size(), 1u);
}

}  // namespace
}  // namespace wsm::test
