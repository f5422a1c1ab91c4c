#include "wsm/shm/tally.hpp"

#include <algorithm>
#include <thread>
#include <vector>

#include "fold_bracket.hpp"
#include "series_totals.hpp"
#include "wsm/shm/series_merge.hpp"

namespace wsm::shm {

namespace {

using Word = std::atomic<std::uint64_t>;

const Word* word_at(const std::byte* p) { return reinterpret_cast<const Word*>(p); }

// Acquire loads of every cell word, as in Snapshot::copy_cells: a fold's stores are releases, so
// a pass that sees any store of a fold also sees the bracket's increment before it when the
// bracket is read again (fold_bracket.hpp). Free on x86, and understood by ThreadSanitizer.
constexpr auto kCellOrder = std::memory_order_acquire;

// What a pass saw of the journal's move (read_between_folds hands it over): the source word as
// added (where, and its value) and the target word's value.
struct MoveSeen {
  bool source_added = false;
  std::uint32_t source_target = 0, source_word = 0;
  std::uint64_t source_value = 0;
  bool target_seen = false;
  std::uint64_t target_value = 0;
};

// A gauge cell met by the helper thread: added by the calling thread afterwards, because gauges
// combine in slot order (sums of doubles depend on it) and only one accumulator holds gauges.
struct GaugeCell {
  std::uint32_t target;
  std::uint64_t value_bits, stamp;
  pid_t pid;
};

// Reads the cells of one arena into one SeriesTotals.
class ArenaReader {
 public:
  ArenaReader(const Segment& segment, const CatalogView& catalog, SeriesTotals& totals,
              const std::optional<InFlightMove>& move)
      : segment_(segment), catalog_(catalog), totals_(totals), move_(move) {}

  // Adds the cells below `used`; writer nullptr: the retired arena. Gauge cells go to
  // deferred_gauges when given. Cells that overrun the arena or disagree with the catalog are
  // left out and named in `problems`.
  void read(std::span<const std::byte> arena, std::uint64_t used, const WriterInfo* writer,
            std::vector<GaugeCell>* deferred_gauges);

  MoveSeen seen;
  std::vector<std::string> problems;

 private:
  void add(const CellHeader& c, std::uint32_t target, const Word* payload, const WriterInfo* writer,
           std::vector<GaugeCell>* deferred_gauges);
  void add_touching_move(const CellHeader& c, std::uint32_t target, const Word* payload, const WriterInfo* writer);
  std::string where(const WriterInfo* writer) const {
    return writer == nullptr ? "retired arena" : "writer slot " + std::to_string(writer->slot);
  }

