// --web-config FILE: TLS and HTTP basic authentication for the exporter, in the YAML format of
// Prometheus's exporter-toolkit (the subset below), so one file can serve both:
//
//   tls_server_config:
//     cert_file: server.crt      # PEM certificate (a chain may follow the leaf)
//     key_file: server.key       # PEM private key, unencrypted
//   basic_auth_users:
//     alice: $2y$10$...          # crypt(3) hash: bcrypt ($2a$/$2b$/$2y$, `htpasswd -nBC 10 alice`),
//                                # yescrypt ($y$, `mkpasswd`), sha512-crypt ($6$, `openssl passwd -6`)
//
// Relative paths are relative to the file's directory. Either section may be absent; an unknown
// key, a half TLS section, an unreadable file or a hash libcrypt cannot check (or a weak one: DES,
// MD5) is an error naming the key. With TLS the port serves only HTTPS; with users every path
// answers 401 unless the request carries one of them.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "wsm/shm/error.hpp"

namespace wsm::exporter {

struct WebConfig {
  std::string cert_file, key_file;             // both or neither
  std::map<std::string, std::string> users;    // user -> crypt(3) hash
  [[nodiscard]] bool tls() const noexcept { return !cert_file.empty(); }
};

[[nodiscard]] Result<WebConfig> load_web_config(const std::string& path);

// Checks "Authorization: Basic ..." against the users. A password check with a strong hash takes
// tens of milliseconds by design; a scraper sends the same credentials every time, so a pair
// that passed is remembered as a SHA-256 digest (of user, password and hash) and later requests
// cost one digest.
class BasicAuth {
 public:
  explicit BasicAuth(std::map<std::string, std::string> users) : users_(std::move(users)) {}
  [[nodiscard]] bool enabled() const noexcept { return !users_.empty(); }
  // The Authorization header's value (empty when absent).
  [[nodiscard]] bool allows(std::string_view authorization);

 private:
  const std::map<std::string, std::string> users_;
  std::mutex mutex_;                 // passed_
  std::vector<std::string> passed_;  // digests of pairs that passed, at most kRemembered
};

}  // namespace wsm::exporter
