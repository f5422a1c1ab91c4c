#include "options.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <charconv>
#include <netdb.h>
#include <netinet/in.h>
#include <numeric>
#include <sys/socket.h>
#include <vector>

namespace wsm::loadgen {

namespace {

bool is_loopback(const sockaddr* a) {
  if (a->sa_family == AF_INET) {
    return (ntohl(reinterpret_cast<const sockaddr_in*>(a)->sin_addr.s_addr) >> 24) == 127;
  }
  if (a->sa_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6*>(a)->sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(&in6) != 0;
  }
  return false;
}

}  // namespace

std::optional<Target> parse_loopback_url(const std::string& url, std::string& error) {
  constexpr std::string_view scheme = "ws://";
  if (!url.starts_with(scheme)) {
    error = "--url must start with ws:// (got '" + url + "')";
    return std::nullopt;
  }
  std::string_view rest = std::string_view(url).substr(scheme.size());
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  Target t;
  t.path = slash == std::string_view::npos ? "/ws" : std::string(rest.substr(slash));
  const auto colon = authority.rfind(':');
  if (colon == std::string_view::npos || authority.ends_with("]")) {
    error = "--url needs a port: ws://127.0.0.1:PORT/ws";
    return std::nullopt;
  }
  t.host = std::string(authority.substr(0, colon));
  t.port = std::string(authority.substr(colon + 1));
  if (t.host.size() > 2 && t.host.front() == '[' && t.host.back() == ']') t.host = t.host.substr(1, t.host.size() - 2);
  unsigned port = 0;
  auto [p, ec] = std::from_chars(t.port.data(), t.port.data() + t.port.size(), port);
  if (ec != std::errc{} || p != t.port.data() + t.port.size() || port == 0 || port > 65535) {
    error = "--url has a bad port '" + t.port + "'";
    return std::nullopt;
  }
  // Only loopback: the load generator never sends traffic off this host.
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(t.host.c_str(), t.port.c_str(), &hints, &found); rc != 0) {
    error = "cannot resolve '" + t.host + "': " + ::gai_strerror(rc);
    return std::nullopt;
  }
  bool loopback = found != nullptr;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) loopback = loopback && is_loopback(a->ai_addr);
  ::freeaddrinfo(found);
  if (!loopback) {
    error = "refusing '" + t.host + "': wsm-loadgen only targets loopback addresses (127.0.0.0/8, ::1)";
    return std::nullopt;
  }
  return t;
}

bool parse_mix(const std::string& text, std::array<unsigned, kRoles>& mix, std::string& error) {
  mix.fill(0);
  std::string_view rest = text;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    const auto eq = item.find('=');
    const auto role = ws::parse_label_value<ws::Role>(item.substr(0, eq));
    unsigned weight = 0;
    const std::string_view w = eq == std::string_view::npos ? std::string_view{} : item.substr(eq + 1);
    auto [p, ec] = std::from_chars(w.data(), w.data() + w.size(), weight);
    if (!role || *role == ws::Role::unknown || ec != std::errc{} || p != w.data() + w.size() || weight > 1000) {
      error = "--mix entry '" + std::string(item) + "' is not ROLE=WEIGHT (roles: doctor, nurse, "
              "patient_monitor, admin; weights 0-1000)";
      return false;
    }
    mix[static_cast<std::size_t>(*role)] = weight;
  }
  if (std::accumulate(mix.begin(), mix.end(), 0u) == 0) {
    error = "--mix gives every role weight 0";
    return false;
  }
  return true;
}

std::vector<ws::Role> assign_roles(unsigned clients, const std::array<unsigned, kRoles>& mix) {
  const unsigned total = std::accumulate(mix.begin(), mix.end(), 0u);
  std::array<unsigned, kRoles> count{};
  std::array<std::pair<unsigned, std::size_t>, kRoles> remainder{};
  unsigned given = 0;
  for (std::size_t r = 0; r < kRoles; ++r) {
    count[r] = clients * mix[r] / total;
    remainder[r] = {clients * mix[r] % total, r};
    given += count[r];
  }
  std::sort(remainder.begin(), remainder.end(), std::greater<>());
  for (std::size_t k = 0; given < clients; ++k, ++given) ++count[remainder[k % kRoles].second];
  std::vector<ws::Role> roles;
  const std::size_t monitor = static_cast<std::size_t>(ws::Role::patient_monitor);
  roles.insert(roles.end(), count[monitor], ws::Role::patient_monitor);
  for (std::size_t r = 0; r < kRoles; ++r) {
    if (r != monitor) roles.insert(roles.end(), count[r], static_cast<ws::Role>(r));
  }
  return roles;
}

}  // namespace wsm::loadgen
