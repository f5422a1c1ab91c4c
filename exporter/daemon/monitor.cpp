#include "wsm/exporter/monitor.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <pwd.h>
#include <thread>
#include <unistd.h>

#include "wsm/exporter/health_scores.hpp"
#include "wsm/exporter/part_writer.hpp"
#include "wsm/exporter/self_metrics.hpp"
#include "wsm/exposition/gzip.hpp"
#include "wsm/shm/process_table.hpp"
#include "wsm/shm/reaper.hpp"
#include "wsm/shm/snapshot.hpp"

namespace wsm::exporter {

namespace {

double seconds_since(std::uint64_t start_ns) {
  return static_cast<double>(shm::monotonic_ns() - start_ns) / 1e9;
}

void log_line(const std::string& who, const std::string& line) {
  std::fprintf(stderr, "%s: %s\n", who.c_str(), line.c_str());
}

std::string user_name(uid_t uid) {
  passwd entry{};
  passwd* found = nullptr;
  std::vector<char> buffer(16384);
  if (::getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) == 0 && found != nullptr) {
    return std::string(found->pw_name) + ", uid " + std::to_string(uid);
  }
  return "uid " + std::to_string(uid);
}

}  // namespace

// /dev/shm is writable by everyone: anyone can create wsm.<name> before the real writers do and
// feed the exporter forged counts. A segment file this user does not own is served only when the
// operator said so (the group setup of RegistryOptions::group is the usual reason).
std::optional<std::string> Monitor::foreign_owner(const shm::Segment& segment) const {
  if (settings_.allow_foreign_segment) return std::nullopt;
  auto owner = segment.file_owner();
  if (!owner) return owner.error().message();
  if (owner->uid == ::geteuid()) return std::nullopt;
  return "segment '" + settings_.segment + "' (/dev/shm/wsm." + settings_.segment + ") is owned by " +
         user_name(owner->uid) + ", not by this exporter's user (" + user_name(::geteuid()) +
         "); refusing it, since another user's segment may carry forged counts. Run the exporter as "
         "that user, or pass --allow-foreign-segment (WSM_ALLOW_FOREIGN_SEGMENT=on) if you trust it";
}

Monitor::Monitor(Settings settings, exposition::IdLabelPolicy policy)
    : settings_(std::move(settings)), policy_(std::move(policy)), rules_(derived_rules(settings_.categories)) {
  interval_families_ = deriver_.input_families();
  interval_families_.emplace_back(rules_.breakdown.message_latency);  // the exemplar log's
  status_.reason = "segment '" + settings_.segment + "' not looked for yet";
}

bool Monitor::attached() const {
  std::lock_guard lock(mutex_);
  return attached_ != nullptr;
}

MonitorStatus Monitor::status() const {
  std::lock_guard lock(mutex_);
  return status_;
}

void Monitor::detach(std::string reason) {
  if (attached_) log_line(settings_.log_name, "detached from segment '" + settings_.segment + "': " + reason);
  attached_.reset();
  catalog_ = shm::CatalogView{};
  capacity_.reset();
  status_.attached = false;
  status_.reaping = false;
  status_.reason = std::move(reason);
  computed_.clear();
  processes_.clear();
}

void Monitor::attach() {
  const shm::OpenOptions rw{shm::Access::read_write, std::chrono::milliseconds(100)};
  auto segment = shm::Segment::open(settings_.segment, rw);
  bool reaping = true;
  if (!segment && segment.error().code() == Errc::permission) {
    // Another user's segment we may only read: serve it, without folding dead writers.
    segment = shm::Segment::open(settings_.segment, {shm::Access::read_only, rw.wait});
    reaping = false;
  }
  if (!segment) {
    const Error& e = segment.error();
    status_.reason = e.code() == Errc::not_found
                         ? "segment '" + settings_.segment + "' does not exist (/dev/shm/wsm." +
                               settings_.segment + "); waiting for a writer to create it"
                         : e.message();
    if (damaged_) {
      status_.reason = "segment '" + settings_.segment +
                       "' is damaged (its file shrank while it was read) and not re-created yet: " +
                       status_.reason;
    }
    if (status_.reason != reported_) log_line(settings_.log_name, status_.reason);
    reported_ = status_.reason;
    return;
  }
  if (auto refused = foreign_owner(*segment)) {
    status_.reason = *refused;
    if (status_.reason != reported_) log_line(settings_.log_name, status_.reason);
    reported_ = status_.reason;
    return;
  }
  attached_ = std::make_shared<Attached>(std::move(*segment));
  damaged_ = false;
  catalog_ = shm::CatalogView{};
  status_.attached = true;
  status_.reaping = reaping;
  status_.generation = attached_->segment.header().generation;
  status_.reason.clear();
  reported_.clear();
  log_line(settings_.log_name, "attached to segment '" + settings_.segment + "' (" +
                                   std::to_string(attached_->segment.size()) + " bytes" +
                                   (reaping ? "" : ", read-only: dead writers are not folded") + ")");
}

