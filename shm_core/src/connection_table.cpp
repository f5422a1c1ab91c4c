#include "wsm/shm/connection_table.hpp"

#include <atomic>
#include <bit>
#include <charconv>
#include <cstdio>
#include <unordered_map>

#include "wsm/shm/connection_entry.hpp"
#include "wsm/shm/liveness.hpp"

namespace wsm::shm {

namespace {

constexpr int kCopyAttempts = 4;

// A consistent copy of record i, or nullopt when it is not OPEN or kept changing tenant.
std::optional<ConnectionInfo> copy_record(const Segment& segment, std::uint32_t i) {
  const ConnectionRecord& r = segment.connection(i);
  // Seqlock read side without a fence: the fields are loaded with acquire, so the re-check
  // below cannot move above them, and a field written by a newer tenant brings its tenant along.
  constexpr auto acq = std::memory_order_acquire;
  for (int attempt = 0; attempt < kCopyAttempts; ++attempt) {
    // The tenant before the state word. Read after it, the tenant could already be a newer
    // claimant's, mid-way through its fields, while the state word read was the older tenant's
    // OPEN: the claimant's OPEN is the same word (same owner), so both re-checks passed and the
    // copy mixed two tenants' fields (one's role with the other's user).
    const std::uint64_t tenant = r.tenant.load(acq);
    // Acquire: pairs with the claimant's release of OPEN, so its fields are visible.
    const std::uint64_t w = r.state_word.load(acq);
    if (connection_state(w) != ConnectionState::open) return std::nullopt;
    ConnectionInfo c;
    c.index = i;
    c.tenant = tenant;
    c.generation = segment.header().generation;
    c.owner = word_owner(w);
    c.pid = static_cast<pid_t>(r.pid.load(acq));
    c.id = r.connection_id.load(acq);
    c.opened_unix_ns = r.opened_unix_ns.load(acq);
    c.messages_in = r.messages_in.load(acq);
    c.messages_out = r.messages_out.load(acq);
    c.bytes_in = r.bytes_in.load(acq);
    c.bytes_out = r.bytes_out.load(acq);
    c.last_heartbeat_unix_ns = r.last_heartbeat_unix_ns.load(acq);
    c.health_score = std::bit_cast<double>(r.health_score.load(acq));
    c.role = load_text(r.role);
    c.user_id = load_text(r.user_id);
    c.patient_id = load_text(r.patient_id);
    if (r.state_word.load(std::memory_order_relaxed) == w && r.tenant.load(std::memory_order_relaxed) == tenant) {
      return c;
    }
  }
  return std::nullopt;
}

// Calls f(i) for every record whose state word some process has written: a record whose state word
// lies in a hole of the segment's file reads as FREE, and reading it would only map a page of
// zeros into this process (Segment::written_parts). A table with few connections then costs the
// exporter a scan of the pages they are on, every scrape, not of all max_connections records, and
// not their pages in its RSS (768 KiB at the default 4096).
template <class F>
void for_each_written_record(const Segment& segment, F f) {
  if (segment.max_connections() == 0) return;
  const auto* table = reinterpret_cast<const std::byte*>(&segment.connection(0));
  const std::span<const std::byte> bytes(table, std::size_t{segment.max_connections()} * sizeof(ConnectionRecord));
  for (const std::span<const std::byte> part : segment.written_parts(bytes)) {
    const auto from = static_cast<std::size_t>(part.data() - table);
    // The records whose state word (their first 8 bytes) starts in the part.
    const std::size_t first = (from + sizeof(ConnectionRecord) - 1) / sizeof(ConnectionRecord);
    const std::size_t end = (from + part.size() + sizeof(ConnectionRecord) - 1) / sizeof(ConnectionRecord);
    for (std::size_t i = first; i < end; ++i) f(static_cast<std::uint32_t>(i));
  }
}

}  // namespace

std::vector<ConnectionInfo> list_connections(const Segment& segment) {
  std::vector<ConnectionInfo> out;
  LivenessCache alive(segment);
  for_each_written_record(segment, [&](std::uint32_t i) {
    auto c = copy_record(segment, i);
    // The owner is part of the copied state word, so the liveness asked is this tenant's.
    if (c && alive(c->owner) != Liveness::dead) out.push_back(std::move(*c));
  });
  return out;
}

std::optional<ConnectionInfo> find_connection(const Segment& segment, std::uint64_t id) {
  std::optional<ConnectionInfo> found;
  for_each_written_record(segment, [&](std::uint32_t i) {
    if (found || segment.connection(i).connection_id.load(std::memory_order_relaxed) != id) return;
    auto c = copy_record(segment, i);
    if (c && c->id == id && liveness(segment, c->owner) != Liveness::dead) found = std::move(c);
  });
  return found;
}

std::optional<ConnectionInfo> find_connection(const Segment& segment, const RecordId& id) {
  if (id.index >= segment.max_connections()) return std::nullopt;
  if (static_cast<std::uint32_t>(segment.header().generation) != id.generation) return std::nullopt;
  auto c = copy_record(segment, id.index);
  if (c && c->tenant == id.tenant && liveness(segment, c->owner) != Liveness::dead) return c;
  return std::nullopt;
}

std::uint64_t connections_in_use(const Segment& segment) {
  std::uint64_t n = 0;
  for_each_written_record(segment, [&](std::uint32_t i) {
    // Relaxed: a count for a warning, not a read of the record's fields.
    const std::uint64_t w = segment.connection(i).state_word.load(std::memory_order_relaxed);
    if (connection_state(w) != ConnectionState::free) ++n;
  });
  return n;
}

std::uint32_t free_dead_connections(const Segment& segment) {
  if (!segment.writable()) return 0;
  std::uint32_t freed = 0;
  LivenessCache alive(segment);
  for_each_written_record(segment, [&](std::uint32_t i) {
    ConnectionRecord& r = segment.connection(i);
    std::uint64_t w = r.state_word.load(std::memory_order_acquire);
    if (connection_state(w) == ConnectionState::free || alive(word_owner(w)) != Liveness::dead) return;
    if (r.state_word.compare_exchange_strong(w, connection_word(ConnectionState::free, {}),
                                             std::memory_order_release, std::memory_order_relaxed)) {
      ++freed;
    }
  });
  segment.header().connections_reaped.fetch_add(freed, std::memory_order_relaxed);
  return freed;
}

std::string format_connection_id(std::uint64_t id) {
  return std::to_string(id >> 32) + "-" + std::to_string(id & 0xffff'ffffu);
}

std::optional<std::uint64_t> parse_connection_id(std::string_view text) {
  const auto dash = text.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  std::uint32_t pid = 0, seq = 0;
  const char* end = text.data() + text.size();
  auto a = std::from_chars(text.data(), text.data() + dash, pid);
  auto b = std::from_chars(text.data() + dash + 1, end, seq);
  if (a.ec != std::errc{} || a.ptr != text.data() + dash || b.ec != std::errc{} || b.ptr != end ||
      dash == 0 || dash + 1 == text.size()) {
    return std::nullopt;
  }
  return std::uint64_t{pid} << 32 | seq;
}

RecordId record_id(const ConnectionInfo& connection) {
  return {connection.index, connection.tenant, static_cast<std::uint32_t>(connection.generation)};
}

std::string format_record_id(const RecordId& id) {
  char generation[9];
  std::snprintf(generation, sizeof generation, "%08x", id.generation);
  return std::to_string(id.index) + "." + std::to_string(id.tenant) + "." + generation;
}

std::optional<RecordId> parse_record_id(std::string_view text) {
  const auto first = text.find('.');
  const auto second = first == std::string_view::npos ? first : text.find('.', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  RecordId id;
  const char* p = text.data();
  const auto a = std::from_chars(p, p + first, id.index);
  const auto b = std::from_chars(p + first + 1, p + second, id.tenant);
  const auto c = std::from_chars(p + second + 1, p + text.size(), id.generation, 16);
  if (a.ec != std::errc{} || a.ptr != p + first || b.ec != std::errc{} || b.ptr != p + second ||
      c.ec != std::errc{} || c.ptr != p + text.size()) {
    return std::nullopt;
  }
  // One spelling per connection, so an id is found exactly when it is the one listed.
  if (format_record_id(id) != text) return std::nullopt;
  return id;
}

}  // namespace wsm::shm
