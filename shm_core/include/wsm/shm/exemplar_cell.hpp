// An exemplar cell: the latest exemplar (trace id, span id, value, time) one thread recorded for
// one counter or histogram series. A thread appends it to its own arena on its first exemplar of
// the series (layout.hpp, CellKind::exemplar), so a series never given an exemplar costs nothing.
//
// Payload, 6 words after the 8-byte cell header (offsets within the payload):
//   0 seq (odd while the owner writes)   8 trace id bytes 0-7   16 trace id bytes 8-15
//  24 span id bytes 0-7                  32 value (the family's integer unit, or the increment)
//  40 unix_ns (CLOCK_REALTIME when recorded)
// Ids are kept as their bytes in memory order (copied into the words), so they read back as the
// same bytes whatever the words' endianness.
//
// One writer per cell (the owning thread), any number of readers that never wait: a sequence
// lock. A reader that finds seq odd, or changed across its copy, skips the exemplar instead of
// retrying, so a writer stopped mid-write (SIGSTOP) costs readers only that exemplar.
//
// The orderings, as release stores and acquire loads rather than fences (free on x86, where every
// one is a plain mov, and understood by ThreadSanitizer, which GCC does not let fences into):
//  - write: seq odd (relaxed), then every field with a release store: each field store keeps the
//    odd seq before it, so a reader that sees any new field also sees seq no longer what it
//    loaded first; then seq even with a release store: the fields come before it.
//  - read: seq with an acquire load (the fields of the write that made it even are visible), the
//    fields with acquire loads (the second seq load cannot move above them), seq again, also with
//    an acquire load: GCC 12 replaced a relaxed reload by the value of the first load (seen in a
//    test that then kept torn exemplars), which the acquire load it does not merge prevents.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <tuple>

#include "wsm/shm/layout.hpp"

namespace wsm::shm {

struct ExemplarData {
  std::array<std::uint8_t, 16> trace_id{};
  std::array<std::uint8_t, 8> span_id{};
  std::uint64_t value = 0;    // integer in the family's unit (ns for *_seconds), or the increment
  std::uint64_t unix_ns = 0;  // when it was recorded
  friend bool operator==(const ExemplarData&, const ExemplarData&) = default;
};

// An id as readers show it (the API, `wsm dump`): two lower-case hex digits per byte, in order.
[[nodiscard]] inline std::string to_hex(std::span<const std::uint8_t> bytes) {
  constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * bytes.size());
  for (const std::uint8_t b : bytes) (out += kHex[b >> 4]) += kHex[b & 15];
  return out;
}

// Whether `a` is more recent than `b`: by time, ties broken by the other fields, so that which of
// several writers' exemplars a reader shows never depends on the order it read them in.
[[nodiscard]] inline bool more_recent(const ExemplarData& a, const ExemplarData& b) noexcept {
  return std::tie(a.unix_ns, a.value, a.trace_id, a.span_id) > std::tie(b.unix_ns, b.value, b.trace_id, b.span_id);
}

// The payload words of an exemplar cell (not constructed: a view of 6 arena words).
struct ExemplarCell {
  using Word = std::atomic<std::uint64_t>;
  Word seq;
  Word trace[2];
  Word span;
  Word value;
  Word unix_ns;

  // The owning thread only.
  void write(const ExemplarData& e) noexcept {
    const std::uint64_t s = seq.load(std::memory_order_relaxed);  // only this thread writes it
    seq.store(s | 1, std::memory_order_relaxed);
    trace[0].store(word_of(e.trace_id.data()), std::memory_order_release);
    trace[1].store(word_of(e.trace_id.data() + 8), std::memory_order_release);
    span.store(word_of(e.span_id.data()), std::memory_order_release);
    value.store(e.value, std::memory_order_release);
    unix_ns.store(e.unix_ns, std::memory_order_release);
    seq.store((s | 1) + 1, std::memory_order_release);
  }

  // Any reader: the exemplar as one write left it, or nullopt when there is none yet or a write is
  // under way (or stopped half-way) in its owner.
  [[nodiscard]] std::optional<ExemplarData> read() const noexcept {
    const std::uint64_t before = seq.load(std::memory_order_acquire);
    if (before == 0 || before % 2 != 0) return std::nullopt;
    ExemplarData e;
    put_word(e.trace_id.data(), trace[0].load(std::memory_order_acquire));
    put_word(e.trace_id.data() + 8, trace[1].load(std::memory_order_acquire));
    put_word(e.span_id.data(), span.load(std::memory_order_acquire));
    e.value = value.load(std::memory_order_acquire);
    e.unix_ns = unix_ns.load(std::memory_order_acquire);
    if (seq.load(std::memory_order_acquire) != before) return std::nullopt;
    return e;
  }

  [[nodiscard]] static ExemplarCell& at(Word* payload) noexcept { return *reinterpret_cast<ExemplarCell*>(payload); }
  [[nodiscard]] static const ExemplarCell& at(const Word* payload) noexcept {
    return *reinterpret_cast<const ExemplarCell*>(payload);
  }

 private:
  static std::uint64_t word_of(const std::uint8_t* bytes) noexcept {
    std::uint64_t w;
    std::memcpy(&w, bytes, sizeof w);
    return w;
  }
  static void put_word(std::uint8_t* bytes, std::uint64_t w) noexcept { std::memcpy(bytes, &w, sizeof w); }
};
static_assert(offsetof(ExemplarCell, trace) == 8);
static_assert(offsetof(ExemplarCell, span) == 24);
static_assert(offsetof(ExemplarCell, value) == 32);
static_assert(offsetof(ExemplarCell, unix_ns) == 40);
static_assert(sizeof(ExemplarCell) == 8 * kExemplarWords);

// Whether a cell header of kind `kind` with `words` payload words fits a series whose family
// cells have `shape` (CatalogView::cell_shape: (type << 16) | words, 0 when unknown): its own cell,
// or an exemplar cell of a counter or histogram.
[[nodiscard]] constexpr bool cell_fits(std::uint32_t shape, std::uint16_t kind, std::uint16_t words) noexcept {
  if (shape == 0) return false;
  if (kind == static_cast<std::uint16_t>(CellKind::exemplar)) {
    const auto type = static_cast<MetricType>(shape >> 16);
    return words == kExemplarWords && (type == MetricType::counter || type == MetricType::histogram);
  }
  return shape == ((std::uint32_t{kind} << 16) | words);
}

}  // namespace wsm::shm