  const Segment& segment_;
  const CatalogView& catalog_;
  SeriesTotals& totals_;
  const std::optional<InFlightMove>& move_;
};

void ArenaReader::read(std::span<const std::byte> arena, std::uint64_t used, const WriterInfo* writer,
                       std::vector<GaugeCell>* deferred_gauges) {
  // The retired arena starts at 8 (offset 0 means "none" in its index).
  std::uint64_t pos = writer == nullptr ? 8 : 0;
  // Series ids of consecutive cells are scattered (catalog ids are hash positions), so each cell
  // would wait for up to three cache misses: its entries in the shape and target arrays, then its
  // accumulator. Two scouts walk ahead of the reader instead: the far one prefetches the array
  // entries of the cell kFar cells ahead, the near one (whose array entries are cached by then)
  // reads its target and prefetches the accumulator of the cell kNear ahead. (16 and 32 left a
  // cold read, the caches emptied by other work as between two of Prometheus's scrapes, waiting.)
  constexpr int kNear = 32, kFar = 64;
  std::uint64_t near = pos, far = pos;
  const auto step = [&](std::uint64_t& scout, bool is_far) {
    if (scout + sizeof(CellHeader) > used) return;
    const CellHeader c = unpack_cell(word_at(arena.data() + scout)->load(kCellOrder));
    if (is_far) {
      __builtin_prefetch(totals_.target_address(c.series_id));
      __builtin_prefetch(catalog_.cell_shape_address(c.series_id));
    } else if (const std::uint32_t t = totals_.target_of(c.series_id); t != SeriesMerge::kLeftOut) {
      __builtin_prefetch(totals_.address_of(t), 1);
    }
    scout = c.words == 0 ? used : scout + cell_bytes(c);
  };
  for (int k = 0; k < kFar; ++k) step(far, true);
  for (int k = 0; k < kNear; ++k) step(near, false);

  while (pos + sizeof(CellHeader) <= used) {
    step(far, true);
    step(near, false);
    const CellHeader c = unpack_cell(word_at(arena.data() + pos)->load(kCellOrder));
    const std::uint64_t next = pos + cell_bytes(c);
    if (c.words == 0 || next > used) {
      problems.push_back(where(writer) + ": cell at byte " + std::to_string(pos) + " overruns the arena");
      return;
    }
    // The compact shape array, not the SeriesInfo: this runs once per cell of every writer.
    const std::uint32_t shape = catalog_.cell_shape(c.series_id);
    const bool exemplar = c.kind == static_cast<std::uint16_t>(CellKind::exemplar);
    if (!cell_fits(shape, c.kind, c.words) || (exemplar && writer == nullptr)) {
      problems.push_back(where(writer) + ": cell at byte " + std::to_string(pos) + " names series " +
                         std::to_string(c.series_id) + " with a kind or size the catalog disagrees with");
    } else if (const std::uint32_t target = totals_.target_of(c.series_id); target != SeriesMerge::kLeftOut) {
      const Word* payload = word_at(arena.data() + pos + sizeof(CellHeader));
      const auto offset = static_cast<std::uint64_t>(reinterpret_cast<const std::byte*>(payload) - segment_.base());
      if (exemplar) {
        // Never a fold's source or target (exemplars are not folded): read whole, or not at all.
        if (auto e = ExemplarCell::at(payload).read()) totals_.add_exemplar(target, *e);
      } else if (move_ && (move_->source - offset < 8ull * c.words || move_->target - offset < 8ull * c.words)) {
        add_touching_move(c, target, payload, writer);
      } else {
        add(c, target, payload, writer, deferred_gauges);
      }
    }
    pos = next;
  }
}

void ArenaReader::add(const CellHeader& c, std::uint32_t target, const Word* payload, const WriterInfo* writer,
                      std::vector<GaugeCell>* deferred_gauges) {
  switch (static_cast<MetricType>(c.kind)) {
    case MetricType::counter: totals_.add_counter(target, payload[0].load(kCellOrder)); break;
    case MetricType::histogram:
      totals_.add_histogram(target, c.words - 1u, [payload](std::uint32_t k) { return payload[k].load(kCellOrder); });
      break;
    case MetricType::gauge: {
      // A dead process's levels are meaningless: dropped, never folded (nor kept when retired).
      if (writer == nullptr || !writer->alive || writer->state != SlotState::active) break;
      const GaugeCell g{target, payload[0].load(kCellOrder), payload[1].load(kCellOrder), writer->pid};
      if (deferred_gauges != nullptr) {
        deferred_gauges->push_back(g);
      } else {
        totals_.add_gauge(g.target, g.value_bits, g.stamp, g.pid);
      }
      break;
    }
  }
}

// The rare cell that holds the journal's source or target word (a fold is under way and its
// reaper made no progress during the pass): read each word once, note the two words, add.
void ArenaReader::add_touching_move(const CellHeader& c, std::uint32_t target, const Word* payload,
                                    const WriterInfo* writer) {
  std::vector<std::uint64_t> words(c.words);
  for (std::uint32_t k = 0; k < c.words; ++k) words[k] = payload[k].load(kCellOrder);
  const auto offset = static_cast<std::uint64_t>(reinterpret_cast<const std::byte*>(payload) - segment_.base());
  const bool counts = static_cast<MetricType>(c.kind) != MetricType::gauge;
  for (std::uint32_t k = 0; k < c.words && counts; ++k) {
    if (offset + 8ull * k == move_->source && writer != nullptr) {
      seen.source_added = true;
      seen.source_target = target;
      seen.source_word = k;
      seen.source_value = words[k];
    }
    if (offset + 8ull * k == move_->target && writer == nullptr) {
      seen.target_seen = true;
      seen.target_value = words[k];
    }
  }
  switch (static_cast<MetricType>(c.kind)) {
    case MetricType::counter: totals_.add_counter(target, words[0]); break;
    case MetricType::histogram:
      totals_.add_histogram(target, c.words - 1u, [&words](std::uint32_t k) { return words[k]; });
      break;
    case MetricType::gauge:
      if (writer != nullptr && writer->alive && writer->state == SlotState::active) {
        totals_.add_gauge(target, words[0], words[1], writer->pid);
      }
      break;
  }
}

}  // namespace

struct Tally::State {
  SeriesMerge merge;
  std::uint64_t laid_out_generation = 0;
  std::size_t laid_out_series = ~std::size_t{0}, laid_out_families = ~std::size_t{0};
  bool helper_laid_out = false;
  SeriesTotals totals;         // the calling thread's (all gauges, the retired arena)
  SeriesTotals helper_totals;  // the helper thread's, with options.threads == 2
  Aggregation out;
  Snapshot meta;
  MappingDamage helper_damage;  // the helper's guard, when the caller gave none
  // The last pass met cells it could not place: the next one scans every catalog entry, whatever
  // options.catalog_scan says (a series published but not yet counted in series_used).
  bool scan_every_entry = false;
  // What the last take() emits: by family id, whether its points are wanted (empty: every
  // family); with parts, where the next part starts and the catalog it was taken with.
  std::vector<std::uint8_t> wanted;
  std::size_t part_points = 0, next_position = 0;
  // The part handed out last, which its caller may still read after the next next_part(): its
  // points and exemplars once the next part is emitted (the memory of the views a caller holds,
  // aggregation.hpp), and where its values start. Below that position the values of the parts
  // before it lie, and their bucket totals below done_counts; held_counts is where the part's own
  // bucket totals end (both are laid out in exposition order, series_totals.hpp).
  ScratchVector<Point> held_points;
  std::vector<ExemplarData> held_exemplars;
  std::size_t held_position = 0, done_counts = 0, held_counts = 0;
  const CatalogView* parts_of = nullptr;

