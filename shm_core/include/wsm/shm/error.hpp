// Errors of fallible calls: a code to branch on and a message that names the thing and the fix.
#pragma once

#include <expected>
#include <string>
#include <utility>

namespace wsm {

enum class Errc {
  not_found,           // no such segment, metric or series
  already_exists,      // the segment exists (create only)
  incompatible,        // other magic, layout version or layout hash
  corrupt,             // an offset, length or state that cannot be right
  timeout,             // the creator did not finish initialising in time
  invalid_argument,    // a bad name, label, limit or flag
  type_mismatch,       // a family registered again with another type
  full,                // no room left (catalog, strings, writer slots)
  permission,          // the OS refused access
  busy,                // another running process holds what we need (the reap lock)
  system,              // any other OS error
};

class Error {
 public:
  Error(Errc code, std::string message) : code_(code), message_(std::move(message)) {}
  [[nodiscard]] Errc code() const noexcept { return code_; }
  [[nodiscard]] const std::string& message() const noexcept { return message_; }

 private:
  Errc code_;
  std::string message_;
};

template <class T>
using Result = std::expected<T, Error>;

[[nodiscard]] inline std::unexpected<Error> fail(Errc code, std::string message) {
  return std::unexpected<Error>(std::in_place, code, std::move(message));
}

}  // namespace wsm
