// A mapped segment: create (O_EXCL, initialise, publish the magic), open (wait a bounded time for
// the magic, then validate the header against the layout this build knows), and typed, bounds-
// checked access to its regions. Nothing here trusts a value read from shared memory: every offset
// and length read from the segment is checked before it is used.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <time.h>
#include <vector>

#include "wsm/shm/error.hpp"
#include "wsm/shm/layout.hpp"
#include "wsm/shm/limits.hpp"

namespace wsm::shm {

enum class Access { read_only, read_write };

struct CreateOptions {
  Limits limits{};
  unsigned mode = 0600;  // file mode of /dev/shm/wsm.<name>
  gid_t group = static_cast<gid_t>(-1);  // chown to this group when set (with a mode like 0640)
};

// Owner and mode of the file behind a mapped segment (fstat of the open descriptor, so it is
// the file that was mapped, not whatever the name points to now).
struct FileOwner {
  uid_t uid = 0;
  gid_t gid = 0;
  unsigned mode = 0;  // permission bits
};

struct OpenOptions {
  Access access = Access::read_write;
  std::chrono::milliseconds wait{2000};  // for a segment another process is still initialising
};

class ProcessLease;

class Segment {
 public:
  // Creates /dev/shm/wsm.<name>; fails with already_exists if it is there.
  [[nodiscard]] static Result<Segment> create(std::string_view name, const CreateOptions& options);
  [[nodiscard]] static Result<Segment> open(std::string_view name, const OpenOptions& options = {});
  // Open if present, else create; two processes racing here end up in the same segment.
  [[nodiscard]] static Result<Segment> open_or_create(std::string_view name,
                                                      const CreateOptions& options);
  // Validates and views bytes that are not a live mapping (a copy, a fuzzer's input).
  [[nodiscard]] static Result<Segment> view(std::span<std::byte> bytes, std::string name = "view");
  [[nodiscard]] static Result<void> remove(std::string_view name);
  // Names of the segments in /dev/shm (without the "wsm." prefix), sorted.
  [[nodiscard]] static std::vector<std::string> list();
  // "demo" -> "wsm.demo"; names are [A-Za-z0-9_.-]{1,200}.
  [[nodiscard]] static Result<std::string> object_name(std::string_view name);

  Segment(Segment&&) noexcept;
  Segment& operator=(Segment&&) noexcept;
  ~Segment();

  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  [[nodiscard]] std::size_t size() const noexcept { return bytes_.size(); }
  [[nodiscard]] bool writable() const noexcept { return writable_; }
  [[nodiscard]] std::byte* base() const noexcept { return bytes_.data(); }
  // Fails for a view() (no file behind it).
  [[nodiscard]] Result<FileOwner> file_owner() const;
  // The mapping's descriptor (-1 for a view): liveness tests process locks through it.
  [[nodiscard]] int descriptor() const noexcept;
  // A new open file description of the same file (O_CLOEXEC): OFD locks belong to a description,
  // so locks taken through it are not the process's others (process_lease.hpp, reaper.hpp).
  [[nodiscard]] Result<int> open_description() const;

  // This process's process record (its Owner), claimed on first use and anew in a forked child;
  // the first caller's role is shown for the process. Fails when every record is taken by a live
  // process or the kernel lacks OFD locks.
  [[nodiscard]] Result<Owner> owner(std::string_view role = {}) const;
  // The calling process's lease, or nullptr before owner() (or in a forked child until then).
  [[nodiscard]] const ProcessLease* lease() const;

  [[nodiscard]] SegmentHeader& header() const noexcept { return at<SegmentHeader>(0); }
  [[nodiscard]] std::uint32_t max_writers() const noexcept { return limits_.max_writers; }
  [[nodiscard]] std::uint32_t max_families() const noexcept { return limits_.max_families; }
  [[nodiscard]] std::uint32_t max_series() const noexcept { return limits_.max_series; }
  [[nodiscard]] std::uint32_t max_connections() const noexcept { return limits_.max_connections; }
  [[nodiscard]] const Limits& limits() const noexcept { return limits_; }

