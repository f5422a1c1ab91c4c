#include "wsm/exposition/format.hpp"

#include <charconv>
#include <cmath>
#include <span>
#include <unordered_set>

#include "label_prefetch.hpp"
#include "text_cursor.hpp"
#include "wsm/shm/labels.hpp"

namespace wsm::exposition {

namespace {

constexpr std::size_t kText = 0;
constexpr std::size_t kOpenMetrics = 1;

std::size_t index_of(Format f) { return f == Format::openmetrics ? kOpenMetrics : kText; }

// HELP text: the text format knows the escapes \\ and \n only (a \" would be an error there);
// OpenMetrics escapes " as well, exactly like a label value. Invalid UTF-8 becomes U+FFFD in both.
void append_help(std::string& out, std::string_view help, Format format) {
  if (help.empty()) help = "No help text registered.";
  if (format == Format::openmetrics) {
    shm::escape_label_value(help, out);
    return;
  }
  for (std::size_t start = 0;;) {
    const std::size_t quote = help.find('"', start);
    shm::escape_label_value(help.substr(start, quote - start), out);
    if (quote == std::string_view::npos) return;
    out += '"';
    start = quote + 1;
  }
}

// name{labels,extra} followed by a space; braces only when there is a label.
void put_series(TextCursor& t, std::string_view name, std::string_view suffix, std::string_view labels,
                std::string_view extra) {
  t.room(name.size() + suffix.size() + labels.size() + extra.size() + 4 + TextCursor::kNumberRoom + 1);
  t.put(name);
  t.put(suffix);
  if (!labels.empty() || !extra.empty()) {
    t.put('{');
    t.put(labels);
    if (!labels.empty() && !extra.empty()) t.put(',');
    t.put(extra);
    t.put('}');
  }
  t.put(' ');
}

// An OpenMetrics exemplar after a sample's value: ` # {trace_id="..",span_id=".."} value time`.
void put_exemplar(TextCursor& t, const shm::ExemplarData& e, shm::Unit unit) {
  constexpr char kHex[] = "0123456789abcdef";
  constexpr std::string_view kTrace = " # {trace_id=\"", kSpan = "\",span_id=\"", kEnd = "\"} ";
  t.room(kTrace.size() + 32 + kSpan.size() + 16 + kEnd.size() + 2 * TextCursor::kNumberRoom + 1);
  const auto put_hex = [&](std::span<const std::uint8_t> bytes) {
    for (const std::uint8_t b : bytes) {
      t.put(kHex[b >> 4]);
      t.put(kHex[b & 15]);
    }
  };
  t.put(kTrace);
  put_hex(e.trace_id);
  t.put(kSpan);
  put_hex(e.span_id);
  t.put(kEnd);
  t.put_number(shm::to_base_unit(unit, e.value));
  t.put(' ');
  // Seconds with millisecond precision: what Prometheus keeps of an exemplar's timestamp.
  t.put_number(static_cast<double>(e.unix_ns / 1'000'000) / 1e3);
}

// One sample line: series, value, the exemplar if any, newline (put_series made room for the
// number).
template <class Number>
void put_sample(TextCursor& t, std::string_view name, std::string_view suffix, std::string_view labels,
                std::string_view extra, Number value, const shm::ExemplarData* exemplar = nullptr,
                shm::Unit unit = shm::Unit::none) {
  put_series(t, name, suffix, labels, extra);
  t.put_number(value);
  if (exemplar != nullptr) put_exemplar(t, *exemplar, unit);
  t.put('\n');
}

// OpenMetrics names a counter family without its _total; the samples carry it. A counter named
// just "_total" (a valid metric name) keeps it: an empty family name would make the whole
// exposition unparsable.
std::string_view family_name(std::string_view name, shm::MetricType type, Format format) {
  if (format == Format::openmetrics && type == shm::MetricType::counter && name.ends_with("_total") &&
      name.size() > 6) {
    name.remove_suffix(6);
  }
  return name;
}

}  // namespace

std::string_view content_type(Format format) noexcept {
  return format == Format::openmetrics ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
                                       : "text/plain; version=0.0.4; charset=utf-8";
}

void append_number(std::string& out, double value) {
  TextCursor t(out);
  t.room(TextCursor::kNumberRoom);
  t.put_number(value);
}

void append_number(std::string& out, std::uint64_t value) {
  TextCursor t(out);
  t.room(TextCursor::kNumberRoom);
  t.put_number(value);
}

void TextCursor::put_number(double value) noexcept {
  if (std::isnan(value)) {
    put("NaN");
  } else if (std::isinf(value)) {
    put(value > 0 ? "+Inf" : "-Inf");
  } else {
    length_ = static_cast<std::size_t>(
        std::to_chars(out_.data() + length_, out_.data() + length_ + kNumberRoom, value).ptr - out_.data());
  }
}

const Writer::FamilyText& Writer::family_text(std::string_view name, std::string_view help,
                                              shm::MetricType type, shm::Unit unit,
                                              std::uint8_t max_octave) {
  auto [it, fresh] = cache_.try_emplace(std::string(name));
  FamilyText& f = it->second;
  if (!fresh && f.type == type && f.max_octave == max_octave && f.help == help) return f;
  f = FamilyText{};
  f.type = type;
  f.max_octave = max_octave;
  f.help = help;
  for (Format format : {Format::prometheus_text, Format::openmetrics}) {
    const std::string_view fam = family_name(name, type, format);
    std::string& h = f.header[index_of(format)];
    h.append("# HELP ").append(fam).append(" ");
    append_help(h, help, format);
    h.append("\n# TYPE ").append(fam).append(" ").append(shm::metric_type_name(type)).append("\n");
    const std::string_view unit_word = shm::unit_suffix(unit);
    // OpenMetrics wants the unit as the family name's suffix; a name that does not end in it
    // (e.g. a gauge named *_seconds_total) gets no UNIT line rather than an invalid one.
    if (format == Format::openmetrics && !unit_word.empty() && fam.ends_with(unit_word) &&
        fam.size() > unit_word.size() && fam[fam.size() - unit_word.size() - 1] == '_') {
      h.append("# UNIT ").append(fam).append(" ").append(unit_word).append("\n");
    }
    f.sample_name[index_of(format)] =
        type == shm::MetricType::counter && format == Format::openmetrics ? std::string(fam) + "_total"
                                                                          : std::string(name);
    if (format == Format::openmetrics) f.created_name = std::string(fam) + "_created";
  }
  if (type == shm::MetricType::histogram) {
    f.edges = classic_edges(unit, max_octave);
    for (const ClassicEdge& e : f.edges) {
      std::string le = "le=\"";
      append_number(le, shm::to_base_unit(unit, e.edge));
      f.le_close.push_back(std::move(le) + "\"} ");
    }
    f.le_close.emplace_back("le=\"+Inf\"} ");
  }
  return f;
}

void Writer::write(Format format, const shm::Aggregation* segment,
                   std::span<const ComputedFamily> computed, double created_unix_seconds,
                   std::string& out) {
  begin(format, computed, created_unix_seconds, out);
  if (segment != nullptr) part(segment->view());
  end();
}

void Writer::begin(Format format, std::span<const ComputedFamily> computed, double created_unix_seconds,
                   std::string& out) {
  now_.format = format;
  now_.computed = computed;
  now_.created.clear();
  append_number(now_.created, created_unix_seconds);
  now_.out = &out;
  now_.taken.clear();
  for (const ComputedFamily& c : computed) now_.taken.insert(c.name);
  now_.family = nullptr;
  now_.text = nullptr;
}

void Writer::part(const shm::AggregationView& segment) {
  const std::size_t fi = index_of(now_.format);
  const bool om = now_.format == Format::openmetrics;
  const std::string_view created = now_.created;
  TextCursor t(*now_.out);
  const std::span<const shm::Point> points = segment.points;
  for (std::size_t i = 0; i < points.size(); ++i) {
    prefetch_labels_ahead(points, i);
    const shm::Point& p = points[i];
    const shm::FamilyInfo& fam = *p.family;
    if (&fam != now_.family) {
      now_.family = &fam;
      now_.text = now_.taken.contains(fam.name)
                      ? nullptr
                      : &family_text(fam.name, fam.help, fam.type, fam.unit, fam.max_octave);
      if (now_.text != nullptr) {
        t.room(now_.text->header[fi].size());
        t.put(now_.text->header[fi]);
      }
    }
    const FamilyText* ft = now_.text;
    if (ft == nullptr) continue;
    const std::string_view labels = p.labels;
    // Exemplars are OpenMetrics only: the text format 0.0.4 has no syntax for them.
    const shm::ExemplarData* exemplar =
        om && p.exemplar != shm::Point::kNoExemplar ? &segment.exemplars[p.exemplar] : nullptr;
    switch (fam.type) {
      case shm::MetricType::counter:
        put_sample(t, ft->sample_name[fi], "", labels, "", p.counter, exemplar, fam.unit);
        if (om) put_sample(t, ft->created_name, "", labels, "", created);
        break;
      case shm::MetricType::gauge:
        scratch_.clear();
        if (p.worker >= 0) {
          scratch_.append("worker=\"");
          append_number(scratch_, static_cast<std::uint64_t>(p.worker));
          scratch_ += '"';
        }
        put_sample(t, ft->sample_name[fi], "", labels, scratch_, p.gauge);
        break;
      case shm::MetricType::histogram:
        put_histogram(t, *ft, p, segment.buckets_of(p), labels, exemplar, om, created);
        break;
    }
  }
}

void Writer::end() {
  const std::size_t fi = index_of(now_.format);
  const bool om = now_.format == Format::openmetrics;
  TextCursor t(*now_.out);
  for (const ComputedFamily& c : now_.computed) {
    if (c.samples.empty()) continue;
    const FamilyText& ft = family_text(c.name, c.help, c.type, shm::unit_from_name(c.name), 0);
    t.room(ft.header[fi].size());
    t.put(ft.header[fi]);
    for (const Sample& s : c.samples) {
      put_sample(t, ft.sample_name[fi], "", s.labels, "", s.value);
      if (om && c.type == shm::MetricType::counter) {
        put_sample(t, ft.created_name, "", s.labels, "", std::string_view(now_.created));
      }
    }
  }
  if (om) {
    t.room(6);
    t.put("# EOF\n");
  }
  now_.out = nullptr;
  now_.computed = {};
  now_.taken.clear();  // views of the computed families' names
}

void Writer::put_histogram(TextCursor& t, const FamilyText& ft, const shm::Point& p,
                           std::span<const std::uint64_t> buckets, std::string_view labels,
                           const shm::ExemplarData* exemplar, bool om, std::string_view created) {
  const shm::FamilyInfo& fam = *p.family;
  // The cumulative count at each classic edge. Most HDR buckets of a series are empty, so the
  // walk skips to the next non-empty bucket, and an edge whose count did not change since the
  // last one reuses that number's digits: runs of empty buckets cost no addition and no
  // formatting, only the line itself (every edge is exposed in every scrape: rate() needs it).
  std::uint64_t cumulative = 0;
  std::uint32_t next = 0;
  char digits[TextCursor::kNumberRoom];
  std::size_t digits_size = 1;
  digits[0] = '0';
  // The exemplar goes on the line of the bucket that counted its value: the first edge >= it
  // (a value v is counted in the bucket of v-1, so an edge equal to v counts it), else +Inf.
  const auto exemplar_on = [&](std::size_t e) {
    return exemplar != nullptr && exemplar->value <= ft.edges[e].edge &&
           (e == 0 || exemplar->value > ft.edges[e - 1].edge) ? exemplar : nullptr;
  };
  const bool exemplar_above = exemplar != nullptr && (ft.edges.empty() || exemplar->value > ft.edges.back().edge);
  // Every bucket line of the series starts `name_bucket{labels,`: put once, then copied whole
  // from the line before, where put_sample puts a line's start piece by piece.
  t.room(fam.name.size() + 8 + labels.size() + 1);
  std::size_t line = t.length();
  t.put(fam.name);
  t.put("_bucket{");
  if (!labels.empty()) {
    t.put(labels);
    t.put(',');
  }
  const std::size_t start = t.length() - line;
  // `number`: the count, or digits formatted before (both TextCursor::put_number).
  const auto put_line = [&](std::size_t e, auto number, const shm::ExemplarData* on) {
    t.room(start + ft.le_close[e].size() + TextCursor::kNumberRoom + 1);
    if (e != 0) {
      const std::size_t from = line;
      line = t.length();
      t.put_again(from, start);
    }
    t.put(ft.le_close[e]);
    t.put_number(number);
    if (on != nullptr) put_exemplar(t, *on, fam.unit);
    t.put('\n');
  };
  for (std::size_t e = 0; e < ft.edges.size(); ++e) {
    const std::uint64_t before = cumulative;
    for (const std::uint32_t last = ft.edges[e].last_bucket; next <= last && next < buckets.size(); ++next) {
      cumulative += buckets[next];
    }
    if (cumulative != before) {
      digits_size = static_cast<std::size_t>(std::to_chars(digits, digits + sizeof digits, cumulative).ptr - digits);
    }
    put_line(e, std::string_view(digits, digits_size), exemplar_on(e));
  }
  put_line(ft.edges.size(), p.count, exemplar_above ? exemplar : nullptr);
  const double sum = shm::to_base_unit(fam.unit, p.sum);
  if (om) {
    put_sample(t, fam.name, "_count", labels, "", p.count);
    put_sample(t, fam.name, "_sum", labels, "", sum);
    put_sample(t, ft.created_name, "", labels, "", created);
  } else {
    put_sample(t, fam.name, "_sum", labels, "", sum);
    put_sample(t, fam.name, "_count", labels, "", p.count);
  }
}

}  // namespace wsm::exposition
