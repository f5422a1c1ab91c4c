// The exporter's state and its interval loop body.
//
// tick(), called every --interval by one thread: attach to the segment (or notice it is missing,
// incompatible, or re-created with a new generation and re-attach), fold dead writers (Reaper),
// sum the cells with the scrapes' Tally (one series merge and one set of accumulators serve the
// scrapes, the interval and the API: a second set cost ~9 MB at 100k series; the points only of
// the families the deriver and the exemplar log read), derive rates and ratios, read /proc for the live writer processes
// and the exporter, append a record to a bounded ring of interval snapshots, and log a warning
// when a family or region of the segment nears its cap (CapacityWatch).
//
// Reads of the segment run under a MappingGuard (mapping_guard.hpp): a segment file that shrinks
// under the mapping is reported damaged (/healthz, the log) and dropped, not a SIGBUS; the next
// tick attaches again once the segment is re-created.
//
// The interval's reap runs outside mutex_, on its own reference to the segment, and never waits
// for another process's reap lock: scrapes and API requests wait for neither. (A scrape's read of
// the cells still retries while a fold is running, so that no count is seen twice; folds are short.)
//
// scrape(), called by HTTP threads: a fresh Tally (the cells summed straight from the mapping),
// its points handed out a part of whole families at a time, each part through the
// identifier-label policy and serialised before the next is laid out (so a scrape never holds
// every point, and gives back the accumulators behind the parts), then the interval's derived
// families and the self metrics, into the calling thread's buffers, with websocket_health_score
// from the connection tables (health_scores.hpp). Segment
// counters come straight from the segment at each scrape, so they never decrease
// (the segment holds the counts of live, dead and reaped writers; an exporter restart loses
// nothing).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "wsm/exporter/capacity_watch.hpp"
#include "wsm/exporter/derive.hpp"
#include "wsm/exporter/exemplar_log.hpp"
#include "wsm/exporter/resources.hpp"
#include "wsm/exporter/scrape_buffers.hpp"
#include "wsm/exporter/settings.hpp"
#include "wsm/exposition/format.hpp"
#include "wsm/exposition/gzip.hpp"
#include "wsm/exposition/id_labels.hpp"
#include "wsm/shm/aggregation.hpp"
#include "wsm/shm/connection_table.hpp"
#include "wsm/shm/mapping_guard.hpp"
#include "wsm/shm/segment.hpp"
#include "wsm/shm/tally.hpp"

namespace wsm::exporter {

// One entry of the ring behind /api/v1/snapshots.
struct IntervalRecord {
  std::uint64_t unix_ns = 0;
  std::optional<double> cpu_percent;  // live writer processes together
  std::uint64_t memory_rss_bytes = 0; // live writer processes together
  // The busiest and the largest worker process: what the cpu and memory thresholds compare.
  std::optional<double> max_worker_cpu_percent;
  std::optional<std::uint64_t> max_worker_rss_bytes;
  std::optional<double> messages_per_second;  // in + out
  std::optional<double> messages_in_per_second, messages_out_per_second;
  std::optional<double> bytes_per_second;     // in + out
  std::optional<double> failed_per_second, disconnections_per_second;
  std::optional<double> failure_ratio;  // failed / sent messages
  double active_connections = 0;
  std::optional<Quantile> latency_p95;
  std::optional<double> min_health_score;
};

struct MonitorStatus {
  bool attached = false;
  std::string reason;  // why not attached (missing, incompatible, ...)
  std::uint64_t generation = 0;
  bool reaping = false;  // the segment is writable, so dead writers are folded
  std::uint64_t ticks = 0;
};

inline constexpr std::size_t kHistoryCapacity = 720;  // one hour at the default 5 s interval
// Points per part of a scrape (Tally::next_part): ~80-150 KB of them at 80 bytes each, where
// every point of 100k series at once cost 8 MB. A scrape holds two parts (one written out while
// the next is emitted, part_writer.hpp); parts of 4,096 held ~0.9 MB of points at the exporter's
// peak, and were no faster.
inline constexpr std::size_t kScrapePartPoints = 1024;
// A first scrape's room per series for the body (~60 bytes a counter line, ~3 KB a histogram's).
inline constexpr std::size_t kFirstBodyBytesPerSeries = 128;
// The room a gzipped scrape's text starts with: a part of OpenMetrics (_created lines and all) is
// ~0.1-0.2 MB at kScrapePartPoints, more for a family of many histograms.
inline constexpr std::size_t kPartTextRoom = std::size_t{1} << 20;

class Monitor {
 public:
  Monitor(Settings settings, exposition::IdLabelPolicy policy);

  void tick();
  [[nodiscard]] bool attached() const;
  [[nodiscard]] MonitorStatus status() const;
  [[nodiscard]] const Settings& settings() const noexcept { return settings_; }

  // The body of GET /metrics, in buffers.text (or buffers.gzip when gzip and compression worked).
  struct Body {
    std::string_view bytes;
    bool gzipped = false;
  };
  [[nodiscard]] Body scrape(exposition::Format format, bool gzip, ScrapeBuffers& buffers);
  // The buffers HTTP workers lease for their answers (scrape_buffers.hpp).
  [[nodiscard]] ScrapeBufferPool& buffer_pool() noexcept { return buffer_pool_; }

