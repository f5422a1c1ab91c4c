#include "wsm/shm/snapshot.hpp"

#include <algorithm>
#include <cstring>
#include <thread>
#include <unordered_map>

namespace wsm::shm {

namespace {

const std::atomic<std::uint64_t>* word_at(const std::byte* p) {
  return reinterpret_cast<const std::atomic<std::uint64_t>*>(p);
}

}  // namespace

Result<Snapshot> Snapshot::take(const Segment& segment, CatalogView& catalog,
                                const SnapshotOptions& options) {
  const auto deadline = std::chrono::steady_clock::now() + options.wait;
  auto& seq = segment.header().reap_seq;
  bool recopied = false;
  for (;;) {
    // Acquire: pairs with the reaper's release when it made the sequence even.
    const std::uint64_t before = seq.load(std::memory_order_acquire);
    if (before % 2 == 0) {
      catalog.refresh(segment);
      Snapshot s;
      if (!options.only_families.empty()) {
        s.families_copied.assign(segment.max_families(), false);
        for (std::uint32_t id : catalog.family_ids()) {
          const std::string& name = catalog.family(id)->name;
          s.families_copied[id] = std::find(options.only_families.begin(), options.only_families.end(), name) !=
                                  options.only_families.end();
        }
      }
      s.copy(segment, catalog);
      // Relaxed is enough here: every cell word was loaded with acquire (copy_cells), so if the
      // copy saw any store of a fold, this load sees the odd sequence that preceded it.
      const bool stable = seq.load(std::memory_order_relaxed) == before;
      // A cell whose series was registered after the catalog refresh: refresh and copy again.
      if (stable && !s.problems.empty() && !recopied) {
        recopied = true;
        continue;
      }
      if (stable) return s;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return fail(Errc::timeout, "segment '" + segment.name() + "': a fold of dead writers has "
                                 "been under way for too long (a reaper died?); run `wsm reap " +
                                 segment.name() + "`");
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

void Snapshot::copy(const Segment& segment, const CatalogView& catalog) {
  const SegmentHeader& h = segment.header();
  generation = h.generation;
  taken_unix_ns = unix_ns();
  taken_mono_ns = monotonic_ns();
  const auto rl = [](const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  stats = {h.created_unix_ns, h.total_bytes, rl(h.strings_used), segment.limits().string_bytes,
           rl(h.retired_used), segment.limits().retired_bytes, rl(h.series_used),
           rl(h.series_dropped), rl(h.cells_dropped), rl(h.writers_dropped), rl(h.writers_reaped),
           rl(h.retired_dropped), rl(h.families_used)};

  // One allocation for a full copy: the published bytes now (an estimate; they may still grow).
  std::uint64_t estimate = h.retired_used.load(std::memory_order_relaxed);
  for (std::uint32_t i = 0; i < segment.max_writers(); ++i) {
    estimate += segment.slot(i).cells_bytes.load(std::memory_order_relaxed);
  }
  estimate = std::min<std::uint64_t>(estimate, segment.size());
  if (families_copied.empty()) {
    words.reserve(estimate / 8);
    cells.reserve(estimate / 16);
  }

  std::unordered_map<pid_t, bool> alive;  // threads of one process share the /proc lookup
  for (std::uint32_t i = 0; i < segment.max_writers(); ++i) {
    const WriterSlot& slot = segment.slot(i);
    // Acquire: pairs with the claimant's release of ACTIVE (fields written) and the writer's
    // release of DETACHED (its last counts).
    const std::uint64_t w = slot.state_word.load(std::memory_order_acquire);
    const SlotState state = slot_state(w);
    if (state != SlotState::active && state != SlotState::detached && state != SlotState::retiring) {
      continue;
    }
    WriterInfo info;
    info.slot = i;
    info.state = state;
    info.pid = static_cast<pid_t>(slot_pid(w));
    const SlotIdentity id = load_identity(slot);
    info.tid = id.tid;
    info.start_ticks = id.start_ticks;
    info.tenant = slot.tenant.load(std::memory_order_relaxed);
    info.heartbeat_ns = slot.heartbeat_ns.load(std::memory_order_relaxed);
    // Acquire: every cell below this offset was written before the owner's release.
    info.cells_bytes = std::min<std::uint64_t>(slot.cells_bytes.load(std::memory_order_acquire),
                                               segment.limits().arena_bytes);
    info.role.assign(id.role, ::strnlen(id.role, sizeof id.role));
    auto [it, fresh] = alive.try_emplace(info.pid, false);
    if (fresh) it->second = process_alive(info.pid, info.start_ticks);
    info.alive = it->second;
    writers.push_back(std::move(info));
    copy_cells(segment, catalog, segment.arena(i), writers.back().cells_bytes,
               static_cast<std::int32_t>(writers.size() - 1), "writer slot " + std::to_string(i));
  }
  const std::uint64_t retired = std::min<std::uint64_t>(
      h.retired_used.load(std::memory_order_acquire), segment.limits().retired_bytes);
  copy_cells(segment, catalog, segment.retired_arena(), retired, kRetiredWriter, "retired arena");
}

void Snapshot::copy_cells(const Segment& segment, const CatalogView& catalog,
                          std::span<std::byte> arena, std::uint64_t used, std::int32_t writer,
                          const std::string& where) {
  // Acquire loads of every cell word, not relaxed loads and an acquire fence before the sequence
  // is read again: the same order (the fold's stores are releases), free on x86, and one that
  // ThreadSanitizer understands (GCC refuses atomic_thread_fence under -fsanitize=thread).
  constexpr auto kOrder = std::memory_order_acquire;
  // The retired arena starts at 8 (offset 0 means "none" in its index).
  std::uint64_t pos = writer == kRetiredWriter ? 8 : 0;
  while (pos + sizeof(CellHeader) <= used) {
    const CellHeader c = unpack_cell(word_at(arena.data() + pos)->load(kOrder));
    const std::uint64_t next = pos + sizeof(CellHeader) + std::uint64_t{c.words} * 8;
    if (c.words == 0 || next > used) {
      problems.push_back(where + ": cell at byte " + std::to_string(pos) + " overruns the arena");
      return;
    }
    const std::uint32_t shape = catalog.cell_shape(c.series_id);
    if (shape == 0 || shape != ((std::uint32_t{c.kind} << 16) | c.words)) {
      problems.push_back(where + ": cell at byte " + std::to_string(pos) + " names series " +
                         std::to_string(c.series_id) + " with a kind or size the catalog disagrees with");
    } else if (copied(catalog.family_of(c.series_id))) {
      cells.push_back({c.series_id, writer, static_cast<std::uint32_t>(words.size()), c.words});
      const auto* payload = word_at(arena.data() + pos + sizeof(CellHeader));
      for (std::uint32_t k = 0; k < c.words; ++k) {
        words.push_back(payload[k].load(kOrder));
      }
    }
    pos = next;
  }
  (void)segment;
}

}  // namespace wsm::shm
