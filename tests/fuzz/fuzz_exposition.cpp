// Exposition escaping: a family with an arbitrary name, HELP text, label names and values and
// value goes through the exporter's exposition writer in both formats, and the output must pass
// the strict reader (strict_exposition.hpp) and read back as what went in: the HELP text and every
// label value exactly (invalid UTF-8 replaced by U+FFFD byte by byte), the value bit for bit.
//
// Input: byte 0 chooses the type (bit 0: counter or gauge), bytes 1-8 are the value (a double),
// then NUL-separated: name, help, label name, label value, label name, label value, ...
// Names the registry would refuse are left out, as the registry leaves them out of a segment.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <cstdio>
#include <string>
#include <vector>

#include "strict_exposition.hpp"
#include "wsm/exposition/format.hpp"
#include "wsm/shm/labels.hpp"

namespace {

[[noreturn]] void mismatch(const std::string& what, const std::string& text) {
  std::fprintf(stderr, "fuzz_exposition: %s\n--- exposition ---\n%s---\n", what.c_str(), text.c_str());
  std::abort();
}

std::vector<std::string> split(std::string_view s) {
  std::vector<std::string> parts;
  for (std::size_t start = 0;;) {
    const std::size_t z = s.find('\0', start);
    parts.emplace_back(s.substr(start, z - start));
    if (z == std::string_view::npos) return parts;
    start = z + 1;
  }
}

bool same_value(const std::string& written, double value) {
  if (std::isnan(value)) return written == "NaN";
  if (std::isinf(value)) return written == (value > 0 ? "+Inf" : "-Inf");
  return std::bit_cast<std::uint64_t>(std::strtod(written.c_str(), nullptr)) ==
             std::bit_cast<std::uint64_t>(value) ||
         (value == 0 && std::strtod(written.c_str(), nullptr) == 0);  // -0 may read back as 0
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 9) return 0;
  const bool counter = (data[0] & 1) != 0;
  double value = 0;
  std::memcpy(&value, data + 1, 8);
  if (counter && !(value >= 0)) value = -value;  // the exporter's counters are never negative
  const auto parts = split({reinterpret_cast<const char*>(data + 9), size - 9});
  std::string name = parts[0];
  if (!wsm::shm::validate_metric_name(name)) return 0;
  if (counter && !name.ends_with("_total")) name += "_total";
  const std::string help = parts.size() > 1 ? parts[1] : "";
  std::vector<wsm::Label> labels;
  for (std::size_t i = 2; i + 1 < parts.size(); i += 2) labels.emplace_back(parts[i], parts[i + 1]);
  auto canonical = wsm::shm::canonical_labels(labels);
  if (!canonical) return 0;

  wsm::exposition::ComputedFamily family;
  family.name = name;
  family.help = help;
  family.type = counter ? wsm::shm::MetricType::counter : wsm::shm::MetricType::gauge;
  family.samples.push_back({*canonical, value});
  family.samples.push_back({"", 1});  // a sample without labels: no braces at all

  // What must read back: labels sorted by name, invalid UTF-8 replaced.
  std::vector<std::pair<std::string, std::string>> want_labels;
  for (const auto& [k, v] : labels) want_labels.emplace_back(std::string(k), wsm::fuzz::replace_invalid_utf8(v));
  std::sort(want_labels.begin(), want_labels.end());
  const std::string want_help = help.empty() ? "No help text registered." : wsm::fuzz::replace_invalid_utf8(help);

  wsm::exposition::Writer writer;
  for (bool om : {false, true}) {
    std::string text;
    writer.write(om ? wsm::exposition::Format::openmetrics : wsm::exposition::Format::prometheus_text,
                 nullptr, {&family, 1}, 1700000000.5, text);
    auto parsed = wsm::fuzz::parse_strict(text, om);
    if (!parsed) mismatch(parsed.error(), text);
    if (parsed->size() != 1) mismatch("expected one family", text);
    const wsm::fuzz::StrictFamily& f = parsed->front();
    // OpenMetrics counter families drop the _total, unless nothing would be left of the name.
    const std::string fam = om && counter && name.size() > 6 ? name.substr(0, name.size() - 6) : name;
    if (f.name != fam) mismatch("family name " + f.name, text);
    if (f.help != want_help) mismatch("HELP text does not read back", text);
    if (f.type != (counter ? "counter" : "gauge")) mismatch("type " + f.type, text);
    const std::size_t per_sample = om && counter ? 2 : 1;  // OpenMetrics counters add _created
    if (f.samples.size() != 2 * per_sample) mismatch("sample count", text);
    const wsm::fuzz::StrictSample& s = f.samples[0];
    if (s.name != (om && counter ? fam + "_total" : name)) mismatch("sample name " + s.name, text);
    if (s.labels != want_labels) mismatch("labels do not read back", text);
    if (!same_value(s.value, value)) mismatch("value " + s.value, text);
    if (!f.samples[per_sample].labels.empty()) mismatch("the label-less sample has labels", text);
  }
  return 0;
}
