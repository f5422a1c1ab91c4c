#include "wsm/exporter/negotiation.hpp"

#include <charconv>
#include <algorithm>
#include <cctype>

namespace wsm::exporter {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// One element of a comma-separated header: the value, its parameters, its q (default 1).
struct Element {
  std::string_view value;
  std::string_view version;  // the `version` parameter, if any
  double q = 1;
};

template <class Visit>
void for_each_element(std::string_view header, Visit visit) {
  while (!header.empty()) {
    const std::size_t comma = header.find(',');
    std::string_view item = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
    Element e;
    const std::size_t semi = item.find(';');
    e.value = trim(item.substr(0, semi));
    item = semi == std::string_view::npos ? std::string_view{} : item.substr(semi + 1);
    while (!item.empty()) {
      const std::size_t next = item.find(';');
      const std::string_view param = trim(item.substr(0, next));
      item = next == std::string_view::npos ? std::string_view{} : item.substr(next + 1);
      const std::size_t eq = param.find('=');
      if (eq == std::string_view::npos) continue;
      const std::string_view name = trim(param.substr(0, eq));
      std::string_view val = trim(param.substr(eq + 1));
      if (val.size() >= 2 && val.front() == '"' && val.back() == '"') val = val.substr(1, val.size() - 2);
      if (iequals(name, "q")) {
        double q = 0;
        const auto r = std::from_chars(val.data(), val.data() + val.size(), q);
        e.q = r.ec == std::errc() && q >= 0 && q <= 1 ? q : 0;
      } else if (iequals(name, "version")) {
        e.version = val;
      }
    }
    if (!e.value.empty()) visit(e);
  }
}

}  // namespace

exposition::Format negotiate_format(std::string_view accept) noexcept {
  // Most specific match wins for each format (RFC 9110 12.5.1): exact type, then type/*, then */*.
  double om_q = -1, text_q = -1;
  int om_rank = -1, text_rank = -1;
  auto offer = [](double& q, int& rank, int r, double value) {
    if (r > rank) {
      rank = r;
      q = value;
    } else if (r == rank && value > q) {
      q = value;
    }
  };
  for_each_element(accept, [&](const Element& e) {
    if (iequals(e.value, "application/openmetrics-text")) {
      if (e.version.empty() || e.version == "1.0.0") offer(om_q, om_rank, 2, e.q);
    } else if (iequals(e.value, "text/plain")) {
      if (e.version.empty() || e.version == "0.0.4") offer(text_q, text_rank, 2, e.q);
    } else if (iequals(e.value, "application/*")) {
      offer(om_q, om_rank, 1, e.q);
    } else if (iequals(e.value, "text/*")) {
      offer(text_q, text_rank, 1, e.q);
    } else if (e.value == "*/*") {
      offer(om_q, om_rank, 0, e.q);
      offer(text_q, text_rank, 0, e.q);
    }
  });
  return om_q > 0 && om_q > text_q ? exposition::Format::openmetrics : exposition::Format::prometheus_text;
}

bool accepts_gzip(std::string_view accept_encoding) noexcept {
  double gzip_q = -1, any_q = -1;
  for_each_element(accept_encoding, [&](const Element& e) {
    if (iequals(e.value, "gzip") || iequals(e.value, "x-gzip")) gzip_q = std::max(gzip_q, e.q);
    if (e.value == "*") any_q = std::max(any_q, e.q);
  });
  return gzip_q >= 0 ? gzip_q > 0 : any_q > 0;
}

}  // namespace wsm::exporter