// Every read of the cells (scrape, interval, API) comes here, so they share one Tally: one series
// merge and one set of accumulators (a second set cost ~9 MB at 100k series).
//
// After a scan or a read that may have touched them, the pages of the string arena and of the
// series catalog are dropped. Both are read only when the catalog view looks for new entries: the strings when it meets one (it copies
// names and labels), the series table when the header's series_used says some entry is new to it
// (CatalogScan::when_counted; the interval's read scans every entry anyway, the fallback for an
// entry whose count never came). That is ~2.6 MB + ~4 MB of the writers' pages at 100k series
// that would otherwise stay in this process's RSS (RssShmem) for as long as it runs. Dropping the
// entries costs nothing in data (Segment::release_pages) and little in time: a scrape of a
// catalog that did not grow reads neither region, and a scan faults the table's ~1,000 pages
// back (a few ms on the VM below) once per interval or new registrations. The pages every scrape
// reads (the arenas, the connection table) stay mapped on purpose: on the 2-core VM the scrape
// goals are measured on, a page fault costs ~5 us (a shared page) to ~11 us (a fresh anonymous
// one), so re-faulting the ~9,000 pages of the arenas would add ~40 ms to a 13 ms scrape
// (measured: 100k x 8 text went 14.6 -> 69 ms CPU with every arena released after its read).
Result<void> Monitor::sum_cells(shm::CatalogScan scan, shm::TallyOptions options) {
  options.threads = scrape_threads();
  options.damage = &attached_->damage;
  options.catalog_scan = shm::CatalogScan::when_counted;
  const shm::Segment& segment = attached_->segment;
  const auto drop_catalog_pages = [&segment] {
    (void)segment.release_pages(segment.strings());
    (void)segment.release_pages(segment.series_table());
  };
  // A scan of every entry comes first, and its pages go before the cells are read: the series
  // table (~4 MB at 100k series) and the accumulators are then never resident together.
  if (scan == shm::CatalogScan::every_entry) {
    catalog_.refresh(segment, shm::CatalogScan::every_entry);
    drop_catalog_pages();
  }
  const std::size_t known = catalog_.series_count();
  auto taken = tally_.take(segment, catalog_, options);
  // Only after a read that may have touched them: an madvise costs a page-table walk (and on the
  // VM a TLB flush) even over pages that are not mapped. A scan that found nothing new (a pass
  // re-run for a damaged cell) leaves the table mapped until the interval's read drops it.
  if (catalog_.series_count() != known) drop_catalog_pages();
  return taken;
}

Monitor::ScratchPages::~ScratchPages() {
  monitor.tally_.release_pages();
  monitor.policy_.release_pages();
}

unsigned Monitor::scrape_threads() noexcept {
  return std::thread::hardware_concurrency() >= 2 ? 2 : 1;
}

bool Monitor::sound() {
  if (!attached_ || !attached_->damage.damaged()) return attached_ != nullptr;
  const std::string reason = shm::damaged_segment_error(attached_->segment).message();
  log_line(settings_.log_name, reason);
  detach(reason);
  damaged_ = true;
  return false;
}

void Monitor::reap(Attached& attached) const {
  shm::MappingGuard guard(attached.segment, attached.damage);
  // No wait for the reap lock: a holder that is stopped must not stall the interval. Busy is not
  // worth a log line every interval; the next interval tries again.
  auto reaped = shm::Reaper(attached.segment, std::chrono::milliseconds(0)).reap();
  if (!reaped && reaped.error().code() != Errc::busy) log_line(settings_.log_name, reaped.error().message());
}

void Monitor::check_generation() {
  // A re-created segment is a new file under the same name; the old mapping never changes, so
  // look at what the name refers to now.
  auto now = shm::Segment::open(settings_.segment, {shm::Access::read_only, std::chrono::milliseconds(100)});
  if (!now) {
    detach(now.error().code() == Errc::not_found
               ? "segment '" + settings_.segment + "' was removed; waiting for a new one"
               : now.error().message());
    return;
  }
  if (now->header().generation != status_.generation) {
    detach("segment '" + settings_.segment + "' was re-created (new generation)");
    attach();
  }
}

