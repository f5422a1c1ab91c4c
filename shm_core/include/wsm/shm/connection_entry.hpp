// The writer's side of the connection table: claim a record when a connection opens, count into
// it while the connection lives, free it on close. The byte layout and the claim protocol are in
// layout.hpp (ConnectionRecord); readers are in connection_table.hpp.
#pragma once

#include <atomic>
#include <bit>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "wsm/shm/error.hpp"
#include "wsm/shm/segment.hpp"

namespace wsm::shm {

struct ConnectionIdentity {
  std::string_view role;        // up to 16 bytes are kept
  std::string_view user_id;     // up to 40 bytes are kept
  std::string_view patient_id;  // up to 40 bytes are kept
};

class ConnectionEntry {
 public:
  // Claims a FREE record for this process and gives the connection a segment-unique id
  // (pid << 32 | the segment's connection sequence). When the table is full, frees the records of dead
  // processes once and tries again; then counts a drop in the header and fails with Errc::full.
  [[nodiscard]] static Result<ConnectionEntry> claim(const Segment& segment,
                                                     const ConnectionIdentity& identity);

  [[nodiscard]] ConnectionRecord& record() const noexcept { return *record_; }
  [[nodiscard]] std::uint64_t id() const noexcept {
    return record_->connection_id.load(std::memory_order_relaxed);
  }

  // The record's owner is the only writer of its counts: a plain add, no lock prefix. Stores are
  // release (a plain move on x86) so a reader that sees one also sees the tenant of the claim.
  static void add(std::atomic<std::uint64_t>& word, std::uint64_t n) noexcept {
    word.store(word.load(std::memory_order_relaxed) + n, std::memory_order_release);
  }
  void set_health(double score) const noexcept {
    record_->health_score.store(std::bit_cast<std::uint64_t>(score), std::memory_order_release);
  }
  void set_heartbeat(std::uint64_t unix_ns) const noexcept {
    record_->last_heartbeat_unix_ns.store(unix_ns, std::memory_order_release);
  }

  // The connection closed: frees the record (only if this claim still owns it; a forked child's
  // copy of the entry does not, since its process has another record).
  void release() const noexcept;

 private:
  ConnectionEntry(ConnectionRecord& r, Owner owner) noexcept : record_(&r), owner_(owner) {}
  ConnectionRecord* record_;
  Owner owner_;
};

// Text fields are NUL-padded bytes packed into u64 words, 8 per word in memory order.
void store_text(std::span<std::atomic<std::uint64_t>> words, std::string_view text) noexcept;
[[nodiscard]] std::string load_text(std::span<const std::atomic<std::uint64_t>> words);

}  // namespace wsm::shm