  // Calls f with a fresh aggregation as exposed (identifier-label policy applied); false when no
  // segment is attached or the snapshot failed (status() says why).
  bool with_fresh_aggregation(const std::function<void(const shm::Aggregation&)>& f);
  // Calls f with the segment and a fresh snapshot of its header and writer slots (no cells);
  // false as above.
  bool with_fresh_snapshot(const std::function<void(const shm::Segment&, const shm::Snapshot&)>& f);

  // The live connections of every writer's connection table, in table order; nullopt when no
  // segment is attached.
  [[nodiscard]] std::optional<std::vector<shm::ConnectionInfo>> connections() const;
  // One live connection by its id (shm::format_connection_id); nullopt when none or not attached.
  [[nodiscard]] std::optional<shm::ConnectionInfo> connection(std::uint64_t id) const;
  // One live connection by where it lives (shm::format_record_id); nullopt when none or not attached.
  [[nodiscard]] std::optional<shm::ConnectionInfo> connection(const shm::RecordId& id) const;
  // The identifier-label policy, for pseudonyms: its mode and key never change after
  // construction, so pseudonym() needs no lock (apply() does, and only scrape() calls it).
  [[nodiscard]] const exposition::IdLabelPolicy& id_policy() const noexcept { return policy_; }

  // By message type, the slowest `top` exemplars of the message latency family recorded within
  // `window` (exemplar_log.hpp), after noting a fresh read of it; nullopt when no segment is
  // attached or the read failed (status() says why).
  [[nodiscard]] std::optional<std::map<std::string, std::vector<LoggedExemplar>>> slowest_exemplars(
      std::chrono::seconds window, std::size_t top);

  [[nodiscard]] IntervalFigures figures() const;
  [[nodiscard]] std::vector<ProcessFigures> processes() const;
  [[nodiscard]] std::vector<IntervalRecord> history(std::size_t n) const;

 private:
  // The attached segment and the damage mark all its readers share. Held by shared_ptr: the
  // interval's reap runs outside mutex_ on its own reference, so a scrape may drop a damaged
  // segment meanwhile without unmapping it under the reaper.
  struct Attached {
    explicit Attached(shm::Segment s) : segment(std::move(s)) {}
    shm::Segment segment;
    shm::MappingDamage damage;
  };

  void attach();                // caller holds mutex_
  // read(segment) under mutex_ and a MappingGuard; nullopt when not attached or when the read
  // met a damaged mapping (the next tick drops the segment and says why: this only reads).
  template <class T, class Read>
  [[nodiscard]] std::optional<T> read_attached(Read read) const;
  // Why a segment is refused for its file's owner; nullopt when it may be served.
  [[nodiscard]] std::optional<std::string> foreign_owner(const shm::Segment& segment) const;
  void check_generation();      // caller holds mutex_
  void detach(std::string reason);  // caller holds mutex_
  // False (and detached, the damage reported) when the segment's file shrank under a read of it;
  // the caller holds mutex_ and read the segment under a MappingGuard.
  bool sound();
  // The reap of one interval; runs without mutex_ (see the class comment).
  void reap(Attached& attached) const;
  // Sums the attached segment's cells into tally_ (the catalog refreshed per `scan`), then, if the
  // read may have touched them, drops this process's page-table entries for the pages a read
  // touches only when the catalog grows (the string arena, the series table): see monitor.cpp. The caller holds mutex_ and a
  // MappingGuard.
  Result<void> sum_cells(shm::CatalogScan scan, shm::TallyOptions options = {});
  // Gives back the pages of one read's scratch memory when the read ends, however it ends
  // (scratch.hpp): the Tally's accumulators and points and the id-label policy's copy, rebuilt by
  // every read, which would otherwise keep ~17 MB resident between reads at 100k series. Made
  // after the read's lock_guard on mutex_, so it runs before the lock is let go.
  struct ScratchPages {
    Monitor& monitor;
    ~ScratchPages();
  };
  // Threads a scrape reads the writer arenas with (tally.hpp): 2 on a machine with two cores or
  // more, else 1.
  [[nodiscard]] static unsigned scrape_threads() noexcept;

  const Settings settings_;
  ScrapeBufferPool buffer_pool_;
  // Guards every member below it. Never held across a reap (reap() runs without it), so scrapes,
  // API calls and the interval's snapshot wait at most for each other's reads of the segment.
  mutable std::mutex mutex_;
  exposition::IdLabelPolicy policy_;
  exposition::Writer writer_;
  std::shared_ptr<Attached> attached_;
  bool damaged_ = false;  // the last segment was dropped as damaged; attach() says so until one is
  shm::CatalogView catalog_;
  shm::Tally tally_;  // the accumulators of scrape(), tick() and the API, reused read after read
  MonitorStatus status_;
  const DerivedRules rules_;  // of settings_.categories
  Deriver deriver_{rules_};
  ExemplarLog exemplars_{std::string(rules_.breakdown.message_latency)};  // noted by tick() and the API
  // The families whose points tick() reads: the deriver's inputs and the exemplar log's.
  std::vector<std::string> interval_families_;
  CapacityWatch capacity_;  // used by tick() only
  ResourceMonitor resources_;  // used by tick() only
  std::vector<exposition::ComputedFamily> computed_;  // derived + resource families of the interval
  std::vector<ProcessFigures> processes_;
  std::deque<IntervalRecord> history_;
  double last_scrape_seconds_ = 0;
  double last_snapshot_seconds_ = 0;
  std::string reported_;  // the last reason logged, so a waiting exporter logs it once
  std::set<std::string> left_out_logged_;  // families left out for a clashing type, logged once
};

}  // namespace wsm::exporter
