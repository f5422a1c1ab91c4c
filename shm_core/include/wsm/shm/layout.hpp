// The byte layout of a wsmetrics segment (/dev/shm/wsm.<name>). Every struct here lives in shared
// memory: standard layout, fixed width, no pointers (offsets from the segment base only), and its
// offsets are pinned by static_assert so a change is a deliberate layout-version bump.
//
//  +--------------------------+ 0
//  | SegmentHeader      512 B |  magic (release-published last), version, layout hash, generation,
//  |                          |  limits, region offsets, drop counters, reap sequence + fold journal
//  +--------------------------+ processes_offset
//  | ProcessRecord            |  128 B each, max_writers of them: one per writer process, whose
//  |   [max_writers]          |  first byte the process holds an OFD lock on while it lives
//  +--------------------------+ slots_offset
//  | WriterSlot[max_writers]  |  64 B each, one per writing thread
//  +--------------------------+ families_offset
//  | FamilyEntry[families]    |  64 B each, open addressing by name hash
//  +--------------------------+ series_offset
//  | SeriesEntry[max_series]  |  32 B each, open addressing by (family, labels) hash; id = index
//  +--------------------------+ retired_index_offset
//  | u32[max_series]          |  retired cell offset + 1 per series (0: none yet)
//  +--------------------------+ strings_offset
//  | string arena             |  names, help texts, canonical label sets; bump-allocated, never freed
//  +--------------------------+ retired_offset
//  | retired arena            |  cells folded from dead writers; written only under the reap lock
//  +--------------------------+ connections_offset
//  | ConnectionRecord         |  192 B each, max_connections of them: live connections of the
//  |   [max_connections]      |  writers (id, role, ids, counts, heartbeat, health)
//  +--------------------------+ arenas_offset
//  | writer arena[max_writers]|  arena_bytes each; cells appended by the slot's thread only
//  +--------------------------+ total_bytes
//
// All regions start on a 64-byte boundary. Cells are 8-byte aligned, so every u64 is naturally
// aligned and a relaxed load never tears.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace wsm::shm {

inline constexpr std::uint64_t kMagic = 0x0147'4553'4d53'5700ull;  // "\0WSMSEG\1" little-endian
// 2: the connection table; 3: process records; 4: the series key hash (label_hash.hpp);
// 5: exemplar cells (exemplar_cell.hpp)
inline constexpr std::uint32_t kLayoutVersion = 5;

enum class MetricType : std::uint8_t { counter = 1, gauge = 2, histogram = 3 };
// The word every output uses for a type (Prometheus TYPE, `wsm dump --json`, `wsm inspect`).
[[nodiscard]] constexpr const char* metric_type_name(MetricType t) noexcept {
  switch (t) {
    case MetricType::counter: return "counter";
    case MetricType::gauge: return "gauge";
    case MetricType::histogram: return "histogram";
  }
  return "unknown";
}
enum class Unit : std::uint8_t { none = 0, seconds = 1, bytes = 2, percent = 3 };
// How gauge cells of several writers combine (docs/design.md, "Reading and reaping").
enum class GaugeMode : std::uint8_t { sum = 0, max = 1, min = 2, last = 3, per_writer = 4 };

// Who owns a claimed thing (a writer slot, a catalog entry, a connection record): a process
// record and that record's tenant at the time of the claim. Pids name nothing across pid
// namespaces; a process record does, and its liveness comes from the kernel (liveness.hpp).
// An owner lives in the high 56 bits of the thing's state word, so claiming names the owner in
// the same CAS and a claimant killed half-way is recognised.
//   state word: bits 0-7 state, 8-31 process record index + 1 (0: none), 32-63 record tenant
struct Owner {
  std::uint32_t process = 0;  // record index + 1; 0: no owner
  std::uint32_t tenant = 0;   // low 32 bits of the record's tenant when it was claimed
  friend constexpr bool operator==(Owner, Owner) = default;
};
inline constexpr std::uint32_t kMaxProcessRecords = (1u << 24) - 1;
[[nodiscard]] constexpr std::uint64_t owned_word(std::uint8_t state, Owner o) noexcept {
  return std::uint64_t{state} | (std::uint64_t{o.process & kMaxProcessRecords} << 8) |
         (std::uint64_t{o.tenant} << 32);
}
[[nodiscard]] constexpr Owner word_owner(std::uint64_t w) noexcept {
  return {static_cast<std::uint32_t>((w >> 8) & kMaxProcessRecords), static_cast<std::uint32_t>(w >> 32)};
}

