// Appends to a std::string through a raw cursor: the caller makes room once per sample (room()),
// then every piece is one memcpy with no capacity check, and numbers go through std::to_chars
// straight into the buffer. The string keeps its capacity between scrapes (growing it within the
// capacity neither allocates nor zero-fills), so a scrape of a known size allocates nothing.
#pragma once

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace wsm::exposition {

class TextCursor {
 public:
  // Room a number needs: 20 digits of a u64, or the shortest round-trip text of a double (at most
  // 24 characters) or "+Inf"/"-Inf"/"NaN".
  static constexpr std::size_t kNumberRoom = 32;

  explicit TextCursor(std::string& out) : out_(out), length_(out.size()) {}
  ~TextCursor() { out_.resize(length_); }
  TextCursor(const TextCursor&) = delete;
  TextCursor& operator=(const TextCursor&) = delete;

  // At least n more bytes can be put without another room().
  void room(std::size_t n) {
    if (length_ + n > out_.size()) grow(length_ + n);
  }
  void put(std::string_view s) noexcept {
    std::memcpy(out_.data() + length_, s.data(), s.size());
    length_ += s.size();
  }
  void put(char c) noexcept { out_[length_++] = c; }
  // Where the next byte goes: an offset, valid across room().
  [[nodiscard]] std::size_t length() const noexcept { return length_; }
  // The n bytes put at offset `at` once more.
  void put_again(std::size_t at, std::size_t n) noexcept {
    std::memcpy(out_.data() + length_, out_.data() + at, n);
    length_ += n;
  }
  // Shortest text that reads back as the same number (the caller made kNumberRoom of room).
  void put_number(std::uint64_t value) noexcept {
    length_ = static_cast<std::size_t>(
        std::to_chars(out_.data() + length_, out_.data() + length_ + kNumberRoom, value).ptr - out_.data());
  }
  void put_number(double value) noexcept;
  // A number formatted before (at most kNumberRoom characters): the same digits again.
  void put_number(std::string_view formatted) noexcept { put(formatted); }

 private:
  void grow(std::size_t need) {
    // Bytes past length_ are overwritten before the destructor trims the string to length_. Up to
    // the capacity first: a cursor that starts on a string trimmed by the one before it (a scrape
    // writes in parts) must not double it, which copied a 7 MB body into a new 15 MB buffer.
    const std::size_t size = need <= out_.capacity()
                                 ? out_.capacity()
                                 : std::max({need, 2 * out_.capacity(), std::size_t{1} << 16});
    out_.resize_and_overwrite(size, [](char*, std::size_t n) { return n; });
  }
  std::string& out_;
  std::size_t length_;
};

}  // namespace wsm::exposition
