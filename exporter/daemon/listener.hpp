// Opening a listening TCP socket on an "IPV4:PORT" setting: shared by the HTTP server and the
// agent-check server, which validate the text alike (settings.cpp) and listen alike.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <optional>
#include <string>

namespace wsm::exporter {

// The endpoint of "IPV4:PORT"; nullopt when the text is not one.
[[nodiscard]] std::optional<boost::asio::ip::tcp::endpoint> endpoint_of(const std::string& listen);

// Opens `acceptor` on `endpoint` (address reuse, the system's longest queue); the error, or none.
[[nodiscard]] boost::system::error_code open_listener(boost::asio::ip::tcp::acceptor& acceptor,
                                                      const boost::asio::ip::tcp::endpoint& endpoint);

}  // namespace wsm::exporter