// Catalog entry state word: the state and the registrant (owned_word).
enum class EntryState : std::uint8_t { empty = 0, busy = 1, ready = 2 };
[[nodiscard]] constexpr std::uint64_t entry_word(EntryState s, Owner o) noexcept {
  return owned_word(static_cast<std::uint8_t>(s), o);
}
[[nodiscard]] constexpr EntryState entry_state(std::uint64_t w) noexcept {
  return static_cast<EntryState>(w & 0xff);
}

// Segment header, 512 bytes.
//   0 magic            8 layout_version   12 header_bytes    16 layout_hash     24 generation
//  32 created_unix_ns 40 total_bytes      48 creator_pid     52 max_writers     56 max_families
//  60 max_series      64 arena_bytes      72 string_bytes    80 retired_bytes   88 slots_offset
//  96 families_offset 104 series_offset  112 retired_index_offset 120 strings_offset
// 128 retired_offset 136 arenas_offset   144 series_cap_default 148 max_connections
// 152 connections_offset  160 processes_offset  168 reserved ... 192
// 192 strings_used   200 series_used     208 series_dropped  216 cells_dropped  224 writers_dropped
// 232 writers_reaped 240 retired_dropped 248 families_used
// 256 reap_seq       264 reaper          272 retired_used    280 connections_dropped
// 288 connections_reaped  296 fold_moves  304 connections_opened
// 320 journal_state  328 journal_target  336 journal_source  344 journal_value  ... 512
struct SegmentHeader {
  std::atomic<std::uint64_t> magic;  // written last with release: the segment is initialised
  std::uint32_t layout_version;
  std::uint32_t header_bytes;
  std::uint64_t layout_hash;  // hash of every size and offset below; readers refuse a mismatch
  std::uint64_t generation;   // random per creation: readers detect a re-created segment
  std::uint64_t created_unix_ns;
  std::uint64_t total_bytes;
  std::uint32_t creator_pid;
  std::uint32_t max_writers;
  std::uint32_t max_families;
  std::uint32_t max_series;
  std::uint64_t arena_bytes;    // per writer
  std::uint64_t string_bytes;
  std::uint64_t retired_bytes;
  std::uint64_t slots_offset;
  std::uint64_t families_offset;
  std::uint64_t series_offset;
  std::uint64_t retired_index_offset;
  std::uint64_t strings_offset;
  std::uint64_t retired_offset;
  std::uint64_t arenas_offset;
  std::uint32_t series_cap_default;  // per family, before its overflow series takes new label sets
  std::uint32_t max_connections;     // records in the connection table (0: no table)
  std::uint64_t connections_offset;
  std::uint64_t processes_offset;
  std::uint8_t pad0[24];

  // Shared usage and drop counters, updated with relaxed RMW on cold paths only.
  std::atomic<std::uint64_t> strings_used;
  std::atomic<std::uint64_t> series_used;
  std::atomic<std::uint64_t> series_dropped;   // label sets sent to an overflow series or lost
  std::atomic<std::uint64_t> cells_dropped;    // cells that did not fit a writer arena
  std::atomic<std::uint64_t> writers_dropped;  // threads that found no free writer slot
  std::atomic<std::uint64_t> writers_reaped;
  std::atomic<std::uint64_t> retired_dropped;  // cells that did not fit the retired arena
  std::atomic<std::uint64_t> families_used;

  // Reap coordination: odd while a fold is under way (a seqlock for readers). Reapers exclude each
  // other with an OFD lock on the first byte of `reaper` (reaper.hpp), which the kernel releases
  // when its holder dies; the word itself only names the holder for people.
  std::atomic<std::uint64_t> reap_seq;
  std::atomic<std::uint64_t> reaper;        // pid of the holder, as it sees itself (display only)
  std::atomic<std::uint64_t> retired_used;  // bytes of the retired arena in use
  std::atomic<std::uint64_t> connections_dropped;  // connections that found the table full
  std::atomic<std::uint64_t> connections_reaped;   // records of dead processes freed
  // Odd while one journalled word move is under way: with reap_seq, lets a reader that overlaps a
  // stopped or dead reaper still read a consistent state (snapshot.hpp).
  std::atomic<std::uint64_t> fold_moves;
  std::atomic<std::uint64_t> connections_opened;  // the sequence in connection ids
  std::uint8_t pad1[8];

