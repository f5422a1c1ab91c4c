#include "wsm/shm/connection_entry.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <unistd.h>

#include "wsm/shm/connection_table.hpp"

namespace wsm::shm {

namespace {

// Where this process starts looking for a FREE record: after the last one it claimed, so a busy
// table is not rescanned from 0 on every open. Relaxed: only a hint.
std::atomic<std::uint32_t> g_cursor{0};

}  // namespace

void store_text(std::span<std::atomic<std::uint64_t>> words, std::string_view text) noexcept {
  for (std::size_t w = 0; w < words.size(); ++w) {
    char bytes[8] = {};
    if (w * 8 < text.size()) std::memcpy(bytes, text.data() + w * 8, std::min<std::size_t>(8, text.size() - w * 8));
    words[w].store(std::bit_cast<std::uint64_t>(bytes), std::memory_order_release);  // see claim()
  }
}

std::string load_text(std::span<const std::atomic<std::uint64_t>> words) {
  std::string out;
  for (const auto& word : words) {
    const auto bytes = std::bit_cast<std::array<char, 8>>(word.load(std::memory_order_acquire));
    out.append(bytes.data(), 8);
  }
  out.resize(::strnlen(out.data(), out.size()));
  return out;
}

Result<ConnectionEntry> ConnectionEntry::claim(const Segment& segment,
                                               const ConnectionIdentity& identity) {
  const std::uint32_t n = segment.max_connections();
  const auto pid = static_cast<std::uint32_t>(::getpid());
  const auto me = segment.owner();
  if (!me) return std::unexpected(me.error());
  for (int attempt = 0; attempt < 2 && n > 0; ++attempt) {
    const std::uint32_t start = g_cursor.load(std::memory_order_relaxed);
    for (std::uint32_t k = 0; k < n; ++k) {
      const std::uint32_t i = (start + k) % n;
      ConnectionRecord& r = segment.connection(i);
      std::uint64_t w = r.state_word.load(std::memory_order_relaxed);
      if (connection_state(w) != ConnectionState::free) continue;
      if (!r.state_word.compare_exchange_strong(w, connection_word(ConnectionState::claiming, *me),
                                                std::memory_order_acquire)) {
        continue;
      }
      g_cursor.store(i + 1, std::memory_order_relaxed);
      // A new tenant before any field changes. Every field is then stored with release, so a
      // reader that (acquire-)loads a field of ours also sees the new tenant when it re-checks.
      // (Release stores instead of a fence: plain moves on x86, and ThreadSanitizer models them.)
      r.tenant.fetch_add(1, std::memory_order_relaxed);
      constexpr auto rel = std::memory_order_release;
      // The sequence is the segment's, not the process's: pids of processes in different pid
      // namespaces collide, the segment's sequence does not. Relaxed: a counter, not a handshake.
      const std::uint64_t seq = segment.header().connections_opened.fetch_add(1, std::memory_order_relaxed) + 1;
      r.pid.store(pid, rel);
      r.connection_id.store(std::uint64_t{pid} << 32 | (seq & 0xffff'ffffu), rel);
      r.opened_unix_ns.store(unix_ns(), rel);
      for (auto* word : {&r.messages_in, &r.messages_out, &r.bytes_in, &r.bytes_out,
                         &r.last_heartbeat_unix_ns}) {
        word->store(0, rel);
      }
      r.health_score.store(std::bit_cast<std::uint64_t>(100.0), rel);
      store_text(r.role, identity.role);
      store_text(r.user_id, identity.user_id);
      store_text(r.patient_id, identity.patient_id);
      // Release: a reader that acquires OPEN sees every field above.
      r.state_word.store(connection_word(ConnectionState::open, *me), std::memory_order_release);
      return ConnectionEntry(r, *me);
    }
    if (attempt == 0 && (!segment.writable() || free_dead_connections(segment) == 0)) break;
  }
  segment.header().connections_dropped.fetch_add(1, std::memory_order_relaxed);
  return fail(Errc::full, "segment '" + segment.name() + "': all " + std::to_string(n) +
                              " connection records are in use; raise Limits::max_connections");
}

void ConnectionEntry::release() const noexcept {
  std::uint64_t w = record_->state_word.load(std::memory_order_relaxed);
  if (connection_state(w) != ConnectionState::open || word_owner(w) != owner_) {
    return;  // freed by a reaper, or re-claimed since: not ours to free
  }
  // Release: pairs with the next claimant's acquire CAS.
  record_->state_word.compare_exchange_strong(w, connection_word(ConnectionState::free, {}),
                                              std::memory_order_release, std::memory_order_relaxed);
}

}  // namespace wsm::shm
