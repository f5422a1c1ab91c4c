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

// Frees the records of processes that are gone (needs a writable segment); returns how many.
std::uint32_t free_dead_connections(const Segment& segment);

// A connection id as "<pid>-<sequence>" (what APIs show) and back; nullopt if malformed.
[[nodiscard]] std::string format_connection_id(std::uint64_t id);
[[nodiscard]] std::optional<std::uint64_t> parse_connection_id(std::string_view text);

}  // namespace wsm::shm