void Monitor::tick() {
  std::vector<WatchedProcess> watched;
  std::uint64_t mono_ns = 0;
  std::shared_ptr<Attached> reaping;
  {
    std::lock_guard lock(mutex_);
    ++status_.ticks;
    (void)sound();  // a read since the last tick found the segment damaged: drop it, say so
    if (attached_) check_generation();
    if (!attached_) attach();
    if (!attached_) return;
    if (status_.reaping) reaping = attached_;
  }
  // Without mutex_: a fold of many dead writers takes a while, and scrapes must not wait for it.
  // `reaping` keeps the mapping alive if a scrape drops the segment meanwhile.
  if (reaping) reap(*reaping);
  {
    std::lock_guard lock(mutex_);
    const ScratchPages scratch{*this};
    if (!sound()) return;
    shm::MappingGuard guard(attached_->segment, attached_->damage);
    const std::uint64_t start = shm::monotonic_ns();
    // The scrape's Tally, not a snapshot and an Aggregation::of of its own: those built a second
    // series merge and a second set of accumulators for the whole catalog every interval (~9 MB
    // at 100k series, and the exporter's peak), where the Tally's are laid out once per catalog
    // state and shared with the scrapes (both run under mutex_).
    // Only the points of the families the deriver and the exemplar log read: the cells of every
    // family are summed all the same, but 100k points (8 MB) are not laid out for a few families.
    auto taken = sum_cells(shm::CatalogScan::every_entry, {.only_families = interval_families_});
    const shm::Snapshot* snapshot = taken ? &tally_.meta() : nullptr;
    const auto fill = snapshot ? shm::segment_fill(attached_->segment, catalog_, *snapshot) : shm::SegmentFill{};
    // The connections give the lowest health score: none when the health category is off.
    const auto connections = settings_.categories.enabled(ws::Category::health)
                                 ? shm::list_connections(attached_->segment)
                                 : std::vector<shm::ConnectionInfo>{};
    auto processes = settings_.resource_monitoring ? shm::list_processes(attached_->segment)
                                                   : std::vector<shm::ProcessInfo>{};
    if (!sound()) return;  // read (in part) from zero pages: nothing of it is used
    if (!snapshot) {
      log_line(settings_.log_name, taken.error().message());
      return;
    }
    for (const std::string& line : capacity_.update(fill)) log_line(settings_.log_name, line);
    const shm::Aggregation& aggregation = tally_.aggregation();
    for (const std::string& line : aggregation.left_out) {
      if (left_out_logged_.insert(line).second) log_line(settings_.log_name, line);
    }
    last_snapshot_seconds_ = seconds_since(start);
    exemplars_.note(aggregation, snapshot->taken_unix_ns);
    deriver_.update(aggregation, snapshot->generation, snapshot->taken_mono_ns, snapshot->taken_unix_ns,
                    connections);
    mono_ns = snapshot->taken_mono_ns;
    if (settings_.resource_monitoring) {
      for (shm::ProcessInfo& p : processes) watched.push_back({std::move(p), false});
      shm::ProcessInfo self;
      self.pid = ::getpid();
      self.role = "exporter";
      watched.push_back({std::move(self), true});
    }
  }

  // /proc is read without the lock: scrapes need not wait for it.
  std::vector<exposition::ComputedFamily> computed;
  if (settings_.resource_monitoring) resources_.update(watched, mono_ns);

  std::lock_guard lock(mutex_);
  if (!attached_) return;
  computed = deriver_.families();
  if (settings_.resource_monitoring) resources_.append_families(derived_rules().resources, computed);
  computed_ = std::move(computed);
  processes_ = settings_.resource_monitoring ? resources_.processes() : std::vector<ProcessFigures>{};

  const IntervalFigures& f = deriver_.figures();
  IntervalRecord r;
  r.unix_ns = f.unix_ns;
  for (const ProcessFigures& p : processes_) {
    if (p.exporter) continue;
    if (p.cpu_percent) {
      r.cpu_percent = r.cpu_percent.value_or(0) + *p.cpu_percent;
      r.max_worker_cpu_percent = std::max(r.max_worker_cpu_percent.value_or(0), *p.cpu_percent);
    }
    r.memory_rss_bytes += p.rss_bytes;
    r.max_worker_rss_bytes = std::max(r.max_worker_rss_bytes.value_or(0), p.rss_bytes);
  }
  r.messages_in_per_second = f.messages_in_per_second;
  r.messages_out_per_second = f.messages_out_per_second;
  r.failed_per_second = f.failed_per_second;
  r.failure_ratio = f.failure_ratio;
  r.disconnections_per_second = f.disconnections_per_second;
  r.min_health_score = f.min_health_score;
  if (f.messages_in_per_second || f.messages_out_per_second) {
    r.messages_per_second = f.messages_in_per_second.value_or(0) + f.messages_out_per_second.value_or(0);
  }
  if (f.bytes_in_per_second || f.bytes_out_per_second) {
    r.bytes_per_second = f.bytes_in_per_second.value_or(0) + f.bytes_out_per_second.value_or(0);
  }
  r.active_connections = f.connections_total;
  r.latency_p95 = f.latency_p95;
  history_.push_back(r);
  while (history_.size() > kHistoryCapacity) history_.pop_front();
}

