// The TCP side of --agent-check-listen: each connection gets one line (agent_check.hpp) and is
// closed, as HAProxy's agent check expects. Whatever HAProxy sends (`agent-send`) is read and
// ignored: every server behind one exporter is the same host.
//
// Its own io_context and thread rather than the HTTP server's: the answer must not wait behind
// HTTP work (TLS handshakes, authentication, the connection cap), and the HTTP server keeps its
// I/O context to itself. The reply is computed from the last interval record, not the segment,
// so one thread answers many checks per second.
#pragma once

#include <memory>
#include <string>

#include "wsm/exporter/monitor.hpp"
#include "wsm/shm/error.hpp"

namespace wsm::exporter {

// Connections beyond this are closed at once: HAProxy opens one per server per agent-inter.
inline constexpr int kMaxAgentConnections = 256;

class AgentCheckServer {
 public:
  // Starts listening on IPV4:PORT; fails with a message naming the address (e.g. port in use).
  [[nodiscard]] static Result<std::unique_ptr<AgentCheckServer>> start(const std::string& listen,
                                                                       const Monitor& monitor);
  ~AgentCheckServer();  // closes every connection and stops the thread
  AgentCheckServer(const AgentCheckServer&) = delete;
  AgentCheckServer& operator=(const AgentCheckServer&) = delete;

 private:
  struct State;
  explicit AgentCheckServer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace wsm::exporter
