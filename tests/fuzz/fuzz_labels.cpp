// Label names and values: canonical_labels must accept or refuse cleanly, and what it accepts must
// have no raw newline, parse back to as many pairs as were given, with valid names, and re-escaping a
// parsed value must reproduce it (escaping is stable once invalid UTF-8 became U+FFFD).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "wsm/shm/labels.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Input: name \0 value \0 name \0 value ...
  const std::string input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= input.size(); ++i) {
    if (i == input.size() || input[i] == '\0') {
      parts.push_back(input.substr(start, i - start));
      start = i + 1;
    }
  }
  std::vector<wsm::Label> labels;
  for (std::size_t i = 0; i + 1 < parts.size(); i += 2) labels.emplace_back(parts[i], parts[i + 1]);
  auto canonical = wsm::shm::canonical_labels(labels);
  if (!canonical) return 0;
  if (canonical->find('\n') != std::string::npos) std::abort();
  std::vector<std::pair<std::string, std::string>> parsed;
  if (!wsm::shm::parse_canonical_labels(*canonical, parsed) || parsed.size() != labels.size()) {
    std::abort();
  }
  for (const auto& [name, value] : parsed) {
    if (!wsm::shm::validate_label_name(name)) std::abort();
    std::string escaped;
    wsm::shm::escape_label_value(value, escaped);
    std::vector<std::pair<std::string, std::string>> one;
    if (!wsm::shm::parse_canonical_labels(name + "=\"" + escaped + "\"", one) || one.size() != 1 ||
        one[0].second != value) {
      std::abort();
    }
  }
  return 0;
}
