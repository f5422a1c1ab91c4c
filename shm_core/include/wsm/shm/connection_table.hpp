// The reader's side of the connection table (layout.hpp: ConnectionRecord): list the live
// connections of every writer process without locks, and free the records of dead processes.
//
// A record is copied only while OPEN; its state word and tenant are read before and after the
// copy (the copy's loads are acquire, so the second read stays after them), and a copy whose record was
// freed or re-claimed meanwhile is taken again, at most a few times, then left out. Records whose
// owner process is dead (liveness.hpp) are left out too: garbage until a reaper frees them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

#include "wsm/shm/segment.hpp"

namespace wsm::shm {

struct ConnectionInfo {
  std::uint32_t index = 0;   // record index in the table
  std::uint64_t tenant = 0;  // claims of this record so far
  std::uint64_t generation = 0;  // the segment's (SegmentHeader::generation): with index and tenant, a RecordId
  Owner owner{};             // the writer process serving the connection (liveness.hpp)
  pid_t pid = 0;             // its pid, as it sees itself (display only)
  std::uint64_t id = 0;      // pid << 32 | per-process sequence (format_connection_id)
  std::string role, user_id, patient_id;
  std::uint64_t opened_unix_ns = 0;
  std::uint64_t messages_in = 0, messages_out = 0, bytes_in = 0, bytes_out = 0;
  std::uint64_t last_heartbeat_unix_ns = 0;  // 0: no heartbeat answered yet
  double health_score = 0;                   // 0 (worst) .. 100 (best)
};

// Every OPEN record whose owner runs, in table order.
[[nodiscard]] std::vector<ConnectionInfo> list_connections(const Segment& segment);
[[nodiscard]] std::optional<ConnectionInfo> find_connection(const Segment& segment, std::uint64_t id);

// Records not FREE (claimed or open, of live or dead owners): a count for the capacity warning,
// each state word read relaxed.
[[nodiscard]] std::uint64_t connections_in_use(const Segment& segment);

// Frees the records of processes that are gone (needs a writable segment); returns how many.
std::uint32_t free_dead_connections(const Segment& segment);

// A connection id as "<pid>-<sequence>" (what APIs show) and back; nullopt if malformed.
[[nodiscard]] std::string format_connection_id(std::uint64_t id);
[[nodiscard]] std::optional<std::uint64_t> parse_connection_id(std::string_view text);

// A connection named by where it lives rather than by its id: "<record>.<tenant>.<segment>", e.g.
// "12.3.9f86d081" (record 12 of the table, its 3rd claim, in the segment whose generation ends in
// 9f86d081, as 8 lowercase hex digits). It carries no identifier of the connection or its user
// (the exporter shows it under --id-labels drop), is fixed for the connection's life (a claim
// bumps the tenant before it writes anything) and never names a later connection: the record's
// tenant only grows, and a re-created segment has a new random generation.
struct RecordId {
  std::uint32_t index = 0;
  std::uint64_t tenant = 0;
  std::uint32_t generation = 0;  // the low 32 bits of SegmentHeader::generation
  friend bool operator==(const RecordId&, const RecordId&) = default;
};
[[nodiscard]] RecordId record_id(const ConnectionInfo& connection);
[[nodiscard]] std::string format_record_id(const RecordId& id);
// Only the canonical form format_record_id writes (no leading zeros, lowercase hex); nullopt else.
[[nodiscard]] std::optional<RecordId> parse_record_id(std::string_view text);
// The live connection a RecordId names; nullopt when that record is free, holds a later
// connection, belongs to a dead process, or the id is of another segment.
[[nodiscard]] std::optional<ConnectionInfo> find_connection(const Segment& segment, const RecordId& id);

}  // namespace wsm::shm