Monitor::Body Monitor::scrape(exposition::Format format, bool gzip, ScrapeBuffers& buffers) {
  buffers.text.clear();
  // A gzipped body is compressed a part at a time as the parts are written: its text is never
  // whole (13 MB of OpenMetrics at 100k series, the exporter's peak when it was).
  std::optional<exposition::GzipStream> compressed;
  if (gzip) compressed.emplace(buffers.gzip);
  {
    std::lock_guard lock(mutex_);
    const ScratchPages scratch{*this};
    const std::uint64_t start = shm::monotonic_ns();
    std::vector<exposition::ComputedFamily> self;
    const shm::Aggregation* aggregation = nullptr;
    const shm::Snapshot* meta = nullptr;
    std::optional<exposition::ComputedFamily> health;
    double created = 0;
    if (attached_) {
      // Every read of the segment in this scrape, under the guard (mapping_guard.hpp).
      shm::MappingGuard guard(attached_->segment, attached_->damage);
      // Summed straight from the mapping (tally.hpp): no copy of the cells. The points come in
      // parts, written out one after the other below: a part's points are all a scrape holds.
      if (auto t = sum_cells(shm::CatalogScan::when_counted, {.part_points = kScrapePartPoints}); t) {
        aggregation = &tally_.aggregation();
        meta = &tally_.meta();
      } else {
        log_line(settings_.log_name, t.error().message());
      }
      append_self_metrics({&attached_->segment, meta, last_scrape_seconds_, last_snapshot_seconds_}, self);
      created = static_cast<double>(attached_->segment.header().created_unix_ns) / 1e9;
      // The health scores are read now, like the segment's counts.
      if (settings_.categories.enabled(ws::Category::health)) {
        health = health_score_family(shm::list_connections(attached_->segment), policy_, rules_.health);
      }
    }
    if (!sound()) {  // not attached, or the file shrank under these reads: none of them is served
      aggregation = nullptr;
      meta = nullptr;
      health.reset();
      self.clear();
      created = 0;
      append_self_metrics({nullptr, nullptr, last_scrape_seconds_, last_snapshot_seconds_}, self);
    }
    // Derived, health and self families go out together after the segment's: one span, in that
    // order.
    std::vector<exposition::ComputedFamily>& all = self;
    all.insert(all.begin(), computed_.begin(), computed_.end());
    if (health) all.insert(all.begin() + static_cast<std::ptrdiff_t>(computed_.size()), std::move(*health));
    // A whole text gets room once, instead of doubling up to the body's size, which copies the
    // body and holds both copies for a moment (the exporter's peak on a first scrape): the last
    // body's size, or a guess per series. Room never written costs no memory.
    // A gzipped one needs a part's room: reserved at once too, and above the exporter's mmap
    // threshold (main.cpp), so that doubling up to it leaves no smaller blocks behind in the heap.
    buffers.text.reserve(compressed                    ? kPartTextRoom
                         : buffers.text_reserve != 0   ? buffers.text_reserve
                                                       : kFirstBodyBytesPerSeries * catalog_.series_count());
    writer_.begin(format, all, created, buffers.text);
    {
      // Each part of whole families as exposed (the identifier-label policy merges within a
      // family), written out on a second thread while the next is emitted (part_writer.hpp) when
      // there is more than one.
      PartWriter parts(aggregation != nullptr && scrape_threads() >= 2 &&
                       catalog_.series_count() > kScrapePartPoints);
      while (aggregation != nullptr && tally_.next_part()) {
        const shm::AggregationView part = policy_.apply(*aggregation, meta->generation).view();
        parts.write([this, part, &compressed, &buffers] {
          writer_.part(part);
          if (compressed) compressed->add(buffers.text);
        });
      }
      parts.finish();
    }
    writer_.end();
    if (compressed) {
      compressed->add(buffers.text);
    } else {
      buffers.text_reserve = buffers.text.size() + buffers.text.size() / 16;
    }
    last_scrape_seconds_ = seconds_since(start);
  }
  if (compressed) {
    auto done = compressed->finish();  // what igzip still holds: after the lock
    compressed.reset();
    // A part's room goes too, as a sent body's memory does: nothing stays between scrapes.
    std::string().swap(buffers.text);
    if (done) return {buffers.gzip, true};
    // igzip failed: the parts are gone, so the answer is made again, uncompressed.
    log_line(settings_.log_name, done.error().message() + "; answering uncompressed");
    return scrape(format, false, buffers);
  }
  return {buffers.text, false};
}