  // Fold journal: one word move "target = value; source = 0" in flight. Replaying it is
  // idempotent (absolute stores), so a reaper killed mid-fold loses and double-counts nothing.
  std::atomic<std::uint64_t> journal_state;  // 0 idle, 1 a move is recorded and may be half done
  std::atomic<std::uint64_t> journal_target;
  std::atomic<std::uint64_t> journal_source;
  std::atomic<std::uint64_t> journal_value;
  std::uint8_t pad2[160];
};
static_assert(offsetof(SegmentHeader, layout_version) == 8);
static_assert(offsetof(SegmentHeader, layout_hash) == 16);
static_assert(offsetof(SegmentHeader, generation) == 24);
static_assert(offsetof(SegmentHeader, creator_pid) == 48);
static_assert(offsetof(SegmentHeader, max_series) == 60);
static_assert(offsetof(SegmentHeader, arena_bytes) == 64);
static_assert(offsetof(SegmentHeader, arenas_offset) == 136);
static_assert(offsetof(SegmentHeader, series_cap_default) == 144);
static_assert(offsetof(SegmentHeader, max_connections) == 148);
static_assert(offsetof(SegmentHeader, connections_offset) == 152);
static_assert(offsetof(SegmentHeader, processes_offset) == 160);
static_assert(offsetof(SegmentHeader, strings_used) == 192);
static_assert(offsetof(SegmentHeader, families_used) == 248);
static_assert(offsetof(SegmentHeader, reap_seq) == 256);
static_assert(offsetof(SegmentHeader, retired_used) == 272);
static_assert(offsetof(SegmentHeader, connections_dropped) == 280);
static_assert(offsetof(SegmentHeader, connections_reaped) == 288);
static_assert(offsetof(SegmentHeader, fold_moves) == 296);
static_assert(offsetof(SegmentHeader, connections_opened) == 304);
static_assert(offsetof(SegmentHeader, journal_state) == 320);
static_assert(offsetof(SegmentHeader, journal_value) == 344);
static_assert(sizeof(SegmentHeader) == 512);

// One writer process, 128 bytes, two lines. Its owner holds an open-file-description lock
// (F_OFD_SETLK) on the record's first byte of the segment file for as long as it runs; the kernel
// drops the lock when the process dies, whatever pid namespace looks at it, and a reader tests it
// with F_OFD_GETLK (liveness.hpp). The tenant is bumped on every claim, so an Owner naming an
// older tenant is dead. Everything but the state word is for display and resource figures.
//   0 state_word (ProcessState | tenant << 32)   8 pid (as the process sees itself)  12 reserved
//  16 start_ticks (/proc/self/stat field 22)    24 pid_namespace (inode of /proc/self/ns/pid)
//  32 heartbeat_ns (CLOCK_MONOTONIC)            40 figures_seq (odd while figures are written)
//  48 cpu_ns  56 rss_bytes  64 virtual_bytes  72 fds_sockets_pipes (sockets << 32 | pipes)
//  80 threads  88 figures_ns (CLOCK_MONOTONIC when sampled; 0: never)   96 role[16]
// 112 fds_files_other (files << 32 | other)  120 reserved ... 128
enum class ProcessState : std::uint8_t { free = 0, active = 1 };
[[nodiscard]] constexpr std::uint64_t process_word(ProcessState s, std::uint32_t tenant) noexcept {
  return static_cast<std::uint64_t>(s) | (std::uint64_t{tenant} << 32);
}
[[nodiscard]] constexpr ProcessState process_state(std::uint64_t w) noexcept {
  return static_cast<ProcessState>(w & 0xff);
}
[[nodiscard]] constexpr std::uint32_t process_tenant(std::uint64_t w) noexcept {
  return static_cast<std::uint32_t>(w >> 32);
}
struct ProcessRecord {
  using Word = std::atomic<std::uint64_t>;
  Word state_word;
  Word pid;  // low 32 bits
  Word start_ticks;
  Word pid_namespace;
  Word heartbeat_ns;
  Word figures_seq;
  Word cpu_ns;
  Word rss_bytes;
  Word virtual_bytes;
  Word fds_sockets_pipes;
  Word threads;
  Word figures_ns;
  Word role[2];
  Word fds_files_other;
  Word reserved;
};
static_assert(offsetof(ProcessRecord, pid) == 8);
static_assert(offsetof(ProcessRecord, start_ticks) == 16);
static_assert(offsetof(ProcessRecord, pid_namespace) == 24);
static_assert(offsetof(ProcessRecord, heartbeat_ns) == 32);
static_assert(offsetof(ProcessRecord, figures_seq) == 40);
static_assert(offsetof(ProcessRecord, cpu_ns) == 48);
static_assert(offsetof(ProcessRecord, threads) == 80);
static_assert(offsetof(ProcessRecord, figures_ns) == 88);
static_assert(offsetof(ProcessRecord, role) == 96);
static_assert(offsetof(ProcessRecord, fds_files_other) == 112);
static_assert(sizeof(ProcessRecord) == 128);

