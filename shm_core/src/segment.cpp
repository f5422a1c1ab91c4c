#include "wsm/shm/segment.hpp"

#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <random>
#include <thread>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wsm/shm/process_lease.hpp"

namespace bip = boost::interprocess;

namespace wsm::shm {

struct Segment::Mapping {
  bip::shared_memory_object object;
  bip::mapped_region region;
};

namespace {

constexpr std::string_view kPrefix = "wsm.";

Error os_error(const bip::interprocess_exception& e, const std::string& what) {
  const int native = e.get_native_error();
  const std::string detail = native != 0 ? std::strerror(native) : e.what();
  switch (e.get_error_code()) {
    case bip::not_found_error:
      return {Errc::not_found, what + ": no such segment (is a writer or the exporter running?)"};
    case bip::already_exists_error:
      return {Errc::already_exists, what + ": already exists"};
    case bip::security_error:
      return {Errc::permission, what + ": permission denied (" + detail +
                                    "); run as the segment's owner or ask for group access"};
    default:
      return {Errc::system, what + ": " + detail};
  }
}

// Builds an initialised header in a zeroed segment, without the magic.
void initialise(std::byte* base, const Limits& limits, const RegionLayout& layout) {
  auto& h = *reinterpret_cast<SegmentHeader*>(base);
  h.layout_version = kLayoutVersion;
  h.header_bytes = sizeof(SegmentHeader);
  h.layout_hash = layout_hash();
  std::random_device rd;
  h.generation = (std::uint64_t{rd()} << 32) ^ rd() ^ monotonic_ns();
  h.created_unix_ns = unix_ns();
  h.total_bytes = layout.total_bytes;
  h.creator_pid = static_cast<std::uint32_t>(::getpid());
  h.max_writers = limits.max_writers;
  h.max_families = limits.max_families;
  h.max_series = limits.max_series;
  h.arena_bytes = limits.arena_bytes;
  h.string_bytes = limits.string_bytes;
  h.retired_bytes = limits.retired_bytes;
  h.processes_offset = layout.processes_offset;
  h.slots_offset = layout.slots_offset;
  h.families_offset = layout.families_offset;
  h.series_offset = layout.series_offset;
  h.retired_index_offset = layout.retired_index_offset;
  h.strings_offset = layout.strings_offset;
  h.retired_offset = layout.retired_offset;
  h.arenas_offset = layout.arenas_offset;
  h.series_cap_default = limits.series_cap_per_family;
  h.max_connections = limits.max_connections;
  h.connections_offset = layout.connections_offset;
  // String offset 0 means "none": start the arena at 8 so every real string has off > 0.
  h.strings_used.store(8, std::memory_order_relaxed);
  // Retired index entries store offset + 1; start at 8 to keep cells 8-byte aligned.
  h.retired_used.store(8, std::memory_order_relaxed);
}

}  // namespace

Result<std::string> Segment::object_name(std::string_view name) {
  const bool ok = !name.empty() && name.size() <= 200 && name != "." && name != ".." &&
                  std::all_of(name.begin(), name.end(), [](char c) {
                    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                           (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
                  });
  if (!ok) {
    return fail(Errc::invalid_argument, "segment name '" + std::string(name) +
                                            "' is invalid: use 1-200 of [A-Za-z0-9_.-]");
  }
  return std::string(kPrefix) + std::string(name);
}

Segment::Segment(std::unique_ptr<Mapping> mapping, std::span<std::byte> bytes, std::string name,
                 bool writable)
    : mapping_(std::move(mapping)), bytes_(bytes), name_(std::move(name)), writable_(writable) {}
Segment::Segment(Segment&&) noexcept = default;
Segment& Segment::operator=(Segment&&) noexcept = default;
Segment::~Segment() = default;  // ~ProcessLease (process_lease.cpp) releases this process's record

Result<Segment> Segment::create(std::string_view name, const CreateOptions& options) {
  auto object = object_name(name);
  if (!object) return std::unexpected(object.error());
  if (auto ok = options.limits.validate(); !ok) return std::unexpected(ok.error());
  const RegionLayout layout = compute_layout(options.limits);
  const std::string what = "segment '" + std::string(name) + "' (/dev/shm/" + *object + ")";
  try {
    auto m = std::make_unique<Mapping>();
    m->object = bip::shared_memory_object(bip::create_only, object->c_str(), bip::read_write,
                                          bip::permissions(options.mode));
    const int fd = m->object.get_mapping_handle().handle;
    // The umask may have narrowed the mode; the mode asked for is the mode wanted.
    if (::fchmod(fd, options.mode) != 0 ||
        (options.group != static_cast<gid_t>(-1) && ::fchown(fd, -1, options.group) != 0)) {
      const int err = errno;
      bip::shared_memory_object::remove(object->c_str());
      char mode[8];
      std::snprintf(mode, sizeof mode, "%04o", options.mode);
      const bool grouped = options.group != static_cast<gid_t>(-1);
      return fail(err == EPERM ? Errc::permission : Errc::system,
                  what + ": cannot set mode " + mode + (grouped ? " and group " + std::to_string(options.group) : "") +
                      ": " + std::strerror(err) +
                      (err == EPERM && grouped ? " (the creating user must be a member of the group)" : ""));
    }
    // Reserve every page now: on a full /dev/shm, fail here rather than SIGBUS in a writer later.
    if (const int rc = ::posix_fallocate(fd, 0, static_cast<off_t>(layout.total_bytes)); rc != 0) {
      bip::shared_memory_object::remove(object->c_str());
      return fail(Errc::system, what + ": cannot reserve " + std::to_string(layout.total_bytes) +
                                    " bytes: " + std::strerror(rc) +
                                    " (free space in /dev/shm or lower the limits)");
    }
    m->region = bip::mapped_region(m->object, bip::read_write);
    auto* base = static_cast<std::byte*>(m->region.get_address());
    initialise(base, options.limits, layout);
    // Publish: every header field above happens-before an opener's acquire load of the magic.
    reinterpret_cast<SegmentHeader*>(base)->magic.store(kMagic, std::memory_order_release);
    Segment s(std::move(m), {base, layout.total_bytes}, std::string(name), true);
    if (auto ok = s.validate(); !ok) return std::unexpected(ok.error());
    return s;
  } catch (const bip::interprocess_exception& e) {
    return std::unexpected(os_error(e, what));
  }
}

Result<Segment> Segment::open(std::string_view name, const OpenOptions& options) {
  auto object = object_name(name);
  if (!object) return std::unexpected(object.error());
  const std::string what = "segment '" + std::string(name) + "' (/dev/shm/" + *object + ")";
  const auto mode = options.access == Access::read_write ? bip::read_write : bip::read_only;
  const auto deadline = std::chrono::steady_clock::now() + options.wait;
  try {
    auto m = std::make_unique<Mapping>();
    m->object = bip::shared_memory_object(bip::open_only, object->c_str(), mode);
    bip::offset_t size = 0;
    // The creator truncates, then initialises, then publishes the magic: wait for both steps.
    while (!m->object.get_size(size) || size < static_cast<bip::offset_t>(sizeof(SegmentHeader))) {
      if (std::chrono::steady_clock::now() >= deadline) {
        return fail(Errc::timeout, what + " has " + std::to_string(size) +
                                       " bytes and no header: its creator died while creating "
                                       "it; remove it with `wsm rm " + std::string(name) + "`");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    m->region = bip::mapped_region(m->object, mode);
    auto* base = static_cast<std::byte*>(m->region.get_address());
    auto& header = *reinterpret_cast<SegmentHeader*>(base);
    // Acquire pairs with the creator's release store: once we see the magic, the header is whole.
    while (header.magic.load(std::memory_order_acquire) == 0) {
      if (std::chrono::steady_clock::now() >= deadline) {
        return fail(Errc::timeout, what + " was never initialised (its creator died?); remove it "
                                          "with `wsm rm " + std::string(name) + "`");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    Segment s(std::move(m), {base, static_cast<std::size_t>(size)}, std::string(name),
              options.access == Access::read_write);
    if (auto ok = s.validate(); !ok) return std::unexpected(ok.error());
    return s;
  } catch (const bip::interprocess_exception& e) {
    return std::unexpected(os_error(e, what));
  }
}

Result<Segment> Segment::open_or_create(std::string_view name, const CreateOptions& options) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto opened = open(name, {Access::read_write, std::chrono::milliseconds(2000)});
    if (opened || opened.error().code() != Errc::not_found) return opened;
    auto created = create(name, options);
    if (created || created.error().code() != Errc::already_exists) return created;
    // Lost the creation race: the winner is initialising it; open and wait for the magic.
  }
  return fail(Errc::system, "segment '" + std::string(name) + "' keeps appearing and vanishing");
}

Result<Segment> Segment::view(std::span<std::byte> bytes, std::string name) {
  Segment s(nullptr, bytes, std::move(name), true);
  if (bytes.size() < sizeof(SegmentHeader)) {
    return fail(Errc::corrupt, "segment '" + s.name_ + "' is truncated: " +
                                   std::to_string(bytes.size()) + " bytes, not even a header");
  }
  if (reinterpret_cast<std::uintptr_t>(bytes.data()) % alignof(SegmentHeader) != 0) {
    return fail(Errc::invalid_argument, "segment bytes must be 8-byte aligned");
  }
  if (auto ok = s.validate(); !ok) return std::unexpected(ok.error());
  return s;
}

Result<void> Segment::validate() {
  const std::string what = "segment '" + name_ + "'";
  if (bytes_.size() < sizeof(SegmentHeader)) {
    return fail(Errc::corrupt, what + " is truncated: " + std::to_string(bytes_.size()) + " bytes");
  }
  const SegmentHeader& h = header();
  const std::uint64_t magic = h.magic.load(std::memory_order_acquire);
  if (magic != kMagic) return fail(Errc::incompatible, what + " is not a wsmetrics segment (bad magic)");
  if (h.layout_version != kLayoutVersion) {
    return fail(Errc::incompatible,
                what + " has layout version " + std::to_string(h.layout_version) +
                    " but this build reads version " + std::to_string(kLayoutVersion) +
                    ": run writers and exporter of the same release, or remove the segment");
  }
  if (h.layout_hash != layout_hash() || h.header_bytes != sizeof(SegmentHeader)) {
    return fail(Errc::incompatible, what + " was written by a build with another struct layout "
                                           "(layout hash differs): rebuild both sides");
  }
  limits_ = Limits{h.max_writers, h.max_families, h.max_series, h.series_cap_default,
                   h.arena_bytes, h.string_bytes, h.retired_bytes, h.max_connections};
  if (auto ok = limits_.validate(); !ok) {
    return fail(Errc::corrupt, what + " header is corrupt: " + ok.error().message());
  }
  layout_ = compute_layout(limits_);
  const bool offsets_match =
      h.processes_offset == layout_.processes_offset &&
      h.slots_offset == layout_.slots_offset && h.families_offset == layout_.families_offset &&
      h.series_offset == layout_.series_offset &&
      h.retired_index_offset == layout_.retired_index_offset &&
      h.strings_offset == layout_.strings_offset && h.retired_offset == layout_.retired_offset &&
      h.connections_offset == layout_.connections_offset &&
      h.arenas_offset == layout_.arenas_offset && h.total_bytes == layout_.total_bytes;
  if (!offsets_match) return fail(Errc::corrupt, what + " header is corrupt: region offsets disagree with its limits");
  if (bytes_.size() < layout_.total_bytes) {
    return fail(Errc::corrupt, what + " is truncated: " + std::to_string(bytes_.size()) +
                                   " bytes, its header says " + std::to_string(layout_.total_bytes));
  }
  bytes_ = bytes_.first(layout_.total_bytes);
  return {};
}

Result<FileOwner> Segment::file_owner() const {
  if (!mapping_) return fail(Errc::invalid_argument, "segment '" + name_ + "' is a view of bytes, not a file");
  struct stat st{};
  if (::fstat(mapping_->object.get_mapping_handle().handle, &st) != 0) {
    return fail(Errc::system, "segment '" + name_ + "': fstat: " + std::strerror(errno));
  }
  return FileOwner{st.st_uid, st.st_gid, static_cast<unsigned>(st.st_mode & 07777)};
}

int Segment::descriptor() const noexcept {
  return mapping_ ? mapping_->object.get_mapping_handle().handle : -1;
}

Result<int> Segment::open_description() const {
  const int mine = descriptor();
  if (mine < 0) return fail(Errc::invalid_argument, "segment '" + name_ + "' is a view of bytes, not a file");
  auto object = object_name(name_);
  if (!object) return std::unexpected(object.error());
  // By name, then checked to be the same file: /proc/self/fd may not be mounted in a container.
  const int fd = ::open(("/dev/shm/" + *object).c_str(), (writable_ ? O_RDWR : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) return fail(Errc::system, "segment '" + name_ + "': reopen: " + std::strerror(errno));
  struct stat a{}, b{};
  if (::fstat(mine, &a) != 0 || ::fstat(fd, &b) != 0 || a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
    ::close(fd);
    return fail(Errc::incompatible, "segment '" + name_ + "' was removed or re-created while open");
  }
  return fd;
}

bool Segment::string_at(std::uint32_t off, std::uint32_t len, std::string_view& out) const {
  if (len == 0) {
    out = {};
    return true;
  }
  if (off == 0 || std::uint64_t{off} + len > limits_.string_bytes) return false;
  out = {reinterpret_cast<const char*>(bytes_.data() + layout_.strings_offset + off), len};
  return true;
}

bool Segment::populate_catalog() const noexcept {
#ifdef MADV_POPULATE_WRITE
  if (!mapping_ || !writable_) return false;
  // The family table, series catalog, retired index and string arena are adjacent (layout.hpp).
  const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  const std::uint64_t begin = layout_.families_offset / page * page;
  const std::uint64_t end = layout_.retired_offset;
  return ::madvise(bytes_.data() + begin, end - begin, MADV_POPULATE_WRITE) == 0;
#else
  return false;
#endif
}

bool Segment::release_pages(std::span<const std::byte> bytes) const noexcept {
  if (!mapping_ || bytes.empty()) return false;
  // Clipped to the mapping, widened to whole pages: a page only partly in `bytes` loses its entry
  // too, which is harmless (see the header: nothing is lost, it faults back on use).
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto lo = reinterpret_cast<std::uintptr_t>(bytes_.data());
  const auto hi = lo + bytes_.size();
  const auto from = std::max(reinterpret_cast<std::uintptr_t>(bytes.data()), lo) / page * page;
  const auto to = std::min(reinterpret_cast<std::uintptr_t>(bytes.data()) + bytes.size(), hi);
  if (to <= from) return false;
  const auto end = std::min((to + page - 1) / page * page, (hi + page - 1) / page * page);
  return ::madvise(reinterpret_cast<void*>(from), end - from, MADV_DONTNEED) == 0;
}

std::vector<std::span<const std::byte>> Segment::written_parts(std::span<const std::byte> region) const {
  const int fd = descriptor();
  const auto base = reinterpret_cast<std::uintptr_t>(bytes_.data());
  const auto first = reinterpret_cast<std::uintptr_t>(region.data());
  if (fd < 0 || region.empty() || first < base || first + region.size() > base + bytes_.size()) return {region};
  const auto begin = static_cast<off_t>(first - base);
  const auto end = static_cast<off_t>(begin + static_cast<off_t>(region.size()));
  std::vector<std::span<const std::byte>> parts;
  for (off_t at = begin; at < end;) {
    const off_t data = ::lseek(fd, at, SEEK_DATA);
    if (data < 0 && errno == ENXIO) {
      // Nothing written from `at` on, or the file was cut shorter than the mapping: then the reads
      // must meet the cut (SIGBUS under a MappingGuard), which reports the segment damaged.
      if (::lseek(fd, 0, SEEK_END) < end) return {region};
      break;
    }
    if (data < 0) return {region};
    if (data >= end) break;
    off_t hole = ::lseek(fd, data, SEEK_HOLE);
    if (hole < 0) return {region};
    hole = std::min(hole, end);
    const off_t from = std::max(data, begin);
    parts.push_back(region.subspan(static_cast<std::size_t>(from - begin), static_cast<std::size_t>(hole - from)));
    at = hole;
  }
  return parts;
}

Result<void> Segment::remove(std::string_view name) {
  auto object = object_name(name);
  if (!object) return std::unexpected(object.error());
  if (!bip::shared_memory_object::remove(object->c_str())) {
    return fail(Errc::not_found, "segment '" + std::string(name) + "' does not exist");
  }
  return {};
}

std::vector<std::string> Segment::list() {
  std::vector<std::string> names;
  if (DIR* dir = ::opendir("/dev/shm")) {
    while (const dirent* e = ::readdir(dir)) {
      std::string_view n = e->d_name;
      if (n.starts_with(kPrefix) && n.size() > kPrefix.size()) {
        names.emplace_back(n.substr(kPrefix.size()));
      }
    }
    ::closedir(dir);
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::uint64_t process_start_ticks(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return 0;
  // Field 2 (comm) may contain spaces and parentheses: count fields after the last ')'.
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  const char* p = stat.c_str() + close + 1;
  while (*p == ' ') ++p;
  if (*p == 'Z' || *p == 'X') return 0;  // a zombie has exited: it writes nothing any more
  for (int field = 3; field < 22; ++field) {
    while (*p == ' ') ++p;
    while (*p != ' ' && *p != '\0') ++p;
  }
  return std::strtoull(p, nullptr, 10);
}


std::uint64_t unix_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return std::uint64_t(ts.tv_sec) * 1'000'000'000u + std::uint64_t(ts.tv_nsec);
}

}  // namespace wsm::shm