  [[nodiscard]] ProcessRecord& process(std::uint32_t i) const noexcept {
    return at<ProcessRecord>(process_offset(i));
  }
  // Byte offset of process record i in the file: the byte its owner locks.
  [[nodiscard]] std::uint64_t process_offset(std::uint32_t i) const noexcept {
    return layout_.processes_offset + std::uint64_t{i} * sizeof(ProcessRecord);
  }
  [[nodiscard]] WriterSlot& slot(std::uint32_t i) const noexcept {
    return at<WriterSlot>(layout_.slots_offset + std::uint64_t{i} * sizeof(WriterSlot));
  }
  [[nodiscard]] ConnectionRecord& connection(std::uint32_t i) const noexcept {
    return at<ConnectionRecord>(layout_.connections_offset + std::uint64_t{i} * sizeof(ConnectionRecord));
  }
  [[nodiscard]] FamilyEntry& family(std::uint32_t i) const noexcept {
    return at<FamilyEntry>(layout_.families_offset + std::uint64_t{i} * sizeof(FamilyEntry));
  }
  [[nodiscard]] SeriesEntry& series(std::uint32_t i) const noexcept {
    return at<SeriesEntry>(layout_.series_offset + std::uint64_t{i} * sizeof(SeriesEntry));
  }
  [[nodiscard]] std::atomic<std::uint32_t>& retired_index(std::uint32_t series_id) const noexcept {
    return at<std::atomic<std::uint32_t>>(layout_.retired_index_offset + 4ull * series_id);
  }
  [[nodiscard]] std::span<std::byte> arena(std::uint32_t slot_index) const noexcept {
    return bytes_.subspan(layout_.arenas_offset + slot_index * limits_.arena_bytes,
                          limits_.arena_bytes);
  }
  [[nodiscard]] std::span<std::byte> retired_arena() const noexcept {
    return bytes_.subspan(layout_.retired_offset, limits_.retired_bytes);
  }
  [[nodiscard]] std::span<std::byte> strings() const noexcept {
    return bytes_.subspan(layout_.strings_offset, limits_.string_bytes);
  }
  // The series catalog's entries (SeriesEntry by id).
  [[nodiscard]] std::span<std::byte> series_table() const noexcept {
    return bytes_.subspan(layout_.series_offset, std::uint64_t{limits_.max_series} * sizeof(SeriesEntry));
  }
  // Maps the family table, the series catalog (with its retired index) and the string arena into
  // this process's page tables now, in one madvise(MADV_POPULATE_WRITE), so that registering does
  // not take a page fault per fresh catalog page: entries are spread by hash over the whole table,
  // and a fault costs several microseconds on a VM, more than the registration itself. The pages
  // are the segment's own (reserved at creation), so this adds page-table entries, not memory.
  // False when the kernel cannot (before Linux 5.14, a read-only mapping, a view): the pages then
  // fault in on first use as before.
  bool populate_catalog() const noexcept;
  // Drops this process's page-table entries for the pages that hold `bytes` (widened to whole
  // pages), or for the whole mapping: madvise(MADV_DONTNEED) on the MAP_SHARED mapping. The data
  // stays in the file (tmpfs pages are the file's, not this process's); a later access faults the
  // page back in from it, unchanged, with every store any process made meanwhile. So it loses
  // nothing, also under concurrent reads and stores by other threads of this process (a store
  // racing the drop lands in the file page and is seen again after the refault, as when the kernel
  // reclaims the entries itself). What it saves: the pages a reader touched stay counted in its
  // RSS (RssShmem) until it unmaps, and the exporter reads every arena each scrape (~40 MB at 100k
  // series x 8 writers). No-op and false for a view() (its bytes are this process's own memory,
  // which MADV_DONTNEED would zero) and when the kernel refuses.
  bool release_pages(std::span<const std::byte> bytes) const noexcept;
  // The parts of `region` (bytes of the mapping) that some process has written, in order, widened
  // to whole pages and clipped to `region`: the segment's file minus its holes (lseek SEEK_DATA /
  // SEEK_HOLE; tmpfs counts a page that create()'s posix_fallocate reserved but nobody wrote as a
  // hole). A hole reads as zero bytes, yet reading it through the mapping maps a page into the
  // reader, which counts in its RSS (RssShmem) from then on. A scan of a table in which a zero
  // entry means "free" (the connection table) can skip the holes. The whole region when the file
  // cannot say (a view(), lseek refused) or ends before the region does (a truncated file: the
  // reads then fault, which a MappingGuard reports as damage). A part written meanwhile is missed,
  // as a write just after the scan would be.
  [[nodiscard]] std::vector<std::span<const std::byte>> written_parts(std::span<const std::byte> region) const;
  bool release_pages() const noexcept { return release_pages(bytes_); }
  // A string of the string arena, or nullopt-like empty + false when off/len point outside it.
  [[nodiscard]] bool string_at(std::uint32_t off, std::uint32_t len, std::string_view& out) const;

 private:
  struct Mapping;  // the OS mapping (Boost.Interprocess), absent for view()
  Segment(std::unique_ptr<Mapping> mapping, std::span<std::byte> bytes, std::string name,
          bool writable);
  [[nodiscard]] Result<void> validate();
  template <class T>
  [[nodiscard]] T& at(std::uint64_t off) const noexcept {
    return *reinterpret_cast<T*>(bytes_.data() + off);
  }

  std::unique_ptr<Mapping> mapping_;
  std::span<std::byte> bytes_;
  std::string name_;
  bool writable_ = false;
  Limits limits_{};
  RegionLayout layout_{};
  mutable std::unique_ptr<ProcessLease> lease_;  // GUARDED_BY(lease_mutex()), process_lease.cpp
};

// Start time of a process in clock ticks since boot (/proc/<pid>/stat field 22), 0 if it is gone
// or invisible. For display and for matching a process record to a /proc entry: never liveness.
[[nodiscard]] std::uint64_t process_start_ticks(pid_t pid);
// Inline: latency stages read it on a server's per-message path, where a call into the library
// cost as much again as the vDSO read itself.
[[nodiscard]] inline std::uint64_t monotonic_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::uint64_t(ts.tv_sec) * 1'000'000'000u + std::uint64_t(ts.tv_nsec);
}
[[nodiscard]] std::uint64_t unix_ns() noexcept;

}  // namespace wsm::shm