// One writer: a recording thread (tid != 0), or a process's shared gauge cells (tid == 0).
// 64 bytes, one cache line, so slots never share a line.
//   0 state_word (SlotState | owner, see Owner)  8 pid (display)  12 tid  16 tenant
//  24 heartbeat_ns  32 cells_bytes  40 reserved  48 role[16]
// ACTIVE -> DETACHED when its thread exits (fold at once: nobody writes it any more); ACTIVE ->
// EXITED when its process calls exit() (fold once the process is dead: other threads may still
// write until then); either -> RETIRING -> FREE by a reaper.
enum class SlotState : std::uint8_t { free = 0, claiming = 1, active = 2, detached = 3, retiring = 4, exited = 5 };
// The word every output uses for a slot state (`wsm inspect`, the exporter's /api/v1/writers).
[[nodiscard]] constexpr const char* slot_state_name(SlotState s) noexcept {
  switch (s) {
    case SlotState::free: return "free";
    case SlotState::claiming: return "claiming";
    case SlotState::active: return "active";
    case SlotState::detached: return "detached";
    case SlotState::retiring: return "retiring";
    case SlotState::exited: return "exited";
  }
  return "invalid";
}
[[nodiscard]] constexpr std::uint64_t slot_word(SlotState s, Owner o) noexcept {
  return owned_word(static_cast<std::uint8_t>(s), o);
}
[[nodiscard]] constexpr SlotState slot_state(std::uint64_t w) noexcept {
  return static_cast<SlotState>(w & 0xff);
}
struct WriterSlot {
  std::atomic<std::uint64_t> state_word;
  std::uint32_t pid;                  // of the owner, as it sees itself: for people only
  std::uint32_t tid;                  // 0: the process's shared gauge cells
  std::atomic<std::uint64_t> tenant;  // bumped on every claim, like Aeron's registration id
  std::atomic<std::uint64_t> heartbeat_ns;  // CLOCK_MONOTONIC of the last registration or beat
  std::atomic<std::uint64_t> cells_bytes;   // arena bytes published (release) by the owner
  std::uint64_t reserved;
  char role[16];  // free-form tag (e.g. the worker's role), NUL-padded
};
static_assert(offsetof(WriterSlot, pid) == 8);
static_assert(offsetof(WriterSlot, tid) == 12);
static_assert(offsetof(WriterSlot, tenant) == 16);
static_assert(offsetof(WriterSlot, heartbeat_ns) == 24);
static_assert(offsetof(WriterSlot, cells_bytes) == 32);
static_assert(offsetof(WriterSlot, role) == 48);
static_assert(sizeof(WriterSlot) == 64);

