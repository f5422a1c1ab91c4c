// Prometheus text format 0.0.4 and OpenMetrics 1.0.0 from an Aggregation, written into a buffer
// the caller keeps and reuses (clear() keeps its capacity, so a scrape allocates nothing once the
// buffer has grown to the exposition's size).
//
//  - HELP and TYPE for every family; OpenMetrics adds UNIT where the name carries one
//    (*_seconds, *_bytes, *_percent), names counter families without `_total`, gives counters
//    and histograms a `_created` sample (the segment's creation time: every count in a segment
//    started there), and ends with `# EOF`.
//  - Label values are stored escaped in the catalog (labels.hpp), so they are copied verbatim.
//    HELP text is escaped here per format (text: \\ and \n; OpenMetrics: also \").
//  - Histograms: classic cumulative `_bucket` lines at the family's fixed edges
//    (classic_buckets.hpp), `+Inf` == `_count`, `_sum` in base units (seconds from ns).
//  - Exemplars (OpenMetrics only, never text 0.0.4): a point's most recent exemplar
//    (Aggregation::exemplars) follows the `_bucket` line whose `le` is the first edge >= its value
//    (the bucket that counted it), or a counter's `_total` line:
//    ` # {trace_id="<32 hex>",span_id="<16 hex>"} <value in base unit> <unix seconds, ms>`.
//  - Families the caller computes (derived, resource and self metrics) follow the segment's; a
//    segment family with the name of a computed one is left out, so no name appears twice.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "wsm/exposition/classic_buckets.hpp"
#include "wsm/shm/aggregation.hpp"

namespace wsm::exposition {

enum class Format { prometheus_text, openmetrics };

[[nodiscard]] std::string_view content_type(Format format) noexcept;

// One sample of a computed family: canonical (escaped, sorted) labels and a value.
struct Sample {
  std::string labels;
  double value = 0;
};

// A counter or gauge family the exporter computes itself.
struct ComputedFamily {
  std::string name;  // as in the text format (counters end in _total)
  std::string help;
  shm::MetricType type = shm::MetricType::gauge;
  std::vector<Sample> samples;
};

class TextCursor;  // text_cursor.hpp

class Writer {
 public:
  // Appends the exposition to `out` (which the caller clears): the segment's families (nullptr:
  // none, e.g. no segment attached yet), then `computed`. `created_unix_seconds` is the
  // OpenMetrics `_created` of segment counters and histograms, and of computed counters.
  void write(Format format, const shm::Aggregation* segment,
             std::span<const ComputedFamily> computed, double created_unix_seconds,
             std::string& out);

  // The same in parts, for a caller that hands the segment's points over a part at a time
  // (Tally::next_part): begin(), part() for each part in exposition order, each of whole
  // families, then end(). `computed` and `out` must stay as they are until end(). A part may be
  // written on another thread than begin() and end() (the scrape's PartWriter), one call at a time.
  void begin(Format format, std::span<const ComputedFamily> computed, double created_unix_seconds,
             std::string& out);
  void part(const shm::AggregationView& segment);
  void end();

 private:
  // Everything about a family that does not change between scrapes, formatted once.
  struct FamilyText {
    shm::MetricType type{};
    std::uint8_t max_octave = 0;
    std::string help;               // raw, to notice a re-created segment's different family
    std::string header[2];          // # HELP / # TYPE (/ # UNIT) lines, per Format
    std::string sample_name[2];     // counter samples: name vs OpenMetrics name_total
    std::string created_name;       // OpenMetrics <family>_created
    std::vector<ClassicEdge> edges; // histograms
    // Per edge, then +Inf: what follows a bucket line's labels, `le="<edge in base units>"} `.
    std::vector<std::string> le_close;
  };
  const FamilyText& family_text(std::string_view name, std::string_view help, shm::MetricType type,
                                shm::Unit unit, std::uint8_t max_octave);
  static void put_histogram(TextCursor& t, const FamilyText& ft, const shm::Point& p,
                            std::span<const std::uint64_t> buckets, std::string_view labels,
                            const shm::ExemplarData* exemplar, bool om, std::string_view created);

  // The exposition under way (begin() to end()).
  struct Exposition {
    Format format = Format::prometheus_text;
    std::span<const ComputedFamily> computed;
    std::string created;  // the formatted _created value
    std::string* out = nullptr;
    std::unordered_set<std::string_view> taken;  // names of computed families
    const shm::FamilyInfo* family = nullptr;  // of the last segment point written
    const FamilyText* text = nullptr;         // its text, nullptr when left out for a computed one
  };
  Exposition now_;
  std::unordered_map<std::string, FamilyText> cache_;
  std::string scratch_;  // labels of the current sample (worker label appended)
};

// Shortest text that reads back as the same double; NaN, +Inf, -Inf as Prometheus spells them.
void append_number(std::string& out, double value);
void append_number(std::string& out, std::uint64_t value);

}  // namespace wsm::exposition
