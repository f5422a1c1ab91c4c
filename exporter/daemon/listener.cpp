#include "listener.hpp"

namespace wsm::exporter {

using tcp = boost::asio::ip::tcp;

std::optional<tcp::endpoint> endpoint_of(const std::string& listen) {
  const std::size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address_v4(listen.substr(0, colon), ec);
  if (ec) return std::nullopt;
  return tcp::endpoint(address, static_cast<unsigned short>(std::stoi(listen.substr(colon + 1))));
}

boost::system::error_code open_listener(tcp::acceptor& acceptor, const tcp::endpoint& endpoint) {
  boost::system::error_code ec;
  if (!acceptor.open(endpoint.protocol(), ec) && !acceptor.set_option(tcp::acceptor::reuse_address(true), ec) &&
      !acceptor.bind(endpoint, ec)) {
    (void)acceptor.listen(boost::asio::socket_base::max_listen_connections, ec);
  }
  return ec;
}

}  // namespace wsm::exporter
