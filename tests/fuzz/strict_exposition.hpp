// A strict reader of the two exposition formats the exporter writes, for the fuzz targets: every
// line must be exactly what the format allows (Prometheus text 0.0.4; OpenMetrics 1.0.0), escapes
// included, and every decoded string valid UTF-8. It is deliberately narrower than the formats
// (no timestamps, no comments other than HELP/TYPE/UNIT/EOF, no trailing commas): what the
// exporter never writes is an error here, so a change in its output is noticed.
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wsm::fuzz {

struct StrictSample {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;  // decoded, in written order
  std::string value;                                        // as written
};

struct StrictFamily {
  std::string name, help, type, unit;  // help decoded
  std::vector<StrictSample> samples;
};

// The families of `text`, or what is wrong with it (with the line).
[[nodiscard]] std::expected<std::vector<StrictFamily>, std::string> parse_strict(std::string_view text,
                                                                                 bool openmetrics);

// Length of the well-formed UTF-8 sequence at s[i] (RFC 3629: no overlongs, no surrogates,
// nothing above U+10FFFF), 0 when there is none.
[[nodiscard]] std::size_t utf8_sequence(std::string_view s, std::size_t i);
[[nodiscard]] bool valid_utf8(std::string_view s);
// s with every byte that starts no well-formed sequence replaced by U+FFFD.
[[nodiscard]] std::string replace_invalid_utf8(std::string_view s);

}  // namespace wsm::fuzz
