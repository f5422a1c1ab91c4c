#include "wsm/shm/snapshot.hpp"

#include <algorithm>
#include <cstring>

#include "fold_bracket.hpp"

namespace wsm::shm {

namespace {

const std::atomic<std::uint64_t>* word_at(const std::byte* p) {
  return reinterpret_cast<const std::atomic<std::uint64_t>*>(p);
}

}  // namespace

HeaderStats read_header_stats(const Segment& segment) {
  const SegmentHeader& h = segment.header();
  const auto rl = [](const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  return {h.created_unix_ns, h.total_bytes, rl(h.strings_used), segment.limits().string_bytes,
          rl(h.retired_used), segment.limits().retired_bytes, rl(h.series_used),
          rl(h.series_dropped), rl(h.cells_dropped), rl(h.writers_dropped), rl(h.writers_reaped),
          rl(h.retired_dropped), rl(h.families_used)};
}

std::optional<WriterInfo> read_writer(const Segment& segment, std::uint32_t i, LivenessCache& liveness_of) {
  const WriterSlot& slot = segment.slot(i);
  // Acquire: pairs with the claimant's release of ACTIVE (fields written) and the writer's
  // release of DETACHED (its last counts).
  const std::uint64_t w = slot.state_word.load(std::memory_order_acquire);
  const SlotState state = slot_state(w);
  if (state != SlotState::active && state != SlotState::detached && state != SlotState::retiring &&
      state != SlotState::exited) {
    return std::nullopt;
  }
  WriterInfo info;
  info.slot = i;
  info.state = state;
  info.owner = word_owner(w);
  const SlotIdentity id = load_identity(slot);
  info.pid = static_cast<pid_t>(id.pid);
  info.tid = id.tid;
  info.tenant = slot.tenant.load(std::memory_order_relaxed);
  info.heartbeat_ns = slot.heartbeat_ns.load(std::memory_order_relaxed);
  // Acquire: every cell below this offset was written before the owner's release.
  info.cells_bytes = std::min<std::uint64_t>(slot.cells_bytes.load(std::memory_order_acquire),
                                             segment.limits().arena_bytes);
  info.role.assign(id.role, ::strnlen(id.role, sizeof id.role));
  info.liveness = liveness_of(info.owner);
  info.alive = info.liveness != Liveness::dead;
  return info;
}

Result<Snapshot> Snapshot::take(const Segment& segment, CatalogView& catalog,
                                const SnapshotOptions& options) {
  Snapshot s;
  auto read = read_between_folds(segment, options.wait, [&](const std::optional<InFlightMove>& move) {
    catalog.refresh(segment);
    s = Snapshot{};
    if (!options.only_families.empty()) {
      s.families_copied.assign(segment.max_families(), false);
      for (std::uint32_t id : catalog.family_ids()) {
        const std::string& name = catalog.family(id)->name;
        s.families_copied[id] = std::find(options.only_families.begin(), options.only_families.end(), name) !=
                                options.only_families.end();
      }
    }
    if (move) s.in_flight_ = MoveSeen{move->target, move->source, move->value};
    s.copy(segment, catalog);
    // A cell whose series was registered after the catalog refresh: refresh and copy again.
    return s.problems.empty() ? PassResult::complete : PassResult::unknown_series;
  });
  if (!read) return std::unexpected(read.error());
  s.repair_move();
  return s;
}

void Snapshot::repair_move() {
  // No store of the reaper landed during the copy, so its state is one of the points inside a
  // single move: before the target store (target old, source v: fine), after both stores (target
  // old+v, source 0: fine), or between them, the one state that counts v twice: the target already
  // holds the journal's value and the source still holds v. The source was copied before the
  // target (writer arenas before the retired arena), so we can never see the source emptied and
  // the target not yet filled.
  if (!in_flight_ || in_flight_->target_word == kNoWord || in_flight_->source_word == kNoWord) return;
  if (words[in_flight_->target_word] == in_flight_->value && words[in_flight_->source_word] != 0) {
    words[in_flight_->source_word] = 0;
  }
}

void Snapshot::copy(const Segment& segment, const CatalogView& catalog) {
  const SegmentHeader& h = segment.header();
  generation = h.generation;
  taken_unix_ns = unix_ns();
  taken_mono_ns = monotonic_ns();
  stats = read_header_stats(segment);

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

  LivenessCache liveness_of(segment);  // threads of one process share one lock test
  for (std::uint32_t i = 0; i < segment.max_writers(); ++i) {
    std::optional<WriterInfo> info = read_writer(segment, i, liveness_of);
    if (!info) continue;
    writers.push_back(std::move(*info));
    copy_cells(segment, catalog, segment.arena(i), writers.back().cells_bytes,
               static_cast<std::int32_t>(writers.size() - 1), "writer slot " + std::to_string(i));
  }
  const std::uint64_t retired = std::min<std::uint64_t>(
      h.retired_used.load(std::memory_order_acquire), segment.limits().retired_bytes);
  copy_cells(segment, catalog, segment.retired_arena(), retired, kRetiredWriter, "retired arena");
}

void Snapshot::note_in_flight(std::uint64_t payload_offset, std::uint32_t count) {
  // The journal names byte offsets in the segment; remember where those words land in `words`.
  const auto index_of = [&](std::uint64_t off) -> std::uint64_t {
    if (off < payload_offset || off >= payload_offset + 8ull * count || (off - payload_offset) % 8 != 0) {
      return kNoWord;
    }
    return words.size() + (off - payload_offset) / 8;
  };
  if (const auto t = index_of(in_flight_->target); t != kNoWord) in_flight_->target_word = t;
  if (const auto s = index_of(in_flight_->source); s != kNoWord) in_flight_->source_word = s;
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
    const std::uint64_t next = pos + cell_bytes(c);
    if (c.words == 0 || next > used) {
      problems.push_back(where + ": cell at byte " + std::to_string(pos) + " overruns the arena");
      return;
    }
    const std::uint32_t shape = catalog.cell_shape(c.series_id);
    const bool exemplar = c.kind == static_cast<std::uint16_t>(CellKind::exemplar);
    const bool wanted = copied(catalog.family_of(c.series_id));  // the family, from the series' entry
    if (!cell_fits(shape, c.kind, c.words) || (exemplar && writer == kRetiredWriter)) {
      problems.push_back(where + ": cell at byte " + std::to_string(pos) + " names series " +
                         std::to_string(c.series_id) + " with a kind or size the catalog disagrees with");
    } else if (wanted && exemplar) {
      const auto* payload = word_at(arena.data() + pos + sizeof(CellHeader));
      if (auto e = ExemplarCell::at(payload).read()) exemplars.push_back({c.series_id, writer, *e});
    } else if (wanted) {
      cells.push_back({c.series_id, writer, static_cast<std::uint32_t>(words.size()), c.words});
      const auto* payload = word_at(arena.data() + pos + sizeof(CellHeader));
      if (in_flight_) note_in_flight(static_cast<std::uint64_t>(arena.data() + pos + sizeof(CellHeader) - segment.base()), c.words);
      for (std::uint32_t k = 0; k < c.words; ++k) {
        words.push_back(payload[k].load(kOrder));
      }
    }
    pos = next;
  }
}

}  // namespace wsm::shm