  [[nodiscard]] bool emits(std::uint32_t family) const noexcept {
    return wanted.empty() || (family < wanted.size() && wanted[family] != 0);
  }
  // emits() as the `copied` predicate SeriesTotals takes.
  [[nodiscard]] auto emitted() const noexcept {
    return [this](std::uint32_t family) { return emits(family); };
  }
  void want(const CatalogView& catalog, const std::vector<std::string>& names);

  void lay_out(const CatalogView& catalog, bool helper);
  PassResult pass(const Segment& segment, CatalogView& catalog, const TallyOptions& options,
                  const std::optional<InFlightMove>& move);
};

void Tally::State::lay_out(const CatalogView& catalog, bool helper) {
  const bool stale = catalog.generation() != laid_out_generation || catalog.series_count() != laid_out_series ||
                     catalog.family_ids().size() != laid_out_families;
  if (stale) {
    merge = merge_series(catalog);
    totals.lay_out(catalog, merge);
    helper_laid_out = false;
    laid_out_generation = catalog.generation();
    laid_out_series = catalog.series_count();
    laid_out_families = catalog.family_ids().size();
  }
  if (helper && !helper_laid_out) {
    helper_totals.lay_out_counts_like(totals);
    helper_laid_out = true;
  }
}

PassResult Tally::State::pass(const Segment& segment, CatalogView& catalog, const TallyOptions& options,
                              const std::optional<InFlightMove>& move) {
  catalog.refresh(segment, scan_every_entry ? CatalogScan::every_entry : options.catalog_scan);
  meta.generation = segment.header().generation;
  meta.taken_unix_ns = unix_ns();
  meta.taken_mono_ns = monotonic_ns();
  meta.stats = read_header_stats(segment);
  meta.writers.clear();
  meta.problems.clear();
  LivenessCache liveness_of(segment);  // threads of one process share one lock test
  for (std::uint32_t i = 0; i < segment.max_writers(); ++i) {
    if (auto info = read_writer(segment, i, liveness_of)) meta.writers.push_back(std::move(*info));
  }

  // A second thread pays (its start, its accumulators' memory, adding them up) only when there
  // are many cells to read.
  std::uint64_t published = 0;
  for (const WriterInfo& w : meta.writers) published += w.cells_bytes;
  const bool two = options.threads >= 2 && published >= options.split_bytes;
  lay_out(catalog, two);
  totals.reclaim(out);
  totals.clear();

  // Which writers the helper reads: thread slots (gauges live in the process slots, tid 0),
  // balanced by published bytes against the calling thread's share.
  std::vector<const WriterInfo*> mine, helpers;
  std::uint64_t my_bytes = 0, helper_bytes = 0;
  for (const WriterInfo& w : meta.writers) {
    if (two && w.tid != 0 && helper_bytes < my_bytes) {
      helpers.push_back(&w);
      helper_bytes += w.cells_bytes;
    } else {
      mine.push_back(&w);
      my_bytes += w.cells_bytes;
    }
  }

  ArenaReader reader(segment, catalog, totals, move);
  ArenaReader helper_reader(segment, catalog, helper_totals, move);
  std::vector<GaugeCell> helper_gauges;
  std::thread helper;
  if (!helpers.empty()) {
    helper = std::thread([&] {
      // This thread's reads of the mapping need a guard of their own (guards are per thread).
      MappingGuard guard(segment, options.damage != nullptr ? *options.damage : helper_damage);
      helper_totals.clear();
      for (const WriterInfo* w : helpers) {
        helper_reader.read(segment.arena(w->slot), w->cells_bytes, w, &helper_gauges);
      }
    });
  }
  for (const WriterInfo* w : mine) reader.read(segment.arena(w->slot), w->cells_bytes, w, nullptr);
  if (helper.joinable()) {
    helper.join();
    totals.add_counts_of(helper_totals);
    // Not read again until the next pass clears them: their pages need not wait for the
    // serialisation, the scrape's peak.
    helper_totals.release_pages();
    for (const GaugeCell& g : helper_gauges) totals.add_gauge(g.target, g.value_bits, g.stamp, g.pid);
    if (helper_reader.seen.source_added) reader.seen = {true, helper_reader.seen.source_target,
                                                        helper_reader.seen.source_word,
                                                        helper_reader.seen.source_value};
    reader.problems.insert(reader.problems.end(), helper_reader.problems.begin(), helper_reader.problems.end());
  }
  // The retired arena after every writer arena (the helper's joined): a fold's source is read
  // before its target, so a pass never sees a source emptied and its target not yet filled.
  const std::uint64_t retired = std::min<std::uint64_t>(
      segment.header().retired_used.load(std::memory_order_acquire), segment.limits().retired_bytes);
  reader.read(segment.retired_arena(), retired, nullptr, nullptr);

  // A move under way whose reaper made no progress during the pass (else it is run again): it
  // counts the value twice only between its two stores, when the target already holds the
  // journal's value and the source still holds its count; then the source is not counted.
  if (move && reader.seen.source_added && reader.seen.target_seen && reader.seen.target_value == move->value &&
      reader.seen.source_value != 0) {
    totals.subtract_word(reader.seen.source_target, reader.seen.source_word, reader.seen.source_value);
  }
  meta.problems = std::move(reader.problems);
  scan_every_entry = !meta.problems.empty();
  return meta.problems.empty() ? PassResult::complete : PassResult::unknown_series;
}

Tally::Tally() : state_(std::make_unique<State>()) {}
Tally::~Tally() = default;
Tally::Tally(Tally&&) noexcept = default;
Tally& Tally::operator=(Tally&&) noexcept = default;

Result<void> Tally::take(const Segment& segment, CatalogView& catalog, const TallyOptions& options) {
  State& s = *state_;
  s.parts_of = nullptr;
  auto read = read_between_folds(segment, options.wait, [&](const std::optional<InFlightMove>& move) {
    return s.pass(segment, catalog, options, move);
  });
  if (!read) return read;
  if (s.helper_damage.damaged()) return std::unexpected(damaged_segment_error(segment));
  // No cells are held: every family reads as not copied.
  s.meta.families_copied.assign(segment.max_families(), false);
  s.want(catalog, options.only_families);
  if (options.part_points == 0) {
    // Room for every point once, instead of doubling up to it, unless only a few families are wanted.
    if (s.wanted.empty()) s.out.points.reserve(s.merge.order.size());
    s.totals.emit(catalog, s.emitted(), s.out);
    s.totals.release_pages();  // in the points now (the bucket totals lent to them)
  } else {
    // A part's room (whole families overrun part_points), not the room every point took in a read
    // before (in huge pages, scratch.hpp): the part then stays in small pages. Two of them, the
    // part handed out and the one before it (held), each with a mapping of its own even when small
    // (scratch.hpp), so that its pages go back between reads: on the heap they stayed, ~0.5 MB.
    const std::size_t room =
        std::max(options.part_points + options.part_points / 2, kScratchMapBytes / sizeof(Point) + 1);
    for (ScratchVector<Point>* points : {&s.out.points, &s.held_points}) {
      if (points->capacity() > 2 * room) ScratchVector<Point>().swap(*points);
      points->clear();
      points->reserve(room);
    }
    s.held_exemplars.clear();
    s.totals.lend(s.out);
    s.parts_of = &catalog;
    s.part_points = options.part_points;
    s.next_position = s.held_position = 0;
    s.done_counts = s.held_counts = 0;
  }
  return {};
}

void Tally::State::want(const CatalogView& catalog, const std::vector<std::string>& names) {
  wanted.clear();
  if (names.empty()) return;
  wanted.assign(catalog.family_capacity(), 0);
  for (const std::uint32_t id : catalog.family_ids()) {
    wanted[id] = std::find(names.begin(), names.end(), catalog.family(id)->name) != names.end();
  }
}

bool Tally::next_part() {
  State& s = *state_;
  if (s.parts_of == nullptr) return false;
  // The caller is done with the parts before the one handed out last, which it may still read
  // (another thread may write it out while this emits the next): their values' and bucket
  // totals' pages go. At 100k series these ~3.6 MB are then not all held while the body grows to
  // its full size.
  shm::release_pages(s.out.buckets, 0, s.held_position);
  shm::release_pages(s.out.buckets, s.totals.order_size(), s.done_counts);
  // The last part's points and exemplars are held now; those held before (done with) are refilled.
  s.out.points.swap(s.held_points);
  s.out.exemplars.swap(s.held_exemplars);
  s.out.points.clear();
  s.out.exemplars.clear();
  if (s.next_position >= s.totals.order_size()) return false;  // release_pages() gives back the rest
  s.held_position = s.next_position;
  s.done_counts = s.held_counts;
  s.next_position = s.totals.emit_part(*s.parts_of, s.emitted(), s.next_position, s.part_points, s.out);
  for (const Point& p : s.out.points) {
    if (p.family->type == MetricType::histogram) {
      s.held_counts = std::max<std::size_t>(s.held_counts, p.buckets_at + std::size_t{p.family->bucket_count});
    }
  }
  return true;
}

void Tally::release_pages() noexcept {
  State& s = *state_;
  s.parts_of = nullptr;
  s.totals.reclaim(s.out);  // the bucket totals emit() or lend() lent the aggregation
  s.totals.release_pages();
  s.out.release_pages();
  s.held_points.clear();
  s.held_exemplars.clear();
  shm::release_pages(s.held_points);
}

const Aggregation& Tally::aggregation() const noexcept { return state_->out; }
const Snapshot& Tally::meta() const noexcept { return state_->meta; }

}  // namespace wsm::shm