// Who holds a slot: written by its claimant while the slot is CLAIMING, read by snapshots that
// may still hold an older state word of the slot (they then see the reap sequence move and
// retry). That race is by design, so both sides go through store_identity / load_identity
// (relaxed std::atomic_ref on the plain fields above), never plain loads and stores.
struct SlotIdentity {
  std::uint32_t pid = 0;
  std::uint32_t tid = 0;
  char role[sizeof(WriterSlot::role)] = {};
};
inline void store_identity(WriterSlot& s, const SlotIdentity& id) noexcept {
  std::atomic_ref(s.pid).store(id.pid, std::memory_order_relaxed);
  std::atomic_ref(s.tid).store(id.tid, std::memory_order_relaxed);
  for (std::size_t k = 0; k < sizeof s.role; ++k) {
    std::atomic_ref(s.role[k]).store(id.role[k], std::memory_order_relaxed);
  }
}
[[nodiscard]] inline SlotIdentity load_identity(const WriterSlot& slot) noexcept {
  auto& s = const_cast<WriterSlot&>(slot);  // atomic_ref wants a non-const object; loads only
  SlotIdentity id;
  id.pid = std::atomic_ref(s.pid).load(std::memory_order_relaxed);
  id.tid = std::atomic_ref(s.tid).load(std::memory_order_relaxed);
  for (std::size_t k = 0; k < sizeof s.role; ++k) {
    id.role[k] = std::atomic_ref(s.role[k]).load(std::memory_order_relaxed);
  }
  return id;
}
static_assert(std::atomic_ref<std::uint64_t>::is_always_lock_free &&
              std::atomic_ref<std::uint64_t>::required_alignment <= 8);
static_assert(std::atomic_ref<std::uint32_t>::is_always_lock_free &&
              std::atomic_ref<std::uint32_t>::required_alignment <= 4);

// A metric family (name, type, help, unit, histogram scheme, series cap). 64 bytes.
//   0 state_word  8 hash (of the name)  16 name_off  20 name_len  24 help_off  28 help_len
//  32 type  33 gauge_mode  34 unit  35 max_octave  36 bucket_count  38 reserved
//  40 series_cap  44 series_count  48 overflow_series (id + 1)  52 reserved ... 64
struct FamilyEntry {
  std::atomic<std::uint64_t> state_word;
  std::uint64_t hash;  // of the name
  std::uint32_t name_off;
  std::uint32_t name_len;
  std::uint32_t help_off;
  std::uint32_t help_len;
  MetricType type;
  GaugeMode gauge_mode;
  Unit unit;
  std::uint8_t max_octave;
  std::uint16_t bucket_count;
  std::uint16_t reserved0;
  std::uint32_t series_cap;
  std::atomic<std::uint32_t> series_count;
  std::atomic<std::uint32_t> overflow_series;
  std::uint8_t pad[12];
};
static_assert(offsetof(FamilyEntry, name_off) == 16);
static_assert(offsetof(FamilyEntry, help_off) == 24);
static_assert(offsetof(FamilyEntry, type) == 32);
static_assert(offsetof(FamilyEntry, bucket_count) == 36);
static_assert(offsetof(FamilyEntry, series_cap) == 40);
static_assert(offsetof(FamilyEntry, overflow_series) == 48);
static_assert(sizeof(FamilyEntry) == 64);

// One series: a family plus a canonical label set. Its index is the series id. 32 bytes.
//   0 state_word  8 hash  16 family_id  20 labels_off  24 labels_len  28 reserved
struct SeriesEntry {
  std::atomic<std::uint64_t> state_word;
  std::uint64_t hash;
  std::uint32_t family_id;
  std::uint32_t labels_off;
  std::uint32_t labels_len;
  std::uint32_t reserved;
};
static_assert(offsetof(SeriesEntry, hash) == 8);
static_assert(offsetof(SeriesEntry, family_id) == 16);
static_assert(offsetof(SeriesEntry, labels_len) == 24);
static_assert(sizeof(SeriesEntry) == 32);

