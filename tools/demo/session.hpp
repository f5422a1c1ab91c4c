// A connection of wsm-demo-server: the HTTP request (an upgrade to /ws, or GET /healthz), then the
// WebSocket session with its send queue and heartbeats. Beast lives in session.cpp only.
#pragma once

#include <boost/asio/ip/tcp.hpp>

namespace wsm::demo {

class Worker;

void start_session(boost::asio::ip::tcp::socket socket, Worker& worker);

}  // namespace wsm::demo
