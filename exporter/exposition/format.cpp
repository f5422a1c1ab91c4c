#include "wsm/exposition/format.hpp"

#include <charconv>
#include <cmath>
#include <unordered_set>

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
void append_series(std::string& out, std::string_view name, std::string_view suffix,
                   std::string_view labels, std::string_view extra) {
  out.append(name);
  out.append(suffix);
  if (!labels.empty() || !extra.empty()) {
    out += '{';
    out.append(labels);
    if (!labels.empty() && !extra.empty()) out += ',';
    out.append(extra);
    out += '}';
  }
  out += ' ';
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
  if (std::isnan(value)) {
    out += "NaN";
  } else if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
  } else {
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof buf, value);
    out.append(buf, r.ptr);
  }
}

void append_number(std::string& out, std::uint64_t value) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, r.ptr);
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
      le += '"';
      f.le.push_back(std::move(le));
    }
  }
  return f;
}

void Writer::write(Format format, const shm::Aggregation* segment,
                   std::span<const ComputedFamily> computed, double created_unix_seconds,
                   std::string& out) {
  const std::size_t fi = index_of(format);
  const bool om = format == Format::openmetrics;
  std::string created;
  append_number(created, created_unix_seconds);

  if (segment != nullptr) {
    std::unordered_set<std::string_view> taken;
    for (const ComputedFamily& c : computed) taken.insert(c.name);
    const shm::FamilyInfo* current = nullptr;
    const FamilyText* ft = nullptr;
    for (const shm::Point& p : segment->points) {
      const shm::FamilyInfo& fam = *p.family;
      if (&fam != current) {
        current = &fam;
        ft = taken.contains(fam.name) ? nullptr
                                      : &family_text(fam.name, fam.help, fam.type, fam.unit, fam.max_octave);
        if (ft != nullptr) out.append(ft->header[fi]);
      }
      if (ft == nullptr) continue;
      const std::string_view labels = p.series->labels;
      switch (fam.type) {
        case shm::MetricType::counter:
          append_series(out, ft->sample_name[fi], "", labels, "");
          append_number(out, p.counter);
          out += '\n';
          if (om) {
            append_series(out, ft->created_name, "", labels, "");
            out.append(created).append("\n");
          }
          break;
        case shm::MetricType::gauge:
          scratch_.clear();
          if (p.worker >= 0) {
            scratch_.append("worker=\"");
            append_number(scratch_, static_cast<std::uint64_t>(p.worker));
            scratch_ += '"';
          }
          append_series(out, ft->sample_name[fi], "", labels, scratch_);
          append_number(out, p.gauge);
          out += '\n';
          break;
        case shm::MetricType::histogram: {
          const auto buckets = segment->buckets_of(p);
          std::uint64_t cumulative = 0;
          std::uint32_t next = 0;
          for (std::size_t e = 0; e < ft->edges.size(); ++e) {
            for (const std::uint32_t last = ft->edges[e].last_bucket; next <= last && next < buckets.size(); ++next) {
              cumulative += buckets[next];
            }
            append_series(out, fam.name, "_bucket", labels, ft->le[e]);
            append_number(out, cumulative);
            out += '\n';
          }
          append_series(out, fam.name, "_bucket", labels, "le=\"+Inf\"");
          append_number(out, p.count);
          out += '\n';
          const double sum = shm::to_base_unit(fam.unit, p.sum);
          if (om) {
            append_series(out, fam.name, "_count", labels, "");
            append_number(out, p.count);
            out += '\n';
            append_series(out, fam.name, "_sum", labels, "");
            append_number(out, sum);
            out += '\n';
            append_series(out, ft->created_name, "", labels, "");
            out.append(created).append("\n");
          } else {
            append_series(out, fam.name, "_sum", labels, "");
            append_number(out, sum);
            out += '\n';
            append_series(out, fam.name, "_count", labels, "");
            append_number(out, p.count);
            out += '\n';
          }
          break;
        }
      }
    }
  }

  for (const ComputedFamily& c : computed) {
    if (c.samples.empty()) continue;
    const FamilyText& ft = family_text(c.name, c.help, c.type, shm::unit_from_name(c.name), 0);
    out.append(ft.header[fi]);
    for (const Sample& s : c.samples) {
      append_series(out, ft.sample_name[fi], "", s.labels, "");
      append_number(out, s.value);
      out += '\n';
      if (om && c.type == shm::MetricType::counter) {
        append_series(out, ft.created_name, "", s.labels, "");
        out.append(created).append("\n");
      }
    }
  }
  if (om) out.append("# EOF\n");
}

}  // namespace wsm::exposition
