// Percent-encoding of a query-string component (RFC 3986: every byte but unreserved ones), for
// tests that build URLs and for the query fuzzer's round trip. Header-only: the fuzz build links
// no test support library.
#pragma once

#include <string>
#include <string_view>

namespace wsm::test {

[[nodiscard]] inline std::string url_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    const bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                            c == '-' || c == '_' || c == '.' || c == '~';
    if (unreserved) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace wsm::test
