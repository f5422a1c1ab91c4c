#include "wsm/exporter/web_config.hpp"

#include <algorithm>
#include <crypt.h>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <strings.h>
#include <yaml-cpp/yaml.h>

namespace wsm::exporter {

namespace {

constexpr std::size_t kRemembered = 64;  // credential pairs that passed (a few scrapers)
constexpr std::size_t kMaxCredentials = 1024;  // longer Authorization values are refused unread

// Hash families libcrypt checks that are still considered strong.
constexpr std::string_view kStrongPrefixes[] = {"$2a$", "$2b$", "$2y$", "$y$", "$gy$", "$7$", "$6$", "$5$"};

// crypt(3) of `password` with the salt and cost of `hash`; empty when libcrypt refuses the hash.
std::string crypt_with(const std::string& password, const std::string& hash) {
  auto data = std::make_unique<crypt_data>();  // ~32 KiB: not on a worker thread's stack
  const char* out = ::crypt_r(password.c_str(), hash.c_str(), data.get());
  if (out == nullptr || out[0] == '*') return {};
  return out;
}

bool strong(const std::string& hash) {
  return std::any_of(std::begin(kStrongPrefixes), std::end(kStrongPrefixes),
                     [&](std::string_view p) { return hash.starts_with(p); });
}

std::string digest(std::string_view user, std::string_view password, std::string_view hash) {
  std::string input;
  input.append(user).push_back('\0');
  input.append(password).push_back('\0');
  input.append(hash);
  std::string out(EVP_MAX_MD_SIZE, '\0');
  unsigned size = 0;
  ::EVP_Digest(input.data(), input.size(), reinterpret_cast<unsigned char*>(out.data()), &size, ::EVP_sha256(),
               nullptr);
  out.resize(size);
  return out;
}

// "Basic dXNlcjpwYXNz" -> "user:pass"; nullopt when not Basic or not base64.
std::optional<std::string> basic_credentials(std::string_view header) {
  constexpr std::string_view kScheme = "basic ";
  if (header.size() <= kScheme.size() || header.size() > kMaxCredentials ||
      ::strncasecmp(header.data(), kScheme.data(), kScheme.size()) != 0) {
    return std::nullopt;
  }
  std::string_view b64 = header.substr(kScheme.size());
  while (!b64.empty() && b64.front() == ' ') b64.remove_prefix(1);
  while (!b64.empty() && b64.back() == ' ') b64.remove_suffix(1);
  if (b64.empty() || b64.size() % 4 != 0) return std::nullopt;
  std::string out(b64.size() / 4 * 3, '\0');
  const int n = ::EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(b64.data()), static_cast<int>(b64.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts the padding as decoded zero bytes.
  const std::size_t padding = static_cast<std::size_t>(std::count(b64.end() - 2, b64.end(), '='));
  out.resize(static_cast<std::size_t>(n) - padding);
  return out;
}

Result<std::string> readable_file(const std::filesystem::path& dir, const std::string& value,
                                  const std::string& what) {
  if (value.empty()) return fail(Errc::invalid_argument, what + ": expected a file path");
  const std::filesystem::path p = std::filesystem::path(value).is_absolute() ? std::filesystem::path(value) : dir / value;
  if (!std::ifstream(p)) return fail(Errc::invalid_argument, what + ": cannot read '" + p.string() + "'");
  return p.string();
}

}  // namespace

Result<WebConfig> load_web_config(const std::string& path) {
  const std::string source = "--web-config " + path;
  YAML::Node doc;
  try {
    doc = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return fail(Errc::invalid_argument, source + ": cannot read the file");
  } catch (const YAML::Exception& e) {
    return fail(Errc::invalid_argument, source + ": not valid YAML (" + e.what() + ")");
  }
  WebConfig config;
  if (doc.IsNull()) return config;  // an empty file: plain HTTP, no users
  if (!doc.IsMap()) return fail(Errc::invalid_argument, source + ": expected a mapping of settings");
  const std::filesystem::path dir = std::filesystem::absolute(path).parent_path();
  try {
    for (const auto& entry : doc) {
      const std::string key = entry.first.as<std::string>();
      const YAML::Node& value = entry.second;
      const std::string where = source + ": " + key;
      if (key == "tls_server_config") {
        if (!value.IsMap()) return fail(Errc::invalid_argument, where + ": expected a mapping (cert_file, key_file)");
        for (const auto& tls : value) {
          const std::string k = tls.first.as<std::string>();
          if (k != "cert_file" && k != "key_file") {
            return fail(Errc::invalid_argument, where + "." + k +
                                                    ": not supported by wsm-exporter (supported: cert_file, key_file)");
          }
          if (!tls.second.IsScalar()) return fail(Errc::invalid_argument, where + "." + k + ": expected a file path");
          auto file = readable_file(dir, tls.second.as<std::string>(), where + "." + k);
          if (!file) return std::unexpected(file.error());
          (k == "cert_file" ? config.cert_file : config.key_file) = *file;
        }
        if (config.cert_file.empty() != config.key_file.empty()) {
          return fail(Errc::invalid_argument, where + ": expected both cert_file and key_file");
        }
      } else if (key == "basic_auth_users") {
        if (!value.IsMap()) return fail(Errc::invalid_argument, where + ": expected a mapping of user: hash");
        for (const auto& user : value) {
          const std::string name = user.first.as<std::string>();
          const std::string hash = user.second.IsScalar() ? user.second.as<std::string>() : "";
          if (name.empty() || name.find(':') != std::string::npos) {
            return fail(Errc::invalid_argument, where + ": user '" + name + "': a user name has no ':' and is not empty");
          }
          if (!strong(hash) || crypt_with("", hash).empty()) {
            return fail(Errc::invalid_argument,
                        where + "." + name + ": expected a bcrypt ($2y$), yescrypt ($y$) or sha-crypt ($6$, $5$) "
                                             "hash, e.g. from `htpasswd -nBC 10 " + name + "` or `openssl passwd -6`");
          }
          config.users[name] = hash;
        }
      } else {
        return fail(Errc::invalid_argument, where + ": unknown key; expected tls_server_config or basic_auth_users");
      }
    }
  } catch (const YAML::Exception& e) {
    return fail(Errc::invalid_argument, source + ": " + e.what());
  }
  return config;
}

bool BasicAuth::allows(std::string_view authorization) {
  if (users_.empty()) return false;
  const auto credentials = basic_credentials(authorization);
  if (!credentials) return false;
  const std::size_t colon = credentials->find(':');
  if (colon == std::string::npos) return false;
  const std::string user = credentials->substr(0, colon), password = credentials->substr(colon + 1);
  const auto it = users_.find(user);
  if (it == users_.end()) {
    // As slow as a wrong password, so the time of a 401 does not tell which user names exist.
    (void)crypt_with(password, users_.begin()->second);
    return false;
  }
  const std::string d = digest(user, password, it->second);
  {
    std::lock_guard lock(mutex_);
    for (const std::string& p : passed_) {
      if (::CRYPTO_memcmp(p.data(), d.data(), d.size()) == 0) return true;
    }
  }
  const std::string computed = crypt_with(password, it->second);
  if (computed.size() != it->second.size() ||
      ::CRYPTO_memcmp(computed.data(), it->second.data(), computed.size()) != 0) {
    return false;
  }
  std::lock_guard lock(mutex_);
  if (passed_.size() >= kRemembered) passed_.erase(passed_.begin());
  passed_.push_back(d);
  return true;
}

}  // namespace wsm::exporter