// One live connection (e.g. a WebSocket) of a writer process: the per-connection detail that would explode
// Prometheus series (ids, counts, health) kept in a bounded table instead. 192 bytes, 3 lines.
//   0 state_word (state | owner, see Owner)   8 pid (display)   16 tenant   24 connection_id
//  32 opened_unix_ns  40 messages_in  48 messages_out  56 bytes_in  64 bytes_out
//  72 last_heartbeat_unix_ns (0: none yet)  80 health_score (f64 bits, 0..100)
//  88 role[16]  104 user_id[40]  144 patient_id[40]  184 reserved ... 192
// Claimed like a WriterSlot (FREE -> CLAIMING|pid by CAS, fields, OPEN|pid by release store) and
// freed by its owner on close or by a reaper once the owner process is dead. The owner bumps tenant on
// every claim before writing the fields, and writes every field with release stores, so a reader
// that (acquire-)copies the fields and finds the same state word and tenant before and after knows
// the copy belongs to one connection. Every field is a u64 word (text fields NUL-padded, packed 8
// bytes a word), so racing readers never see a torn word. Counts and timestamps are written only by the
// thread serving the connection (one at a time, as the connection's stream already requires).
enum class ConnectionState : std::uint8_t { free = 0, claiming = 1, open = 2 };
[[nodiscard]] constexpr std::uint64_t connection_word(ConnectionState s, Owner o) noexcept {
  return owned_word(static_cast<std::uint8_t>(s), o);
}
[[nodiscard]] constexpr ConnectionState connection_state(std::uint64_t w) noexcept {
  return static_cast<ConnectionState>(w & 0xff);
}
inline constexpr std::size_t kConnectionRoleWords = 2;   // 16 bytes
inline constexpr std::size_t kConnectionIdWords = 5;     // 40 bytes: user and patient ids
struct ConnectionRecord {
  using Word = std::atomic<std::uint64_t>;
  Word state_word;
  Word pid;
  Word tenant;
  Word connection_id;
  Word opened_unix_ns;
  Word messages_in;
  Word messages_out;
  Word bytes_in;
  Word bytes_out;
  Word last_heartbeat_unix_ns;
  Word health_score;
  Word role[kConnectionRoleWords];
  Word user_id[kConnectionIdWords];
  Word patient_id[kConnectionIdWords];
  Word reserved;
};
static_assert(offsetof(ConnectionRecord, pid) == 8);
static_assert(offsetof(ConnectionRecord, tenant) == 16);
static_assert(offsetof(ConnectionRecord, connection_id) == 24);
static_assert(offsetof(ConnectionRecord, opened_unix_ns) == 32);
static_assert(offsetof(ConnectionRecord, messages_in) == 40);
static_assert(offsetof(ConnectionRecord, bytes_out) == 64);
static_assert(offsetof(ConnectionRecord, last_heartbeat_unix_ns) == 72);
static_assert(offsetof(ConnectionRecord, health_score) == 80);
static_assert(offsetof(ConnectionRecord, role) == 88);
static_assert(offsetof(ConnectionRecord, user_id) == 104);
static_assert(offsetof(ConnectionRecord, patient_id) == 144);
static_assert(offsetof(ConnectionRecord, reserved) == 184);
static_assert(sizeof(ConnectionRecord) == 192);

// A cell in an arena: this header, then `words` u64 payload words. The header is written and read
// as one u64 (pack_cell / unpack_cell) so a reader racing a slot's reuse never sees a torn header.
//   counter:   [value]
//   gauge:     [value as f64 bits, set stamp ns (0: only added to)]
//   histogram: [sum, bucket 0 .. bucket n-1]   (count is the sum of the buckets)
//   exemplar:  [seq, trace id (2 words), span id, value, unix ns]   (exemplar_cell.hpp)
//   0 series_id  4 kind (CellKind)  6 words
struct CellHeader {
  std::uint32_t series_id;
  std::uint16_t kind;
  std::uint16_t words;
};
static_assert(offsetof(CellHeader, kind) == 4);
static_assert(sizeof(CellHeader) == 8);

// What a cell holds. The first three are a family's own cells (kind == its MetricType); an
// exemplar cell belongs to a counter or histogram series beside that series' own cell: the latest
// exemplar one thread recorded for it, appended on its first one, never folded at reap.
enum class CellKind : std::uint16_t { counter = 1, gauge = 2, histogram = 3, exemplar = 4 };
[[nodiscard]] constexpr CellKind cell_kind(MetricType t) noexcept { return static_cast<CellKind>(t); }

[[nodiscard]] constexpr std::uint64_t pack_cell(CellHeader h) noexcept {
  return std::uint64_t{h.series_id} | (std::uint64_t{h.kind} << 32) | (std::uint64_t{h.words} << 48);
}
[[nodiscard]] constexpr CellHeader unpack_cell(std::uint64_t w) noexcept {
  return {static_cast<std::uint32_t>(w), static_cast<std::uint16_t>(w >> 32),
          static_cast<std::uint16_t>(w >> 48)};
}