bool Monitor::with_fresh_aggregation(const std::function<void(const shm::Aggregation&)>& f) {
  std::lock_guard lock(mutex_);
  const ScratchPages scratch{*this};
  if (!attached_) return false;
  // The scrape's Tally (see tick()): no second merge and set of accumulators.
  bool taken = false;
  {
    shm::MappingGuard guard(attached_->segment, attached_->damage);
    taken = sum_cells(shm::CatalogScan::when_counted).has_value();
  }
  if (!sound() || !taken) return false;
  f(policy_.apply(tally_.aggregation(), tally_.meta().generation));
  return true;
}

std::optional<std::map<std::string, std::vector<LoggedExemplar>>> Monitor::slowest_exemplars(
    std::chrono::seconds window, std::size_t top) {
  std::lock_guard lock(mutex_);
  const ScratchPages scratch{*this};
  if (!attached_) return std::nullopt;
  bool taken = false;
  {
    shm::MappingGuard guard(attached_->segment, attached_->damage);
    taken = sum_cells(shm::CatalogScan::when_counted).has_value();
  }
  if (!sound() || !taken) return std::nullopt;
  const std::uint64_t now = tally_.meta().taken_unix_ns;
  exemplars_.note(tally_.aggregation(), now);
  return exemplars_.slowest(now, window, top);
}

template <class T, class Read>
std::optional<T> Monitor::read_attached(Read read) const {
  std::lock_guard lock(mutex_);
  if (!attached_) return std::nullopt;
  shm::MappingGuard guard(attached_->segment, attached_->damage);
  std::optional<T> result = read(attached_->segment);
  if (attached_->damage.damaged()) return std::nullopt;
  return result;
}

std::optional<std::vector<shm::ConnectionInfo>> Monitor::connections() const {
  return read_attached<std::vector<shm::ConnectionInfo>>(
      [](const shm::Segment& segment) { return shm::list_connections(segment); });
}

std::optional<shm::ConnectionInfo> Monitor::connection(std::uint64_t id) const {
  return read_attached<shm::ConnectionInfo>(
      [id](const shm::Segment& segment) { return shm::find_connection(segment, id); });
}

std::optional<shm::ConnectionInfo> Monitor::connection(const shm::RecordId& id) const {
  return read_attached<shm::ConnectionInfo>(
      [&id](const shm::Segment& segment) { return shm::find_connection(segment, id); });
}

bool Monitor::with_fresh_snapshot(const std::function<void(const shm::Segment&, const shm::Snapshot&)>& f) {
  std::lock_guard lock(mutex_);
  if (!attached_) return false;
  // f reads the segment too (its limits and name), so it runs under the guard as well.
  shm::MappingGuard guard(attached_->segment, attached_->damage);
  // No family named "": the header and the slots without copying any cell.
  auto snapshot = shm::Snapshot::take(attached_->segment, catalog_, {.only_families = {""}});
  if (!snapshot || attached_->damage.damaged()) return false;
  f(attached_->segment, *snapshot);
  return true;
}

IntervalFigures Monitor::figures() const {
  std::lock_guard lock(mutex_);
  return deriver_.figures();
}

std::vector<ProcessFigures> Monitor::processes() const {
  std::lock_guard lock(mutex_);
  return processes_;
}

std::vector<IntervalRecord> Monitor::history(std::size_t n) const {
  std::lock_guard lock(mutex_);
  const std::size_t from = history_.size() > n ? history_.size() - n : 0;
  return {history_.begin() + static_cast<std::ptrdiff_t>(from), history_.end()};
}

}  // namespace wsm::exporter