// A cell's whole size in the arena: its header and its payload words (the stride of every walk).
[[nodiscard]] constexpr std::uint64_t cell_bytes(CellHeader h) noexcept {
  return sizeof(CellHeader) + std::uint64_t{h.words} * 8;
}

inline constexpr std::uint32_t kCounterWords = 1;
inline constexpr std::uint32_t kGaugeWords = 2;
inline constexpr std::uint32_t kExemplarWords = 6;
[[nodiscard]] constexpr std::uint32_t histogram_words(std::uint32_t buckets) { return buckets + 1; }

static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(sizeof(std::atomic<std::uint64_t>) == 8);

// The layout hash: the version and every struct size and field offset above that readers and
// writers rely on, so two builds that disagree refuse each other.
[[nodiscard]] consteval std::uint64_t layout_hash() {
  constexpr std::uint64_t parts[] = {
      kLayoutVersion, sizeof(SegmentHeader), offsetof(SegmentHeader, layout_version),
      offsetof(SegmentHeader, layout_hash), offsetof(SegmentHeader, generation),
      offsetof(SegmentHeader, total_bytes), offsetof(SegmentHeader, max_writers),
      offsetof(SegmentHeader, arena_bytes), offsetof(SegmentHeader, slots_offset),
      offsetof(SegmentHeader, arenas_offset), offsetof(SegmentHeader, series_cap_default),
      offsetof(SegmentHeader, connections_offset), offsetof(SegmentHeader, processes_offset),
      offsetof(SegmentHeader, strings_used), offsetof(SegmentHeader, families_used),
      offsetof(SegmentHeader, reap_seq), offsetof(SegmentHeader, reaper),
      offsetof(SegmentHeader, retired_used), offsetof(SegmentHeader, connections_dropped),
      offsetof(SegmentHeader, fold_moves), offsetof(SegmentHeader, connections_opened),
      offsetof(SegmentHeader, journal_state),
      offsetof(SegmentHeader, journal_value),
      sizeof(ProcessRecord), offsetof(ProcessRecord, start_ticks), offsetof(ProcessRecord, figures_seq),
      offsetof(ProcessRecord, threads), offsetof(ProcessRecord, figures_ns), offsetof(ProcessRecord, role),
      offsetof(ProcessRecord, fds_sockets_pipes), offsetof(ProcessRecord, fds_files_other),
      sizeof(WriterSlot), offsetof(WriterSlot, pid), offsetof(WriterSlot, tid), offsetof(WriterSlot, tenant),
      offsetof(WriterSlot, heartbeat_ns), offsetof(WriterSlot, cells_bytes), offsetof(WriterSlot, role),
      sizeof(FamilyEntry), offsetof(FamilyEntry, name_off), offsetof(FamilyEntry, help_off),
      offsetof(FamilyEntry, type), offsetof(FamilyEntry, bucket_count), offsetof(FamilyEntry, series_cap),
      offsetof(FamilyEntry, overflow_series), sizeof(SeriesEntry), offsetof(SeriesEntry, hash),
      offsetof(SeriesEntry, family_id), offsetof(SeriesEntry, labels_len),
      sizeof(ConnectionRecord), offsetof(ConnectionRecord, tenant), offsetof(ConnectionRecord, connection_id),
      offsetof(ConnectionRecord, opened_unix_ns), offsetof(ConnectionRecord, messages_in),
      offsetof(ConnectionRecord, bytes_out), offsetof(ConnectionRecord, last_heartbeat_unix_ns),
      offsetof(ConnectionRecord, health_score), offsetof(ConnectionRecord, role),
      offsetof(ConnectionRecord, user_id), offsetof(ConnectionRecord, patient_id),
      sizeof(CellHeader), offsetof(CellHeader, kind), kCounterWords, kGaugeWords,
      static_cast<std::uint64_t>(CellKind::exemplar), kExemplarWords};
  std::uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a over the values
  for (std::uint64_t p : parts) {
    for (int i = 0; i < 8; ++i) {
      h ^= (p >> (8 * i)) & 0xff;
      h *= 0x100000001b3ull;
    }
  }
  return h;
}

}  // namespace wsm::shm
